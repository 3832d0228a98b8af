"""MMVP (Tong et al., "Eyes Wide Shut?"): options in one string, pairs, and the label fix.

The original release (``MMVP/MMVP``; GitHub tsb0601/MMVP) is ``Questions.csv`` (``Index``,
``Question``, ``Options`` as "(a) Open (b) Closed", ``Correct Answer`` as "(a)") beside a folder
``MMVP Images/{Index}.jpg``. Rows ``2k-1`` and ``2k`` (1-based ``Index``) are one CLIP-blind pair:
the same question on two images; the official score counts a pair only if both are right.

Label fix (``source.params.label_fix``): the released labels of pairs 99/100 (elephant tusks) and
279/280 (standing/sitting) are swapped (tsb0601/MMVP#14 and #30). With the flag the gold letters
of exactly these four rows are exchanged; each changed sample keeps ``original_answer`` in meta.
The flag is part of the task file (and so of its version and hash) and of run.json.

Field keys of this adapter: ``options`` (the options string), ``gold`` (the label), ``index`` (the
1-based ``Index``: pairs and image paths follow it) or ``images``. The SpatialThinker copy
(``hunarbatra/MMVP``: ``text``, ``label``, ``image``) has no options column and no Index; with
``options: text`` the options are read from the question text, and no pairs are formed.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..records import LETTERS, ImageRef, Sample
from ..tasks import TaskSpec
from . import RowError, default_to_sample, images_from, normalise_answer

LABEL_FIX = {99: "B", 100: "A", 279: "B", 280: "A"}  # Index -> corrected gold (released: A, B, A, B)
_OPTION = re.compile(r"\(([a-z])\)\s*")
_LABEL = re.compile(r"^\(?\s*([A-Za-z])\s*\)?(?:\s|$)")


def parse_options(text: str) -> tuple[str, ...]:
    """'(a) Open (b) Closed' -> ('Open', 'Closed'); the labels must run a, b, c, ..."""
    parts = _OPTION.split(str(text))
    letters, options = parts[1::2], tuple(p.strip() for p in parts[2::2])
    if len(options) < 2 or letters != [c.lower() for c in LETTERS[: len(options)]] or not all(options):
        raise RowError(f"options {str(text)[:60]!r} are not '(a) ... (b) ...'")
    return options


def _gold(value: Any, choices: tuple[str, ...]) -> str:
    """'(a)', 'a', 'A', '(a) Open' or 'Open' -> letter."""
    m = _LABEL.match(str(value).strip())
    if m and m.group(1).upper() in LETTERS[: len(choices)]:
        return m.group(1).upper()
    return normalise_answer(value, choices, "text")


def _image(row: dict[str, Any], index_value: int, task: TaskSpec) -> ImageRef:
    """``MMVP Images/{Index}.jpg`` of the clone, or of the Hub repository at the pinned revision."""
    name = f"{task.fields.get('image_dir', 'MMVP Images')}/{index_value}.jpg"
    base = row.get("__base_dir__")
    if base:
        return ImageRef(path=str(Path(base) / name))
    from huggingface_hub import hf_hub_download

    try:
        return ImageRef(path=hf_hub_download(str(task.source.dataset), name, repo_type="dataset",
                                             revision=task.source.revision))
    except Exception as exc:  # noqa: BLE001 - offline, missing file: this row's error, not the run's
        raise RowError(f"cannot fetch {name} ({type(exc).__name__})") from None


def to_sample(row: dict[str, Any], index: int, task: TaskSpec) -> Sample:
    f = task.fields
    base = default_to_sample(row, index, task)  # id, question, meta; options and gold are read here
    if base.error:
        return base
    try:
        choices = parse_options(row.get(f["options"], ""))
        if row.get(f["gold"]) is None:
            raise RowError(f"missing field '{f['gold']}'")
        answer = _gold(row[f["gold"]], choices)
        meta = dict(base.meta)
        group = None
        idx_col = f.get("index")
        if idx_col:  # the original layout: pairs and image files follow Index
            idx = int(row[idx_col])
            if idx < 1:
                raise RowError(f"Index {idx} is not 1-based")
            group, images = f"pair-{(idx + 1) // 2}", (_image(row, idx, task),)
            meta.update(index=idx, pair=(idx + 1) // 2)
            if task.source.params.get("label_fix") and idx in LABEL_FIX and answer != LABEL_FIX[idx]:
                meta.update(original_answer=answer, label_fixed=True)
                answer = LABEL_FIX[idx]
        else:
            images = images_from(row, f["images"])
    except (RowError, KeyError, TypeError, ValueError) as exc:
        return replace(base, error=f"bad row: {exc}")
    return replace(base, choices=choices, answer=answer, images=images, group=group, meta=meta)
