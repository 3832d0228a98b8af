from __future__ import annotations

import json
import math
import random
import time

import pytest

from spatialeval.metrics import (
    METRICS,
    compute_results,
    health,
    register_metric,
    wilson_interval,
)
from spatialeval.records import Scored


def rec(
    i: int,
    correct: bool | None = True,
    *,
    category: str | None = None,
    subcategory: str | None = None,
    group: str | None = None,
    error: str | None = None,
    failure: str | None = None,
    score: float | None = None,
    stage: str | None = "letter",
    finish_reason: str | None = "stop",
    output_tokens: int | None = None,
    meta: dict | None = None,
) -> Scored:
    if error is not None:
        correct, stage, finish_reason = None, None, "error"
    if failure is not None:
        correct, stage = False, None
    return Scored(
        sample_id=f"s{i}",
        index=i,
        answer=None if failure or error else "A",
        gold="A",
        stage=stage,
        failure=failure,  # type: ignore[arg-type]
        correct=correct,
        category=category,
        subcategory=subcategory,
        group=group,
        error=error,
        output_tokens=output_tokens,
        finish_reason=finish_reason,
        values={} if score is None else {"score": score},
        meta=meta or {},
    )


def approx(x: float) -> object:
    return pytest.approx(x, abs=1e-4)


# --- Wilson ------------------------------------------------------------------------------------

# Hand values: center = (p + z²/2n) / (1 + z²/n), half = z·sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n).
WILSON = [
    (8, 10, 0.4902, 0.9433),
    (0, 10, 0.0, 0.2775),
    (10, 10, 0.7225, 1.0),
    (5, 10, 0.2366, 0.7634),
    (1, 1, 0.2065, 1.0),
    (0.5, 2, 0.0267, 0.8021),  # fractional successes: chance score 0.25 on each of 2 groups
]


@pytest.mark.parametrize(("k", "n", "lo", "hi"), WILSON)
def test_wilson_known_values(k: float, n: int, lo: float, hi: float) -> None:
    got = wilson_interval(k, n)
    assert got == (approx(lo), approx(hi))
    assert 0.0 <= got[0] <= k / n <= got[1] <= 1.0


def test_wilson_empty_is_nan_and_results_say_none() -> None:
    assert all(math.isnan(x) for x in wilson_interval(0, 0))
    res = compute_results([rec(0, error="timeout")], ["accuracy"])
    acc = res["metrics"]["accuracy"]
    assert (acc["value"], acc["ci_low"], acc["ci_high"], acc["n"]) == (None, None, None, 0)
    assert res["health"]["extraction_failure_rate"] is None
    assert res["complete"] is False


# --- denominators ------------------------------------------------------------------------------


def test_errors_excluded_extraction_failures_wrong() -> None:
    scored = [
        rec(0),
        rec(1),
        rec(2),
        rec(3, failure="no_answer"),  # the model's answer: wrong
        rec(4, False),
        rec(5, error="HTTP 500"),  # not an answer: out of the denominator
        rec(6, error="corrupt image"),
    ]
    res = compute_results(scored, ["accuracy"])
    acc = res["metrics"]["accuracy"]
    assert acc["value"] == 0.6  # 3 / 5, not 3 / 7 and not 3 / 4
    assert acc["n"] == 5
    assert acc["ci_method"] == "wilson"
    assert (acc["ci_low"], acc["ci_high"]) == (approx(0.2307), approx(0.8824))
    assert (res["n"], res["n_answered"], res["n_errors"]) == (7, 5, 2)
    assert res["complete"] is False
    assert compute_results(scored[:5], ["accuracy"])["complete"] is True


# --- macro -------------------------------------------------------------------------------------


