"""The bundled synthetic spatial benchmark: procedurally rendered scenes with exact ground truth.

Why it exists: ``spatialeval run`` must work on a fresh machine with no network, and the whole
chain (render prompt, generate, extract, score, spatial reward) needs items whose answer is known
for certain, together with the object boxes and relation triplets of the scene graph that
SpatialThinker's spatial reward matches against (objects ``name.N`` with absolute-pixel boxes,
relationships ``subject``/``predicate``/``object``).

Design choices, each for a reason:

- **Row ``i`` depends only on ``(seed, i)``** (plus the image size and category list). Every row
  draws from its own ``random.Random`` keyed by a SHA-256 of ``(seed, index)``, never the global
  RNG, so any batch can be generated alone, in any order, on any worker, and be byte-identical.
  PNGs are written with fixed parameters and no metadata for the same reason.
- **Categories are interleaved round-robin by index**, so any prefix (a smoke test of 20 items,
  a shard) is balanced.
- **Ground truth is unambiguous by construction**: a scene whose asked relation is within a
  margin of the decision boundary is rejected and redrawn, and objects never overlap except the
  one deliberate occlusion of a depth question, so counts and existence are always visible.
- **Depth follows one perspective model**: objects stand on a floor, so an object lower in the
  image is closer; it is drawn after (over) farther ones. Depth questions also make the closer
  object larger, so the size, height and occlusion cues agree.
- **One small function per category**, registered in ``_ASKERS``, so STVQA's nine categories
  (relation, reach, size, orientation, instance location, depth, distance, count, existence) can
  be added one function at a time; ``STVQA_CATEGORY`` maps ours onto theirs.

Bump ``SYNTH_VERSION`` whenever a change alters any row: it is part of the task version, and the
bundled tiny model's tokenizer is trained on these prompts.
"""

from __future__ import annotations

import hashlib
import io
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import permutations
from typing import Any

from spatialeval.records import LETTERS

SYNTH_VERSION = "1"

SYNTH_CATEGORIES: tuple[str, ...] = (
    "left_right",
    "above_below",
    "closer_farther",
    "bigger_smaller",
    "count",
    "existence",
)

# Our fine-grained kinds under STVQA-7K's nine categories, for per-category reports that line up
# with the paper's training data.
STVQA_CATEGORY: dict[str, str] = {
    "left_right": "relation",
    "above_below": "relation",
    "closer_farther": "depth",
    "bigger_smaller": "size",
    "count": "count",
    "existence": "existence",
}

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")
PLURALS: dict[str, str] = {"circle": "circles", "square": "squares", "triangle": "triangles", "star": "stars"}

# Saturated colours far from the wall, floor and shadow greys, so every pixel's owner is obvious.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (240, 210, 40),
    "purple": (140, 60, 180),
    "orange": (245, 140, 30),
}

WALL_RGB = (226, 224, 214)
FLOOR_RGB = (168, 158, 146)
SHADOW_RGB = (128, 120, 110)

HORIZON = 0.36  # wall/floor boundary, as a fraction of the image height
MIN_OBJECTS, MAX_OBJECTS = 2, 6

# Margins that make the ground truth safe: a relation closer than these to the boundary is redrawn.
LR_MARGIN = 0.10  # |centre x difference| >= this fraction of the width
AB_MARGIN = 0.12  # |centre y difference| >= this fraction of the height
DEPTH_MARGIN = 0.10  # base y difference >= this fraction of the height
DEPTH_SIZE_RATIO = 1.2  # the closer object is at least this much larger
SIZE_RATIO = 1.4  # side and drawn-area ratios for bigger/smaller
GAP = 4  # pixels between boxes of objects that must not overlap
MIN_OCCLUDED, MAX_OCCLUDED = 0.08, 0.45  # share of the farther object's drawn pixels hidden
OCCLUSION_RATE = 0.5  # depth pairs that overlap; the rest rely on height and size alone


def _unit_star(inner: float = 0.5) -> list[tuple[float, float]]:
    """A five-pointed star, point up, normalised so it touches all four sides of the unit box."""
    pts = []
    for k in range(10):
        r = 1.0 if k % 2 == 0 else inner
        a = -math.pi / 2 + k * math.pi / 5
        pts.append((r * math.cos(a), r * math.sin(a)))
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, y0, w, h = min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)
    return [((x - x0) / w, (y - y0) / h) for x, y in pts]


_STAR = _unit_star()


def _polygon_area(pts: Sequence[tuple[float, float]]) -> float:
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(pts, [*pts[1:], pts[0]], strict=True))) / 2


