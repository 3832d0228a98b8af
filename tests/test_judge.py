"""LLM-judge stage: MMVP's official grader prompt through the API runner against a loopback server."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "benchmarks"))
from scripted import run_scripted  # noqa: E402
from test_mmvp import real_rows, write_mmvp_clone  # noqa: E402


class JudgeServer:
    """Chat completions on 127.0.0.1: says "yes" when the graded answer names the gold option letter,
    "no" otherwise, and something that is not a verdict for answers containing "GARBLE"."""

    def __init__(self):
        self.prompts: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                user = body["messages"][-1]["content"]
                text = user if isinstance(user, str) else "".join(p.get("text", "") for p in user)
                outer.prompts.append(text)
                gold = text.split("the correct answer is ")[1][:3]  # "(a)" / "(b)"
                answer = text.split("answer:")[-1]
                if "GARBLE" in answer:
                    verdict = "Maybe, it depends."
                else:
                    verdict = "Yes" if gold[1].upper() in answer.upper().replace("ANSWER", "") else "No"
                payload = json.dumps({"id": "x", "object": "chat.completion", "model": body["model"],
                                      "choices": [{"index": 0, "finish_reason": "stop",
                                                   "message": {"role": "assistant", "content": verdict}}],
                                      "usage": {"prompt_tokens": 10, "completion_tokens": 1}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def server():
    s = JudgeServer()
    yield s
    s.close()


def test_mmvp_judge_pair_accuracy_and_recorded_failures(cli, tmp_path, server):
    rows = real_rows()[:8]  # pairs 1-4
    clone = write_mmvp_clone(tmp_path / "MMVP")
    gold = {r["Index"]: r["Correct Answer"].strip("()").upper() for r in rows}
    answers = {i: f"({g})" for i, g in gold.items()}
    answers["1"] = "(B)" if gold["1"] == "A" else "(A)"  # pair 1 fails
    answers["5"] = "GARBLE"  # the judge answers with no verdict: a recorded judge failure
    outcome = run_scripted("mmvp", answers, tmp_path / "runs", data=str(clone), limit=8)
    code, out = cli("judge", outcome.run_dir, "--judge-model", "openai:gpt-4-0314", "--base-url", server.url,
                    "--api-key", "sk-test-secret", "--cache-dir", tmp_path / "cache")
    assert code == 0, out
    assert "1 judge failure(s) recorded, not guessed" in out
    jdir = outcome.run_dir / "judge" / "mmvp_gpt4__openai_gpt-4-0314"
    res = json.loads((jdir / "results.json").read_text())
    # pairs: (1,2) fails (1 wrong); (3,4) right; (5,6) incomplete (5: judge failure); (7,8) right -> 2/3
    assert res["metrics"]["pair_accuracy"]["value"] == pytest.approx(2 / 3, abs=1e-6)
    assert res["metrics"]["pair_accuracy"]["n_incomplete_groups"] == 1
    assert res["metrics"]["accuracy"]["n"] == 7 and res["metrics"]["accuracy"]["correct"] == 6
    assert res["judge"]["judge_model"]["model_id"] == "openai:gpt-4-0314"
    assert len(res["judge"]["prompt_hash"]) == 16 and res["scoring"] == "llm-judge"
    # the official grader's prompt, verbatim in shape
    assert server.prompts[0].startswith("Given the following question ") and "Does the following answer" in \
        server.prompts[0]
    lines = [json.loads(x) for x in (jdir / "judgments.jsonl").read_text().splitlines()]
    assert {x["verdict"] for x in lines} == {"correct", "incorrect", None}
    # the key is never written anywhere
    for p in outcome.run_dir.rglob("*"):
        if p.is_file():
            assert "sk-test-secret" not in p.read_text(errors="ignore")
    # a rerun is served from the cache: no new requests reach the judge except the failure's retry
    before = len(server.prompts)
    code, out = cli("judge", outcome.run_dir, "--judge-model", "openai:gpt-4-0314", "--base-url", server.url,
                    "--api-key", "sk-test-secret", "--cache-dir", tmp_path / "cache")
    assert code == 0 and len(server.prompts) - before == 1


def test_judge_parsers_are_strict():
    from spatialeval.judge import JUDGES

    mmvp, hb = JUDGES["mmvp_gpt4"].parse, JUDGES["hallusionbench_gpt4"].parse
    assert mmvp("Yes") == "correct" and mmvp(" no ") == "incorrect"
    assert mmvp("Yes, it does.") is None and mmvp("") is None
    assert hb("“correct”") == "correct" and hb("Incorrect.") == "incorrect" and hb('"unclear"') == "unclear"
    assert hb("The prediction is correct") is None and hb("untrue") is None


def test_judge_refuses_a_task_without_one(cli, tmp_path):
    out = run_scripted("synth_spatial", {}, tmp_path, limit=2)
    code, text = cli("judge", out.run_dir, "--judge-model", "openai:x", "--base-url", "http://127.0.0.1:9/v1")
    assert code == 2 and "no judge for task synth_spatial" in text