def test_macro_differs_from_pooled_on_unbalanced_strata() -> None:
    # A: 9/10 correct, B: 1/2 correct. Pooled 10/12 = 0.833333; macro (0.9 + 0.5) / 2 = 0.7.
    scored = [rec(i, i != 0, category="A") for i in range(10)]
    scored += [rec(10, True, category="B"), rec(11, False, category="B")]
    res = compute_results(scored, ["macro", "accuracy"])
    macro, acc = res["metrics"]["macro"], res["metrics"]["accuracy"]
    assert acc["value"] == 0.833333
    assert macro["value"] == 0.7
    assert macro["ci_method"] == "stratified_bootstrap"
    assert macro["ci_low"] <= 0.7 <= macro["ci_high"]
    assert (macro["n"], macro["n_strata"], macro["by"]) == (12, 2, "category")
    assert macro["strata"]["A"] == {
        "n": 10,
        "correct": 9.0,
        "accuracy": 0.9,
        "ci_low": approx(0.5958),
        "ci_high": approx(0.9821),
        "n_errors": 0,
    }
    assert macro["strata"]["B"]["accuracy"] == 0.5
    assert res["primary"] == "macro"
    # Within each stratum B's size is fixed at 2, so its resampled mean is 0, 0.5 or 1; A's is
    # k/10. Every bootstrap macro value is (k/10 + j/2) / 2, never outside [0, 1].
    assert 0.0 <= macro["ci_low"] < macro["ci_high"] <= 1.0


def test_macro_by_meta_key_and_custom_name() -> None:
    scored = [rec(0, True, meta={"src": "ADE"}), rec(1, False, meta={"src": "COCO"}), rec(2, True)]
    res = compute_results(scored, [{"name": "macro_src", "metric": "macro", "by": "src"}])
    m = res["metrics"]["macro_src"]
    assert m["value"] == 0.5  # (1/1 + 0/1) / 2
    assert m["n_unstratified"] == 1
    assert sorted(m["strata"]) == ["ADE", "COCO"]


# --- grouped -----------------------------------------------------------------------------------

PAIR = {"name": "pair", "metric": "grouped", "size": 2}


def test_pair_with_one_wrong_member() -> None:
    scored = [
        rec(0, True, group="p1"),
        rec(1, True, group="p1"),
        rec(2, True, group="p2"),
        rec(3, False, group="p2"),  # one wrong member: the pair fails
        rec(4, True, group="p3"),
        rec(5, True, group="p3"),
    ]
    m = compute_results(scored, [PAIR])["metrics"]["pair"]
    assert m["value"] == 0.666667  # 2 / 3 pairs
    assert (m["n"], m["n_groups"], m["correct"]) == (3, 3, 2.0)
    assert (m["ci_low"], m["ci_high"]) == (approx(0.2077), approx(0.9385))
    assert m["ci_method"] == "wilson"


def test_circular_family_fails_on_one_wrong_rotation() -> None:
    scored = [rec(i, i != 2, group="f1") for i in range(4)]  # rotation 2 wrong
    scored += [rec(i, True, group="f2") for i in range(4, 8)]
    spec = {"name": "circular", "metric": "grouped", "size": 4}
    res = compute_results(scored, [spec, "accuracy"])
    assert res["metrics"]["circular"]["value"] == 0.5
    assert res["metrics"]["circular"]["n_groups"] == 2
    assert res["metrics"]["accuracy"]["value"] == 0.875  # 7 / 8: circular is the stricter number


@pytest.mark.parametrize(
    ("scored", "value", "n_groups", "incomplete", "malformed", "ungrouped"),
    [
        # p2 has a member with an error: excluded and counted, not scored as a failed pair.
        (
            [rec(0, group="p1"), rec(1, group="p1"), rec(2, group="p2"), rec(3, error="x", group="p2")],
            1.0, 1, 1, 0, 0,
        ),
        # p2 has three members where pairs have two: malformed, excluded.
        (
            [rec(0, group="p1"), rec(1, False, group="p1")] + [rec(i, group="p2") for i in (2, 3, 4)],
            0.0, 1, 0, 1, 0,
        ),
        # A record without a group belongs to none.
        ([rec(0, group="p1"), rec(1, group="p1"), rec(2)], 1.0, 1, 0, 0, 1),
    ],
)  # fmt: skip
def test_grouped_exclusions(
    scored: list[Scored], value: float, n_groups: int, incomplete: int, malformed: int, ungrouped: int
) -> None:
    m = compute_results(scored, [PAIR])["metrics"]["pair"]
    got = (m["value"], m["n_groups"], m["n_incomplete_groups"], m["n_malformed_groups"], m["n_ungrouped"])
    assert got == (value, n_groups, incomplete, malformed, ungrouped)


