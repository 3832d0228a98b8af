"""Golden outputs for the answer extractor.

Every row of the pitfalls table in harnesses.md §4.2 is here with the outcome our rules give, plus
the counting, BLINK, SpatialThinker, thinking-model and truncation cases seen in real runs. Each
row pins the stage or failure class too, so a change that reads the same letter by a different
route shows up in review.
"""

from __future__ import annotations

import random

import pytest

from spatialeval.extraction import FAILURE_CLASSES, STAGES, extract_choice, split_thinking
from spatialeval.records import LETTERS

OBJECTS = ("the chair", "the table", "the lamp", "the sofa")
COUNTS = ("2", "3", "4", "5")
POINTS = ("Point A", "Point B")
YES_NO = ("Yes", "No")

SPATIALTHINKER = (
    "<observe>A chair (A) stands by the window; a table is in the centre.</observe>"
    '<scene>{"objects": [{"label": "chair", "bbox": [10, 20, 50, 90]}, '
    '{"label": "table", "bbox": [60, 40, 120, 100]}]}</scene>'
    "<think>The chair's box is lower, but the table overlaps it, so B is closer than A.</think>"
    "<answer> (B) the table </answer>"
)

# (output, choices, finish_reason, expected answer, expected stage or failure class)
CASES = [
    # --- harnesses.md §4.2 pitfalls table, one row each ---
    ("The answer is (B).", OBJECTS, None, "B", "answer_phrase"),
    ("B. the table", OBJECTS, None, "B", "final_line"),
    ("the table", OBJECTS, None, "B", "option_text"),
    ("**Answer: B**", OBJECTS, None, "B", "answer_phrase"),
    ("<answer>B</answer>", OBJECTS, None, "B", "answer_tag"),
    ("<think>Option A … B is closer.</think> The answer is C.", OBJECTS, None, "C", "answer_phrase"),
    ("The correct option is D because the chair is closer than B.", OBJECTS, None, "D", "answer_phrase"),
    ("A chair is closer than the table.", OBJECTS, None, None, "no_answer"),
    ("answer: a cat", OBJECTS, None, None, "no_answer"),
    ("I think it is A or B", OBJECTS, None, None, "multiple_answers"),
    ("None of the options; the closest is the sofa.", OBJECTS, None, None, "no_answer"),
    (r"\boxed{C}", OBJECTS, None, "C", "boxed"),
    ("d", OBJECTS, None, "D", "final_line"),
    ("I cannot determine this from the image.", OBJECTS, None, None, "refusal"),
    ("Sorry, I cannot help", OBJECTS, None, None, "refusal"),
    ("Cannot determine the answer", OBJECTS, None, None, "refusal"),
    ("Both objects are far", OBJECTS, None, None, "no_answer"),
    # --- counting options: value-to-option only when the whole answer is the value ---
    ("4", COUNTS, None, "C", "option_text"),
    ("I count 4 chairs.", COUNTS, None, None, "no_answer"),
    ("<answer>4</answer>", COUNTS, None, "C", "option_text"),
    ("Answer: 5", COUNTS, None, "D", "answer_phrase"),
    ("There are 3 chairs.\n(B)", COUNTS, None, "B", "final_line"),
    # --- BLINK-style options whose text carries a label ---
    ("Point B is closer than point A", POINTS, None, None, "no_answer"),
    ("(B) Point B", POINTS, None, "B", "final_line"),
    ("Point B", POINTS, None, "B", "option_text"),
    # --- SpatialThinker format ---
    (SPATIALTHINKER, OBJECTS, None, "B", "answer_tag"),
    (SPATIALTHINKER.replace("(B) the table", "the lamp"), OBJECTS, None, "C", "option_text"),
    (
        "<observe>Options A, B, C.</observe><scene>{}</scene><think>D?</think>",
        OBJECTS,
        None,
        None,
        "no_answer",
    ),
    # --- answer tags ---
    ("<answer>the sofa</answer>", OBJECTS, None, "D", "option_text"),
    ("<answer>B. the table</answer>", OBJECTS, None, "B", "answer_tag"),
    ("<answer>Option C</answer>", OBJECTS, None, "C", "answer_tag"),
    ("<answer>The answer is D</answer>", OBJECTS, None, "D", "answer_phrase"),
    ("<answer>A</answer> then I reconsidered. <answer>C</answer>", OBJECTS, None, "C", "answer_tag"),
    ("I think A.\n<answer>B", OBJECTS, "stop", "B", "answer_tag"),  # stop string ate </answer>
    ("<answer>A chair</answer>", OBJECTS, None, None, "no_answer"),
    ("C is likely.<answer></answer>", OBJECTS, None, None, "no_answer"),
    (r"<answer>\boxed{\text{D}}</answer>", OBJECTS, None, "D", "answer_tag"),
    # --- thinking models ---
    ("<think>A looks close, C looks far.</think>\nAnswer: B", OBJECTS, None, "B", "answer_phrase"),
    ("The lamp is C, and B is the table.</think>A", OBJECTS, None, "A", "final_line"),  # closing tag only
    ("<think>The answer is B.</think>", OBJECTS, None, None, "no_answer"),
    ("<think>Comparing depths, A and then B", OBJECTS, None, None, "truncated"),
    ("<think>Comparing depths, the answer is B", OBJECTS, "stop", None, "truncated"),
    # --- truncation by the token budget ---
    ("The chair looks close, but the lamp (C) is", OBJECTS, "length", None, "truncated"),
    ("The answer is B", OBJECTS, "length", None, "truncated"),
    ("Reasoning...<answer>D</answer> extra words that got cu", OBJECTS, "length", "D", "answer_tag"),
    ("<answer>D", OBJECTS, "length", None, "truncated"),
    # --- invalid letters ---
    ("<answer>E</answer>", OBJECTS, None, None, "invalid_letter"),
    ("The answer is F.", OBJECTS, None, None, "invalid_letter"),
    ("The closest object is the lamp.\nE.", OBJECTS, None, None, "invalid_letter"),
    ("C", YES_NO, None, None, "invalid_letter"),
    ("E is closer to the camera.", OBJECTS, None, None, "no_answer"),
    # --- unicode: full-width letters, zero-width spaces ---
    ("Ｂ", OBJECTS, None, "B", "final_line"),
    ("答案：（Ｃ）", OBJECTS, None, "C", "unique_letter"),
    ("Answer:\u200b B\u200b", OBJECTS, None, "B", "answer_phrase"),
    ("\u200b(\u200bA\u200b)\u200b", OBJECTS, None, "A", "final_line"),
    # --- last answer wins; reasoning letters never count ---
    ("The lamp (C) is far and the sofa is behind it.\nAnswer: A", OBJECTS, None, "A", "answer_phrase"),
    ("Answer: B. Wait, checking again. Final answer: (C)", OBJECTS, None, "C", "answer_phrase"),
    ("The answer is A because the chair is in front.", OBJECTS, None, "A", "answer_phrase"),
    ("B is closer than the lamp.", OBJECTS, None, "B", "unique_letter"),
    ("C) the lamp", OBJECTS, None, "C", "final_line"),
    ("Looking at the depth cues, the sofa is nearest.\nOption D", OBJECTS, None, "D", "final_line"),
    ("the answer is (b)", OBJECTS, None, "B", "answer_phrase"),
    ("Neither A nor B is closer.", OBJECTS, None, None, "multiple_answers"),
    ("A is closer than the lamp.", OBJECTS, None, "A", "unique_letter"),
    ("I believe a chair and b table", OBJECTS, None, None, "no_answer"),
    ("I'm unable to see the objects clearly.", OBJECTS, None, None, "refusal"),
    ("As an AI, I have no access to the image.", OBJECTS, None, None, "refusal"),
    # --- noise and empty output ---
    ("ĠĠxq\u00e9 zz", OBJECTS, None, None, "no_answer"),
    ("", OBJECTS, None, None, "no_answer"),
    ("   \n\n  ", OBJECTS, None, None, "no_answer"),
    # --- yes/no options ---
    ("Yes", YES_NO, None, "A", "option_text"),
    ("no.", YES_NO, None, "B", "option_text"),
    ("Yes, the chair is closer.", YES_NO, None, None, "no_answer"),
]


