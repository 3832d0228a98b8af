"""Prompt styles: ``Sample`` -> ``Request`` (OpenAI-style chat messages with image parts).

- ``direct``: the question and lettered options, asking for the letter only.
- ``reasoning``: the SpatialThinker evaluation script's ``reasoning`` template (think/answer tags);
  the paper used it for its baselines.
- ``spatialthinker``: the paper's observe/scene/think/answer template, followed by the original
  image size and the question, exactly as its evaluation script renders it (including the
  unformatted ``{Width} x {Height}`` line the script leaves in).

The template texts are versioned by hash: ``style_hash(style)`` goes into ``run.json`` and every
request carries the hash of its own rendered messages.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .records import LETTERS, GenerationParams, Request, Sample, hash_json

DIRECT_INSTRUCTION = "Answer with the option's letter from the given choices directly."

REASONING_HINT = (
    "You FIRST think about the reasoning process as an internal monologue and then provide the final answer. "
    "The reasoning process MUST BE enclosed within <think> </think> tags. The final answer MUST BE put within "
    "<answer> </answer> tags, and only return the final choice including the correct option and answer within "
    "the answer tags, e.g., <answer> ({correct_option}) {correct_answer} </answer>."
)

SPATIALTHINKER_TEMPLATE = (
    "You FIRST observe the image in <observe> </observe> tags, then visualise the relevant scene graph in "
    "<scene> </scene> tags, followed by thinking about the reasoning process as an internal monologue within "
    "<think> </think> tags and then provide the final answer. The final answer MUST BE put within <answer> "
    "</answer> tags, and only return the final choice including the correct option and answer within the "
    "answer tags, e.g., <answer> ({correct_option}) {correct_answer} </answer>.\n\n"
    "Image size: {Width} x {Height}"
)

STYLES = ("direct", "reasoning", "spatialthinker")
_STYLE_TEXT = {"direct": DIRECT_INSTRUCTION, "reasoning": REASONING_HINT, "spatialthinker": SPATIALTHINKER_TEMPLATE}
PROMPT_VERSION = "1"


def style_hash(style: str) -> str:
    return hash_json({"style": style, "text": _STYLE_TEXT[style], "version": PROMPT_VERSION})[:16]


def question_with_options(sample: Sample, *, choices_in_question: bool = False) -> str:
    if not sample.choices or choices_in_question:
        return sample.question
    opts = "\n".join(f"({LETTERS[i]}) {c}" for i, c in enumerate(sample.choices))
    return f"{sample.question}\nOptions:\n{opts}"


def _image_size(sample: Sample) -> tuple[int, int]:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(sample.images[0].read_bytes())) as im:  # header only
        return im.size


def render_text(sample: Sample, style: str, *, choices_in_question: bool = False,
                instruction: str | None = None) -> str:
    if style == "direct":
        body = sample.question if choices_in_question else "\n".join(
            [sample.question] + [f"{LETTERS[i]}. {c}" for i, c in enumerate(sample.choices)])
        instruction = DIRECT_INSTRUCTION if instruction is None else instruction
        return f"{body}\n{instruction}" if sample.choices and instruction else body
    q = question_with_options(sample, choices_in_question=choices_in_question)
    if style == "reasoning":
        return f"{REASONING_HINT}\nQuestion: {q}"
    if style == "spatialthinker":
        size = ""
        if sample.images:
            w, h = _image_size(sample)
            size = f"({w} x {h})"
        return f"{SPATIALTHINKER_TEMPLATE}\n{size}\n\nNow answer the following question:\n{q}"
    raise ValueError(f"unknown prompt style {style!r}")


def apply_tweaks(sample: Sample, tweaks: dict[str, Any]) -> Sample:
    """A task's (or protocol's) per-benchmark prompt tweaks, applied to the question text.

    ``question_remove``: strings cut from the question (the paper drops RealWorldQA's "answer
    directly" sentence); ``question_period``: end the question with a period before
    ``question_suffix`` is appended (the paper's MMVP/SpatialBench "answer tags" sentence).
    """
    if not tweaks:
        return sample
    q = sample.question
    for s in tweaks.get("question_remove") or []:
        q = q.replace(s, "")
    if tweaks.get("question_period") and q and not q.endswith("."):
        q += "."
    q += tweaks.get("question_suffix") or ""
    return replace(sample, question=q)


def build_request(sample: Sample, style: str, params: GenerationParams, *,
                  choices_in_question: bool = False, tweaks: dict[str, Any] | None = None) -> Request:
    """Images first, then the text, in one user turn (the layout Qwen2.5-VL was tuned on)."""
    tweaks = tweaks or {}
    content: list[dict[str, Any]] = [{"type": "image", "image": k} for k in range(len(sample.images))]
    text = render_text(apply_tweaks(sample, tweaks), style, choices_in_question=choices_in_question,
                       instruction=tweaks.get("instruction"))
    content.append({"type": "text", "text": text + (tweaks.get("append") or "")})
    messages = ({"role": "user", "content": content},)
    return Request(
        sample_id=sample.id,
        messages=messages,
        images=sample.images,
        params=params,
        prompt_hash=hash_json(list(messages))[:16],
        n_choices=len(sample.choices),
        sample_index=sample.index,
    )