def test_incomplete_group_still_excludes_only_the_error_from_accuracy() -> None:
    scored = [rec(0, group="p1"), rec(1, group="p1"), rec(2, group="p2"), rec(3, error="x", group="p2")]
    acc = compute_results(scored, ["accuracy"])["metrics"]["accuracy"]
    assert (acc["value"], acc["n"], acc["n_clusters"]) == (1.0, 3, 2)


# --- fractional chance scores ------------------------------------------------------------------


def test_fractional_chance_scores() -> None:
    # Two-option questions, uniform guessing: 0.5 per sample, 0.5 * 0.5 = 0.25 per pair.
    scored = [rec(i, False, group=f"p{i // 2}", score=0.5) for i in range(4)]
    res = compute_results(scored, ["accuracy", PAIR])
    acc, pair = res["metrics"]["accuracy"], res["metrics"]["pair"]
    assert (acc["value"], acc["correct"], acc["n"]) == (0.5, 2.0, 4)
    assert acc["wilson_ci"] == [approx(0.15), approx(0.85)]  # Wilson on 2 "successes" of 4
    assert (pair["value"], pair["correct"], pair["n_groups"]) == (0.25, 0.5, 2)
    assert (pair["ci_low"], pair["ci_high"]) == (approx(0.0267), approx(0.8021))


# --- bootstrap ---------------------------------------------------------------------------------


def _clustered_run(n: int = 400, seed: int = 7) -> list[Scored]:
    r = random.Random(seed)
    return [
        rec(i, r.random() < 0.6, category="ABCD"[i % 4], group=f"g{i // 4}", output_tokens=r.randint(1, 9))
        for i in range(n)
    ]


SPECS = ["accuracy", "macro", PAIR | {"size": 4}, "by_category"]


def test_bootstrap_is_deterministic_and_brackets_the_estimate() -> None:
    scored = _clustered_run()
    a = compute_results(scored, SPECS, seed=1)
    assert a == compute_results(scored, SPECS, seed=1)
    b = compute_results(scored, SPECS, seed=2)
    assert a["metrics"]["accuracy"]["value"] == b["metrics"]["accuracy"]["value"]
    ci = "cluster_bootstrap_ci"
    assert a["metrics"]["accuracy"][ci] != b["metrics"]["accuracy"][ci]
    for key in ("accuracy", "macro"):
        m = a["metrics"][key]
        assert m["ci_low"] < m["value"] < m["ci_high"], key


def test_cluster_bootstrap_is_headline_only_when_groups_exist() -> None:
    clustered = compute_results(_clustered_run(), ["accuracy"])["metrics"]["accuracy"]
    assert clustered["ci_method"] == "cluster_bootstrap"
    assert clustered["n_clusters"] == 100
    assert [clustered["ci_low"], clustered["ci_high"]] == clustered["cluster_bootstrap_ci"]
    assert clustered["wilson_ci"] != clustered["cluster_bootstrap_ci"]
    flat = compute_results([rec(i, i % 2 == 0) for i in range(10)], ["accuracy"])["metrics"]["accuracy"]
    assert flat["ci_method"] == "wilson"
    assert "cluster_bootstrap_ci" not in flat


def test_order_independence() -> None:
    scored = _clustered_run() + [rec(1000, error="boom", group="g0", category="A")]
    shuffled = list(scored)
    random.Random(3).shuffle(shuffled)
    a, b = compute_results(scored, SPECS), compute_results(shuffled, SPECS)
    assert a == b
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_results_are_plain_json() -> None:
    res = compute_results(_clustered_run(), SPECS)
    text = json.dumps(res, allow_nan=False)
    assert json.loads(text) == res


def test_ten_thousand_samples_bootstrap_fast() -> None:
    scored = [
        rec(i, i % 3 != 0, category=f"c{i % 8}", group=f"g{i // 2}") for i in range(10_000)
    ]
    compute_results(scored[:100], SPECS)  # warm up imports
    t0 = time.perf_counter()
    compute_results(scored, ["accuracy", "macro"])
    assert time.perf_counter() - t0 < 1.0


