"""Baselines that need no model: ``random`` (a seeded uniform pick) and ``chance``.

``random`` answers each item with a letter drawn from a generator seeded by (seed, sample id),
so it is reproducible and independent of batching. ``chance`` answers nothing: it stands for
the expected accuracy of uniform guessing, 1/k per item, which the scorer records as the
sample's score (see ``scoring.score_sample``).
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from ..records import LETTERS, Request, Response

CHANCE_TEXT = "<chance>"


class RandomRunner:
    backend = "baseline"

    def __init__(self, seed: int = 0):
        self.model_id = "random"
        self.seed = seed
        self.calls = 0

    def fingerprint(self) -> dict[str, Any]:
        return {"model_id": "random", "revision": f"seed-{self.seed}", "weights_sha256": None}

    def info(self) -> dict[str, Any]:
        return {"backend": self.backend, "kind": "random", "seed": self.seed}

    def generate(self, requests: list[Request]) -> list[Response]:
        self.calls += 1
        out = []
        for r in requests:
            if r.n_choices < 1:
                out.append(Response(error="random baseline needs multiple-choice options", finish_reason="error"))
                continue
            digest = hashlib.sha256(f"{self.seed}:{r.sample_id}".encode()).digest()
            rng = random.Random(int.from_bytes(digest[:8], "big"))
            out.append(Response(text=LETTERS[rng.randrange(r.n_choices)], output_tokens=1, latency_s=0.0))
        return out


class ChanceRunner:
    backend = "baseline"

    def __init__(self, seed: int = 0):
        self.model_id = "chance"
        self.calls = 0

    def fingerprint(self) -> dict[str, Any]:
        return {"model_id": "chance", "revision": None, "weights_sha256": None}

    def info(self) -> dict[str, Any]:
        return {"backend": self.backend, "kind": "chance"}

    def generate(self, requests: list[Request]) -> list[Response]:
        self.calls += 1
        return [Response(text=CHANCE_TEXT, output_tokens=0, latency_s=0.0) if r.n_choices else
                Response(error="chance baseline needs multiple-choice options", finish_reason="error")
                for r in requests]
