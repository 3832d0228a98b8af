"""Our messages -> the text a local model sees: one rendering shared by the hf and vllm runners.

Two backends that render a prompt differently are two different evaluations. Both local runners
therefore turn a ``Request`` into the model's prompt text here, with the model's own processor
chat template, and hand the decoded images over separately (to the transformers processor, or as
vLLM's ``multi_modal_data``). ``tests/test_vllm_runner.py`` checks the two stay identical on the
first samples of every task.
"""

from __future__ import annotations

from typing import Any

from ..records import Request


def to_chat_messages(request: Request) -> list[dict[str, Any]]:
    """Our messages -> the chat-template form: image parts become ``{"type": "image"}``.

    The placeholder's position is what matters: the template expands it into the model's vision
    tokens, and the images are given in the same order, separately.
    """
    out = []
    for m in request.messages:
        content = m["content"]
        if isinstance(content, str):
            out.append({"role": m["role"], "content": content})
            continue
        parts = []
        for part in content:
            if part["type"] == "image":
                parts.append({"type": "image"})
            else:
                parts.append({"type": "text", "text": part["text"]})
        out.append({"role": m["role"], "content": parts})
    return out


def render_prompt(processor: Any, request: Request) -> str:
    """The exact prompt text, generation prompt included, from the processor's chat template."""
    return processor.apply_chat_template(to_chat_messages(request), tokenize=False, add_generation_prompt=True)


def image_order(request: Request) -> list[int]:
    """Indices into ``request.images`` in the order their placeholders appear in the messages."""
    order: list[int] = []
    for m in request.messages:
        content = m["content"]
        if isinstance(content, str):
            continue
        order.extend(int(p["image"]) for p in content if p["type"] == "image")
    return order


def open_images(request: Request) -> list:  # -> list[PIL.Image.Image]
    """Decode the request's images in placeholder order. Raises on corrupt bytes (a sample fault)."""
    return [request.images[k].open() for k in image_order(request)]
