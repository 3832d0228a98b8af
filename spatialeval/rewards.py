"""SpatialThinker's rewards as plain batch functions, free of any training engine.

Every public ``*_reward`` function has TRL's reward-function shape,
``fn(prompts, completions, **kwargs) -> list[float]``, where ``kwargs`` carries the dataset
columns, one value per completion (``answer``, ``choices``/``options``, ``objects``,
``relationships``, ``width``/``height``, or STVQA-7K's ``answer_option_text`` ...). The same
per-sample functions back the EasyR1/veRL adapters in ``spatialeval.train.engine_rewards``.

The paper's reward (spatialthinker.md §4b), R = 0.1 format + 0.2 count + 0.5 accuracy + 0.2 spatial,
with lexicographic gating: a completion that fails the format gets 0 for everything; count and
accuracy are scored only when the format passes; spatial only when the answer is also correct.
Each gated component is its own function, so TRL's ``reward_weights=[0.1, 0.2, 0.5, 0.2]`` gives
the paper's total *and* logs ``rewards/<component>/mean`` for free; ``spatialthinker_reward`` is
the same total in one function for engines that take one.

Deliberate choices:

- **Accuracy goes through ``extract_choice``**, the evaluation's extractor, so the reward and the
  evaluation never disagree about what a model answered. The paper's exact-string rule ("(B) text"
  must equal the gold answer-tag content) is ``accuracy_mode="exact"``.
- **Format checks the tag order** observe < scene < think < answer (the brief; the paper's code
  checks presence and uniqueness only) plus the scene schema exactly as the paper does.
- **Boxes are normalised by the image size** before CIoU, as in the paper; the size comes from the
  ``width``/``height`` columns, else the image, else "Image size: (W x H)" in the prompt.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .extraction import extract_choice
from .records import LETTERS

TAGS = ("observe", "scene", "think", "answer")
WEIGHTS: dict[str, float] = {"format": 0.1, "count": 0.2, "accuracy": 0.5, "spatial": 0.2}
COUNT_WEIGHTS = (0.7, 0.3)  # objects, relations (paper: lambda_obj, lambda_rel)
COST_WEIGHTS = (2.0, 1.0)  # semantic, spatial (paper: lambda_semantic, lambda_spatial)
VANILLA_WEIGHTS: dict[str, float] = {"format": 0.5, "accuracy": 0.5}
ID_PATTERN = re.compile(r"^[A-Za-z_]+\.\d+$")
ACCURACY_MODES = ("choice", "exact")

_TAG_RE = {t: (re.compile(f"<{t}>", re.I), re.compile(f"</{t}>", re.I)) for t in TAGS}
_VANILLA_RE = re.compile(r"^\s*<think>.*?</think>\s*<answer>.*?</answer>\s*$", re.S | re.I)
_ANSWER_BLOCK = re.compile(r"<answer>(.*?)</answer>", re.S | re.I)
_SCENE_BLOCK = re.compile(r"<scene>(.*?)</scene>", re.S | re.I)
_IMAGE_SIZE = re.compile(r"\(\s*(\d+)\s*[x×]\s*(\d+)\s*\)")

Box = tuple[float, float, float, float]


# ---------------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True)
class SceneGraph:
    """Objects ``(id, box)`` and relations ``(subject, predicate, object)``, boxes in pixels."""

    objects: tuple[tuple[str, Box], ...] = ()
    relations: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class Parsed:
    """A completion read once: tag contents, whether the format holds and why not, the scene."""

    blocks: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    format_ok: bool = False
    error: str | None = None
    scene: SceneGraph | None = None


def completion_text(completion: Any) -> str:
    """TRL passes conversational completions as ``[{"role": "assistant", "content": str}]``."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion:
        content = completion[-1].get("content", "") if isinstance(completion[-1], dict) else completion[-1]
        if isinstance(content, list):  # content parts
            return "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return str(content)
    return "" if completion is None else str(completion)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def parse_scene(text: str) -> tuple[SceneGraph | None, str | None]:
    """The paper's scene schema: a JSON dict with lists ``objects`` and ``relationships``; objects
    with exactly ``id`` (``name.N``) and ``bbox`` (4 numbers); relations with string ``subject``,
    ``predicate``, ``object`` (ids in the same format); no duplicate object id."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError; deep nesting recurses
        return None, "scene is not valid JSON"
    if not isinstance(data, dict):
        return None, "scene is not a JSON object"
    objs, rels = data.get("objects"), data.get("relationships")
    if not isinstance(objs, list) or not isinstance(rels, list):
        return None, "scene needs lists 'objects' and 'relationships'"
    objects: list[tuple[str, Box]] = []
    for o in objs:
        if not isinstance(o, dict) or set(o) != {"id", "bbox"}:
            return None, "each object needs exactly the keys id and bbox"
        oid, box = o["id"], o["bbox"]
        if not isinstance(oid, str) or not ID_PATTERN.match(oid):
            return None, f"object id {oid!r} is not of the form name.N"
        if not isinstance(box, list) or len(box) != 4 or not all(_is_number(v) for v in box):
            return None, f"bbox of {oid} is not 4 numbers"
        objects.append((oid, (float(box[0]), float(box[1]), float(box[2]), float(box[3]))))
    ids = [o[0] for o in objects]
    if len(set(ids)) != len(ids):
        return None, "duplicate object id"
    relations: list[tuple[str, str, str]] = []
    for r in rels:
        if not isinstance(r, dict) or not all(isinstance(r.get(k), str) for k in ("subject", "predicate", "object")):
            return None, "each relation needs string subject, predicate and object"
        if not (ID_PATTERN.match(r["subject"]) and ID_PATTERN.match(r["object"])):
            return None, "relation subject/object is not of the form name.N"
        relations.append((r["subject"], r["predicate"], r["object"]))
    return SceneGraph(tuple(objects), tuple(relations)), None


@lru_cache(maxsize=8192)
def parse_completion(text: str) -> Parsed:
    """Check the observe/scene/think/answer format and parse the scene; cached per string."""
    blocks: dict[str, str] = {}
    spans: list[tuple[int, int]] = []
    for tag in TAGS:
        open_re, close_re = _TAG_RE[tag]
        opens, closes = open_re.findall(text), close_re.findall(text)
        if len(opens) != 1 or len(closes) != 1:
            return Parsed(blocks, False, f"<{tag}> must open and close exactly once")
        start, end = open_re.search(text).end(), close_re.search(text).start()  # type: ignore[union-attr]
        if end < start:
            return Parsed(blocks, False, f"</{tag}> before <{tag}>")
        blocks[tag] = text[start:end]
        spans.append((start, end))
    if any(spans[k][1] > spans[k + 1][0] for k in range(len(spans) - 1)):
        return Parsed(blocks, False, "tags out of order (expected observe, scene, think, answer)")
    scene, error = parse_scene(blocks["scene"].strip())
    if scene is None:
        return Parsed(blocks, False, error)
    return Parsed(blocks, True, None, scene)


# ---------------------------------------------------------------------------------------------
# Ground truth from dataset columns


@dataclass(frozen=True)
class GroundTruth:
    """What one row says is right. ``answer`` is the gold letter; ``answer_text`` the paper's
    exact-match target "(B) text"; ``size`` the image (width, height) in pixels."""

    choices: tuple[str, ...] = ()
    answer: str | None = None
    answer_text: str | None = None
    scene: SceneGraph = SceneGraph()
    size: tuple[float, float] | None = None


def _tag_content(text: str, pattern: re.Pattern[str]) -> str | None:
    found = pattern.findall(text or "")
    return found[-1].strip() if found else None


def _scene_from_objects(objects: Any, relationships: Any) -> SceneGraph:
    """Dataset columns (synthetic rows, VG-derived rows): objects with ``id`` and ``bbox``."""
    if isinstance(objects, str):
        objects = json.loads(objects)
    if isinstance(relationships, str):
        relationships = json.loads(relationships)
    objs = tuple((str(o["id"]), tuple(float(v) for v in o["bbox"])) for o in objects or [])
    rels = tuple((str(r["subject"]), str(r["predicate"]), str(r["object"])) for r in relationships or [])
    return SceneGraph(objs, rels)  # type: ignore[arg-type]


def _size_of(row: dict[str, Any], prompt: Any) -> tuple[float, float] | None:
    w, h = row.get("width"), row.get("height")
    if _is_number(w) and _is_number(h) and w > 0 and h > 0:
        return float(w), float(h)
    for key in ("image", "images"):
        img = row.get(key)
        if isinstance(img, list):
            img = img[0] if img else None
        size = getattr(img, "size", None)
        if isinstance(size, tuple) and len(size) == 2:
            return float(size[0]), float(size[1])
    text = prompt_text(prompt)
    m = re.search(r"Image size:\s*\(\s*(\d+)\s*[x×]\s*(\d+)\s*\)", text) or _IMAGE_SIZE.search(text)
    return (float(m.group(1)), float(m.group(2))) if m else None


def prompt_text(prompt: Any) -> str:
    """The text of a prompt: a string, or chat messages with string or part-list content."""
    if isinstance(prompt, str):
        return prompt
    parts: list[str] = []
    for m in prompt or []:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
    return "\n".join(parts)


def ground_truth(row: dict[str, Any], prompt: Any = None) -> GroundTruth:
    """Read the ground truth from one row's columns, in our synthetic layout or STVQA-7K's.

    Choices: ``choices`` or ``options``. Gold letter: ``answer_only``, else ``answer`` when it is a
    letter, else the answer tag of ``answer``. Scene: ``objects``/``relationships`` columns, else
    the ``<scene>`` block of ``answer_option_text`` or ``answer``.
    """
    choices = tuple(str(c) for c in (row.get("choices") or row.get("options") or []))
    letter = None
    for key in ("answer_only", "answer"):
        value = row.get(key)
        if isinstance(value, str):
            inner = _tag_content(value, _ANSWER_BLOCK) or value.strip()
            m = re.fullmatch(r"\(?([A-Z])\)?(?:\s.*)?", inner, re.S)
            if m:
                letter = m.group(1)
                break
    answer_text = row.get("answer_option_text_only")
    if not isinstance(answer_text, str):
        answer_text = _tag_content(str(row.get("answer_option_text") or ""), _ANSWER_BLOCK)
    if answer_text is None and letter and letter in LETTERS[: len(choices)]:
        answer_text = f"({letter}) {choices[LETTERS.index(letter)]}"
    if row.get("objects") is not None:
        scene = _scene_from_objects(row.get("objects"), row.get("relationships"))
    else:
        block = None
        for key in ("answer_option_text", "answer"):
            block = _tag_content(str(row.get(key) or ""), _SCENE_BLOCK)
            if block:
                break
        parsed = parse_scene(block)[0] if block else None
        scene = parsed or SceneGraph()
    return GroundTruth(choices, letter, answer_text, scene, _size_of(row, prompt))


# ---------------------------------------------------------------------------------------------
# Components on one completion


def format_score(text: str) -> float:
    return 1.0 if parse_completion(text).format_ok else 0.0


def count_score(pred: SceneGraph, gt: SceneGraph) -> float:
    """1 - |N_pred - N_gt| / max(N_gt, 1), floored at 0; objects 0.7 + relations 0.3 when the GT has relations."""

    def closeness(n_pred: int, n_gt: int) -> float:
        return max(0.0, 1.0 - abs(n_pred - n_gt) / max(n_gt, 1))

    c_obj = closeness(len(pred.objects), len(gt.objects))
    if not gt.relations:
        return c_obj
    return COUNT_WEIGHTS[0] * c_obj + COUNT_WEIGHTS[1] * closeness(len(pred.relations), len(gt.relations))


def accuracy_score(text: str, gt: GroundTruth, mode: str = "choice") -> float:
    """``choice``: the evaluation's extractor reads the letter; ``exact``: the paper's string match."""
    if mode == "exact":
        pred = _tag_content(text, _ANSWER_BLOCK)
        return float(pred is not None and gt.answer_text is not None
                     and " ".join(pred.lower().split()) == " ".join(gt.answer_text.lower().split()))
    if mode != "choice":
        raise ValueError(f"unknown accuracy mode {mode!r}; choose from {ACCURACY_MODES}")
    if gt.answer is None or not gt.choices:
        return 0.0
    return float(extract_choice(text, gt.choices).answer == gt.answer)


def complete_iou(a: Box, b: Box, eps: float = 1e-7) -> float:
    """Complete IoU (Zheng et al. 2020) of two xyxy boxes, as ``torchvision.ops.complete_box_iou``.

    Coordinates are sorted first, so a box written corner-swapped is still a box.
    """
    ax1, ax2 = sorted((a[0], a[2]))
    ay1, ay2 = sorted((a[1], a[3]))
    bx1, bx2 = sorted((b[0], b[2]))
    by1, by2 = sorted((b[1], b[3]))
    aw, ah, bw, bh = ax2 - ax1, ay2 - ay1, bx2 - bx1, by2 - by1
    inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))
    union = aw * ah + bw * bh - inter
    iou = inter / union if union > 0 else 0.0
    cw, ch = max(ax2, bx2) - min(ax1, bx1), max(ay2, by2) - min(ay1, by1)
    diag = cw * cw + ch * ch + eps
    rho = ((ax1 + ax2) / 2 - (bx1 + bx2) / 2) ** 2 + ((ay1 + ay2) / 2 - (by1 + by2) / 2) ** 2
    v = (4 / math.pi**2) * (math.atan2(bw, bh) - math.atan2(aw, ah)) ** 2
    alpha = v / (1 - iou + v + eps)
    return iou - rho / diag - alpha * v


def ciou01(a: Box, b: Box) -> float:
    """CIoU mapped to [0, 1] by (CIoU + 1) / 2 and clamped (CIoU can dip to -1.5)."""
    return min(1.0, max(0.0, (complete_iou(a, b) + 1) / 2))


def _normalise_box(box: Box, size: tuple[float, float] | None) -> Box:
    if not size:
        return box
    w, h = size
    return (box[0] / w, box[1] / h, box[2] / w, box[3] / h)


def linear_sum_assignment(cost: Sequence[Sequence[float]]) -> list[tuple[int, int]]:
    """Minimum-cost assignment of rows to columns: scipy's when installed, else a pure O(n^3) one.

    Returns ``min(n_rows, n_cols)`` pairs ``(row, col)`` sorted by row.
    """
    n = len(cost)
    m = len(cost[0]) if n else 0
    if n == 0 or m == 0:
        return []
    try:
        from scipy.optimize import linear_sum_assignment as lsa
    except ImportError:
        return hungarian(cost)
    rows, cols = lsa([list(r) for r in cost])
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)]


def hungarian(cost: Sequence[Sequence[float]]) -> list[tuple[int, int]]:
    """Shortest-augmenting-path Hungarian algorithm (Kuhn-Munkres with potentials), rectangular."""
    n = len(cost)
    m = len(cost[0]) if n else 0
    if n == 0 or m == 0:
        return []
    if n > m:
        return sorted((r, c) for c, r in hungarian([list(col) for col in zip(*cost, strict=True)]))
    inf = float("inf")
    u, v, p, way = [0.0] * (n + 1), [0.0] * (m + 1), [0] * (m + 1), [0] * (m + 1)
    for i in range(1, n + 1):
        p[0], j0 = i, 0
        minv, used = [inf] * (m + 1), [False] * (m + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = p[j0], inf, 0
            for j in range(1, m + 1):
                if not used[j]:
                    cur = cost[i0 - 1][j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(m + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    return sorted((p[j] - 1, j - 1) for j in range(1, m + 1) if p[j])


def spatial_score(pred: SceneGraph, gt: GroundTruth, similarity: Any = None) -> float:
    """Mean over GT objects of the matched prediction's CIoU in [0, 1]; unmatched GT objects score 0.

    Matching is Hungarian on cost 2 (1 - label similarity) + 1 (1 - CIoU01), boxes normalised by
    the image size. No GT objects: 1 if the prediction has none either, else 0.
    """
    gt_objs = gt.scene.objects
    if not gt_objs:
        return 0.0 if pred.objects else 1.0
    if not pred.objects:
        return 0.0
    if similarity is None:
        from .similarity import get_similarity

        similarity = get_similarity()
    sims = similarity.matrix([o[0] for o in pred.objects], [o[0] for o in gt_objs])
    pboxes = [_normalise_box(o[1], gt.size) for o in pred.objects]
    gboxes = [_normalise_box(o[1], gt.size) for o in gt_objs]
    ious = [[ciou01(p, g) for g in gboxes] for p in pboxes]
    lam_sem, lam_sp = COST_WEIGHTS
    cost = [[lam_sem * (1 - sims[i][j]) + lam_sp * (1 - ious[i][j]) for j in range(len(gboxes))]
            for i in range(len(pboxes))]
    return sum(ious[i][j] for i, j in linear_sum_assignment(cost)) / len(gt_objs)


@dataclass(frozen=True)
class Breakdown:
    """Each component after gating, and the weighted total."""

    format: float
    count: float
    accuracy: float
    spatial: float
    total: float

    def to_json(self) -> dict[str, float]:
        return {"format": self.format, "count": self.count, "accuracy": self.accuracy, "spatial": self.spatial,
                "total": self.total}


def score_completion(text: str, gt: GroundTruth, *, accuracy_mode: str = "choice", similarity: Any = None,
                     weights: dict[str, float] | None = None) -> Breakdown:
    """The paper's gated reward for one completion: format gates all; accuracy gates spatial."""
    w = weights or WEIGHTS
    parsed = parse_completion(text)
    if not parsed.format_ok or parsed.scene is None:
        return Breakdown(0.0, 0.0, 0.0, 0.0, 0.0)
    count = count_score(parsed.scene, gt.scene)
    acc = accuracy_score(text, gt, accuracy_mode)
    spatial = spatial_score(parsed.scene, gt, similarity) if acc == 1.0 else 0.0
    total = w["format"] + w["count"] * count + w["accuracy"] * acc + w["spatial"] * spatial
    return Breakdown(1.0, count, acc, spatial, total)


