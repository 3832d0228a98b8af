"""A scripted model for metric tests: answers chosen by the test, per sample id.

It stands in for the *model* only; everything under test (source, adapter, prompt, extraction,
metrics, run directory) is the real code. Unlisted samples get ``default`` (None: an error).
"""

from __future__ import annotations

from spatialeval.records import Request, Response


class ScriptedRunner:
    backend = "scripted"

    def __init__(self, answers: dict[str, str], name: str = "scripted", default: str | None = None):
        self.answers = answers
        self.model_id = name
        self.default = default
        self.calls = 0
        self.seen: list[Request] = []

    def fingerprint(self) -> dict:
        return {"model_id": self.model_id, "revision": None, "weights_sha256": None,
                "script": sorted(self.answers.items())}

    def info(self) -> dict:
        return {"backend": self.backend}

    def generate(self, requests: list[Request]) -> list[Response]:
        self.calls += 1
        self.seen.extend(requests)
        out = []
        for r in requests:
            text = self.answers.get(r.sample_id, self.default)
            out.append(Response(text=text, output_tokens=1) if text is not None else
                       Response(error="no scripted answer", finish_reason="error"))
        return out


def run_scripted(task: str, answers: dict[str, str], tmp_path, data: str | None = None, **opts):
    """Evaluate the scripted answers on a task through the real pipeline; returns the RunOutcome."""
    from spatialeval import evaluate

    return evaluate(ScriptedRunner(answers), task, output_dir=tmp_path, data=data, use_cache=False,
                    progress=False, **opts)[0]
