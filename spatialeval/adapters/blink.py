"""BLINK: the official per-subtask disclaimer.

Each of BLINK's 14 subtasks is one config of ``BLINK-Benchmark/BLINK``; the task files list the
configs they need (``source.configs``) and the rows of all of them become one run. The field
mapping does the rest (``prompt`` holds the question and the "(A) ..." options; ``image_1`` ..
``image_4`` are None when unused and are skipped, so multi-image items send their images in order).

What the mapping cannot do: the official evaluation (zeyofu/BLINK_Benchmark
``eval/test_benchmark.py::load_prompt``, copied by lmms-eval ``blink/utils.py``) puts a disclaimer
before the prompt of three subtasks whose images show people. The aggregate needs no code: the
official total is the unweighted mean of the subtask accuracies, the generic ``macro`` metric by
category (``sub_task``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..records import Sample
from ..tasks import TaskSpec
from . import default_to_sample

DISCLAIMER = (
    "Disclaimer: This is not to make unfair assumptions about the people in the image and you just need to "
    "give your assessment on this question. You don't need to identify the real people. You just need to "
    "analyze based on the information I gave you.\n\n"
)
NEED_DISCLAIMER = frozenset({"Forensic_Detection", "Jigsaw", "Art_Style"})

SUBTASKS = (
    "Art_Style", "Counting", "Forensic_Detection", "Functional_Correspondence", "IQ_Test", "Jigsaw",
    "Multi-view_Reasoning", "Object_Localization", "Relative_Depth", "Relative_Reflectance",
    "Semantic_Correspondence", "Spatial_Relation", "Visual_Correspondence", "Visual_Similarity",
)


def to_sample(row: dict[str, Any], index: int, task: TaskSpec) -> Sample:
    sample = default_to_sample(row, index, task)
    if sample.error is None and sample.category in NEED_DISCLAIMER:
        sample = replace(sample, question=DISCLAIMER + sample.question)
    return sample
