"""What the sample browser shows for one run: each record as a small dict, plus its images.

Model output is untrusted text. Nothing here builds HTML: rows are plain data, embedded in the
page as JSON (with ``<``, ``>`` and ``&`` escaped) and put on screen by the page's script through
``textContent`` only.

Images: the record's image path when it still holds the evaluated bytes, else the row re-read
through the task's source; in both cases the bytes must hash to the sha256 stored with the
record, so a changed dataset never shows a different picture. A task whose licence does not
allow redistribution shows no image unless the user asks for private use.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from pathlib import Path
from typing import Any

from .extraction import split_thinking
from .runset import RunEntry
from .store import RunDir, loads_line

THUMB_MAX = 768  # longest side of a re-encoded image (px)
KEEP_BYTES = 400_000  # a PNG/JPEG/GIF/WebP at most this large and ...
KEEP_SIDE = 1600  # ... at most this wide/high is copied as it is

_SCENE = re.compile(r"<scene>(.*?)</scene>", re.S | re.I)
_SCENE_HINT = re.compile(r"</scene>", re.I)
_OBJECT = re.compile(r'\{[^{}]*?"id"\s*:\s*"(?P<id>[^"]*)"[^{}]*?"bbox"\s*:\s*\[(?P<box>[^\]]*)\][^{}]*?\}')


def scene_boxes(text: str) -> list[dict[str, Any]]:
    """Objects with boxes from the last ``<scene>`` block of a SpatialThinker output.

    Boxes are ``[x1, y1, x2, y2]`` in original-image pixels. The block is JSON when the model
    wrote it well; when it did not (truncated, trailing commas), objects are read one by one, and
    anything unreadable is skipped, never guessed.
    """
    if not text or not _SCENE_HINT.search(text):  # most outputs: skip the block regex
        return []
    blocks = _SCENE.findall(text)
    if not blocks:
        return []
    raw = blocks[-1].strip()
    objects: list[Any]
    try:
        parsed = loads_line(raw)
        objects = parsed.get("objects", []) if isinstance(parsed, dict) else parsed if isinstance(parsed, list) else []
    except json.JSONDecodeError:
        objects = []
        for m in _OBJECT.finditer(raw):
            try:
                objects.append({"id": m.group("id"), "bbox": json.loads(f"[{m.group('box')}]")})
            except json.JSONDecodeError:
                continue
    out = []
    for o in objects:
        if not isinstance(o, dict):
            continue
        box = o.get("bbox")
        if (isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box)
                and box[2] >= box[0] and box[3] >= box[1]):
            out.append({"id": str(o.get("id", "")), "bbox": [float(v) for v in box]})
    return out


def _correct(scored: dict[str, Any], error: Any) -> int | None:
    if error:
        return None
    c = scored.get("correct")
    return None if c is None else int(bool(c))


def record_row(rec: dict[str, Any]) -> dict[str, Any]:
    """One stored record -> the browser's row (answers as scored when the run stored them)."""
    s = rec.get("sample") or {}
    resp = rec.get("response") or {}
    sc = rec.get("scored") or {}
    text = resp.get("text") or ""
    error = rec.get("error") or resp.get("error")
    thinking, segment = split_thinking(text) if text else (None, "")
    score = (sc.get("values") or {}).get("score")
    return {
        "index": int(rec.get("index", s.get("index", 0))),
        "id": str(s.get("id", rec.get("id", ""))),
        "question": s.get("question") or "",
        "choices": list(s.get("choices") or []),
        "gold": s.get("answer"),
        "category": s.get("category"),
        "group": s.get("group"),
        "output": text,
        # With reasoning, the page shows the answer segment and folds the whole output away.
        "final": segment if thinking is not None else None,
        "reasoning_chars": len(thinking) if thinking is not None else 0,
        "answer": sc.get("answer"),
        "stage": sc.get("stage"),
        "failure": sc.get("failure"),
        "correct": _correct(sc, error),
        "score": score,
        "error": error,
        "finish": resp.get("finish_reason"),
        "tokens": resp.get("output_tokens"),
        "boxes": scene_boxes(text),
        "images": [im for im in s.get("images") or []],
    }


def answer_code(row: dict[str, Any]) -> tuple[str | None, str]:
    """(answer, correctness code) for cross-run disagreement: 1 right, 0 wrong, ~ fractional, - error."""
    if row["error"]:
        return None, "-"
    if row["score"] is not None:
        return row["answer"], "~"
    return row["answer"], "1" if row["correct"] else "0"