# Fraction of its box that each shape fills, for comparing drawn areas.
_FILL = {"circle": math.pi / 4, "square": 1.0, "triangle": 0.5, "star": _polygon_area(_STAR)}


@dataclass(frozen=True)
class SceneObject:
    """One drawn object. ``bbox`` is inclusive pixel coordinates ``[x1, y1, x2, y2]``."""

    shape: str
    color: str
    bbox: tuple[int, int, int, int]

    @property
    def label(self) -> str:
        return f"{self.color} {self.shape}"

    @property
    def name(self) -> str:
        return f"{self.color}_{self.shape}"

    @property
    def id(self) -> str:
        # Colour+shape is unique within a scene, so the instance number is always 1; the ``.N``
        # suffix keeps SpatialThinker's id format (letters/underscores, a dot, digits).
        return f"{self.name}.1"

    @property
    def center(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self.bbox
        return (x1 + x2) / 2, (y1 + y2) / 2

    @property
    def side(self) -> int:
        return self.bbox[2] - self.bbox[0] + 1

    @property
    def base(self) -> int:
        """The y where the object meets the floor: larger is closer to the camera."""
        return self.bbox[3]

    @property
    def drawn_area(self) -> float:
        return self.side**2 * _FILL[self.shape]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "bbox": list(self.bbox)}


@dataclass(frozen=True)
class Scene:
    width: int
    height: int
    objects: tuple[SceneObject, ...]


@dataclass(frozen=True)
class Question:
    """What a category function asks: the correct choice is ``choices[0]`` before shuffling."""

    text: str
    choices: tuple[str, ...]
    relationships: tuple[tuple[str, str, str], ...] = ()


# A category function: draws a scene and a question about it, or None when too close to call.
Asker = Callable[[random.Random, int, int], tuple[Scene, Question] | None]


def _rng(seed: int, index: int, salt: str) -> random.Random:
    """A generator private to one row; SHA-256 rather than ``hash()`` so it is stable across runs."""
    digest = hashlib.sha256(f"spatialeval-synth/{SYNTH_VERSION}/{salt}/{seed}/{index}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


# ---------------------------------------------------------------------------------------------
# Scenes


def _box(cx: float, base: float, side: float) -> tuple[int, int, int, int]:
    s = max(8, round(side))
    x1 = round(cx - s / 2)
    y2 = round(base)
    return (x1, y2 - s + 1, x1 + s - 1, y2)


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int], gap: int = GAP) -> bool:
    return not (a[2] + gap < b[0] or b[2] + gap < a[0] or a[3] + gap < b[1] or b[3] + gap < a[1])


def _inside(box: tuple[int, int, int, int], w: int, h: int) -> bool:
    return box[0] >= 1 and box[1] >= 1 and box[2] <= w - 2 and box[3] <= h - 2


def _random_box(rng: random.Random, w: int, h: int) -> tuple[int, int, int, int]:
    """A box standing on the floor, sized by perspective (lower = closer = larger) times a jitter."""
    horizon = HORIZON * h
    base = rng.uniform(horizon + 0.14 * h, h - 3)
    depth = (base - horizon) / (h - horizon)  # 0 at the horizon, 1 at the bottom edge
    side = 0.22 * h * (0.45 + 0.75 * depth) * rng.uniform(0.75, 1.3)
    cx = rng.uniform(side / 2 + 2, w - side / 2 - 2)
    return _box(cx, base, side)


def _sample_scene(
    rng: random.Random,
    w: int,
    h: int,
    *,
    n: int | None = None,
    shapes: Sequence[str] = (),
    fixed: Sequence[SceneObject] = (),
) -> Scene | None:
    """Place objects with non-overlapping boxes; ``shapes`` are forced first, ``fixed`` kept as is.

    Returns None when the canvas is too crowded to place them; the caller redraws.
    """
    n = rng.randint(MIN_OBJECTS, MAX_OBJECTS) if n is None else n
    objects = list(fixed)
    used = {(o.color, o.shape) for o in objects}
    wanted = list(shapes) + [rng.choice(SHAPES) for _ in range(max(0, n - len(objects) - len(shapes)))]
    for shape in wanted:
        colors = [c for c in COLORS if (c, shape) not in used]
        if not colors:
            return None
        color = rng.choice(colors)
        for _ in range(40):
            box = _random_box(rng, w, h)
            if _inside(box, w, h) and not any(_overlaps(box, o.bbox) for o in objects):
                break
        else:
            return None
        objects.append(SceneObject(shape, color, box))
        used.add((color, shape))
    rng.shuffle(objects)  # listing order carries no hint (fixed objects would otherwise come first)
    return Scene(w, h, tuple(objects))


