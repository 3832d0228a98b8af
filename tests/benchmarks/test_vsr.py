"""VSR on the REAL test files (shared/realdata/vsr), images generated under the names the rows give."""

from __future__ import annotations

import io
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from conftest import SHARED
from PIL import Image
from scripted import run_scripted

from spatialeval.adapters import get_adapter
from spatialeval.adapters.vsr import REL2CAT
from spatialeval.sources import open_source
from spatialeval.tasks import load_task_file, resolve_tasks

REAL = SHARED / "realdata" / "vsr"
pytestmark = pytest.mark.skipif(not (REAL / "random" / "test.jsonl").exists(),
                                reason="shared/realdata/vsr (the real VSR test files) is not available")


def _jpeg(i: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), ((37 * i) % 256, (91 * i) % 256, 120)).save(buf, format="JPEG")
    return buf.getvalue()


def _clone(root: Path, split: str, rows: list[dict] | None = None) -> Path:
    """A clone of cambridgeltl/vsr_<split>: README + test.jsonl (the real file) + images/<COCO name>."""
    root.mkdir(parents=True)
    (root / "README.md").write_text("---\nlicense: cc-by-4.0\n---\n# VSR fixture\n")
    if rows is None:
        shutil.copy(REAL / split / "test.jsonl", root / "test.jsonl")
        rows = _rows(split)
    else:
        (root / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "images").mkdir()
    for i, name in enumerate(sorted({r["image"] for r in rows})):
        (root / "images" / name).write_bytes(_jpeg(i))
    return root


def _rows(split: str) -> list[dict]:
    return [json.loads(line) for line in (REAL / split / "test.jsonl").read_text().splitlines() if line.strip()]


def _official_rel2cat() -> dict[str, str]:
    """The meta-category file parsed independently of the adapter (later lines win, as the script does)."""
    out = {}
    for line in (REAL / "rel_meta_category_dict.txt").read_text().splitlines():
        cat, rels = line.split(":", 1)
        out.update({r.strip(): cat.strip() for r in rels.split(",")})
    return out


def _script(task_id: str, rows: list[dict]) -> tuple[dict[str, str], list[bool]]:
    """Four answer styles by index; every 4th answer (i % 4 == 0) names the wrong option."""
    answers, correct = {}, []
    for i, r in enumerate(rows):
        gold, wrong = ("A", "B") if r["label"] == 1 else ("B", "A")
        text = {0: wrong, 1: gold, 2: f"Answer: {gold}", 3: "True" if gold == "A" else "False"}[i % 4]
        answers[f"{task_id}-{i}"] = text
        correct.append(i % 4 != 0)
    return answers, correct


def test_shipped_mapping_is_the_official_file():
    assert REL2CAT == _official_rel2cat()
    assert REL2CAT["among"] == "Unallocated"  # listed twice in the file; the later line wins


@pytest.mark.parametrize("split,n,n_correct", [
    # random: i % 4 == 0 for i = 0, 4, ..., 2192 -> 549 wrong; 2195 - 549 = 1646 right
    ("random", 2195, 1646),
    # zeroshot: i = 0, 4, ..., 1220 -> 306 wrong; 1222 - 306 = 916 right
    ("zeroshot", 1222, 916),
])
def test_real_test_split_through_the_pipeline(tmp_path, split, n, n_correct):
    rows = _rows(split)
    assert len(rows) == n
    clone = _clone(tmp_path / f"vsr_{split}", split)
    answers, correct = _script(f"vsr_{split}", rows)
    out = run_scripted(f"vsr_{split}", answers, tmp_path / "runs", data=str(clone))
    res = out.results
    assert out.status == "finished" and res["n_errors"] == 0
    acc = res["metrics"]["accuracy"]
    assert acc["n"] == n and acc["correct"] == n_correct
    assert acc["value"] == pytest.approx(n_correct / n, abs=1e-6)

    # Meta-category counts and accuracies, computed here from the raw rows and the official file.
    rel2cat = _official_rel2cat()
    counts = Counter(rel2cat[r["relation"]] for r in rows)
    hits = Counter(rel2cat[r["relation"]] for r, ok in zip(rows, correct, strict=True) if ok)
    table = res["metrics"]["by_meta_category"]["table"]
    assert {k: v["n"] for k, v in table.items()} == dict(counts)
    for cat, row in table.items():
        assert row["accuracy"] == pytest.approx(hits[cat] / counts[cat], abs=1e-6)
    if split == "random":  # spot-check against counts read off the real file
        assert counts == {"Projective": 843, "Topological": 629, "Adjacency": 289, "Orientation": 137,
                          "Proximity": 133, "Directional": 88, "Unallocated": 76}
    else:
        assert counts == {"Topological": 492, "Projective": 451, "Adjacency": 116, "Orientation": 49,
                          "Directional": 42, "Unallocated": 40, "Proximity": 32}

    by_rel = res["metrics"]["by_relation"]["table"]
    rel_counts = Counter(r["relation"] for r in rows)
    assert {k: v["n"] for k, v in by_rel.items()} == dict(rel_counts)
    assert len(by_rel) == (61 if split == "random" else 53)


def test_sample_shape_and_image_resolution(tmp_path):
    rows = _rows("zeroshot")[:3]
    clone = _clone(tmp_path / "c", "zeroshot", rows)
    (clone / "images" / rows[2]["image"]).unlink()  # one image missing from the copy
    task = resolve_tasks("vsr_zeroshot")[0]
    src = open_source(task, str(clone))
    samples = [get_adapter(task)(r, i, task) for i, r in enumerate(src.rows([0, 1, 2]))]
    s0 = samples[0]
    assert s0.choices == ("True", "False") and s0.answer == ("A" if rows[0]["label"] == 1 else "B")
    assert rows[0]["caption"] in s0.question
    assert s0.subcategory == rows[0]["relation"] and s0.category == REL2CAT[rows[0]["relation"]]
    assert s0.images[0].path == str(clone / "images" / rows[0]["image"])
    assert s0.meta["subj"] == rows[0]["subj"] and s0.meta["image_link"] == rows[0]["image_link"]
    assert samples[1].error is None
    assert samples[2].error and "not found" in samples[2].error and rows[2]["image"] in samples[2].error


def test_hub_rows_without_local_images_are_bad_rows_not_crashes(tmp_path):
    task = load_task_file(Path(__file__).resolve().parents[2] / "tasks" / "vsr_random.yaml")
    row = dict(_rows("random")[0])  # as the Hub gives it: no __base_dir__
    s = get_adapter(task)(row, 0, task)
    assert s.error and "--data" in s.error
