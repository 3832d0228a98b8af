"""Fast JSON paths (orjson) must read and write exactly what the standard library would."""

from __future__ import annotations

import json
import math

import pytest

from spatialeval.report import script_json
from spatialeval.store import RunDir, loads_line


def test_loads_line_reads_what_json_dumps_writes_including_nan_and_lone_surrogates():
    recs = [{"a": 1, "t": "plain é ✓"}, {"score": float("nan"), "x": float("inf")}, {"t": "bad \ud800 half"},
            {"big": 2 ** 70}]
    for rec in recs:
        back = loads_line(json.dumps(rec))
        assert back.keys() == rec.keys()
        for k, v in rec.items():
            assert (math.isnan(back[k]) if isinstance(v, float) and math.isnan(v) else back[k] == v)


def test_loads_line_still_raises_on_a_torn_line():
    with pytest.raises(json.JSONDecodeError):
        loads_line('{"index": 3, "response": {"text": "B"')


def test_records_keep_a_nan_record_and_drop_a_torn_one(tmp_path):
    run = RunDir(tmp_path)
    lines = [json.dumps({"index": 0, "write": "w0", "write_n": 1, "scored": {"values": {"score": float("nan")}}}),
             json.dumps({"index": 1, "write": "w1", "write_n": 1})[:-5]]
    (tmp_path / "samples.jsonl").write_text("\n".join(lines) + "\n")
    recs = run.records()
    assert sorted(recs) == [0]
    assert math.isnan(recs[0]["scored"]["values"]["score"])



def test_records_survive_a_line_torn_inside_a_multibyte_character(tmp_path):
    """A crash can cut a line in the middle of a UTF-8 character: that line is dropped, the rest read."""
    ok = json.dumps({"index": 0, "write": "w0", "write_n": 1, "t": "après ✓"}, ensure_ascii=False).encode()
    torn = json.dumps({"index": 1, "write": "w1", "write_n": 1, "t": "✓✓"}, ensure_ascii=False).encode()[:-6]
    later = json.dumps({"index": 2, "write": "w2", "write_n": 1, "t": "ok"}).encode()
    (tmp_path / "samples.jsonl").write_bytes(ok + b"\n" + torn + b"\n" + later + b"\n\n")
    recs = RunDir(tmp_path).records()
    assert sorted(recs) == [0, 2]
    assert recs[0]["t"] == "après ✓"

@pytest.mark.parametrize("obj", [
    {"rows": [{"output": "</script><script>alert(1)</script>", "q": "it's <b>&amp;</b>"}]},
    {"output": "<!-- <img src=x onerror=alert(1)> -->", "n": [1, 2.5, None, True]},
    {1: "non-str key"},  # orjson refuses: the standard library serialises it
    {"t": "lone \ud800 surrogate"},
])
def test_script_json_cannot_close_its_element_and_round_trips(obj):
    text = str(script_json(obj))
    for ch in "<>&'":
        assert ch not in text
    back = json.loads(text)
    assert back == json.loads(json.dumps(obj))


def test_script_json_writes_nan_as_null():
    assert json.loads(str(script_json({"v": float("nan")}))) == {"v": None}


def test_script_json_with_a_lone_surrogate_still_encodes_as_utf8():
    text = str(script_json({"t": "lone \ud800 surrogate", "ok": "é"}))
    text.encode("utf-8")
    assert json.loads(text)["ok"] == "é"