# ---------------------------------------------------------------------------------------------
# One function per category. Each draws its scene and its question from ``rng`` and returns None
# when the draw is too close to call, so ``_draw`` tries again.


def _ask_left_right(rng: random.Random, w: int, h: int) -> tuple[Scene, Question] | None:
    scene = _sample_scene(rng, w, h)
    if scene is None:
        return None
    pairs = [
        (a, b) for a, b in permutations(scene.objects, 2) if abs(a.center[0] - b.center[0]) >= LR_MARGIN * w
    ]
    if not pairs:
        return None
    a, b = rng.choice(pairs)
    left = a.center[0] < b.center[0]
    truth, other = ("left", "right") if left else ("right", "left")
    text = f"Is the {a.label} to the left or to the right of the {b.label}?"
    return scene, Question(text, (truth, other), ((a.id, f"{truth} of", b.id),))


def _ask_above_below(rng: random.Random, w: int, h: int) -> tuple[Scene, Question] | None:
    scene = _sample_scene(rng, w, h)
    if scene is None:
        return None
    pairs = [
        (a, b) for a, b in permutations(scene.objects, 2) if abs(a.center[1] - b.center[1]) >= AB_MARGIN * h
    ]
    if not pairs:
        return None
    a, b = rng.choice(pairs)
    truth, other = ("above", "below") if a.center[1] < b.center[1] else ("below", "above")
    text = f"In the image, is the {a.label} above or below the {b.label}?"
    return scene, Question(text, (truth, other), ((a.id, truth, b.id),))


def _ask_closer_farther(rng: random.Random, w: int, h: int) -> tuple[Scene, Question] | None:
    """Depth from three agreeing cues: the closer object is lower, larger, and (half the time) in front.

    The pair is placed first (possibly overlapping, the only overlap a scene ever has); the other
    objects are then placed around them without overlap.
    """
    far_box = _random_box(rng, w, h)
    horizon = HORIZON * h
    base = rng.uniform(far_box[3] + DEPTH_MARGIN * h, h - 3)
    depth = (base - horizon) / (h - horizon)
    side = max(
        0.22 * h * (0.45 + 0.75 * depth) * rng.uniform(0.85, 1.3),
        DEPTH_SIZE_RATIO * (far_box[2] - far_box[0] + 1),
    )
    occlude = rng.random() < OCCLUSION_RATE
    if occlude:  # overlap the farther object from one side, covering part of it
        far_cx = (far_box[0] + far_box[2]) / 2
        cx = far_cx + rng.choice((-1, 1)) * rng.uniform(0.45, 0.8) * (side + far_box[2] - far_box[0]) / 2
    else:
        cx = rng.uniform(side / 2 + 2, w - side / 2 - 2)
    near_box = _box(cx, base, side)
    if not (_inside(far_box, w, h) and _inside(near_box, w, h)):
        return None
    colors = rng.sample(list(COLORS), 2)
    far = SceneObject(rng.choice(SHAPES), colors[0], far_box)
    near = SceneObject(rng.choice(SHAPES), colors[1], near_box)
    if near.side < DEPTH_SIZE_RATIO * far.side or near.base - far.base < DEPTH_MARGIN * h:
        return None
    if occlude:
        # The shapes, not just their boxes, must overlap visibly, and most of the farther one stays seen.
        hidden = _hidden_fraction(far, near)
        if not MIN_OCCLUDED <= hidden <= MAX_OCCLUDED:
            return None
    elif _overlaps(far_box, near_box):
        return None
    scene = _sample_scene(rng, w, h, fixed=(far, near))
    if scene is None:
        return None
    a, b = (near, far) if rng.random() < 0.5 else (far, near)
    word = rng.choice(("closer to", "farther from"))
    truth = near if word == "closer to" else far
    other = far if truth is near else near
    text = f"Which object is {word} the camera: the {a.label} or the {b.label}?"
    rels = [(near.id, "in front of", far.id)]
    if occlude:
        rels.append((near.id, "occludes", far.id))
    return scene, Question(text, (truth.label, other.label), tuple(rels))