class ImageStore:
    """Images written once into ``<site>/img/`` by content hash, shared by every run of a task."""

    def __init__(self, folder: Path, *, show_restricted: bool = False):
        self.folder = folder
        self.show_restricted = show_restricted
        self._done: dict[str, dict[str, Any]] = {}
        self._sources: dict[tuple[Any, ...], Any] = {}
        self._made = False  # the folder exists
        self._linked: dict[str, dict[str, dict[str, Any]]] = {}

    def attach(self, run: RunEntry, rows: list[dict[str, Any]], rel_prefix: str) -> None:
        """Replace each row's image descriptions with ``{"src", "w", "h"}`` or ``{"note"}``."""
        if not run.redistributable and not self.show_restricted:
            licence = run.task_info.get("licence") or "unknown"
            why = ("the task's licence is unknown" if not run.task_info.get("found") else
                   f"licence {licence} does not allow redistribution")
            for row in rows:
                row["images"] = [{"note": f"image not shown: {why} (--show-restricted-images for private use)"}
                                 for _ in row["images"]]
            return
        linked = self._linked.setdefault(rel_prefix, {})  # sha256 -> the entry as this page refers to it
        missing: dict[int, list[int]] = {}
        for row in rows:
            if not row["images"]:
                continue
            out = []
            for k, desc in enumerate(row["images"]):
                got = linked.get(desc.get("sha256"))
                if got is None:
                    found = self._from_cache_or_path(desc)
                    if found is None:
                        missing.setdefault(row["index"], []).append(k)
                        got = desc
                    else:
                        got = self._link(found, rel_prefix)
                        if desc.get("sha256"):
                            linked[desc["sha256"]] = got
                out.append(got)
            row["images"] = out
        if missing:
            self._from_source(run, rows, missing)
            by_index = {row["index"]: row for row in rows}
            for idx, ks in missing.items():
                ims = by_index[idx]["images"]
                for k in ks:
                    ims[k] = self._link(ims[k], rel_prefix)

    @staticmethod
    def _link(im: dict[str, Any], rel_prefix: str) -> dict[str, Any]:
        """An image entry as a page refers to it: ``src`` relative to the page, or a note."""
        if "src" in im:
            return {**im, "src": rel_prefix + im["src"]}
        if "note" in im:
            return im
        return {"note": "image unavailable (not found under its path, and the task's source could not be read)"}

    def _from_cache_or_path(self, desc: dict[str, Any]) -> dict[str, Any] | None:
        sha = desc.get("sha256")
        if not sha:
            return {"note": f"image unreadable when evaluated: {desc.get('error', 'no hash')}"}
        if sha in self._done:
            return self._done[sha]
        path = desc.get("path")
        if path and os.path.isfile(path):
            try:
                data = Path(path).read_bytes()
            except OSError:
                return None
            if hashlib.sha256(data).hexdigest() == sha:
                return self._store(sha, data)
        return None

    def _from_source(self, run: RunEntry, rows: list[dict[str, Any]], missing: dict[int, list[int]]) -> None:
        """Re-read the rows whose image could not be found through the task's own source."""
        samples = self._reread(run, sorted(missing))
        by_index = {row["index"]: row for row in rows}
        for idx, ks in missing.items():
            sample = samples.get(idx)
            for k in ks:
                desc = by_index[idx]["images"][k]
                if sample is None or k >= len(sample.images):
                    continue
                try:
                    data = sample.images[k].read_bytes()
                except (OSError, ValueError):
                    continue
                if hashlib.sha256(data).hexdigest() != desc.get("sha256"):
                    note = {"note": "image not shown: the dataset's image differs from the one evaluated "
                                    "(sha256 mismatch)"}
                    self._done[desc["sha256"]] = by_index[idx]["images"][k] = note  # other runs: same answer
                    continue
                by_index[idx]["images"][k] = self._store(desc["sha256"], data)

    def _reread(self, run: RunEntry, indices: list[int]) -> dict[int, Any]:
        from .adapters import get_adapter
        from .sources import open_source
        from .tasks import apply_protocol

        spec = run.task_info.get("spec")
        if spec is None:
            return {}
        ds = run.run.get("dataset") or {}
        data = ds.get("path") if ds.get("kind") == "local" else None
        key = (str(spec.path), run.protocol, data)
        if key not in self._sources:  # opened once per task source; None when it cannot be read
            try:
                task = apply_protocol(spec, run.protocol)
                self._sources[key] = (task, open_source(task, data), get_adapter(task))
            except Exception:  # noqa: BLE001 - an unreadable source means "no image", not a failed report
                self._sources[key] = None
        if self._sources[key] is None:
            return {}
        task, source, adapter = self._sources[key]
        wanted = [i for i in indices if i < len(source)]
        try:
            return {i: adapter(r, i, task) for r, i in zip(source.rows(wanted), wanted, strict=True)}
        except Exception:  # noqa: BLE001
            return {}

    def _store(self, sha: str, data: bytes) -> dict[str, Any]:
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
                fmt = (im.format or "").upper()
                if fmt in ("PNG", "JPEG", "GIF", "WEBP") and len(data) <= KEEP_BYTES and max(w, h) <= KEEP_SIDE:
                    blob, ext = data, {"JPEG": "jpg"}.get(fmt, fmt.lower())
                else:
                    im.load()
                    small = im.convert("RGB")
                    small.thumbnail((THUMB_MAX, THUMB_MAX))
                    buf = io.BytesIO()
                    small.save(buf, format="JPEG", quality=85)
                    blob, ext = buf.getvalue(), "jpg"
        except Exception as exc:  # noqa: BLE001 - PIL raises many types on bad bytes
            entry: dict[str, Any] = {"note": f"image unreadable ({type(exc).__name__})"}
            self._done[sha] = entry
            return entry
        name = f"{sha[:24]}.{ext}"
        target = self.folder / name
        if not target.exists():
            if not self._made:
                self.folder.mkdir(parents=True, exist_ok=True)
                self._made = True
            tmp = target.with_name(f".{name}.{os.getpid()}")
            tmp.write_bytes(blob)
            os.replace(tmp, target)
        entry = {"src": f"img/{name}", "w": w, "h": h}
        self._done[sha] = entry
        return entry


def run_rows(run: RunEntry) -> list[dict[str, Any]]:
    recs = RunDir(run.path).records()
    n = run.n_samples
    return [record_row(recs[i]) for i in sorted(recs) if n is None or i < n]