@pytest.mark.parametrize(("text", "choices", "finish_reason", "answer", "outcome"), CASES)
def test_extract_choice(text, choices, finish_reason, answer, outcome):
    got = extract_choice(text, choices, finish_reason=finish_reason)
    assert got.answer == answer
    if answer is None:
        assert (got.stage, got.failure) == (None, outcome)
    else:
        assert (got.stage, got.failure) == (outcome, None)


def test_table_covers_every_stage_and_failure_class():
    outcomes = {row[4] for row in CASES}
    assert set(STAGES) <= outcomes
    assert set(FAILURE_CLASSES) <= outcomes
    assert len(CASES) >= 45


@pytest.mark.parametrize(
    ("text", "thinking", "answer"),
    [
        ("plain B", None, "plain B"),
        ("<think>maybe A</think> B", "maybe A", "B"),
        ("<think>one</think><think>two</think>\nC", "one\ntwo", "C"),
        ("closing only</think> D", "closing only", "D"),
        ("<think>never closed, A or B", "<think>never closed, A or B", ""),
        (
            "<observe>o</observe><scene>{}</scene><answer>A</answer>",
            "<observe>o</observe>\n<scene>{}</scene>",
            "<answer>A</answer>",
        ),
        ("<observe>cut off mid-scene", "<observe>cut off mid-scene", ""),
        ("", None, ""),
    ],
)
def test_split_thinking(text, thinking, answer):
    assert split_thinking(text) == (thinking, answer)