def _contains(o: SceneObject, x: float, y: float) -> bool:
    """Whether the point lies in the drawn shape (not just its box)."""
    x1, y1, x2, y2 = o.bbox
    if not (x1 <= x <= x2 and y1 <= y <= y2):
        return False
    if o.shape == "square":
        return True
    if o.shape == "circle":
        cx, cy = o.center
        r = (x2 - x1) / 2
        return (x - cx) ** 2 + (y - cy) ** 2 <= r * r
    pts = _shape_xy(o.shape, o.bbox)  # even-odd ray casting
    inside = False
    for (ax, ay), (bx, by) in zip(pts, [*pts[1:], pts[0]], strict=True):
        if (ay > y) != (by > y) and x < ax + (y - ay) * (bx - ax) / (by - ay):
            inside = not inside
    return inside


def _hidden_fraction(far: SceneObject, near: SceneObject, step: int = 2) -> float:
    """The fraction of ``far``'s drawn pixels that ``near`` covers, on a grid of ``step`` pixels."""
    x1, y1, x2, y2 = far.bbox
    total = hidden = 0
    for y in range(y1, y2 + 1, step):
        for x in range(x1, x2 + 1, step):
            if _contains(far, x, y):
                total += 1
                hidden += _contains(near, x, y)
    return hidden / max(total, 1)


def _ask_bigger_smaller(rng: random.Random, w: int, h: int) -> tuple[Scene, Question] | None:
    """Apparent size in the image; both the extent and the drawn area must differ by ``SIZE_RATIO``."""
    scene = _sample_scene(rng, w, h)
    if scene is None:
        return None

    def clearly_bigger(a: SceneObject, b: SceneObject) -> bool:
        return a.side >= SIZE_RATIO * b.side and a.drawn_area >= SIZE_RATIO * b.drawn_area

    pairs = [
        (a, b) for a, b in permutations(scene.objects, 2) if clearly_bigger(a, b) or clearly_bigger(b, a)
    ]
    if not pairs:
        return None
    a, b = rng.choice(pairs)
    truth, other = ("bigger", "smaller") if clearly_bigger(a, b) else ("smaller", "bigger")
    text = f"In the image, is the {a.label} bigger or smaller than the {b.label}?"
    return scene, Question(text, (truth, other), ((a.id, f"{truth} than", b.id),))


def _ask_count(rng: random.Random, w: int, h: int) -> tuple[Scene, Question] | None:
    """Count one shape; the target shape is forced 0-4 times so the answers spread over 0..4+."""
    shape = rng.choice(SHAPES)
    k = rng.choice((0, 1, 1, 2, 2, 3, 3, 4))
    n = rng.randint(max(MIN_OBJECTS, k), MAX_OBJECTS)
    others = [s for s in SHAPES if s != shape]
    scene = _sample_scene(rng, w, h, n=n, shapes=[shape] * k + [rng.choice(others) for _ in range(n - k)])
    if scene is None:
        return None
    count = sum(o.shape == shape for o in scene.objects)
    wrong = rng.sample([c for c in range(0, MAX_OBJECTS + 1) if c != count], 3)
    text = f"How many {PLURALS[shape]} are there in the image?"
    return scene, Question(text, (str(count), *map(str, wrong)))


def _ask_existence(rng: random.Random, w: int, h: int) -> tuple[Scene, Question] | None:
    """Yes/no, balanced; a "no" names a colour+shape absent from the scene but sharing a part with it."""
    scene = _sample_scene(rng, w, h)
    if scene is None:
        return None
    present = {(o.color, o.shape) for o in scene.objects}
    if rng.random() < 0.5:
        color, shape = rng.choice(sorted(present))
        truth, other = "yes", "no"
    else:
        near_misses = sorted(
            (c, s)
            for c in COLORS
            for s in SHAPES
            if (c, s) not in present and any(c == pc or s == ps for pc, ps in present)
        )
        color, shape = rng.choice(near_misses)
        truth, other = "no", "yes"
    return scene, Question(f"Is there a {color} {shape} in the image?", (truth, other))


_ASKERS: dict[str, Asker] = {
    "left_right": _ask_left_right,
    "above_below": _ask_above_below,
    "closer_farther": _ask_closer_farther,
    "bigger_smaller": _ask_bigger_smaller,
    "count": _ask_count,
    "existence": _ask_existence,
}
assert tuple(_ASKERS) == SYNTH_CATEGORIES


# ---------------------------------------------------------------------------------------------
# Rows


def _category(index: int, categories: Sequence[str] | None) -> str:
    cats = tuple(categories) if categories else SYNTH_CATEGORIES
    unknown = [c for c in cats if c not in _ASKERS]
    if unknown:
        raise ValueError(f"unknown synth categories {unknown}; known: {list(SYNTH_CATEGORIES)}")
    return cats[index % len(cats)]


