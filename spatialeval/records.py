"""The four records that flow through the pipeline.

source -> adapter -> ``Sample`` -> prompt style -> ``Request`` -> runner -> ``Response``
-> extractor + metric -> ``Scored``.

All records are frozen: a record, once made, is a fact about the run and is written to
``samples.jsonl`` as it is. Images travel as ``ImageRef`` (encoded bytes or a path), never as
decoded arrays, so a task of any size holds at most one batch of decoded images at a time.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Any, Literal

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

FinishReason = Literal["stop", "length", "error"]
FailureClass = Literal["no_answer", "multiple_answers", "refusal", "truncated", "invalid_letter"]


@dataclass(frozen=True)
class ImageRef:
    """An image as its original encoded bytes (preferred) or a file path.

    Keeping the encoded bytes means the runner decodes exactly what the dataset shipped, and an
    API runner can send those bytes unchanged (no lossy re-encoding).
    """

    data: bytes | None = field(default=None, repr=False)
    path: str | None = None

    def read_bytes(self) -> bytes:
        if self.data is not None:
            return self.data
        if self.path is None:
            raise ValueError("image has neither bytes nor a path")
        with open(self.path, "rb") as fh:
            return fh.read()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.read_bytes()).hexdigest()

    def open(self):  # -> PIL.Image.Image
        """Decode the image (RGB). Raises on corrupt bytes; callers record that as a sample error."""
        from PIL import Image

        img = Image.open(io.BytesIO(self.read_bytes()))
        img.load()
        return img.convert("RGB") if img.mode != "RGB" else img

    def describe(self) -> dict[str, Any]:
        """What is stored in ``samples.jsonl``: the hash and the path, never the pixels."""
        return {"sha256": self.sha256, "path": self.path}


@dataclass(frozen=True)
class Sample:
    """One benchmark item, after the adapter mapped the raw row.

    ``answer`` is the gold option letter for multiple-choice items. ``group`` ties together the
    variants that a grouped metric scores as one unit (an MMVP pair, a circular or flip family).
    ``error`` is set by the adapter when the row itself is bad (missing field, unreadable image):
    such a sample is recorded with that error and never sent to the model.
    """

    id: str
    index: int
    question: str
    choices: tuple[str, ...] = ()
    answer: str | None = None
    images: tuple[ImageRef, ...] = ()
    category: str | None = None
    subcategory: str | None = None
    group: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def letters(self) -> tuple[str, ...]:
        return tuple(LETTERS[: len(self.choices)])

    def to_json(self) -> dict[str, Any]:
        images: list[dict[str, Any]] = []
        for im in self.images:
            try:
                images.append(im.describe())
            except Exception as exc:  # noqa: BLE001 - an unreadable image is data, not a crash
                images.append({"sha256": None, "path": im.path, "error": str(exc)})
        return {
            "id": self.id,
            "index": self.index,
            "question": self.question,
            "choices": list(self.choices),
            "answer": self.answer,
            "images": images,
            "category": self.category,
            "subcategory": self.subcategory,
            "group": self.group,
            "meta": self.meta,
        }


@dataclass(frozen=True)
class GenerationParams:
    """Decoding settings. Greedy by default; ``seed`` only matters when sampling."""

    max_new_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int = 0

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "stop": list(self.stop),
            "seed": self.seed,
        }


@dataclass(frozen=True)
class Request:
    """A rendered prompt: OpenAI-style chat messages whose image parts point into ``images``.

    An image part is ``{"type": "image", "image": k}`` with ``k`` an index into ``images``; each
    runner owns exactly one conversion of this format to its backend.
    """

    sample_id: str
    messages: tuple[dict[str, Any], ...]
    images: tuple[ImageRef, ...]
    params: GenerationParams
    prompt_hash: str
    n_choices: int = 0
    sample_index: int = -1

    def messages_json(self) -> list[dict[str, Any]]:
        return [dict(m) for m in self.messages]

    def cache_key_material(self) -> dict[str, Any]:
        """Everything about the request that can change the model's output (no sample id)."""
        return {
            "messages": self.messages_json(),
            "images": [im.sha256 for im in self.images],
            "params": self.params.to_json(),
        }


def hash_json(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Response:
    """What a runner returned for one request. An error is data: it is never scored as wrong."""

    text: str = ""
    finish_reason: FinishReason = "stop"
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_s: float | None = None
    error: str | None = None
    cached: bool = False
    # the backend's effective decoding settings for this call (vllm, api: what was actually sent)
    sampling: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        out = {
            "text": self.text,
            "finish_reason": self.finish_reason,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "latency_s": self.latency_s,
            "error": self.error,
            "cached": self.cached,
        }
        if self.sampling is not None:
            out["sampling"] = self.sampling
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Response:
        return cls(
            text=d.get("text", ""),
            finish_reason=d.get("finish_reason", "stop"),
            input_tokens=d.get("input_tokens"),
            output_tokens=d.get("output_tokens"),
            latency_s=d.get("latency_s"),
            error=d.get("error"),
            cached=bool(d.get("cached", False)),
            sampling=d.get("sampling"),
        )


@dataclass(frozen=True)
class Extraction:
    """The answer read from a response: a letter and the cascade stage that matched, or a failure."""

    answer: str | None
    stage: str | None = None
    failure: FailureClass | None = None


@dataclass(frozen=True)
class Scored:
    """A sample's outcome. ``correct`` is None when the sample has no usable response (error)."""

    sample_id: str
    index: int
    answer: str | None
    gold: str | None
    stage: str | None
    failure: FailureClass | None
    correct: bool | None
    category: str | None = None
    subcategory: str | None = None
    group: str | None = None
    error: str | None = None
    output_tokens: int | None = None
    finish_reason: str | None = None
    values: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        return self.error is None
