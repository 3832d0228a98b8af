"""SpatialThinker's reward in the shapes EasyR1 and veRL load by file path.

Neither engine is imported: both load this file with importlib and call a function by name, so it
only needs ``spatialeval`` installed in the engine's environment. Both engines pass the response
text and a ground-truth string, not the image or the prompt, so the exporter
(``spatialeval.train.export``) puts everything the reward needs into that string as JSON: gold
letter, choices, the paper's "(B) text" target, the GT ``<scene>`` and the image size.

- EasyR1: ``worker.reward.reward_function=<this file>:easyr1_compute_score`` with
  ``data.answer_key=ground_truth``; module-level ``REWARD_TYPE = "batch"``. Returns ``overall``
  (the reward) plus each component, which EasyR1 logs.
- veRL: ``reward.custom_reward_function.path=<this file>`` and ``.name=compute_score``; the
  ground truth travels in ``reward_model.ground_truth``. Returns ``score`` plus components.

``reward_kwargs`` of either engine may set ``reward`` (spatialthinker | vanilla) and
``accuracy_mode`` (choice | exact).
"""

from __future__ import annotations

import json
from typing import Any

from spatialeval.rewards import (
    VANILLA_WEIGHTS,
    GroundTruth,
    accuracy_score,
    ground_truth,
    score_completion,
    vanilla_format_score,
)

REWARD_TYPE = "batch"
REWARD_NAME = "spatialthinker"


def parse_ground_truth(value: str | dict[str, Any]) -> GroundTruth:
    """The exporter's JSON (answer, choices, answer_option_text, width, height) -> ``GroundTruth``."""
    row = json.loads(value) if isinstance(value, str) else dict(value)
    return ground_truth(row)


def score(response: str, gt: GroundTruth, *, reward: str = "spatialthinker", accuracy_mode: str = "choice"
          ) -> dict[str, float]:
    if reward == "vanilla":
        fmt, acc = vanilla_format_score(response), accuracy_score(response, gt, accuracy_mode)
        return {"overall": VANILLA_WEIGHTS["format"] * fmt + VANILLA_WEIGHTS["accuracy"] * acc,
                "format": fmt, "accuracy": acc}
    b = score_completion(response, gt, accuracy_mode=accuracy_mode)
    return {"overall": b.total, "format": b.format, "count": b.count, "accuracy": b.accuracy, "spatial": b.spatial}


def easyr1_compute_score(reward_inputs: list[dict[str, Any]], reward: str = "spatialthinker",
                         accuracy_mode: str = "choice") -> list[dict[str, float]]:
    """EasyR1 batch reward: inputs ``{"response", "response_length", "ground_truth"}``."""
    return [score(inp["response"], parse_ground_truth(inp["ground_truth"]), reward=reward,
                  accuracy_mode=accuracy_mode) for inp in reward_inputs]


def compute_score(data_source: str, solution_str: str, ground_truth: str | dict[str, Any],
                  extra_info: dict[str, Any] | None = None, reward: str = "spatialthinker",
                  accuracy_mode: str = "choice", **kwargs: Any) -> dict[str, float]:
    """veRL custom reward: ``score`` is the reward, the other keys are logged."""
    out = score(solution_str, parse_ground_truth(ground_truth), reward=reward, accuracy_mode=accuracy_mode)
    return {"score": out.pop("overall"), **out}
