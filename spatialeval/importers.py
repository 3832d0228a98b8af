"""Bring other tools' outputs in and score them our way, with no model calls.

Formats:

- ``lmms-eval``: the ``--log_samples`` JSONL (``<ts>_samples_<task>.jsonl``). A line's ``doc_id``
  is the row index of the task's split; the raw output is ``resps`` when present (lmms-eval keeps
  it only when it differs from the filtered one), else ``filtered_resps``.
- ``vlmevalkit``: a prediction file (``<model>_<dataset>.xlsx``, or ``.tsv``/``.csv``/``.json``),
  dataset rows plus a ``prediction`` column, keyed by the ``index`` column.
- ``json``: a plain map ``{sample id: prediction}``, the format of BLINK's official saved
  predictions.

The imported texts are served by ``ImportRunner`` through the normal pipeline, so extraction,
metrics, run directory and provenance are exactly those of a ``spatialeval run``. The gold answers
come from the task's own dataset. Samples the file lacks are recorded as errors (the run is
incomplete); records of the file that match no sample are counted and listed in ``import.json``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .errors import UserError
from .records import Request, Response

FORMATS = ("lmms-eval", "vlmevalkit", "json")
DEFAULT_KEYS = {"lmms-eval": ("doc_id", "index"), "vlmevalkit": ("index", "id"), "json": ("key", "id")}


def _text(value: Any) -> str | None:
    """lmms-eval nests responses: [["text"]] or ["text"]; take the first string."""
    while isinstance(value, list):
        if not value:
            return None
        value = value[0]
    return None if value is None else str(value)


def read_predictions(fmt: str, path: Path, key: str | None = None) -> dict[str, str]:
    """foreign key (as a string) -> raw prediction text."""
    if fmt not in FORMATS:
        raise UserError(f"unknown import format '{fmt}' (choose from {', '.join(FORMATS)})")
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    key = key or DEFAULT_KEYS[fmt][0]
    out: dict[str, str] = {}
    try:
        if fmt == "json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise UserError(f"{path}: expected a JSON object mapping sample ids to predictions")
            return {str(k): _text(v) or "" for k, v in data.items()}
        if fmt == "lmms-eval":
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    raise UserError(f"{path} line {n}: not valid JSON") from None
                if key not in rec:
                    raise UserError(f"{path} line {n}: no '{key}' field")
                raw = rec.get("resps")
                text = _text(raw) if raw not in (None, [], [[]]) else _text(rec.get("filtered_resps"))
                out[str(rec[key])] = text or ""
            return out
        import pandas as pd

        suffix = path.suffix.lower()
        if suffix == ".xlsx":
            df = pd.read_excel(path)
        elif suffix in (".tsv", ".csv"):
            df = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
        elif suffix == ".json":
            df = pd.read_json(path)
        else:
            raise UserError(f"{path}: VLMEvalKit predictions must be .xlsx, .tsv, .csv or .json")
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"{path}: cannot read {fmt} predictions ({type(exc).__name__}: {exc})") from None
    for col in (key, "prediction"):
        if col not in df.columns:
            raise UserError(f"{path}: no '{col}' column (have: {', '.join(map(str, df.columns))})")
    for k, pred in zip(df[key], df["prediction"], strict=True):
        out[str(k)] = "" if pred is None or (isinstance(pred, float) and pred != pred) else str(pred)
    return out


class ImportRunner:
    """Serves imported predictions as responses; never calls a model."""

    backend = "import"

    def __init__(self, fmt: str, path: Path, predictions: dict[str, str], name: str, target: str = "id"):
        if target not in ("id", "index"):
            raise UserError(f"--target must be 'id' or 'index', not '{target}'")
        self.fmt, self.path, self.predictions, self.target = fmt, path, predictions, target
        self.model_id = name
        self.calls = 0
        self.matched: set[str] = set()
        self.file_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()

    def fingerprint(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "revision": None, "weights_sha256": None,
                "imported_from": {"format": self.fmt, "file_sha256": self.file_sha256}}

    def info(self) -> dict[str, Any]:
        return {"backend": self.backend, "format": self.fmt, "file": str(self.path.resolve()),
                "match": self.target}

    def generate(self, requests: list[Request]) -> list[Response]:
        out = []
        for r in requests:
            key = r.sample_id if self.target == "id" else str(r.sample_index)
            if key in self.predictions:
                self.matched.add(key)
                out.append(Response(text=self.predictions[key]))
            else:
                out.append(Response(finish_reason="error", error=f"not in the imported file ({self.target} {key})"))
        return out

    def unmatched(self) -> list[str]:
        return sorted(set(self.predictions) - self.matched)