# --- categories and health ---------------------------------------------------------------------


def test_categories_table_always_included() -> None:
    scored = [rec(0, True, category="depth"), rec(1, False, category="depth"), rec(2, category="count")]
    scored.append(rec(3, error="x", category="count"))
    res = compute_results(scored, ["accuracy"])
    assert res["categories"]["depth"] == {
        "n": 2,
        "correct": 1.0,
        "accuracy": 0.5,
        "ci_low": approx(0.0945),
        "ci_high": approx(0.9055),
        "n_errors": 0,
    }
    assert (res["categories"]["count"]["n"], res["categories"]["count"]["n_errors"]) == (1, 1)
    assert list(res["categories"]) == ["count", "depth"]
    assert compute_results([rec(0)], ["accuracy"])["categories"] == {}


def test_health_counts_and_rates() -> None:
    scored = [
        rec(0, output_tokens=10, stage="answer_tag"),
        rec(1, False, output_tokens=20, stage="letter"),
        rec(2, output_tokens=30, stage="letter", finish_reason="length"),  # truncated, still parsed
        rec(3, failure="refusal", output_tokens=40),
        rec(4, failure="truncated", finish_reason="length"),  # counted once as truncated
        rec(5, failure="multiple_answers", output_tokens=60),
        rec(6, failure="no_answer"),
        rec(7, error="timeout", output_tokens=999),  # not answered: in no rate but error_rate
    ]
    h = health(scored)
    assert (h["n"], h["n_answered"], h["n_errors"]) == (8, 7, 1)
    assert h["error_rate"] == 0.125
    assert h["n_extraction_failures"] == 4
    assert h["extraction_failure_rate"] == 0.571429  # 4 / 7
    assert h["failures"] == {
        "no_answer": 1,
        "multiple_answers": 1,
        "refusal": 1,
        "truncated": 1,
        "invalid_letter": 0,
    }
    assert h["refusal_rate"] == 0.142857  # 1 / 7
    assert (h["n_truncated"], h["truncation_rate"]) == (2, 0.285714)  # 2 / 7
    assert h["mean_output_tokens"] == 32.0  # (10 + 20 + 30 + 40 + 60) / 5
    assert h["stages"] == {"answer_tag": 1, "letter": 2}


def test_health_of_nothing() -> None:
    h = health([])
    assert (h["n"], h["error_rate"], h["truncation_rate"], h["mean_output_tokens"]) == (0, None, None, None)


# --- specs and registry ------------------------------------------------------------------------


def test_spec_errors_fail_loudly() -> None:
    scored = [rec(0), rec(1, False)]
    with pytest.raises(ValueError, match="unknown metric"):
        compute_results(scored, ["acuracy"])
    with pytest.raises(ValueError, match="bad parameters"):
        compute_results(scored, [{"name": "macro", "group_by": "category"}])
    with pytest.raises(ValueError, match="twice"):
        compute_results(scored, ["accuracy", {"name": "accuracy"}])
    with pytest.raises(ValueError, match="primary"):
        compute_results(scored, ["accuracy"], primary="macro")
    with pytest.raises(ValueError, match="rule"):
        compute_results(scored, [{"name": "pair", "metric": "grouped", "rule": "any"}])


def test_registered_metric_and_explicit_primary() -> None:
    name = "test_only_majority"
    if name not in METRICS:

        @register_metric(name)
        def majority(records, *, seed=0, n_boot=1000, threshold=0.5):
            v = sum(1 for s in records if s.correct) / len(records)
            return {"value": v, "ci_low": None, "ci_high": None, "ci_method": "none", "n": len(records),
                    "passed": v > threshold}  # fmt: skip

    with pytest.raises(ValueError, match="already registered"):
        register_metric(name)(lambda records, **kw: {})
    res = compute_results([rec(0), rec(1, False), rec(2)], ["accuracy", {"name": name, "threshold": 0.9}],
                          primary=name)  # fmt: skip
    assert res["primary"] == name
    assert res["metrics"][name]["passed"] is False