def test_split_thinking_spatialthinker():
    thinking, answer = split_thinking(SPATIALTHINKER)
    assert answer == "<answer> (B) the table </answer>"
    assert thinking is not None
    assert thinking.startswith("<observe>") and "<scene>" in thinking and "B is closer" in thinking


# Fragments joined at random; "|" separates them so spaces and newlines stay visible.
_PIECES = (
    "A|B|C|D|E|I|a|b|d|z|(|)|.|:| |\n|**|<answer>|</answer>|<think>|</think>|<observe>|</observe>"
    "|Answer:|the answer is|Option|the table|the lamp|chair|4|\\boxed{|}|Ｂ|\u200b|é|Ġ|sorry|cannot"
    "|is closer|Point B"
).split("|")
_CHOICE_POOL = ["the chair", "the table", "the lamp", "the sofa", "2", "4", "Point B", "Yes", "No", "x"]


def test_random_outputs_are_deterministic_and_valid():
    rng = random.Random(20240607)
    for _ in range(3000):
        text = "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 14)))
        choices = rng.sample(_CHOICE_POOL, rng.randint(2, 5))
        finish = rng.choice([None, "stop", "length"])
        got = extract_choice(text, choices, finish_reason=finish)
        assert got == extract_choice(text, choices, finish_reason=finish)
        if got.answer is None:
            assert got.stage is None and got.failure in FAILURE_CLASSES, (text, got)
        else:
            assert got.answer in LETTERS[: len(choices)], (text, got)
            assert got.stage in STAGES and got.failure is None, (text, got)


def test_letters_in_reasoning_are_never_read():
    rng = random.Random(7)
    for _ in range(500):
        inner = "".join(rng.choice(_PIECES[:17] + ["the answer is", "Answer:"]) for _ in range(10))
        got = extract_choice(f"<think>{inner}</think>", OBJECTS)
        assert got.answer is None, (inner, got)
