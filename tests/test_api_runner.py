"""The API runner against a real HTTP server on loopback that injects faults.

Each sample's requests are counted server-side: after 429s (with Retry-After), 500s, responses
slower than the timeout, malformed bodies and dropped connections, every sample must have been
answered exactly once; errors that persist are recorded (never scored) and retried by a rerun;
the key appears nowhere on disk. The whole file runs in about ten seconds.
"""

from __future__ import annotations

import base64
import io
import json
import random
from pathlib import Path

import pytest
from conftest import read_jsonl
from fake_api_server import FakeChatServer, request_key
from PIL import Image

from spatialeval import evaluate
from spatialeval.records import GenerationParams, ImageRef, Request
from spatialeval.runners.api import (
    APIRunner,
    backoff_delay,
    image_payload,
    image_tokens,
    make_api_runner,
    parse_retry_after,
    sniff_mime,
)

KEY = "sk-test-DO-NOT-LEAK-0123456789"
# The client timeout is far above a loopback answer even on a loaded machine (a spurious timeout
# would be a retry, and a second answer for that sample); "slow" answers come after it.
FAST = {"timeout": 2.0, "backoff_base": 0.01, "backoff_cap": 0.05}


def _bucket(key: str, k: int) -> int:
    return int(key[:8], 16) % k


def _faulty(key: str, attempt: int) -> str:
    """One fault kind per sample on its first attempt(s), chosen by the request's hash."""
    kind = ("ok", "429", "500", "slow", "malformed", "drop")[_bucket(key, 6)]
    if kind == "500":
        return "500" if attempt < 2 else "ok"
    return kind if attempt == 0 else "ok"


def _api(server: FakeChatServer, **kw) -> dict:
    return {"api": {"base_url": server.base_url, "api_key": KEY, "concurrency": 8, **FAST, **kw}}


def _run(server, tmp_path, limit=24, **kw):
    return evaluate("openai:fake-model", "synth_spatial", limit=limit, output_dir=tmp_path / "runs",
                    cache_dir=tmp_path / "cache", progress=False, runner_options=_api(server, **kw))[0]


