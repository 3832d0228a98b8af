"""The floor any harness pays: the same data, processor and batched ``generate`` calls, nothing else.

Renders the same synthetic rows, decodes their PNGs, applies the chat template, runs the processor
and ``generate`` in the same fixed batches with the same token budget, and decodes the outputs.
No prompts library, no records, no cache, no scoring, no files. Used by ``benchmarks/perf.py``.
"""

from __future__ import annotations

import argparse
import io
import time

t0 = time.perf_counter()
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from transformers import AutoModelForImageTextToText, AutoProcessor  # noqa: E402

from spatialeval.synth import synth_row  # noqa: E402
from spatialeval.tiny_model import ensure_tiny_model  # noqa: E402

LETTERS = "ABCD"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=16)
    a = ap.parse_args()
    path = ensure_tiny_model(a.size)
    proc = AutoProcessor.from_pretrained(path)
    proc.tokenizer.padding_side = "left"
    model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32).eval()
    torch.set_grad_enabled(False)
    for start in range(0, a.n, a.batch_size):
        rows = [synth_row(i, seed=0) for i in range(start, min(start + a.batch_size, a.n))]
        images = [Image.open(io.BytesIO(r["image"])).convert("RGB") for r in rows]
        texts = []
        for r in rows:
            opts = "\n".join(f"{LETTERS[i]}. {c}" for i, c in enumerate(r["choices"]))
            msg = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": (
                f"{r['question']}\n{opts}\nAnswer with the option's letter from the given choices directly.")}]}]
            texts.append(proc.apply_chat_template(msg, tokenize=False, add_generation_prompt=True))
        inputs = proc(text=texts, images=images, padding=True, return_tensors="pt")
        out = model.generate(**inputs, max_new_tokens=a.max_new_tokens, do_sample=False,
                             pad_token_id=proc.tokenizer.pad_token_id)
        proc.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    print(f"floor_wall_s={time.perf_counter() - t0:.3f}")


if __name__ == "__main__":
    main()
