"""A tiny, untrained model in the real Qwen2.5-VL architecture, built locally and offline.

Why it exists: ``spatialeval run`` with no arguments must exercise the whole chain (processor,
chat template, image-token expansion, multimodal RoPE, left-padded batched generation, decoding,
extraction, scoring) on a CPU with no network. A real ``Qwen2_5_VLForConditionalGeneration`` with
random weights does exactly what the 3B/7B models do, only smaller, so a bug in the HF runner shows
up here first. Its output is byte noise: extraction must classify it (``no_answer``), never guess.

Two sizes: ``tiny`` (~0.4 M parameters; preprocessing dominates, which is what a pipeline test
wants) and ``small`` (hidden 256, 4 layers; model time clearly dominates, for overhead benchmarks).

The build is deterministic (a fixed seed, a tokenizer trained on a fixed corpus) and atomic (built
in a sibling temporary folder, then renamed), so concurrent processes sharing a cache never see a
half-written model and every machine builds the same bytes. Bump ``TINY_MODEL_VERSION`` (it is in
the cache folder name) whenever a change here or in the synthetic prompts alters the files.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from spatialeval.paths import cache_root
from spatialeval.records import LETTERS

TINY_MODEL_VERSION = "v1"

# The model ids users type (``spatialeval run -m tiny-qwen2.5-vl-small``) -> size.
TINY_MODEL_IDS: dict[str, str] = {"tiny-qwen2.5-vl": "tiny", "tiny-qwen2.5-vl-small": "small"}

# Config overrides per size. mrope_section is derived from the head size (it must sum to head_dim/2).
SIZES: dict[str, dict[str, dict[str, Any]]] = {
    "tiny": {
        "text": {
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
        },
        "vision": {
            "depth": 2,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_heads": 4,
            "fullatt_block_indexes": [1],
        },
    },
    "small": {
        "text": {
            "hidden_size": 256,
            "intermediate_size": 768,
            "num_hidden_layers": 4,
            "num_attention_heads": 8,
            "num_key_value_heads": 4,
        },
        "vision": {
            "depth": 4,
            "hidden_size": 128,
            "intermediate_size": 384,
            "num_heads": 4,
            "fullatt_block_indexes": [1, 3],
        },
    },
}

# Small images keep the tiny model's sequences short: a 320x240 scene becomes 48 image tokens.
MIN_PIXELS = 56 * 56
MAX_PIXELS = 224 * 224

SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
TOKENIZER_VOCAB_SIZE = 640  # 256 bytes + 7 specials + ~377 merges

# Qwen2.5-VL's own template, minus tools: a system turn by default, image and video parts as
# vision-start / pad / vision-end (the processor expands the pad to one token per merged patch),
# content as a plain string or a list of parts.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}"
    "{{ message['content'] }}"
    "{% else %}"
    "{% for part in message['content'] %}"
    "{% if part['type'] == 'image' or 'image' in part or 'image_url' in part %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'video' or 'video' in part %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}"
    "{{ part['text'] }}"
    "{% endif %}"
    "{% endfor %}"
    "{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}"
    "<|im_start|>assistant\n"
    "{% endif %}"
)

# A fixed English word list, so the tokenizer also has merges for words the synthetic prompts do
# not use (prompt-style instructions, reasoning tags, refusals).
_WORDS = """
the a an of to in on at by for with from into over under above below behind front left right
top bottom near far closer farther nearest farthest bigger smaller larger largest smallest same
is are was were be been it this that these those there here which what where who how many much
yes no not none one two three four five six seven eight nine ten zero number count answer
question image picture photo scene object objects camera view side middle center centre between
next beside inside outside up down height width size depth distance relation orientation facing
reach existence instance location color colour shape red green blue yellow purple orange black
white gray grey brown pink circle square triangle star box ball cube table chair person car
please give final choose option options correct letter only think reasoning observe the answer
first then because so therefore let us look carefully describe visible see appears looks
cannot sorry unable help and or but if than as also all each both some any other
""".split()

_TOKENIZER_EXTRA = [
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
    "<observe>",
    "</observe>",
    "<scene>",
    "</scene>",
    "Answer with the option's letter from the given choices directly.",
    "Options:",
    "Question:",
    "(A) (B) (C) (D) A. B. C. D. A B C D",
    '{"objects": [{"id": "red_circle.1", "bbox": [12, 34, 56, 78]}], "relationships": []}',
    '{"subject": "red_circle.1", "predicate": "left of", "object": "blue_square.1"}',
    "You are a helpful assistant.",
    "0 1 2 3 4 5 6 7 8 9 10 100 320 240",
]


def _corpus() -> list[str]:
    """Synthetic prompts and answers plus fixed text; row count fixed so the merges are fixed."""
    from spatialeval.synth import synth_meta

    lines = list(_TOKENIZER_EXTRA) + [" ".join(_WORDS), *(" " + w for w in _WORDS)]
    for i in range(240):
        row = synth_meta(i, seed=0)
        opts = " ".join(f"({LETTERS[k]}) {c}" for k, c in enumerate(row["choices"]))
        gold = row["choices"][LETTERS.index(row["answer"])]
        lines.append(f"{row['question']}\nOptions: {opts}")
        lines.append(f"<answer>({row['answer']}) {gold}</answer>")
        lines.append(json.dumps({"objects": row["objects"], "relationships": row["relationships"]}))
    return lines


def build_tokenizer():  # -> transformers.PreTrainedTokenizerFast
    """A byte-level BPE trained here, so no tokenizer is downloaded and every byte is encodable."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TOKENIZER_VOCAB_SIZE,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        # Batched generation needs left padding; the saved default spares every caller the setting.
        padding_side="left",
        chat_template=CHAT_TEMPLATE,
        model_max_length=32768,
    )


