"""Published reference results (``leaderboard/*.csv``): numbers other people measured, with sources.

They are shown beside measured runs, never mixed with them: a published value carries the paper,
table and page it was copied from, and the mark (bold/underline) it had there.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import UserError
from .tasks import safe_load_yaml

PUBLISHED_FIELDS = ("table", "group", "row", "model", "column", "value", "mark", "arxiv", "source")


def _bundled(folder: str, package: str) -> Path:
    """A top-level data folder of the checkout (or editable install), else its copy in the wheel."""
    checkout = Path(__file__).resolve().parent.parent / folder
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files(package)))


def reports_dir() -> Path:
    """``reports/``: table specifications, page templates and static assets."""
    return _bundled("reports", "spatialeval._reports")


def leaderboard_dir() -> Path:
    """``leaderboard/``: published reference results."""
    return _bundled("leaderboard", "spatialeval._leaderboard")


@dataclass(frozen=True)
class PublishedValue:
    table: str
    group: str
    row: str  # the row name as printed
    model: str  # canonical model name (leaderboard/models.yaml)
    column: str
    value: float | None  # None: the paper prints "–"
    mark: str  # "bold" | "underline" | ""
    arxiv: str
    source: str
    file: str


class Published:
    """All published values of ``leaderboard/`` plus the model facts of ``models.yaml``."""

    def __init__(self, values: tuple[PublishedValue, ...], models: dict[str, dict[str, Any]]):
        self.values = values
        self.models = models
        self._index = {(v.table, v.row, v.column): v for v in values}

    def get(self, table: str, row: str, column: str) -> PublishedValue | None:
        return self._index.get((table, row, column))

    def rows(self, table: str) -> list[str]:
        seen: dict[str, None] = {}
        for v in self.values:
            if v.table == table:
                seen.setdefault(v.row, None)
        return list(seen)

    def alias_map(self) -> dict[str, str]:
        """Run model id -> canonical published model name."""
        out: dict[str, str] = {}
        for name, info in self.models.items():
            out[name] = name
            for alias in info.get("aliases") or ():
                out[str(alias)] = name
        return out


def _parse_value(text: str, where: str) -> float | None:
    text = text.strip()
    if text in ("", "–", "-"):
        return None
    try:
        return float(text)
    except ValueError:
        raise UserError(f"{where}: value {text!r} is not a number") from None


def load_published_file(path: Path) -> list[PublishedValue]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = set(PUBLISHED_FIELDS) - set(reader.fieldnames or ())
        if missing:
            raise UserError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        out = []
        for n, r in enumerate(reader, start=2):
            mark = (r["mark"] or "").strip()
            if mark not in ("", "bold", "underline"):
                raise UserError(f"{path} line {n}: mark must be bold, underline or empty")
            out.append(PublishedValue(
                table=r["table"].strip(), group=r["group"].strip(), row=r["row"].strip(), model=r["model"].strip(),
                column=r["column"].strip(), value=_parse_value(r["value"], f"{path} line {n}"), mark=mark,
                arxiv=r["arxiv"].strip(), source=r["source"].strip(), file=path.name))
    return out


def load_published(folder: Path | None = None) -> Published:
    """Every ``*.csv`` in ``folder`` (default: the bundled ``leaderboard/``) and ``models.yaml``."""
    folder = folder or leaderboard_dir()
    values: list[PublishedValue] = []
    for p in sorted(folder.glob("*.csv")):
        values.extend(load_published_file(p))
    models_file = folder / "models.yaml"
    models = safe_load_yaml(models_file.read_text(encoding="utf-8")) if models_file.exists() else {}
    return Published(values=tuple(values), models=dict(models or {}))