def _draw(index: int, seed: int, image_size: tuple[int, int], category: str) -> tuple[Scene, Question]:
    if index < 0:
        raise ValueError(f"index must be >= 0, got {index}")
    w, h = image_size
    rng = _rng(seed, index, "scene")
    for _ in range(1000):
        drawn = _ASKERS[category](rng, w, h)
        if drawn is not None:
            return drawn
    raise RuntimeError(f"could not draw a {category} scene at {w}x{h} (image too small?)")


def _meta(
    index: int, seed: int, image_size: tuple[int, int], categories: Sequence[str] | None
) -> tuple[Scene, dict[str, Any]]:
    category = _category(index, categories)
    scene, q = _draw(index, seed, image_size, category)
    choices = list(q.choices)
    # A separate stream for the option order, so the scene does not depend on how many options
    # a question has and the order can change without touching the scene.
    _rng(seed, index, "options").shuffle(choices)
    row = {
        "id": f"synth-{seed}-{index:06d}",
        "question": q.text,
        "choices": choices,
        "answer": LETTERS[choices.index(q.choices[0])],
        "category": category,
        "objects": [o.to_json() for o in scene.objects],
        "relationships": [{"subject": s, "predicate": p, "object": o} for s, p, o in q.relationships],
        "width": scene.width,
        "height": scene.height,
    }
    return scene, row


def synth_meta(
    index: int,
    *,
    seed: int = 0,
    image_size: tuple[int, int] = (320, 240),
    categories: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Row ``index`` without its image: same question, answer and scene graph, at a tiny cost.

    Used to list ids and categories of a large synthetic task without rendering it.
    """
    return _meta(index, seed, image_size, categories)[1]


def synth_row(
    index: int,
    *,
    seed: int = 0,
    image_size: tuple[int, int] = (320, 240),
    categories: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Row ``index`` of the synthetic benchmark for ``seed``, with its PNG in ``row["image"]``.

    The row depends only on its arguments, so batches can be generated independently and in any
    order. ``categories`` (default: all of ``SYNTH_CATEGORIES``) are assigned round-robin by index.
    """
    scene, row = _meta(index, seed, image_size, categories)
    row["image"] = render_png(scene)
    return row


def synth_rows(n: int, *, start: int = 0, **kwargs: Any) -> list[dict[str, Any]]:
    """Rows ``start`` .. ``start + n - 1``; a convenience for tests and small exports."""
    return [synth_row(i, **kwargs) for i in range(start, start + n)]


# ---------------------------------------------------------------------------------------------
# Rendering


def _shape_xy(shape: str, box: tuple[int, int, int, int]) -> list[tuple[float, float]]:
    x1, y1, x2, y2 = box
    if shape == "triangle":
        return [(x1, y2), (x2, y2), ((x1 + x2) / 2, y1)]
    if shape == "star":
        return [(x1 + u * (x2 - x1), y1 + v * (y2 - y1)) for u, v in _STAR]
    raise ValueError(shape)


def render(scene: Scene):  # -> PIL.Image.Image
    """Draw a scene: wall, floor, contact shadows, then objects from farthest to closest.

    No antialiasing, so every object pixel has exactly its colour (the tests rely on it).
    """
    from PIL import Image, ImageDraw

    w, h = scene.width, scene.height
    img = Image.new("RGB", (w, h), FLOOR_RGB)
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 0, w - 1, round(HORIZON * h) - 1], fill=WALL_RGB)
    for o in scene.objects:
        x1, _, x2, y2 = o.bbox
        sh = max(2, round(0.09 * o.side))
        draw.ellipse([x1 + o.side // 10, y2 - sh, x2 - o.side // 10, y2 + sh], fill=SHADOW_RGB)
    for o in sorted(scene.objects, key=lambda o: (o.base, o.side)):  # painter's order: far first
        rgb = COLORS[o.color]
        if o.shape == "circle":
            draw.ellipse(list(o.bbox), fill=rgb)
        elif o.shape == "square":
            draw.rectangle(list(o.bbox), fill=rgb)
        else:
            draw.polygon(_shape_xy(o.shape, o.bbox), fill=rgb)
    return img


def render_png(scene: Scene) -> bytes:
    """PNG bytes with fixed settings and no metadata chunks, so equal scenes give equal bytes."""
    buf = io.BytesIO()
    render(scene).save(buf, format="PNG", compress_level=6, optimize=False)
    return buf.getvalue()