def vanilla_format_score(text: str) -> float:
    """The vanilla-GRPO format: the whole response is ``<think>...</think><answer>...</answer>``."""
    return 1.0 if _VANILLA_RE.match(text) else 0.0


# ---------------------------------------------------------------------------------------------
# TRL-shaped batch functions


def _rows(n: int, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    """Column lists -> one dict per completion (TRL repeats each column across the group)."""
    cols = {k: v for k, v in kwargs.items() if isinstance(v, list) and len(v) == n}
    return [{k: v[i] for k, v in cols.items()} for i in range(n)]


def _batch(prompts: Sequence[Any] | None, completions: Sequence[Any], kwargs: dict[str, Any]
           ) -> list[tuple[str, GroundTruth]]:
    rows = _rows(len(completions), kwargs)
    ps = list(prompts) if prompts is not None and len(prompts) == len(completions) else [None] * len(completions)
    return [(completion_text(c), ground_truth(r, p)) for c, r, p in zip(completions, rows, ps, strict=True)]


def _options(kwargs: dict[str, Any]) -> tuple[str, Any]:
    return kwargs.get("accuracy_mode") or "choice", kwargs.get("label_similarity")


def format_reward(prompts: Sequence[Any] | None, completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """1 when the observe/scene/think/answer format and the scene schema hold, else 0."""
    return [format_score(completion_text(c)) for c in completions]


def count_reward(prompts: Sequence[Any] | None, completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """Object (0.7) and relation (0.3) count closeness to the GT scene graph; 0 unless the format holds."""
    out = []
    for text, gt in _batch(prompts, completions, kwargs):
        parsed = parse_completion(text)
        out.append(count_score(parsed.scene, gt.scene) if parsed.format_ok and parsed.scene else 0.0)
    return out


def accuracy_reward(prompts: Sequence[Any] | None, completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """1 for the right option (read by the evaluation's extractor); 0 unless the format holds."""
    mode, _ = _options(kwargs)
    return [accuracy_score(text, gt, mode) if format_score(text) else 0.0
            for text, gt in _batch(prompts, completions, kwargs)]


def spatial_reward(prompts: Sequence[Any] | None, completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """Hungarian-matched CIoU of the predicted boxes; 0 unless the format holds and the answer is right."""
    mode, sim = _options(kwargs)
    out = []
    for text, gt in _batch(prompts, completions, kwargs):
        parsed = parse_completion(text)
        ok = parsed.format_ok and parsed.scene is not None and accuracy_score(text, gt, mode) == 1.0
        out.append(spatial_score(parsed.scene, gt, sim) if ok and parsed.scene else 0.0)
    return out


def spatialthinker_reward(prompts: Sequence[Any] | None, completions: Sequence[Any], **kwargs: Any
                          ) -> list[float]:
    """The paper's total, 0.1 format + 0.2 count + 0.5 accuracy + 0.2 spatial, gated, in one function."""
    mode, sim = _options(kwargs)
    return [score_completion(text, gt, accuracy_mode=mode, similarity=sim).total
            for text, gt in _batch(prompts, completions, kwargs)]


def vanilla_format_reward(prompts: Sequence[Any] | None, completions: Sequence[Any], **kwargs: Any
                          ) -> list[float]:
    return [vanilla_format_score(completion_text(c)) for c in completions]


def vanilla_accuracy_reward(prompts: Sequence[Any] | None, completions: Sequence[Any], **kwargs: Any
                            ) -> list[float]:
    """Accuracy without a format gate: the vanilla baseline scores them independently."""
    mode, _ = _options(kwargs)
    return [accuracy_score(text, gt, mode) for text, gt in _batch(prompts, completions, kwargs)]


def vanilla_reward(prompts: Sequence[Any] | None, completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """The sparse vanilla-GRPO reward: 0.5 format (think/answer) + 0.5 accuracy."""
    fmt = vanilla_format_reward(prompts, completions, **kwargs)
    acc = vanilla_accuracy_reward(prompts, completions, **kwargs)
    return [VANILLA_WEIGHTS["format"] * f + VANILLA_WEIGHTS["accuracy"] * a for f, a in zip(fmt, acc, strict=True)]


RewardFn = Callable[..., list[float]]

# name -> (component functions, weights): what a recipe's ``reward:`` selects.
REWARD_SETS: dict[str, tuple[tuple[RewardFn, ...], tuple[float, ...]]] = {
    "spatialthinker": ((format_reward, count_reward, accuracy_reward, spatial_reward),
                       tuple(WEIGHTS[k] for k in ("format", "count", "accuracy", "spatial"))),
    "vanilla": ((vanilla_format_reward, vanilla_accuracy_reward),
                (VANILLA_WEIGHTS["format"], VANILLA_WEIGHTS["accuracy"])),
}