def _mrope_section(head_dim: int) -> list[int]:
    """Qwen's 1:1.5:1.5 split of the rotary half-dimension over time, height and width."""
    half = head_dim // 2
    t = half // 4
    h = (half - t) // 2
    return [t, h, half - t - h]


def build_config(size: str, tokenizer) -> Any:
    """The real Qwen2.5-VL config, shrunk; special-token ids come from our tokenizer, not Qwen's."""
    from transformers import Qwen2_5_VLConfig

    if size not in SIZES:
        raise ValueError(f"unknown tiny model size {size!r}; known: {sorted(SIZES)}")
    text, vision = SIZES[size]["text"], SIZES[size]["vision"]
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    head_dim = text["hidden_size"] // text["num_attention_heads"]
    return Qwen2_5_VLConfig(
        text_config={
            **text,
            "vocab_size": len(tokenizer),
            "max_position_embeddings": 8192,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 1_000_000.0,
                "mrope_section": _mrope_section(head_dim),
            },
            # Qwen's bos is <|endoftext|>; the default id 151643 would be out of range here.
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config={
            **vision,
            "out_hidden_size": text["hidden_size"],
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 56,
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )


def build_processor(tokenizer):  # -> transformers.Qwen2_5_VLProcessor
    """Qwen's own processor classes, so image resizing and pad expansion are the real ones."""
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    # transformers 5 spells min/max_pixels as size={"shortest_edge", "longest_edge"} (in pixels).
    size = {"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS}
    return Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=size),
        tokenizer=tokenizer,
        # Never used for images, but the processor refuses to be built without one.
        video_processor=Qwen2VLVideoProcessor(size=size),
        chat_template=CHAT_TEMPLATE,
    )


def build_tiny_model(
    out_dir: str | Path, *, size: str = "tiny", seed: int = 0, overwrite: bool = True
) -> Path:
    """Write a tiny Qwen2.5-VL (safetensors) and its processor to ``out_dir``; return the path.

    The files appear at ``out_dir`` all at once, with a ``.complete`` marker inside: the build
    happens in a sibling temporary folder that is renamed into place. An existing ``out_dir`` is
    replaced, unless ``overwrite`` is False and it is a complete model (then it is kept, so a
    process already reading it is not pulled from under). Two builds with the same size and seed
    give byte-identical weight files.
    """
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration
    from transformers.utils import logging as hf_logging

    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    config = build_config(size, tokenizer)
    # A private RNG state: the seed fixes the weights without touching the caller's torch RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2_5_VLForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=config.text_config.bos_token_id,
        eos_token_id=[config.text_config.eos_token_id, config.text_config.pad_token_id],
        pad_token_id=config.text_config.pad_token_id,
        do_sample=False,
    )
    processor = build_processor(tokenizer)

    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a 1.5 MB write needs no progress bar on the user's terminal
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        processor.save_pretrained(tmp)
        info = {
            "size": size,
            "seed": seed,
            "version": TINY_MODEL_VERSION,
            "parameters": sum(p.numel() for p in model.parameters()),
        }
        (tmp / ".complete").write_text(json.dumps(info, sort_keys=True) + "\n")
        # mkdtemp makes a private folder; a shared cache must be readable by other users.
        tmp.chmod(0o755)
        for f in tmp.iterdir():
            f.chmod(0o644)
        _replace_dir(tmp, out, overwrite=overwrite)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _replace_dir(src: Path, dst: Path, *, overwrite: bool) -> None:
    """Rename ``src`` to ``dst``; an existing ``dst`` is moved aside first and then deleted."""
    try:
        os.rename(src, dst)
        return
    except OSError:
        if not dst.exists():
            raise
    if not overwrite and (dst / ".complete").exists():
        return  # another process finished first; its files are identical to ours
    old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.old-", dir=dst.parent))
    os.rename(dst, old / "model")
    try:
        os.rename(src, dst)
    except OSError:
        # Another process put a model there in the meantime; it is as good as ours.
        if not (dst / ".complete").exists():
            raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def default_model_dir(size: str = "tiny") -> Path:
    """``<cache root>/models/tiny-qwen2.5-vl-<size>-v1``; the root honours ``$SPATIALEVAL_CACHE``."""
    if size not in SIZES:
        raise ValueError(f"unknown tiny model size {size!r}; known: {sorted(SIZES)}")
    return cache_root() / "models" / f"tiny-qwen2.5-vl-{size}-{TINY_MODEL_VERSION}"


def ensure_tiny_model(size: str = "tiny") -> Path:
    """The cached model folder for ``size``, built first if it is missing or incomplete.

    Safe to call from concurrent processes: each may build, but only complete folders are ever
    renamed into place, and a loser of the race keeps the winner's (identical) files.
    """
    path = default_model_dir(size)
    if (path / ".complete").exists():
        return path
    return build_tiny_model(path, size=size, overwrite=False)
