"""Every source kind, loaded through the same code path a user's task file takes."""

from __future__ import annotations

import json

import pytest
from conftest import only_run_dir, read_jsonl
from datasets_fixtures import hf_dataset, png, task_file, write_hub_clone, write_images_csv, write_jsonl, write_parquet

from spatialeval.adapters import get_adapter
from spatialeval.sources import HFSource, open_source
from spatialeval.tasks import load_task_file


def _samples(task, data=None):
    src = open_source(task, data)
    ad = get_adapter(task)
    return [ad(r, i, task) for i, r in zip(range(len(src)), src.rows(list(range(len(src)))), strict=True)]


def test_hub_clone_multi_config_read_like_the_hub(tmp_path):
    clone = write_hub_clone(tmp_path / "CV-Bench")
    tf = task_file(tmp_path / "t.yaml", """\
        source: {kind: hub, dataset: nyu-visionx/CV-Bench, revision: 0123abc, config: 3D, split: test}
        """)
    task = load_task_file(tf)
    src = open_source(task, data=str(clone))
    assert isinstance(src, HFSource) and len(src) == 4  # the 3D config, not the 2D one
    prov = src.provenance()
    assert prov["hub_id"] == "nyu-visionx/CV-Bench" and prov["pinned_revision"] == "0123abc"
    assert prov["fingerprint"]
    s = _samples(task, str(clone))
    assert [x.answer for x in s] == ["A", "B", "A", "B"]
    assert s[1].choices == ("left", "right") and s[1].category == "Relation"
    assert s[2].images[0].read_bytes() == png(2)  # the original bytes, not a re-encoding


def test_images_stay_encoded_in_rows(tmp_path):
    path = write_parquet(tmp_path / "d.parquet", 3)
    tf = task_file(tmp_path / "t.yaml", f"source: {{kind: local, dataset: {path}}}\n")
    src = open_source(load_task_file(tf))
    row = src.rows([0])[0]
    assert isinstance(row["image"], dict) and isinstance(row["image"]["bytes"], bytes)


def test_parquet_file(tmp_path):
    write_parquet(tmp_path / "data" / "d.parquet", 5)
    tf = task_file(tmp_path / "t.yaml", "source: {kind: local, dataset: data/d.parquet}\n")  # relative to file
    s = _samples(load_task_file(tf))
    assert len(s) == 5 and s[4].id == "4" and s[4].answer == "A" and not any(x.error for x in s)


def test_saved_hf_dataset_dir(tmp_path):
    hf_dataset(4).save_to_disk(str(tmp_path / "saved"))
    tf = task_file(tmp_path / "t.yaml", f"source: {{kind: local, dataset: {tmp_path / 'saved'}}}\n")
    s = _samples(load_task_file(tf))
    assert len(s) == 4 and s[3].images[0].read_bytes() == png(3)


def test_jsonl_with_relative_image_paths(tmp_path):
    path = write_jsonl(tmp_path / "j" / "data.jsonl", 4)
    tf = task_file(tmp_path / "t.yaml", f"source: {{kind: local, dataset: {path}}}\n", fields_yaml="""\
fields: {id: qid, question: q, choices: options, answer: label, answer_format: index, images: img}
metrics: [accuracy]
""")
    s = _samples(load_task_file(tf))
    assert [x.answer for x in s] == ["A", "B", "C", "A"]
    assert s[2].images[0].read_bytes() == png(2)


def test_image_folder_with_csv(tmp_path):
    root = write_images_csv(tmp_path / "folder", 5)
    tf = task_file(tmp_path / "t.yaml", f"source: {{kind: local, dataset: {root}}}\n", fields_yaml="""\
fields: {id: id, question: question, choices: [option_a, option_b], answer: answer, answer_format: letter,
         images: image, category: category}
metrics: [accuracy]
""")
    s = _samples(load_task_file(tf))
    assert [x.id for x in s] == ["q0", "q1", "q2", "q3", "q4"]
    assert s[1].choices == ("yes", "no") and s[1].answer == "B" and s[4].category == "cat1"
    assert s[3].images[0].read_bytes() == png(3)


def test_user_task_file_end_to_end_with_data_flag(cli, tmp_path):
    clone = write_hub_clone(tmp_path / "clone", n2d=6)
    tf = task_file(tmp_path / "mytask.yaml", """\
        source: {kind: hub, dataset: someone/somebench, revision: deadbeef, config: 2D, split: test}
        """, task_id="mybench")
    code, out = cli("run", "-m", "random", "-t", tf, "--data", clone, "-o", tmp_path / "runs", "--no-progress")
    assert code == 0, out
    rd = only_run_dir(tmp_path / "runs", "random", "mybench")
    run = json.loads((rd / "run.json").read_text())
    assert run["dataset"]["path"] == str(clone.resolve()) and run["dataset"]["hub_id"] == "someone/somebench"
    assert len(read_jsonl(rd / "samples.jsonl")) == 6
    res = json.loads((rd / "results.json").read_text())
    assert set(res["categories"]) == {"Count", "Relation"}


@pytest.mark.parametrize("style", ["direct", "reasoning", "spatialthinker"])
def test_prompt_styles_render_over_a_dataset(cli, tmp_path, style):
    path = write_parquet(tmp_path / "d.parquet", 2)
    tf = task_file(tmp_path / "t.yaml", f"source: {{kind: local, dataset: {path}}}\n")
    code, out = cli("run", "-m", "random", "-t", tf, "--prompt-style", style, "-o", tmp_path / "r", "--no-progress")
    assert code == 0, out
    rd = only_run_dir(tmp_path / "r", "random", "fixture")
    text = read_jsonl(rd / "samples.jsonl")[0]["messages"][0]["content"][-1]["text"]
    if style == "spatialthinker":
        assert "<observe>" in text and "(64 x 48)" in text and "Image size: {Width} x {Height}" in text
    elif style == "reasoning":
        assert "<think>" in text and "Question: Question 0?" in text and "(A) yes" in text
    else:
        assert "A. yes" in text and "letter" in text


def test_resolved_dataset_commit_is_recorded_without_guessing(monkeypatch):
    from spatialeval.sources import resolved_dataset_commit

    pinned = "24bc4854ead64eb7d1442da7e4789d2c807816b2"
    assert resolved_dataset_commit("ccvl/3DSRBench", pinned) == pinned
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolved_dataset_commit("nyu-visionx/CV-Bench", None) is None  # offline: unknown, never invented
