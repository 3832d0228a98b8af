"""``--shard i/n`` + ``spatialeval merge``: the merged run is byte-identical to an unsharded one."""

from __future__ import annotations

import json

import pytest
from conftest import only_run_dir, read_jsonl

from spatialeval.errors import UserError
from spatialeval.shards import batch_starts, owned_indices, parse_shard

ARGS = ["run", "-m", "tiny-qwen2.5-vl", "-t", "synth_spatial", "--limit", "22", "--batch-size", "4", "--no-cache",
        "--no-progress"]


@pytest.mark.parametrize("n,bs,shards", [(22, 4, 3), (10, 3, 4), (7, 8, 2), (5, 1, 5), (100, 7, 1)])
def test_shards_partition_the_batches(n, bs, shards):
    seen = []
    for i in range(shards):
        starts = batch_starts(n, bs, (i, shards))
        assert all(s % bs == 0 for s in starts)  # batches stay fixed by index
        assert all((s // bs) % shards == i for s in starts)  # strided by batch
        seen += owned_indices(n, bs, (i, shards))
    assert sorted(seen) == list(range(n))


def test_parse_shard():
    assert parse_shard("0/4") == (0, 4) and parse_shard(" 3 / 4 ") == (3, 4)
    for bad in ("4/4", "1", "-1/2", "a/b", "1/0"):
        with pytest.raises(UserError):
            parse_shard(bad)


def test_sharded_then_merged_equals_unsharded(cli, tmp_path, tiny_model_path):
    sharded, whole = tmp_path / "sharded", tmp_path / "whole"
    for i in range(3):
        code, out = cli(*ARGS, "--shard", f"{i}/3", "-o", sharded)
        assert code == 0, out
        assert f"shard-{i}-of-3" in out
    run_root = only_run_dir(sharded, "tiny-qwen2.5-vl", "synth_spatial")
    shard1 = run_root / "shard-1-of-3"
    res1 = json.loads((shard1 / "results.json").read_text())
    assert res1["shard"] == {"index": 1, "count": 3} and res1["n_samples"] == 8 and res1["complete"] is True
    assert sorted(r["index"] for r in read_jsonl(shard1 / "samples.jsonl")) == [4, 5, 6, 7, 16, 17, 18, 19]
    code, out = cli(*ARGS, "--shard", "1/3", "-o", sharded)  # a finished shard does nothing
    assert code == 0 and "nothing to do" in out

    code, out = cli("merge", sharded)
    assert code == 0, out
    assert str(run_root) in out
    assert not list(run_root.glob("shard-*"))  # folded into the run
    assert cli(*ARGS, "-o", whole)[0] == 0
    whole_root = only_run_dir(whole, "tiny-qwen2.5-vl", "synth_spatial")
    assert whole_root.name == run_root.name
    assert (run_root / "results.json").read_bytes() == (whole_root / "results.json").read_bytes()
    a = {r["index"]: r for r in read_jsonl(run_root / "samples.jsonl")}
    b = {r["index"]: r for r in read_jsonl(whole_root / "samples.jsonl")}
    assert sorted(a) == list(range(22))
    for i in range(22):
        assert a[i]["response"]["text"] == b[i]["response"]["text"] and a[i]["scored"] == b[i]["scored"]
    assert [r["write_n"] for r in read_jsonl(run_root / "samples.jsonl")] == \
           [r["write_n"] for r in read_jsonl(whole_root / "samples.jsonl")]  # whole batches, in order
    run = json.loads((run_root / "run.json").read_text())
    assert "shard" not in run and run["merged_from"] == ["shard-0-of-3", "shard-1-of-3", "shard-2-of-3"]
    code, out = cli(*ARGS, "-o", sharded)  # the merged run is a finished run
    assert code == 0 and "nothing to do" in out


def test_merge_needs_every_shard_unless_told(cli, tmp_path):
    args = ["run", "-m", "random", "--limit", "20", "--batch-size", "4", "--no-progress", "-o", tmp_path]
    assert cli(*args, "--shard", "0/2")[0] == 0
    code, out = cli("merge", tmp_path)
    assert code == 2 and "shard(s) 1 of 2 not run yet" in out
    code, out = cli("merge", tmp_path, "--allow-missing")
    assert code == 1 and "INCOMPLETE: 8 missing" in out
    code, out = cli(*args)  # the unsharded command computes exactly what is missing
    assert code == 0, out
    root = only_run_dir(tmp_path, "random", "synth_spatial")
    stats = json.loads((root / "stats.json").read_text())
    assert stats["computed"] == 8
    res = json.loads((root / "results.json").read_text())
    assert res["complete"] is True and res["n_samples"] == 20


def test_merge_rejects_mixed_splits_and_foreign_dirs(cli, tmp_path):
    args = ["run", "-m", "random", "--limit", "12", "--batch-size", "4", "--no-progress", "-o", tmp_path]
    assert cli(*args, "--shard", "0/2")[0] == 0
    assert cli(*args, "--shard", "1/3")[0] == 0
    code, out = cli("merge", tmp_path)
    assert code == 2 and "one split" in out
    code, out = cli("merge", tmp_path / "nowhere")
    assert code == 2 and "no such directory" in out
