"""HallusionBench: the real question file, the official grouping keys and aAcc / fAcc / qAcc.

The fixture is a local clone of ``lmms-lab/HallusionBench`` (splits ``image`` and ``non_image``,
all columns strings plus an Image column) built from the real ``HallusionBench.json``.
"""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path

import pytest
from conftest import SHARED, read_jsonl
from datasets_fixtures import png
from scripted import run_scripted

from spatialeval.adapters import get_adapter
from spatialeval.sources import open_source
from spatialeval.tasks import apply_protocol, resolve_tasks

REAL = SHARED / "realdata" / "hallusionbench" / "HallusionBench.json"
COLS = ("category", "subcategory", "visual_input", "set_id", "figure_id", "sample_note", "question_id",
        "question", "gt_answer_details", "gt_answer", "filename")


def real_rows() -> list[dict]:
    if not REAL.exists():
        pytest.skip(f"real HallusionBench question file not found at {REAL} (shared/realdata absent)")
    return json.loads(REAL.read_text())


def write_clone(tmp_path: Path, rows: list[dict]) -> Path:
    """lmms-lab/HallusionBench layout: data/image-*.parquet (with a figure), data/non_image-*.parquet.

    The folder name is unique: `datasets` caches a local repository by its folder name and README
    configs, so two clones both called "hb" would share one cache entry.
    """
    from datasets import Dataset, Features, Value
    from datasets import Image as HFImage

    root = tmp_path / f"HallusionBench-{uuid.uuid4().hex[:8]}"
    feats = Features({**{c: Value("string") for c in COLS}, "image": HFImage()})
    (root / "data").mkdir(parents=True)
    for split, keep in (("image", lambda r: r["visual_input"] != "0"), ("non_image", lambda r: r["visual_input"] == "0")):
        part = [{**{c: r[c] for c in COLS},
                 "image": {"bytes": png(i), "path": None} if split == "image" else None}
                for i, r in enumerate(rows) if keep(r)]
        Dataset.from_list(part, features=feats).to_parquet(str(root / "data" / f"{split}-00000-of-00001.parquet"))
    (root / "README.md").write_text(textwrap.dedent("""\
        ---
        configs:
        - config_name: default
          data_files:
          - split: image
            path: data/image-*
          - split: non_image
            path: data/non_image-*
        ---
        """))
    return root


def sid(r: dict) -> str:
    return "_".join(str(r[k]) for k in ("category", "subcategory", "set_id", "figure_id", "question_id"))


def test_grouping_keys_give_the_official_group_counts(tmp_path):
    rows = real_rows()
    clone = write_clone(tmp_path, rows)
    task = resolve_tasks("hallusionbench")[0]
    src = open_source(task, str(clone))
    to_sample = get_adapter(task)
    samples = [to_sample(r, i, task) for i, r in enumerate(src.rows(list(range(len(src)))))]
    assert len(samples) == 1129 and not [s for s in samples if s.error]
    assert len({s.id for s in samples}) == 1129  # official get_eval_all asserts its key is unique

    # the official keys, computed from the JSON alone (utils.py get_eval_fig / get_eval_pair_all)
    figures = {"_".join([r["category"], r["subcategory"], str(r["set_id"]), str(r["figure_id"])])
               for r in rows if not (r["category"] == "VS" and str(r["figure_id"]) == "0")}
    pairs = {"_".join([r["category"], r["subcategory"], str(r["set_id"]), str(r["question_id"])]) for r in rows}
    assert {s.meta["figure_key"] for s in samples} - {None} == figures
    assert {s.group for s in samples} == pairs
    assert (len(figures), len(pairs)) == (346, 455)
    assert sum(s.meta["figure_key"] is None for s in samples) == 178  # the text-only VS questions
    assert sum(bool(s.images) for s in samples) == 951
    assert {s.answer for s in samples} == {"A", "B"} and sum(s.answer == "A" for s in samples) == 484


def official_metrics(rows: list[dict], judged: dict[str, str]) -> dict[str, float]:
    """aAcc, fAcc, qAcc exactly as tianyi-lab/HallusionBench utils.py computes them from judge labels."""
    correct = {}
    for r in rows:  # assign_correctness
        j = judged[sid(r)]
        no_fig = r["category"] == "VS" and int(r["figure_id"]) == 0
        correct[sid(r)] = 1 if j == "1" or (no_fig and j == "2") else 0
    fig: dict[str, list[int]] = {}
    pair: dict[str, list[int]] = {}
    for r in rows:
        c = correct[sid(r)]
        if not (r["category"] == "VS" and str(r["figure_id"]) == "0"):
            fig.setdefault("_".join([r["category"], r["subcategory"], r["set_id"], r["figure_id"]]), []).append(c)
        pair.setdefault("_".join([r["category"], r["subcategory"], r["set_id"], r["question_id"]]), []).append(c)
    return {"aAcc": sum(correct.values()) / len(rows),
            "fAcc": sum(all(v) for v in fig.values()) / len(fig),
            "qAcc": sum(all(v) for v in pair.values()) / len(pair)}


