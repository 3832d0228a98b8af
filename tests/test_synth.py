"""The synthetic benchmark: determinism, independence of rows, and ground truth that is right."""

from __future__ import annotations

import io
import os
import re
import struct
import time
from collections import Counter

import pytest
from PIL import Image

from spatialeval.synth import (
    COLORS,
    LR_MARGIN,
    SHAPES,
    SYNTH_CATEGORIES,
    synth_meta,
    synth_row,
)

os.environ["HF_HUB_OFFLINE"] = "1"

N = 6 * 20  # twenty rows of each category


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [synth_row(i) for i in range(N)]


def by_label(row: dict) -> dict[str, dict]:
    return {o["label"]: o for o in row["objects"]}


def center(o: dict) -> tuple[float, float]:
    x1, y1, x2, y2 = o["bbox"]
    return (x1 + x2) / 2, (y1 + y2) / 2


def side(o: dict) -> int:
    return o["bbox"][2] - o["bbox"][0] + 1


def gold(row: dict) -> str:
    return row["choices"]["ABCD".index(row["answer"])]


def two_labels(row: dict) -> tuple[str, str]:
    """The two objects a relation question names, in the order it names them."""
    pattern = rf"the ((?:{'|'.join(COLORS)}) (?:{'|'.join(SHAPES)}))"
    labels = re.findall(pattern, row["question"])
    assert len(labels) == 2, row["question"]
    return labels[0], labels[1]


def boxes_intersect(a: list[int], b: list[int]) -> bool:
    return not (a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1])


def test_same_seed_gives_identical_rows_and_png_bytes():
    for i in (0, 1, 5, 37):
        assert synth_row(i, seed=3) == synth_row(i, seed=3)


def test_different_seed_gives_different_rows(rows):
    other = [synth_row(i, seed=1) for i in range(12)]
    assert sum(a["image"] != b["image"] for a, b in zip(rows[:12], other, strict=True)) >= 11
    assert [r["question"] for r in rows[:12]] != [r["question"] for r in other]
    assert other[0]["id"] == "synth-1-000000" and rows[7]["id"] == "synth-0-000007"


def test_a_row_depends_only_on_seed_and_index(rows):
    alone = synth_row(7)
    assert alone == rows[7]
    backwards = [synth_row(i) for i in reversed(range(10))]
    assert backwards[::-1] == rows[:10]


def test_meta_is_the_row_without_the_image(rows):
    for i in range(12):
        meta = synth_meta(i)
        assert "image" not in meta
        assert meta == {k: v for k, v in rows[i].items() if k != "image"}


def test_categories_are_round_robin_so_prefixes_are_balanced(rows):
    k = len(SYNTH_CATEGORIES)
    assert [r["category"] for r in rows[:k]] == list(SYNTH_CATEGORIES)
    counts = Counter(r["category"] for r in rows[: 5 * k])
    assert set(counts.values()) == {5}
    sub = [synth_meta(i, categories=["count", "left_right"])["category"] for i in range(6)]
    assert sub == ["count", "left_right"] * 3
    with pytest.raises(ValueError, match="unknown synth categories"):
        synth_meta(0, categories=["orientation_3d"])


def test_schema_ids_and_boxes_inside_the_image(rows):
    for r in rows:
        assert r["width"] == 320 and r["height"] == 240
        assert 2 <= len(r["choices"]) <= 4 and len(set(r["choices"])) == len(r["choices"])
        assert r["answer"] in "ABCD"[: len(r["choices"])]
        assert 2 <= len(r["objects"]) <= 6
        ids = [o["id"] for o in r["objects"]]
        assert len(set(ids)) == len(ids)
        for o in r["objects"]:
            assert re.fullmatch(r"[A-Za-z_]+\.\d+", o["id"])  # SpatialThinker's id format
            assert o["id"].split(".")[0] == o["label"].replace(" ", "_")
            x1, y1, x2, y2 = o["bbox"]
            assert 0 <= x1 < x2 < r["width"] and 0 <= y1 < y2 < r["height"]
        for rel in r["relationships"]:
            assert rel["subject"] in ids and rel["object"] in ids and rel["predicate"]


def test_png_is_the_declared_size_and_has_no_metadata_chunks(rows):
    data = rows[0]["image"]
    img = Image.open(io.BytesIO(data))
    assert img.format == "PNG" and img.size == (320, 240) and img.mode == "RGB"
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append(data[pos + 4 : pos + 8].decode())
        pos += 12 + length
    assert set(chunks) == {"IHDR", "IDAT", "IEND"}


