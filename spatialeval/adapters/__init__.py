"""Adapters: raw row -> ``Sample``.

The default adapter reads the task file's ``fields`` mapping:

``id``, ``question``, ``choices`` (a list column, or a list of columns such as [A, B, C, D]),
``answer`` with ``answer_format`` (letter | index | text | auto), ``images`` (a column or a list
of columns; each an Image feature, bytes, a path, or a list of those), ``category``,
``subcategory``, ``group`` and ``meta`` (columns copied into ``Sample.meta``).

A benchmark that needs more names a module in its task file (``adapter: cvbench``); that module
exposes ``to_sample(row, index, task) -> Sample`` and may call ``default_to_sample``.
A bad row never raises: it becomes a ``Sample`` with ``error`` set, recorded and skipped.
"""

from __future__ import annotations

import ast
import importlib
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..records import LETTERS, ImageRef, Sample
from ..tasks import TaskSpec

ToSample = Callable[[dict[str, Any], int, TaskSpec], Sample]
_LETTER_RE = re.compile(r"^\(?\s*([A-Z])\s*\)?[.:]?$")


class RowError(ValueError):
    """A problem with one row; becomes ``Sample.error``."""


def import_adapter(adapter: str | None, where: object = "task"):
    """Import an adapter module (which also registers any metrics it defines)."""
    if not adapter:
        return None
    name = adapter if "." in adapter else f"spatialeval.adapters.{adapter}"
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise UserError(f"{where}: adapter '{adapter}' cannot be imported ({exc})") from None


def get_adapter(task: TaskSpec) -> ToSample:
    module = import_adapter(task.adapter, task.path)
    if module is None:
        return default_to_sample
    name = module.__name__
    fn = getattr(module, "to_sample", None)
    if fn is None:
        raise UserError(f"{task.path}: adapter module {name} has no to_sample()")
    return fn


def _image_ref(value: Any, base_dir: str | None) -> ImageRef:
    if isinstance(value, dict) and ("bytes" in value or "path" in value):
        if value.get("bytes"):
            return ImageRef(data=value["bytes"], path=value.get("path"))
        value = value.get("path")
    if isinstance(value, (bytes, bytearray)):
        return ImageRef(data=bytes(value))
    if isinstance(value, str) and value:
        p = Path(value)
        if not p.is_absolute() and base_dir:
            p = Path(base_dir) / p
        return ImageRef(path=str(p))
    if hasattr(value, "save"):  # an already-decoded PIL image: keep it lossless
        buf = io.BytesIO()
        value.save(buf, format="PNG")
        return ImageRef(data=buf.getvalue())
    raise RowError(f"unreadable image value of type {type(value).__name__}")


def images_from(row: dict[str, Any], spec: Any) -> tuple[ImageRef, ...]:
    cols = spec if isinstance(spec, list) else [spec]
    refs: list[ImageRef] = []
    base = row.get("__base_dir__")
    for col in cols:
        if col not in row:
            raise RowError(f"missing image field '{col}'")
        value = row[col]
        if value is None:
            continue  # optional extra image slots (BLINK image_2..4) are None when unused
        for v in value if isinstance(value, list) else [value]:
            refs.append(_image_ref(v, base))
    return tuple(refs)


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        text = value.strip()
        for parse in (json.loads, ast.literal_eval):
            try:
                parsed = parse(text)
            except (ValueError, SyntaxError):
                continue
            if isinstance(parsed, (list, tuple)):
                return [str(x) for x in parsed]
        raise RowError(f"choices value {text[:60]!r} is not a list")
    if isinstance(value, (list, tuple)):
        return [str(x) for x in value]
    raise RowError(f"choices value of type {type(value).__name__} is not a list")


def choices_from(row: dict[str, Any], spec: Any) -> tuple[str, ...]:
    if spec is None:
        return ()
    if isinstance(spec, list):  # one column per option; empty trailing options are dropped
        vals = [row.get(c) for c in spec]
        return tuple(str(v) for v in vals if v is not None and str(v).strip() != "")
    if spec not in row:
        raise RowError(f"missing field '{spec}'")
    return tuple(_as_list(row[spec]))


def normalise_answer(value: Any, choices: tuple[str, ...], fmt: str = "auto") -> str:
    """Gold answer -> option letter, by the declared format; never guessed."""
    letters = LETTERS[: len(choices)]
    if value is None:
        raise RowError("gold answer is missing")
    if fmt == "index" or (fmt == "auto" and isinstance(value, int) and not isinstance(value, bool)):
        idx = int(value)
        if not 0 <= idx < len(choices):
            raise RowError(f"answer index {idx} out of range for {len(choices)} choices")
        return letters[idx]
    text = str(value).strip()
    if fmt in ("letter", "auto"):
        m = _LETTER_RE.match(text.upper() if fmt == "letter" else text)
        if m and m.group(1) in letters:
            return m.group(1)
        if fmt == "letter":
            raise RowError(f"answer {text!r} is not one of the letters {letters}")
    norm = text.lower().rstrip(".")
    matches = [i for i, c in enumerate(choices) if c.strip().lower().rstrip(".") == norm]
    if len(matches) == 1:
        return letters[matches[0]]
    raise RowError(f"answer {text!r} is neither an option letter nor exactly one option's text")


def _opt(row: dict[str, Any], col: str | None) -> Any:
    if col is None:
        return None
    value = row.get(col)
    return None if value is None else str(value)


def default_to_sample(row: dict[str, Any], index: int, task: TaskSpec) -> Sample:
    f = task.fields
    sid = str(row.get(f["id"])) if f.get("id") and row.get(f["id"]) is not None else f"{task.id}-{index}"
    try:
        if f["question"] not in row or row[f["question"]] is None:
            raise RowError(f"missing field '{f['question']}'")
        choices = choices_from(row, f.get("choices"))
        answer = None
        if f.get("answer"):
            if f["answer"] not in row:
                raise RowError(f"missing field '{f['answer']}'")
            answer = normalise_answer(row[f["answer"]], choices, f.get("answer_format", "auto"))
        images = images_from(row, f["images"]) if f.get("images") else ()
        meta = {k: _jsonable(row.get(k)) for k in f.get("meta", []) if k in row}
        return Sample(
            id=sid, index=index, question=str(row[f["question"]]), choices=choices, answer=answer,
            images=images, category=_opt(row, f.get("category")), subcategory=_opt(row, f.get("subcategory")),
            group=_opt(row, f.get("group")), meta=meta,
        )
    except RowError as exc:
        return Sample(id=sid, index=index, question=str(row.get(f["question"], "")), error=f"bad row: {exc}")


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)
