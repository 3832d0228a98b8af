"""Template questions over scene graphs, in STVQA-7K's format and nine categories.

SpatialThinker had Claude write one question per Visual Genome graph (spatialthinker.md §5); with no
network we write them from templates instead, keeping everything else: the nine categories, 2-4
options, each question's sub-scene-graph as ground truth, category balancing, deterministic
option shuffling. ``spatialeval.train.llm`` adds the optional LLM generation and validation.

What each category needs from a graph (a category the graph cannot support is skipped):

- relation: an explicit predicate ("Where is the A with respect to the B?", distractors from
  other predicate groups), or image-plane left/right or above/below read off the boxes;
- reach: an interaction predicate (holding, touching, carrying ...), or "next to"/"far from";
- size: apparent size in the image from the boxes, or a size predicate;
- orientation: a facing predicate (facing, looking at, facing away from);
- instance_location: an object whose name is unique, on a 3x3 grid, away from the grid lines;
- depth: "in front of"/"behind", or box bases for floor-perspective scenes (our synthetic ones);
- distance: image-plane centre distances to a referent with a clear ratio (a 2D proxy);
- count: instances of one object class (0 for a class from the vocabulary that is absent);
- existence: yes for a present label, no for an absent one that shares a word with the scene.

Questions about the synthetic scenes use the synthetic benchmark's own wording for its six kinds,
so a model trained on these rows is evaluated on the same phrasing it learnt.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..stvqa import CATEGORIES, make_row
from .scenegraph import (
    AB_MARGIN,
    DEPTH_MARGIN,
    LR_MARGIN,
    SIZE_RATIO,
    SceneGraph,
    VGObject,
    VGRelationship,
)

# Predicate groups (after SpatialThinker's canonical relation table, our own selection).
PREDICATE_GROUPS: dict[str, tuple[str, ...]] = {
    "above_below": ("above", "over", "below", "under", "beneath"),
    "left_right": ("left of", "right of"),
    "front_behind": ("in front of", "behind"),
    "inside": ("in", "inside"),
    "on": ("on", "on top of", "sitting on", "standing on", "lying on", "parked on", "mounted on", "riding",
           "hanging from"),
    "touching": ("touching", "holding", "attached to", "leaning against", "next to", "beside", "against",
                 "carrying"),
    "near_far": ("near", "far from", "close to"),
    "facing": ("facing", "looking at", "watching", "facing away from"),
    "size": ("bigger than", "smaller than", "taller than", "shorter than"),
}
GROUP_OF = {p: g for g, ps in PREDICATE_GROUPS.items() for p in ps}
INTERACTIONS = ("holding", "touching", "carrying", "leaning against", "riding", "attached to")
GRID = (("top left", "top center", "top right"), ("middle left", "center", "middle right"),
        ("bottom left", "bottom center", "bottom right"))
GRID_MARGIN = 0.04  # a centre this close to a grid line is ambiguous
DISTANCE_RATIO = 1.5
BALANCES = ("stvqa", "uniform")
_IRREGULAR = {"man": "men", "woman": "women", "person": "people", "child": "children", "foot": "feet",
              "mouse": "mice", "sheep": "sheep", "fish": "fish"}


@dataclass(frozen=True)
class Draft:
    """A question before shuffling: the correct option is ``options[0]``."""

    category: str
    question: str
    options: tuple[str, ...]
    object_ids: tuple[int, ...]
    relationships: tuple[VGRelationship, ...] = ()
    level: str = "medium"
    rating: int = 6


def plural(noun: str) -> str:
    words = noun.split()
    last = words[-1] if words else noun
    if last in _IRREGULAR:
        p = _IRREGULAR[last]
    elif last.endswith(("s", "x", "z", "ch", "sh")):
        p = last + "es"
    elif last.endswith("y") and len(last) > 1 and last[-2] not in "aeiou":
        p = last[:-1] + "ies"
    else:
        p = last + "s"
    return " ".join([*words[:-1], p])


def _level(margin: float, threshold: float) -> str:
    """How far past the decision threshold the evidence is: far is easy, just past is hard."""
    r = margin / threshold if threshold > 0 else 3.0
    return "easy" if r >= 3 else "medium" if r >= 1.5 else "hard"


def _unique(sg: SceneGraph) -> list[VGObject]:
    """Objects whose name occurs once: only those can be named unambiguously."""
    counts: dict[str, int] = {}
    for o in sg.objects:
        counts[o.name] = counts.get(o.name, 0) + 1
    return [o for o in sg.objects if counts[o.name] == 1]


def _explicit(sg: SceneGraph, groups: Iterable[str]) -> list[VGRelationship]:
    wanted = set(groups)
    unique = {o.object_id for o in _unique(sg)}
    return [r for r in sg.relationships if GROUP_OF.get(r.predicate) in wanted
            and r.subject_id in unique and r.object_id in unique]


def _pairs(sg: SceneGraph) -> list[tuple[VGObject, VGObject]]:
    objs = _unique(sg)
    return [(a, b) for a in objs for b in objs if a.object_id != b.object_id]


# ---------------------------------------------------------------------------------------------
# One function per category: (graph, rng) -> Draft | None


def ask_relation(sg: SceneGraph, rng: random.Random) -> Draft | None:
    groups = [g for g in PREDICATE_GROUPS if g not in ("left_right", "above_below", "front_behind", "size",
                                                        "facing", "near_far")]
    explicit = _explicit(sg, groups)
    if explicit and rng.random() < 0.5:
        r = rng.choice(explicit)
        by = sg.by_id()
        a, b = by[r.subject_id], by[r.object_id]
        others = [g for g in ("above_below", "on", "inside", "touching", "front_behind") if g != GROUP_OF[r.predicate]]
        distractors = [rng.choice(PREDICATE_GROUPS[g]) for g in rng.sample(others, 2)]
        return Draft("relation", f"Where is the {a.name} with respect to the {b.name}?",
                     (r.predicate, *distractors), (a.object_id, b.object_id), (r,), "easy", 7)
    w, h = sg.width, sg.height
    cands = []
    for a, b in _pairs(sg):
        dx, dy = b.center[0] - a.center[0], b.center[1] - a.center[1]
        if abs(dx) >= LR_MARGIN * w:
            cands.append(("lr", a, b, abs(dx) / w))
        if abs(dy) >= AB_MARGIN * h:
            cands.append(("ab", a, b, abs(dy) / h))
    if not cands:
        return None
    kind, a, b, margin = rng.choice(cands)
    if kind == "lr":
        truth = "left" if a.center[0] < b.center[0] else "right"
        other = "right" if truth == "left" else "left"
        rel = VGRelationship(a.object_id, f"{truth} of", b.object_id)
        return Draft("relation", f"Is the {a.name} to the left or to the right of the {b.name}?", (truth, other),
                     (a.object_id, b.object_id), (rel,), _level(margin, LR_MARGIN), 6)
    truth = "above" if a.center[1] < b.center[1] else "below"
    other = "below" if truth == "above" else "above"
    rel = VGRelationship(a.object_id, truth, b.object_id)
    return Draft("relation", f"In the image, is the {a.name} above or below the {b.name}?", (truth, other),
                 (a.object_id, b.object_id), (rel,), _level(margin, AB_MARGIN), 6)


def ask_reach(sg: SceneGraph, rng: random.Random) -> Draft | None:
    by = sg.by_id()
    acts = [r for r in _explicit(sg, ["touching", "on"]) if r.predicate in INTERACTIONS]
    if acts:
        r = rng.choice(acts)
        a, b = by[r.subject_id], by[r.object_id]
        distractors = rng.sample([p for p in INTERACTIONS if p != r.predicate], 2)
        return Draft("reach", f"What is the {a.name} doing with the {b.name}?", (r.predicate, *distractors),
                     (a.object_id, b.object_id), (r,), "medium", 7)
    near_far = _explicit(sg, ["touching", "near_far"])
    near = [r for r in near_far if r.predicate in ("next to", "beside", "touching", "near", "close to")]
    far = [r for r in near_far if r.predicate == "far from"]
    pool = [(r, "yes") for r in near] + [(r, "no") for r in far]
    if not pool:
        return None
    r, truth = rng.choice(pool)
    a, b = by[r.subject_id], by[r.object_id]
    if rng.random() < 0.5:
        a, b = b, a
    return Draft("reach", f"Can the {a.name} reach the {b.name}?", (truth, "no" if truth == "yes" else "yes"),
                 (a.object_id, b.object_id), (r,), "medium", 6)


def ask_size(sg: SceneGraph, rng: random.Random) -> Draft | None:
    cands = []
    for a, b in _pairs(sg):
        if a.w >= SIZE_RATIO * b.w and a.w * a.h >= SIZE_RATIO**2 * b.w * b.h:
            cands.append((a, b, "bigger", a.w / b.w))
        elif b.w >= SIZE_RATIO * a.w and b.w * b.h >= SIZE_RATIO**2 * a.w * a.h:
            cands.append((a, b, "smaller", b.w / a.w))
    if not cands:
        return None
    a, b, truth, ratio = rng.choice(cands)
    other = "smaller" if truth == "bigger" else "bigger"
    rel = VGRelationship(a.object_id, f"{truth} than", b.object_id)
    return Draft("size", f"In the image, is the {a.name} bigger or smaller than the {b.name}?", (truth, other),
                 (a.object_id, b.object_id), (rel,), _level(ratio - 1, SIZE_RATIO - 1), 6)


def ask_orientation(sg: SceneGraph, rng: random.Random) -> Draft | None:
    rels = _explicit(sg, ["facing"])
    if not rels:
        return None
    r = rng.choice(rels)
    by = sg.by_id()
    ref, a = by[r.subject_id], by[r.object_id]
    truth = "behind" if r.predicate == "facing away from" else "in front"
    other = "in front" if truth == "behind" else "behind"
    q = f"From the {ref.name}'s perspective, is the {a.name} in front of it or behind it?"
    return Draft("orientation", q, (truth, other), (ref.object_id, a.object_id), (r,), "hard", 8)


def ask_instance_location(sg: SceneGraph, rng: random.Random) -> Draft | None:
    cands = []
    for o in _unique(sg):
        cx, cy = o.center[0] / sg.width, o.center[1] / sg.height
        if min(abs(cx - t) for t in (1 / 3, 2 / 3)) < GRID_MARGIN or min(abs(cy - t) for t in (1 / 3, 2 / 3)) < GRID_MARGIN:
            continue
        cands.append((o, GRID[min(2, int(cy * 3))][min(2, int(cx * 3))]))
    if not cands:
        return None
    o, truth = rng.choice(cands)
    others = rng.sample([c for row in GRID for c in row if c != truth], 3)
    return Draft("instance_location", f"In which part of the image is the {o.name} located?", (truth, *others),
                 (o.object_id,), (), "medium", 6)


def ask_depth(sg: SceneGraph, rng: random.Random) -> Draft | None:
    by = sg.by_id()
    unique = {o.object_id for o in _unique(sg)}
    cands: list[tuple[VGObject, VGObject, str]] = []  # (near, far, level)
    for r in sg.relationships:
        if r.subject_id in unique and r.object_id in unique and r.predicate in ("in front of", "behind"):
            near, far = (r.subject_id, r.object_id) if r.predicate == "in front of" else (r.object_id, r.subject_id)
            level = "medium"
            if sg.depth_from_boxes:
                gap = (by[near].y + by[near].h) - (by[far].y + by[far].h)
                level = _level(gap / sg.height, DEPTH_MARGIN)
            cands.append((by[near], by[far], level))
    if not cands:
        return None
    near, far, level = rng.choice(cands)
    word = rng.choice(("closer to", "farther from"))
    truth, other = (near, far) if word == "closer to" else (far, near)
    a, b = (near, far) if rng.random() < 0.5 else (far, near)
    rel = VGRelationship(near.object_id, "in front of", far.object_id)
    return Draft("depth", f"Which object is {word} the camera: the {a.name} or the {b.name}?",
                 (truth.name, other.name), (a.object_id, b.object_id), (rel,), level, 7)


def ask_distance(sg: SceneGraph, rng: random.Random) -> Draft | None:
    objs = _unique(sg)

    def dist(p: VGObject, q: VGObject) -> float:
        return ((p.center[0] - q.center[0]) ** 2 + (p.center[1] - q.center[1]) ** 2) ** 0.5

    cands = []
    for ref in objs:
        for a in objs:
            for b in objs:
                if len({ref.object_id, a.object_id, b.object_id}) == 3 and a.object_id < b.object_id:
                    da, db = dist(ref, a), dist(ref, b)
                    near, far = (a, b) if da < db else (b, a)
                    ratio = max(da, db) / max(min(da, db), 1e-6)
                    if ratio >= DISTANCE_RATIO:
                        cands.append((ref, a, b, near, far, ratio))
    if not cands:
        return None
    ref, a, b, near, far, ratio = rng.choice(cands)
    rels = (VGRelationship(near.object_id, "near", ref.object_id), VGRelationship(far.object_id, "far from", ref.object_id))
    return Draft("distance", f"Which object is closer to the {ref.name}: the {a.name} or the {b.name}?",
                 (near.name, far.name), (ref.object_id, a.object_id, b.object_id), rels,
                 _level(ratio - 1, DISTANCE_RATIO - 1), 7)


def ask_count(sg: SceneGraph, rng: random.Random) -> Draft | None:
    kinds: dict[str, list[VGObject]] = {}
    for o in sg.objects:
        kinds.setdefault(o.kind, []).append(o)
    absent = sorted({v.split()[-1] for v in sg.vocabulary} - set(kinds))
    if absent and rng.random() < 0.15:
        kind, members = rng.choice(absent), []
    elif kinds:
        kind = rng.choice(sorted(kinds))
        members = kinds[kind]
    else:
        return None
    n = len(members)
    wrong = rng.sample([c for c in range(0, max(6, n + 3) + 1) if c != n], 3)
    level = "easy" if n <= 2 else "medium" if n <= 4 else "hard"
    return Draft("count", f"How many {plural(kind)} are there in the image?", (str(n), *map(str, wrong)),
                 tuple(o.object_id for o in members), (), level, 5)


def ask_existence(sg: SceneGraph, rng: random.Random) -> Draft | None:
    present = sorted({o.name for o in sg.objects})
    if not present:
        return None
    words = {w for name in present for w in name.split()}
    near_misses = sorted(v for v in sg.vocabulary if v not in present and set(v.split()) & words)
    if near_misses and rng.random() < 0.5:
        label, truth, ids = rng.choice(near_misses), "no", ()
    else:
        label = rng.choice(present)
        truth, ids = "yes", tuple(o.object_id for o in sg.objects if o.name == label)
    article = "an" if label[0] in "aeiou" else "a"
    return Draft("existence", f"Is there {article} {label} in the image?", (truth, "no" if truth == "yes" else "yes"),
                 ids, (), "easy", 5)


ASKERS: dict[str, Callable[[SceneGraph, random.Random], Draft | None]] = {
    "relation": ask_relation,
    "reach": ask_reach,
    "size": ask_size,
    "orientation": ask_orientation,
    "instance_location": ask_instance_location,
    "depth": ask_depth,
    "distance": ask_distance,
    "count": ask_count,
    "existence": ask_existence,
}
assert tuple(ASKERS) == CATEGORIES


# ---------------------------------------------------------------------------------------------
# Balancing, shuffling, rows


def target_shares(balance: str, categories: Sequence[str] = CATEGORIES) -> dict[str, float]:
    """``stvqa``: half relation, the rest split equally (the paper's filter); ``uniform``: equal."""
    if balance not in BALANCES:
        raise ValueError(f"unknown balance {balance!r}; choose from {BALANCES}")
    cats = list(categories)
    if balance == "uniform" or "relation" not in cats or len(cats) == 1:
        return {c: 1 / len(cats) for c in cats}
    rest = [c for c in cats if c != "relation"]
    return {"relation": 0.5, **{c: 0.5 / len(rest) for c in rest}}


def _seeded(*parts: Any) -> random.Random:
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def shuffle_options(draft: Draft, image_id: str) -> tuple[list[str], int]:
    """Options in an order fixed by the question and image alone; returns (options, gold index)."""
    options = list(draft.options)
    _seeded("options", image_id, draft.question).shuffle(options)
    return options, options.index(draft.options[0])


def draft_to_row(sg: SceneGraph, draft: Draft, image: bytes) -> dict[str, Any]:
    options, gold = shuffle_options(draft, sg.image_id)
    scene = sg.to_scene_json(list(draft.object_ids), list(draft.relationships))
    return make_row(image=image, image_id=sg.image_id, question=draft.question, options=options, answer_index=gold,
                    scene=scene, category=draft.category, level=draft.level, rating=draft.rating,
                    width=sg.width, height=sg.height)


def scene_image_bytes(sg: SceneGraph) -> bytes:
    """The scene's image as encoded bytes (inline, or read from its path)."""
    if isinstance(sg.image, bytes):
        return sg.image
    if isinstance(sg.image, str):
        with open(sg.image, "rb") as fh:
            return fh.read()
    raise ValueError(f"scene {sg.image_id} has no image")


def synthesize(graphs: Iterable[SceneGraph], *, seed: int = 0, balance: str = "stvqa",
               categories: Sequence[str] = CATEGORIES, limit: int | None = None) -> list[dict[str, Any]]:
    """One question per graph, STVQA-format rows, categories steered toward the target shares.

    Each graph tries the categories in order of how far each lags its target (the paper steered
    its generator with live data statistics the same way), taking the first it supports. The
    draw depends only on (seed, image id) and the counts so far, so a run is reproducible.
    """
    unknown = [c for c in categories if c not in ASKERS]
    if unknown:
        raise ValueError(f"unknown categories {unknown}; known: {list(CATEGORIES)}")
    shares = target_shares(balance, categories)
    made = dict.fromkeys(categories, 0)
    rows: list[dict[str, Any]] = []
    for sg in graphs:
        if limit is not None and len(rows) >= limit:
            break
        total = len(rows) + 1
        order = sorted(categories, key=lambda c: (made[c] - shares[c] * total, categories.index(c)))
        for cat in order:
            draft = ASKERS[cat](sg, _seeded("question", seed, sg.image_id, cat))
            if draft is not None:
                rows.append(draft_to_row(sg, draft, scene_image_bytes(sg)))
                made[cat] += 1
                break
    return rows


def split_rows(rows: list[dict[str, Any]], val_fraction: float = 0.1, seed: int = 42
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per-category train/val split (the paper: 90/10 per category, random_state 42)."""
    train, val = [], []
    by_cat: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_cat.setdefault(r["category"], []).append(r)
    for cat in sorted(by_cat):
        items = list(by_cat[cat])
        _seeded("split", seed, cat).shuffle(items)
        k = round(len(items) * val_fraction)
        val += items[:k]
        train += items[k:]
    return train, val