def test_full_question_file_matches_the_official_formulas(tmp_path):
    rows = real_rows()
    clone = write_clone(tmp_path, rows)
    # a deterministic mix of right, wrong and "unclear" answers; the judge labels the same way
    answers, judged = {}, {}
    for i, r in enumerate(rows):
        kind = (i * 7 + int(r["set_id"])) % 5
        yes = r["gt_answer"] == "1"
        if kind == 4:
            answers[sid(r)], judged[sid(r)] = "I cannot tell from this.", "2"
        else:
            right = kind != 3
            answers[sid(r)] = "Yes" if yes == right else "No"
            judged[sid(r)] = "1" if right else "0"
    out = run_scripted("hallusionbench", answers, tmp_path / "runs", data=str(clone), batch_size=64)
    m = out.results["metrics"]
    want = official_metrics(rows, judged)
    assert m["aAcc"]["value"] == pytest.approx(want["aAcc"], abs=1e-6)
    assert m["fAcc"]["value"] == pytest.approx(want["fAcc"], abs=1e-6)
    assert m["qAcc"]["value"] == pytest.approx(want["qAcc"], abs=1e-6)
    assert (m["aAcc"]["n"], m["fAcc"]["n"], m["qAcc"]["n"]) == (1129, 346, 455)
    assert out.results["primary"] == "qAcc" and out.results["complete"] is True
    # plain accuracy gives no "unclear" credit, so it is lower whenever a text-only item was unclear
    plain = sum(judged[sid(r)] == "1" for r in rows) / len(rows)
    assert m["accuracy"]["value"] == pytest.approx(plain, abs=1e-6)
    assert m["accuracy"]["value"] < m["aAcc"]["value"]


SUBSET = {  # (category, subcategory, set_id, figure_id, question_id) -> scripted answer
    ("VD", "illusion", "0", "0", "0"): "Yes",   # gt yes: right
    ("VD", "illusion", "0", "0", "1"): "No",    # gt no: right
    ("VD", "illusion", "0", "0", "2"): "No",    # gt no: right
    ("VD", "illusion", "0", "1", "0"): "Yes",   # gt no: WRONG
    ("VD", "illusion", "0", "1", "1"): "Yes",   # gt yes: right
    ("VD", "illusion", "0", "1", "2"): "(B) No",  # gt no: right
    ("VS", "chart", "0", "0", "0"): "I cannot tell without the chart.",  # no figure, unclear: official credit
    ("VS", "chart", "0", "0", "1"): "Yes",      # gt yes: right
    ("VS", "chart", "0", "0", "2"): "Yes",      # gt no: WRONG
    ("VS", "chart", "0", "0", "3"): "B",        # gt no: right
    ("VS", "chart", "0", "1", "0"): "No",       # gt no: right
    ("VS", "chart", "0", "1", "1"): "Yes",      # gt yes: right
    ("VS", "chart", "0", "1", "2"): "No",       # gt no: right
    ("VS", "chart", "0", "1", "3"): "I cannot tell.",  # has a figure: unclear is WRONG
}


def test_hand_checked_subset(tmp_path):
    rows = [r for r in real_rows() if tuple(r[k] for k in ("category", "subcategory", "set_id", "figure_id",
                                                            "question_id")) in SUBSET]
    assert len(rows) == 14
    clone = write_clone(tmp_path, rows)
    answers = {"_".join(k): v for k, v in SUBSET.items()}
    out = run_scripted("hallusionbench", answers, tmp_path / "runs", data=str(clone))
    m = out.results["metrics"]
    # aAcc: VD 5/6 right, VS 6/8 (chart 0_0_0 credited as unclear, 0_0_2 and 0_1_3 wrong) -> 11/14
    assert m["aAcc"]["value"] == round(11 / 14, 6) and m["aAcc"]["n"] == 14
    # plain accuracy: the unclear answer is not credited -> 10/14
    assert m["accuracy"]["value"] == round(10 / 14, 6)
    # fAcc: figures VD_illusion_0_0 (all right) / VD_illusion_0_1 (q0 wrong) / VS_chart_0_1 (q3 wrong);
    # VS_chart_0_0 has no figure and is excluded -> 1/3
    assert m["fAcc"]["value"] == round(1 / 3, 6) and m["fAcc"]["n_ungrouped"] == 4
    # qAcc: VD q0 (fig1 wrong) 0, q1 1, q2 1; VS q0 (unclear credit + right) 1, q1 1, q2 0, q3 0 -> 4/7
    assert m["qAcc"]["value"] == round(4 / 7, 6) and m["qAcc"]["n"] == 7
    assert m["by_subcategory"]["table"]["chart"]["correct"] == 5  # plain: 8 VS minus 3
    recs = {r["id"]: r for r in read_jsonl(out.run_dir / "samples.jsonl")}
    assert recs["VS_chart_0_0_0"]["scored"]["failure"] == "refusal"
    assert not recs["VS_chart_0_0_0"]["sample"]["images"] and recs["VS_chart_0_1_0"]["sample"]["images"]
    text = recs["VD_illusion_0_0_0"]["messages"][0]["content"][-1]["text"]
    assert text.endswith("A. Yes\nB. No\nAnswer with the option's letter from the given choices directly.")


def test_spatialthinker_protocol_reproduces_the_paper_script(tmp_path):
    rows = [r for r in real_rows() if (r["category"], r["subcategory"], r["set_id"]) == ("VS", "chart", "0")]
    clone = write_clone(tmp_path, rows)
    task = apply_protocol(resolve_tasks("hallusionbench")[0], "spatialthinker")
    assert task.source.split == "image" and task.metrics == ("accuracy",) and task.max_new_tokens == 2048
    answers = {sid(r): "<think>...</think><answer> (A) Yes </answer>" for r in rows}
    out = run_scripted("hallusionbench", answers, tmp_path / "runs", data=str(clone), protocol="spatialthinker",
                       prompt_style="spatialthinker")
    # split "image" keeps the 4 figure rows; gt yes only on question 1 -> 1/4
    assert out.results["n_samples"] == 4 and out.results["metrics"]["accuracy"]["value"] == 0.25
    rec = read_jsonl(out.run_dir / "samples.jsonl")[0]
    text = rec["messages"][0]["content"][-1]["text"]
    assert text.endswith("Now answer the following question:\n" + rows[4]["question"] + "\nOptions:\n(A) Yes \n(B) No")
    assert rec["scored"]["stage"] == "paper_option_text"
