"""Reward health during GRPO: warn loudly when a batch cannot teach anything.

Two silent failures waste a GRPO run. If every completion in a batch earns 0 (an untrained model
under the gated reward: the format never passes, so nothing else is scored), every advantage is 0
and the step learns nothing. If most completions hit the length limit, the closing tags never
come and the format reward is 0 for reasons that have nothing to do with the model's answers.

``RewardMonitor`` sees each batch through the reward functions themselves (every component is
wrapped by ``wrap``), so it needs no trainer hooks: the components of one batch arrive in order,
and after the last one the weighted total and the completion lengths are checked.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger("spatialeval.train")

BANNER = "!" * 78


class RewardMonitor:
    def __init__(self, names: Sequence[str], weights: Sequence[float], *, max_completion_length: int | None,
                 truncation_threshold: float = 0.5, stream: Any = None):
        self.names = list(names)
        self.weights = list(weights)
        self.max_completion_length = max_completion_length
        self.truncation_threshold = truncation_threshold
        self.stream = stream
        self.batches = 0
        self.zero_batches = 0
        self.truncated_batches = 0
        self.means: dict[str, list[float]] = {n: [] for n in self.names}
        self.totals: list[float] = []
        self._pending: dict[str, list[float]] = {}

    def wrap(self, fn: Callable[..., list[float]], name: str) -> Callable[..., list[float]]:
        """``fn`` reporting its values here; keeps TRL's name (``rewards/<name>/mean``)."""

        @functools.wraps(fn)
        def wrapped(prompts: Any, completions: Sequence[Any], **kwargs: Any) -> list[float]:
            values = fn(prompts, completions, **kwargs)
            self.report(name, values, kwargs.get("completion_ids"))
            return values

        wrapped.__name__ = name
        return wrapped

    def report(self, name: str, values: Sequence[float], completion_ids: Sequence[Sequence[int]] | None) -> None:
        self._pending[name] = [float(v) for v in values]
        if len(self._pending) < len(self.names):
            return
        comps = self._pending
        self._pending = {}
        n = len(values)
        totals = [sum(w * comps[k][i] for k, w in zip(self.names, self.weights, strict=True)) for i in range(n)]
        self.batches += 1
        for k in self.names:
            self.means[k].append(sum(comps[k]) / max(n, 1))
        self.totals.append(sum(totals) / max(n, 1))
        if n and all(t == 0 for t in totals):
            self.zero_batches += 1
            self._warn(f"GRPO batch {self.batches}: all {n} completions earned reward 0, so every advantage is 0 "
                       "and this step learns nothing. With the gated SpatialThinker reward an untrained model "
                       "never passes the format: warm-start with SFT (recipe tiny-sft) or use reward: vanilla.")
        if completion_ids is not None and self.max_completion_length:
            cut = sum(len(ids) >= self.max_completion_length for ids in completion_ids)
            if n and cut / n > self.truncation_threshold:
                self.truncated_batches += 1
                self._warn(f"GRPO batch {self.batches}: {cut}/{n} completions hit the length limit "
                           f"({self.max_completion_length} tokens), so their closing tags are missing and the "
                           "format reward is 0; raise max_completion_length or shorten the target format.")

    def _warn(self, message: str) -> None:
        log.warning(message)
        stream = self.stream or sys.stderr
        print(f"{BANNER}\nWARNING: {message}\n{BANNER}", file=stream, flush=True)

    def summary(self) -> dict[str, Any]:
        return {"batches": self.batches, "all_zero_batches": self.zero_batches,
                "mostly_truncated_batches": self.truncated_batches}
