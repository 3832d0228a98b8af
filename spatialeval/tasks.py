"""Task files: one declarative YAML file per benchmark, plus suites.

A task file says where the data is (Hub id at a pinned revision, a local path, or the bundled
synthetic generator), how a raw row maps to a ``Sample``, which metrics are official, and which
prompt style and token budget it uses by default. ``-t`` takes a task id, a suite name, or the
path of a task file, so users evaluate their own data without touching the package.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .errors import UserError

# libyaml's parser when PyYAML has it (several times faster; the same safe constructors and resolver)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load_yaml(text: str) -> Any:
    """``yaml.safe_load`` through libyaml where available."""
    return yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader

SOURCE_KINDS = ("hub", "local", "synth")
LOCAL_FORMATS = ("auto", "hub_clone", "parquet", "jsonl", "hf_disk", "csv_images")
PROMPT_STYLES = ("direct", "reasoning", "spatialthinker")
_REQUIRED = ("id", "version", "source", "fields", "metrics")
PROMPT_TWEAKS = {"question_period", "question_suffix", "question_remove", "append", "instruction"}
PROTOCOL_OVERRIDABLE = {"source", "fields", "metrics", "prompt_style", "max_new_tokens", "prompt", "extractor",
                        "categories", "adapter", "size"}


@dataclass(frozen=True)
class SourceSpec:
    """Where rows come from. ``dataset`` is a Hub id (kind hub) or a path (kind local)."""

    kind: str
    dataset: str | None = None
    revision: str | None = None
    config: str | None = None
    split: str | None = None
    format: str = "auto"
    params: dict[str, Any] = field(default_factory=dict)
    configs: tuple[str, ...] = ()  # several configs of one repository, concatenated in this order
    data_files: Any = None  # a file (or {split: file}) of the repository, read instead of its configs

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "dataset": self.dataset,
            "revision": self.revision,
            "config": self.config,
            "split": self.split,
            "format": self.format,
            "params": self.params,
            "configs": list(self.configs),
            "data_files": self.data_files,
        }


@dataclass(frozen=True)
class TaskSpec:
    id: str
    version: str
    source: SourceSpec
    fields: dict[str, Any]
    metrics: tuple[Any, ...]
    title: str = ""
    description: str = ""
    licence: str = "unknown"
    redistributable: bool = False
    size: int | None = None
    homepage: str | None = None
    official_metric: str | None = None
    categories: tuple[str, ...] = ()
    prompt_style: str = "direct"
    max_new_tokens: int = 64
    adapter: str | None = None
    prompt: dict[str, Any] = field(default_factory=dict)  # see prompts.apply_tweaks
    extractor: str = "default"
    protocol: str = "default"
    protocols: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    file_sha256: str | None = None

    @property
    def metric_names(self) -> list[str]:
        return [m if isinstance(m, str) else str(m.get("name")) for m in self.metrics]

    def describe_source(self) -> str:
        s = self.source
        if s.kind == "synth":
            return f"synthetic (n={s.params.get('n')}, seed={s.params.get('seed', 0)})"
        rev = f"@{s.revision[:12]}" if s.revision else ""
        cfg = f" [{s.config}]" if s.config else (f" [{len(s.configs)} configs]" if s.configs else "")
        return f"{s.kind}:{s.dataset}{rev}{cfg}"

    def provenance(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "file": str(self.path) if self.path else None,
            "file_sha256": self.file_sha256,
            "source": self.source.to_json(),
            "licence": self.licence,
            "metrics": list(self.metrics),
            "adapter": self.adapter,
            "protocol": self.protocol,
            "extractor": self.extractor,
            "prompt": self.prompt,
        }


def builtin_tasks_dir() -> Path:
    """``tasks/`` of the source tree (checkout or editable install), else the copy inside the wheel."""
    checkout = Path(__file__).resolve().parent.parent / "tasks"
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files("spatialeval._tasks")))


def _err(where: Path | str, msg: str) -> UserError:
    return UserError(f"{where}: {msg}")


def load_task_file(path: str | Path) -> TaskSpec:
    """Parse and validate one task file; every problem is a one-line ``UserError``."""
    path = Path(path)
    try:
        raw_text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _err(path, f"cannot read task file ({exc.strerror or exc})") from None
    try:
        raw = safe_load_yaml(raw_text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise _err(f"{path}{line}", f"malformed YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(raw, dict):
        raise _err(path, "a task file must be a YAML mapping")
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise _err(path, f"missing required key(s): {', '.join(missing)}")
    src = raw["source"]
    if not isinstance(src, dict) or src.get("kind") not in SOURCE_KINDS:
        raise _err(path, f"source.kind must be one of {', '.join(SOURCE_KINDS)}")
    if src["kind"] in ("hub", "local") and not src.get("dataset"):
        raise _err(path, f"source.dataset is required for a {src['kind']} source")
    if src["kind"] == "local":
        # relative paths in a user's task file are relative to the file
        ds = Path(str(src["dataset"])).expanduser()
        src = dict(src, dataset=str(ds if ds.is_absolute() else (path.parent / ds).resolve()))
    fmt = src.get("format", "auto")
    if fmt not in LOCAL_FORMATS:
        raise _err(path, f"source.format must be one of {', '.join(LOCAL_FORMATS)}")
    if src.get("configs") and (src.get("config") or src.get("data_files")):
        raise _err(path, "source.configs excludes source.config and source.data_files")
    fields = raw["fields"]
    if not isinstance(fields, dict) or "question" not in fields:
        raise _err(path, "fields must be a mapping with at least 'question'")
    metrics = raw["metrics"]
    if not isinstance(metrics, list) or not metrics:
        raise _err(path, "metrics must be a non-empty list")
    for m in metrics:
        if not (isinstance(m, str) or (isinstance(m, dict) and "name" in m)):
            raise _err(path, f"bad metric entry {m!r}: a name or a mapping with 'name'")
    style = raw.get("prompt_style", "direct")
    if style not in PROMPT_STYLES:
        raise _err(path, f"prompt_style must be one of {', '.join(PROMPT_STYLES)}")
    protocols = raw.get("protocols") or {}
    if not isinstance(protocols, dict) or not all(isinstance(v, dict) for v in protocols.values()):
        raise _err(path, "protocols must map a protocol name to a mapping of overrides")
    for pname, over in protocols.items():
        bad = set(over) - PROTOCOL_OVERRIDABLE
        if bad:
            raise _err(path, f"protocols.{pname}: cannot override {', '.join(sorted(bad))}")
    prompt = raw.get("prompt") or {}
    if not isinstance(prompt, dict) or set(prompt) - PROMPT_TWEAKS:
        raise _err(path, f"prompt must be a mapping with keys among {', '.join(sorted(PROMPT_TWEAKS))}")
    try:
        max_new = int(raw.get("max_new_tokens", 64))
        size = int(raw["size"]) if raw.get("size") is not None else None
    except (TypeError, ValueError):
        raise _err(path, "max_new_tokens and size must be integers") from None
    return TaskSpec(
        id=str(raw["id"]),
        version=str(raw["version"]),
        source=SourceSpec(
            kind=src["kind"],
            dataset=src.get("dataset"),
            revision=src.get("revision"),
            config=src.get("config"),
            split=src.get("split"),
            format=fmt,
            params=dict(src.get("params") or {}),
            configs=tuple(str(c) for c in src.get("configs") or ()),
            data_files=src.get("data_files"),
        ),
        fields=dict(fields),
        metrics=tuple(metrics),
        title=str(raw.get("title", "")),
        description=str(raw.get("description", "")).strip(),
        licence=str(raw.get("licence", "unknown")),
        redistributable=bool(raw.get("redistributable", False)),
        size=size,
        homepage=raw.get("homepage"),
        official_metric=raw.get("official_metric"),
        categories=tuple(raw.get("categories") or ()),
        prompt_style=style,
        max_new_tokens=max_new,
        adapter=raw.get("adapter"),
        prompt=dict(prompt),
        extractor=str(raw.get("extractor", "default")),
        protocols=dict(protocols),
        path=path.resolve(),
        file_sha256=hashlib.sha256(raw_text.encode("utf-8")).hexdigest(),
    )


def apply_protocol(task: TaskSpec, protocol: str) -> TaskSpec:
    """The task as a named protocol evaluates it (e.g. the SpatialThinker paper's own script).

    A protocol section in the task file overrides the source (the paper's dataset copy), field
    mapping, metrics, prompt style and tweaks, token budget and extractor. ``default`` is the
    benchmark authors' official rule and needs no section.
    """
    if protocol == "default":
        return task
    over = task.protocols.get(protocol)
    if over is None:
        have = ", ".join(["default", *task.protocols]) or "default"
        raise UserError(f"task {task.id} has no '{protocol}' protocol (available: {have})")
    src = dict(over["source"]) if "source" in over else task.source.to_json()  # replaced whole, never merged
    return replace(
        task,
        source=SourceSpec(kind=src["kind"], dataset=src.get("dataset"), revision=src.get("revision"),
                          config=src.get("config"), split=src.get("split"), format=src.get("format", "auto"),
                          params=dict(src.get("params") or {}), configs=tuple(src.get("configs") or ()),
                          data_files=src.get("data_files")),
        fields=dict(task.fields, **(over.get("fields") or {})),
        metrics=tuple(over.get("metrics", task.metrics)),
        prompt_style=over.get("prompt_style", task.prompt_style),
        max_new_tokens=int(over.get("max_new_tokens", task.max_new_tokens)),
        prompt=dict(over.get("prompt", task.prompt)),
        extractor=str(over.get("extractor", task.extractor)),
        categories=tuple(over.get("categories", task.categories)),
        adapter=over.get("adapter", task.adapter),
        size=over.get("size", task.size),
        protocol=protocol,
    )


def builtin_task_files() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in sorted(builtin_tasks_dir().glob("*.yaml")):
        if p.name != "suites.yaml":
            out[p.stem] = p
    return out


def builtin_suites() -> dict[str, list[str]]:
    p = builtin_tasks_dir() / "suites.yaml"
    if not p.exists():
        return {}
    raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    return {str(k): [str(t) for t in (v.get("tasks") if isinstance(v, dict) else v)] for k, v in raw.items()}


def suite_descriptions() -> dict[str, str]:
    p = builtin_tasks_dir() / "suites.yaml"
    raw = yaml.safe_load(p.read_text(encoding="utf-8")) if p.exists() else {}
    return {str(k): str(v.get("description", "")) for k, v in (raw or {}).items() if isinstance(v, dict)}


def resolve_tasks(spec: str) -> list[TaskSpec]:
    """``-t`` value -> task specs. Comma-separated ids, suite names and task-file paths."""
    files = builtin_task_files()
    suites = builtin_suites()
    out: list[TaskSpec] = []
    for item in [s.strip() for s in spec.split(",") if s.strip()]:
        if item.endswith((".yaml", ".yml")) or "/" in item or Path(item).is_file():
            out.append(load_task_file(item))
        elif item in files:
            out.append(load_task_file(files[item]))
        elif item in suites:
            out.extend(load_task_file(files[t]) for t in suites[item])
        else:
            known = ", ".join(sorted(files) + sorted(suites))
            raise UserError(f"unknown task or suite '{item}' (known: {known}; or give a task file path)")
    if not out:
        raise UserError("no task given (-t)")
    return out