def test_left_right_gold_agrees_with_box_centres(rows):
    checked = 0
    for r in rows:
        if r["category"] != "left_right":
            continue
        a, b = (by_label(r)[x] for x in two_labels(r))
        dx = center(a)[0] - center(b)[0]
        assert abs(dx) >= LR_MARGIN * r["width"]  # never too close to call
        assert gold(r) == ("left" if dx < 0 else "right")
        checked += 1
    assert checked == N // 6


def test_above_below_gold_agrees_with_box_centres(rows):
    for r in (r for r in rows if r["category"] == "above_below"):
        a, b = (by_label(r)[x] for x in two_labels(r))
        assert gold(r) == ("above" if center(a)[1] < center(b)[1] else "below")


def test_closer_object_is_lower_larger_and_drawn_in_front(rows):
    occluding = 0
    for r in (r for r in rows if r["category"] == "closer_farther"):
        a, b = (by_label(r)[x] for x in two_labels(r))
        near, far = (a, b) if a["bbox"][3] > b["bbox"][3] else (b, a)
        assert side(near) > side(far)
        asks_closer = "closer" in r["question"]
        assert gold(r) == (near if asks_closer else far)["label"]
        if boxes_intersect(near["bbox"], far["bbox"]):
            occluding += 1
            img = Image.open(io.BytesIO(r["image"]))
            x, y = map(int, center(near))
            assert img.getpixel((x, y)) == COLORS[near["label"].split()[0]]  # the near one is on top
    assert occluding >= 3  # the occlusion cue does occur


def test_bigger_smaller_gold_agrees_with_box_sizes(rows):
    for r in (r for r in rows if r["category"] == "bigger_smaller"):
        a, b = (by_label(r)[x] for x in two_labels(r))
        assert gold(r) == ("bigger" if side(a) > side(b) else "smaller")
        assert max(side(a), side(b)) >= 1.4 * min(side(a), side(b))


def test_count_answer_is_the_number_of_objects_of_that_shape(rows):
    answers = []
    for r in (r for r in rows if r["category"] == "count"):
        shape = re.match(r"How many (\w+)s are there", r["question"]).group(1)
        assert shape in SHAPES
        assert all(c.isdigit() for c in r["choices"]) and len(r["choices"]) == 4
        truth = sum(o["label"].endswith(" " + shape) for o in r["objects"])
        assert int(gold(r)) == truth
        answers.append(truth)
    assert len(set(answers)) >= 3


def test_existence_answer_matches_the_objects(rows):
    for r in (r for r in rows if r["category"] == "existence"):
        label = re.match(r"Is there a (\w+ \w+) in the image", r["question"]).group(1)
        assert gold(r) == ("yes" if label in by_label(r) else "no")


def test_rendered_pixels_have_the_object_colour(rows):
    checked = 0
    for r in rows[:30]:
        img = Image.open(io.BytesIO(r["image"])).convert("RGB")
        for o in r["objects"]:
            if any(boxes_intersect(o["bbox"], p["bbox"]) for p in r["objects"] if p is not o):
                continue  # possibly occluded
            x, y = map(int, center(o))
            assert img.getpixel((x, y)) == COLORS[o["label"].split()[0]], (r["id"], o)
            checked += 1
        # The image corners are background, not any object colour.
        assert img.getpixel((0, 0)) not in COLORS.values()
    assert checked > 60


def test_only_depth_questions_have_overlapping_objects(rows):
    for r in rows:
        if r["category"] == "closer_farther":
            continue
        objs = r["objects"]
        for i, a in enumerate(objs):
            for b in objs[i + 1 :]:
                assert not boxes_intersect(a["bbox"], b["bbox"]), r["id"]


def test_options_are_shuffled(rows):
    letters = Counter(r["answer"] for r in rows)
    assert letters["A"] > 0.2 * N and letters["B"] > 0.2 * N
    for cat in ("left_right", "existence", "closer_farther"):
        assert {r["answer"] for r in rows if r["category"] == cat} == {"A", "B"}
    assert len({r["answer"] for r in rows if r["category"] == "count"}) >= 3
    # The order is not tied to the truth: "left" is first for some rows and second for others.
    assert len({tuple(r["choices"]) for r in rows if r["category"] == "left_right"}) == 2


def test_other_image_sizes():
    r = synth_row(3, image_size=(160, 120))
    assert (r["width"], r["height"]) == (160, 120)
    assert Image.open(io.BytesIO(r["image"])).size == (160, 120)
    assert all(o["bbox"][2] < 160 and o["bbox"][3] < 120 for o in r["objects"])


def test_rendering_is_fast():
    synth_row(0)
    start = time.perf_counter()
    for i in range(100):
        synth_row(1000 + i)
    per_row = (time.perf_counter() - start) / 100
    assert per_row < 0.02, f"{per_row * 1000:.1f} ms per row"
