"""Sources: where a task's raw rows come from.

Every source gives random access to raw rows by index with images left *encoded* (bytes or
paths), so the pipeline decodes one batch of images at a time whatever the task's size.

- ``hub``: ``datasets.load_dataset(id, config, split=..., revision=...)`` at the task's pinned
  revision. ``--data PATH`` replaces the id with a local clone of the same repository and is read
  by exactly the same call, so multi-config repositories work the same way.
- ``local``: a parquet or jsonl file (or a folder of them), a dataset saved with
  ``save_to_disk``, a folder holding a csv plus images, or a Hub clone.
- ``synth``: the bundled procedurally rendered spatial scenes (``spatialeval.synth``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from .errors import UserError
from .paths import cache_root
from .tasks import TaskSpec


class Source(Protocol):
    def __len__(self) -> int: ...
    def rows(self, indices: Sequence[int]) -> list[dict[str, Any]]: ...
    def provenance(self) -> dict[str, Any]: ...


def _undecode_images(ds):
    """Cast every Image feature (also inside lists) to ``decode=False``: rows carry bytes/paths."""
    from datasets import Image, List
    from datasets import Sequence as HFSequence

    def convert(feat):
        if isinstance(feat, Image):
            return Image(decode=False)
        if isinstance(feat, List):
            inner = convert(feat.feature)
            return List(inner, length=feat.length) if inner is not feat.feature else feat
        if isinstance(feat, HFSequence):
            inner = convert(feat.feature)
            return HFSequence(inner, length=feat.length) if inner is not feat.feature else feat
        return feat

    for name, feat in ds.features.items():
        new = convert(feat)
        if new is not feat:
            ds = ds.cast_column(name, new)
    return ds


class HFSource:
    """A ``datasets.Dataset`` (Hub, Hub clone, parquet, jsonl or saved-to-disk)."""

    def __init__(self, ds, *, described: dict[str, Any], base_dir: str | None = None):
        self.ds = _undecode_images(ds)
        self._described = described
        self.base_dir = base_dir  # relative image paths in local files are relative to the data

    def __len__(self) -> int:
        return len(self.ds)

    def rows(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        if not indices:
            return []
        batch = self.ds[list(indices)]  # columnar dict
        keys = list(batch)
        rows = [{k: batch[k][j] for k in keys} for j in range(len(indices))]
        if self.base_dir:
            for row in rows:
                row["__base_dir__"] = self.base_dir
        return rows

    def provenance(self) -> dict[str, Any]:
        return dict(self._described, fingerprint=getattr(self.ds, "_fingerprint", None), num_rows=len(self))


class CsvImagesSource:
    """A folder with one csv file and images referenced by relative path (an 'image folder with a csv')."""

    def __init__(self, folder: Path, csv_path: Path):
        import pandas as pd

        self.folder = folder
        self.csv_path = csv_path
        try:
            self.df = pd.read_csv(csv_path, keep_default_na=False)
        except Exception as exc:  # noqa: BLE001 - pandas raises many types
            raise UserError(f"{csv_path}: cannot read csv ({exc})") from None

    def __len__(self) -> int:
        return len(self.df)

    def rows(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        out = []
        for i in indices:
            row = self.df.iloc[i].to_dict()
            row["__base_dir__"] = str(self.folder)
            out.append(row)
        return out

    def provenance(self) -> dict[str, Any]:
        digest = hashlib.sha256(self.csv_path.read_bytes()).hexdigest()
        return {"kind": "local", "format": "csv_images", "path": str(self.folder),
                "fingerprint": digest[:16], "num_rows": len(self)}


class SynthSource:
    """The bundled synthetic scenes; row ``i`` depends only on (seed, i)."""

    def __init__(self, n: int, seed: int = 0, **params: Any):
        self.n = int(n)
        self.seed = int(seed)
        self.params = params

    def __len__(self) -> int:
        return self.n

    def rows(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        from .synth import synth_row

        return [synth_row(i, seed=self.seed, **self.params) for i in indices]

    def provenance(self) -> dict[str, Any]:
        from .synth import SYNTH_VERSION

        fp = hashlib.sha256(f"synth:{SYNTH_VERSION}:{self.seed}:{self.n}:{sorted(self.params.items())}"
                            .encode()).hexdigest()[:16]
        return {"kind": "synth", "generator_version": SYNTH_VERSION, "seed": self.seed,
                "n": self.n, "params": self.params, "fingerprint": fp, "num_rows": self.n}


def _detect_format(path: Path) -> str:
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            return "parquet"
        if suffix in (".jsonl", ".json"):
            return "jsonl"
        if suffix == ".csv":
            return "csv_images"
        raise UserError(f"{path}: unsupported data file (expected .parquet, .jsonl, .json or .csv)")
    if (path / "state.json").exists() or (path / "dataset_dict.json").exists():
        return "hf_disk"
    csvs = list(path.glob("*.csv"))
    if len(csvs) == 1 and not list(path.glob("*.parquet")) and not (path / "README.md").exists():
        return "csv_images"
    return "hub_clone"


def _pick_split(obj, split: str | None, where: str):
    from datasets import DatasetDict

    if isinstance(obj, DatasetDict):
        if split is None:
            if len(obj) != 1:
                raise UserError(f"{where}: several splits ({', '.join(obj)}); the task must name one")
            split = next(iter(obj))
        if split not in obj:
            raise UserError(f"{where}: no split '{split}' (have: {', '.join(obj)})")
        return obj[split]
    return obj


def _load_hf(datasets, where: str, s, **kw):
    """``load_dataset`` for a Hub id or a clone: one config, several configs concatenated
    (``source.configs``), or named files of the repository (``source.data_files``)."""
    if s.configs:
        parts = [datasets.load_dataset(where, c, split=s.split, **kw) for c in s.configs]
        first = parts[0].features
        return datasets.concatenate_datasets([p if p.features == first else p.cast(first) for p in parts])
    if s.data_files is not None:
        kw["data_files"] = s.data_files
    return datasets.load_dataset(where, s.config, split=s.split, **kw)


def open_source(task: TaskSpec, data: str | None = None) -> Source:
    """Open the task's source. ``data`` (``--data``) is a local copy of the task's own source."""
    s = task.source
    if s.kind == "synth":
        params = dict(s.params)
        n = params.pop("n", task.size or 100)
        seed = params.pop("seed", 0)
        return SynthSource(n=n, seed=seed, **params)

    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    import datasets

    datasets.utils.logging.disable_progress_bar()
    datasets.utils.logging.set_verbosity(50)  # CRITICAL: load failures surface as one UserError line

    if data is not None or s.kind == "local":
        path = Path(data if data is not None else str(s.dataset)).expanduser()
        if not path.exists():
            raise UserError(f"--data {path}: no such file or directory" if data else
                            f"{task.path}: source.dataset {path} does not exist")
        if not os.access(path, os.R_OK):
            raise UserError(f"{path}: not readable")
        fmt = s.format if (s.format != "auto" and data is None) else _detect_format(path)
        described: dict[str, Any] = {"kind": "local", "format": fmt, "path": str(path.resolve()),
                                     "hub_id": s.dataset if s.kind == "hub" else None,
                                     "pinned_revision": s.revision, "config": s.config, "split": s.split,
                                     "configs": list(s.configs), "data_files": s.data_files}
        try:
            if fmt == "csv_images":
                csv = path if path.is_file() else next(path.glob("*.csv"))
                return CsvImagesSource(csv.parent, csv)
            if fmt == "hf_disk":
                obj = datasets.load_from_disk(str(path))
            elif fmt in ("parquet", "jsonl"):
                builder = "parquet" if fmt == "parquet" else "json"
                files = [str(path)] if path.is_file() else sorted(
                    str(p) for p in path.rglob("*.parquet" if fmt == "parquet" else "*.json*"))
                obj = datasets.load_dataset(builder, data_files=files, split="train")
            else:  # a clone of the Hub repository: the same call as for the Hub id
                obj = _load_hf(datasets, str(path), s, cache_dir=_clone_cache_dir(path))
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 - datasets raises many types for bad data
            raise UserError(f"{path}: cannot load dataset ({type(exc).__name__}: {_first_line(exc)})") from None
        base = str(path if path.is_dir() else path.parent)
        return HFSource(_pick_split(obj, s.split, str(path)), described=described, base_dir=base)

    # The Hub, at the pinned revision.
    described = {"kind": "hub", "hub_id": s.dataset, "revision": s.revision, "config": s.config, "split": s.split,
                 "configs": list(s.configs), "data_files": s.data_files}
    try:
        ds = _load_hf(datasets, str(s.dataset), s, revision=s.revision)
    except Exception as exc:  # noqa: BLE001
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        hint = " (HF_HUB_OFFLINE=1: pass --data PATH to a local copy)" if offline else ""
        raise UserError(f"task {task.id}: cannot load {s.dataset}{hint}: {_first_line(exc)}") from None
    described["resolved_revision"] = resolved_dataset_commit(str(s.dataset), s.revision)
    return HFSource(_pick_split(ds, s.split, str(s.dataset)), described=described)


def resolved_dataset_commit(repo_id: str, revision: str | None) -> str | None:
    """The commit a Hub load actually read (the pinned one, or what the branch pointed to), so an
    unpinned task still records its data's exact revision in run.json. None when it cannot be asked."""
    if revision and len(revision) == 40:
        return revision
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return None
    try:
        from huggingface_hub import HfApi

        return str(HfApi().dataset_info(repo_id, revision=revision).sha)
    except Exception:  # noqa: BLE001 - provenance is best effort; the load itself already succeeded
        return None


def _clone_cache_dir(path: Path) -> str:
    """``datasets`` keys a local repository's cache by folder name and dataset card only, so two
    clones with one name, or a clone updated in place, would share stale rows: key it by the
    resolved path and every file's size and mtime as well."""
    h = hashlib.sha256(str(path.resolve()).encode())
    for p in sorted(q for q in path.rglob("*") if q.is_file() and ".git" not in q.parts):
        st = p.stat()
        h.update(f"{p.relative_to(path)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return str(cache_root() / "datasets" / h.hexdigest()[:16])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
