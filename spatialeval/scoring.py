"""Stored record -> ``Scored``: extraction then comparison, two named, pure steps.

``spatialeval run`` and ``spatialeval score`` both go through ``score_record``, so re-scoring a
run with a newer extractor is exactly what a fresh run would have computed.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from .extraction import extract_choice
from .protocols import spatialthinker_extract
from .records import Extraction, Scored
from .runners.baselines import CHANCE_TEXT


def extract(text: str, choices: list[str], finish_reason: str | None, extractor: str = "default",
            sample: dict[str, Any] | None = None) -> Extraction:
    """The run's extractor: the harness cascade, a named protocol's matcher, or a benchmark's own rule
    named ``<adapter module>:<function>``, called with the stored sample."""
    if extractor == "default":
        return extract_choice(text, choices, finish_reason=finish_reason)
    if extractor in ("spatialthinker", "spatialthinker+a_fallback"):
        return spatialthinker_extract(text, choices, a_fallback=extractor.endswith("a_fallback"))
    if ":" in extractor:
        return _adapter_extractor(extractor)(text, sample or {"choices": list(choices)}, finish_reason)
    raise ValueError(f"unknown extractor {extractor!r}")


@cache
def _adapter_extractor(spec: str):
    from .adapters import import_adapter

    module, _, name = spec.partition(":")
    fn = getattr(import_adapter(module, "extractor"), name, None)
    if fn is None:
        raise ValueError(f"unknown extractor {spec!r}")
    return fn


def score_record(rec: dict[str, Any], *, baseline: str | None = None, extractor: str = "default") -> Scored:
    s = rec["sample"]
    resp = rec.get("response") or {}
    error = rec.get("error") or resp.get("error")
    common = dict(sample_id=s["id"], index=int(rec["index"]), gold=s.get("answer"), category=s.get("category"),
                  subcategory=s.get("subcategory"), group=s.get("group"),
                  output_tokens=resp.get("output_tokens"), finish_reason=resp.get("finish_reason"),
                  meta=s.get("meta") or {})
    if error:
        return Scored(answer=None, stage=None, failure=None, correct=None, error=error, **common)
    choices = s.get("choices") or []
    if baseline == "chance" and resp.get("text") == CHANCE_TEXT:
        return Scored(answer=None, stage="chance", failure=None, correct=False,
                      values={"score": 1.0 / len(choices)}, **common)
    ex = extract(resp.get("text", ""), choices, resp.get("finish_reason"), extractor, sample=s)
    correct = ex.answer is not None and ex.answer == s.get("answer")
    return Scored(answer=ex.answer, stage=ex.stage, failure=ex.failure, correct=correct, **common)


def scored_json(sc: Scored) -> dict[str, Any]:
    return {"answer": sc.answer, "stage": sc.stage, "failure": sc.failure, "correct": sc.correct,
            **({"values": sc.values} if sc.values else {})}