def _assert_key_nowhere(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            assert KEY.encode() not in p.read_bytes(), f"the API key leaked into {p}"


def test_faults_are_retried_and_every_sample_answered_exactly_once(tmp_path):
    with FakeChatServer(_faulty, api_key=KEY, slow_s=2.5, retry_after="1") as server:
        out = _run(server, tmp_path, price=(1.0, 2.0))
        base_url = server.base_url
        answered = server.answered()
        hits = {k: list(v) for k, v in server.hits.items()}
    assert out.status == "finished", out.results.get("health")
    recs = read_jsonl(out.run_dir / "samples.jsonl")
    assert len(recs) == 24 and all(r["error"] is None for r in recs)
    assert len(answered) == 24  # one distinct request per sample
    assert set(answered.values()) == {1}  # answered exactly once: no duplicate after a success
    kinds = {("ok", "429", "500", "slow", "malformed", "drop")[_bucket(k, 6)] for k in hits}
    assert {"429", "500", "slow", "malformed", "drop"} <= kinds  # every fault was exercised
    for h in hits.values():
        if h[0][1] == "429":  # Retry-After: 1 was honoured
            assert h[1][0] - h[0][0] >= 0.95
        if h[0][1] == "500":
            assert [o for _, o in h] == ["500", "500", "ok"]
    # what was sent and what came back is recorded per sample
    for r in recs:
        s = r["response"]["sampling"]
        assert s["served_model"] == "fake-model-2024-01-01" and s["image_detail"] == "auto"
        assert s["max_tokens"] == 16 and s["temperature"] == 0.0 and s["attempts"] >= 1
        assert r["response"]["input_tokens"] == 100 and r["response"]["output_tokens"] == 1
    stats = json.loads((out.run_dir / "stats.json").read_text())["api"]
    assert stats["requests"] == 24 and stats["retries"] >= 5 and stats["input_tokens"] == 2400
    assert stats["cost_usd"] == pytest.approx(24 * (100 * 1.0 + 1 * 2.0) / 1e6)
    assert stats["run_total"]["cost_usd"] == pytest.approx(stats["cost_usd"])
    run = json.loads((out.run_dir / "run.json").read_text())
    assert run["model"]["api_key_source"] == "flag" and run["model"]["endpoint"] == base_url
    _assert_key_nowhere(tmp_path)


def test_persistent_errors_are_recorded_then_retried_by_a_rerun(tmp_path):
    broken = {"on": True}

    def plan(key: str, attempt: int) -> str:
        return "500" if broken["on"] and _bucket(key, 4) == 0 else "ok"

    with FakeChatServer(plan, api_key=KEY) as server:
        first = _run(server, tmp_path, max_retries=2)
        bad = {k for k in server.hits if _bucket(k, 4) == 0}
        assert bad and first.status == "incomplete"
        recs = read_jsonl(first.run_dir / "samples.jsonl")
        errors = [r for r in recs if r["error"]]
        assert len(errors) == len(bad)
        for r in errors:
            assert r["scored"]["correct"] is None  # an error is not a wrong answer
            assert "HTTP 500" in r["error"] and "gave up after 3 attempts" in r["error"]
            assert "***" in r["error"]  # the server echoed the key: redacted
        assert first.results["health"]["n_errors"] == len(bad) and first.results["complete"] is False
        assert all(len(server.hits[k]) == 3 for k in bad)  # 1 try + 2 retries

        broken["on"] = False
        before = server.answered()
        second = _run(server, tmp_path, max_retries=2)
        after = server.answered()
    assert second.status == "finished" and second.computed == len(bad)
    assert second.run_dir == first.run_dir
    assert set(after.values()) == {1}  # successes were never sent again
    assert {k for k in after if after[k] != before.get(k, 0)} == bad
    _assert_key_nowhere(tmp_path)


def test_client_errors_are_final_and_not_retried(tmp_path):
    with FakeChatServer(lambda k, a: "400", api_key=KEY) as server:
        out = _run(server, tmp_path, limit=4)
        assert all(len(h) == 1 for h in server.hits.values())
    assert out.status == "incomplete"
    assert all("HTTP 400" in r["error"] for r in read_jsonl(out.run_dir / "samples.jsonl"))


def test_key_from_environment_and_masked_on_the_command_line(tmp_path, monkeypatch):
    import sys

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeChatServer(api_key=KEY) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        runner = make_api_runner("openai:fake-model", timeout=2)
        assert runner.api_key_source == "env:OPENAI_API_KEY" and runner.endpoint == server.base_url
        assert KEY not in json.dumps(runner.info()) and KEY not in json.dumps(runner.fingerprint())
        monkeypatch.setattr(sys, "argv", ["spatialeval", "run", "--api-key", KEY, f"--api-key={KEY}"])
        out = evaluate(runner, "synth_spatial", limit=3, output_dir=tmp_path / "runs", cache_dir=tmp_path / "c",
                       progress=False)[0]
    run = json.loads((out.run_dir / "run.json").read_text())
    assert run["command"] == ["spatialeval", "run", "--api-key", "***", "--api-key=***"]
    _assert_key_nowhere(tmp_path)


def test_cli_run_against_the_server_and_cache(cli, tmp_path, monkeypatch):
    """The real CLI: flags reach the runner; a second run elsewhere is served by the cache."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeChatServer(api_key=KEY) as server:
        args = ["run", "-m", "openai:fake-model", "--base-url", server.base_url, "--limit", "6",
                "--concurrency", "3", "--image-detail", "low", "--cache-dir", tmp_path / "cache", "--no-progress"]
        code, out = cli(*args, "-o", tmp_path / "a")
        assert code == 0, out
        code, out = cli(*args, "-o", tmp_path / "b")
        assert code == 0, out
        assert server.total_hits() == 6
        body = next(iter(server.bodies.values()))
    assert body["messages"][0]["content"][0]["image_url"]["detail"] == "low"
    run = json.loads(next((tmp_path / "a").rglob("run.json")).read_text())
    assert run["config"]["model"]["image_detail"] == "low" and run["model"]["concurrency"] == 3
    assert run["batch_size"] == 64  # the API runner's preferred batch: max(64, 8 x concurrency)
    _assert_key_nowhere(tmp_path)


def _png(size=(40, 30)) -> bytes:
    im = Image.new("RGB", size)
    im.putdata([((x * 7) % 256, (y * 11) % 256, 99) for y in range(size[1]) for x in range(size[0])])
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _request(images: tuple[ImageRef, ...], text="Which is left?\nA. red\nB. blue") -> Request:
    content = [{"type": "image", "image": k} for k in range(len(images))] + [{"type": "text", "text": text}]
    return Request(sample_id="s0", messages=({"role": "user", "content": content},), images=images,
                   params=GenerationParams(max_new_tokens=7, seed=3), prompt_hash="h", n_choices=2, sample_index=0)


def test_images_are_sent_as_their_original_bytes(tmp_path):
    png = _png()
    im = Image.open(io.BytesIO(png))
    jbuf, bbuf = io.BytesIO(), io.BytesIO()
    im.save(jbuf, format="JPEG", quality=75)
    im.save(bbuf, format="BMP")
    jpeg, bmp = jbuf.getvalue(), bbuf.getvalue()
    with FakeChatServer(api_key=KEY) as server:
        runner = APIRunner("openai", "fake-model", base_url=server.base_url, api_key=KEY, image_detail="high",
                           **FAST)
        resp = runner.generate([_request((ImageRef(data=png), ImageRef(data=jpeg), ImageRef(data=bmp)))])[0]
        body = next(iter(server.bodies.values()))
    assert resp.ok and resp.text == "A"
    parts = body["messages"][0]["content"]
    urls = [p["image_url"]["url"] for p in parts[:3]]
    assert urls[0] == "data:image/png;base64," + base64.b64encode(png).decode()
    assert urls[1] == "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()  # no re-encoding
    assert urls[2].startswith("data:image/png;base64,")  # BMP is not accepted: lossless PNG, recorded
    converted = Image.open(io.BytesIO(base64.b64decode(urls[2].split(",", 1)[1])))
    assert converted.convert("RGB").tobytes() == Image.open(io.BytesIO(bmp)).convert("RGB").tobytes()
    assert resp.sampling["images_converted_to_png_from"] == ["bmp"]
    assert all(p["image_url"]["detail"] == "high" for p in parts[:3])
    assert parts[3] == {"type": "text", "text": "Which is left?\nA. red\nB. blue"}
    assert body["max_tokens"] == 7 and body["temperature"] == 0.0 and body["seed"] == 3


def test_anthropic_messages_dialect(tmp_path):
    png = _png()
    with FakeChatServer(api_key=KEY) as server:
        runner = APIRunner("anthropic", "claude-3-5-sonnet-20240620", base_url=server.base_url, api_key=KEY, **FAST)
        resp = runner.generate([_request((ImageRef(data=png),))])[0]
        body = next(iter(server.bodies.values()))
    assert resp.ok and resp.text == "A" and resp.input_tokens == 100
    block = body["messages"][0]["content"][0]
    assert block == {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                 "data": base64.b64encode(png).decode()}}
    assert body["max_tokens"] == 7 and "seed" not in body


def test_max_cost_stops_spending(tmp_path):
    # each call costs 100 x $10/M + 1 x $10/M = $0.00101; the worst case reserved before a call is larger
    with FakeChatServer(api_key=KEY) as server:
        out = _run(server, tmp_path, limit=24, price=(10.0, 10.0), max_cost=0.01, concurrency=4)
        n_ok = sum(server.answered().values())
    recs = read_jsonl(out.run_dir / "samples.jsonl")
    refused = [r for r in recs if r["error"]]
    assert out.status == "incomplete" and refused and 1 <= n_ok < 24
    assert all(r["error"].startswith("budget: --max-cost $0.01 reached") for r in refused)
    stats = json.loads((out.run_dir / "stats.json").read_text())["api"]
    assert stats["cost_usd"] <= 0.01 and stats["budget_refused"] == len(refused)


def test_max_cost_without_a_price_is_bad_input():
    from spatialeval.errors import UserError

    with pytest.raises(UserError, match="--price"):
        APIRunner("openai", "some-unpriced-model", api_key=KEY, max_cost=1.0)


def test_dry_run_estimates_without_calling(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code, out = cli("run", "-m", "openai:gpt-4o-2024-05-13", "--dry-run", "--limit", "10", "-o", tmp_path / "r")
    assert code == 0, out
    line = next(ln for ln in out.splitlines() if ln.startswith("openai:gpt-4o-2024-05-13"))
    cells = line.split()
    assert cells[1] == "synth_spatial" and cells[2] == "10" and int(cells[4]) == 160
    assert float(cells[6]) > float(cells[5]) > 0
    assert not (tmp_path / "r").exists()


def test_retry_after_and_backoff():
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # a past date
    assert parse_retry_after({"retry-after": "99999"}) == 300.0
    assert parse_retry_after({}) is None
    rng = random.Random(0)
    for attempt in range(8):
        d = backoff_delay(attempt, 1.0, 60.0, rng=rng)
        ceiling = min(60.0, 2 ** attempt)
        assert ceiling / 2 <= d <= ceiling
    assert backoff_delay(0, 1.0, 60.0, retry_after=5.0, rng=rng) == 5.0


def test_mime_sniffing_and_image_token_rules():
    assert sniff_mime(_png()) == "image/png"
    assert sniff_mime(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert sniff_mime(b"RIFF\0\0\0\0WEBPVP8 ") == "image/webp"
    assert image_payload(_png())[1:] == ("image/png", None)
    assert image_tokens(512, 512, "openai", "low") == 85
    assert image_tokens(1024, 1024, "openai", "high") == 85 + 170 * 4  # 768x768 -> 2x2 tiles
    assert image_tokens(2048, 4096, "openai", "high") == 85 + 170 * 6  # 1024x2048 -> 768x1536
    assert image_tokens(1000, 1000, "anthropic", "auto") == 1334


def test_request_key_is_per_sample():
    a = _request((ImageRef(data=_png()),), text="one")
    b = _request((ImageRef(data=_png()),), text="two")
    from spatialeval.runners.api import openai_body

    ka = request_key(openai_body(a, "m", "auto")[0]["messages"])
    kb = request_key(openai_body(b, "m", "auto")[0]["messages"])
    assert ka != kb
