"""The bundled tiny Qwen2.5-VL: builds offline, loads with the Auto classes, generates in batches."""

from __future__ import annotations

import io
import os

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest
import torch
from PIL import Image

from spatialeval.synth import synth_row
from spatialeval.tiny_model import (
    SIZES,
    TINY_MODEL_IDS,
    build_config,
    build_tiny_model,
    build_tokenizer,
    default_model_dir,
    ensure_tiny_model,
)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="module")
def loaded(tiny_dir):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(tiny_dir).eval()
    processor = AutoProcessor.from_pretrained(tiny_dir)
    return model, processor


def messages(question: str) -> list[dict]:
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]


def test_build_writes_a_complete_safetensors_model(tiny_dir):
    names = {p.name for p in tiny_dir.iterdir()}
    assert {".complete", "config.json", "model.safetensors", "tokenizer.json"} <= names
    assert not list(tiny_dir.parent.glob(".tiny.tmp-*"))  # the temporary build folder is gone


def test_loads_with_auto_classes_as_real_qwen25_vl(loaded):
    from transformers import Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor

    model, processor = loaded
    assert isinstance(model, Qwen2_5_VLForConditionalGeneration)
    assert isinstance(processor, Qwen2_5_VLProcessor)
    n = sum(p.numel() for p in model.parameters())
    assert 200_000 < n < 1_000_000
    text = model.config.text_config
    head_dim = text.hidden_size // text.num_attention_heads
    assert sum(text.rope_parameters["mrope_section"]) == head_dim // 2
    assert 0 <= text.bos_token_id < text.vocab_size
    assert processor.tokenizer.padding_side == "left"


def test_chat_template_renders_the_image_placeholder(loaded):
    _, processor = loaded
    text = processor.apply_chat_template(messages("Where?"), add_generation_prompt=True, tokenize=False)
    assert "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Where?<|im_end|>\n" in text
    assert text.startswith("<|im_start|>system\n") and text.endswith("<|im_start|>assistant\n")
    plain = processor.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False)
    assert plain.endswith("<|im_start|>user\nHi<|im_end|>\n") and "<|vision_start|>" not in plain


def test_processor_expands_the_image_pad_to_one_token_per_merged_patch(loaded):
    model, processor = loaded
    row = synth_row(0)
    text = processor.apply_chat_template(
        messages(row["question"]), add_generation_prompt=True, tokenize=False
    )
    inputs = processor(text=[text], images=[Image.open(io.BytesIO(row["image"]))], return_tensors="pt")
    n_pad = int((inputs["input_ids"] == model.config.image_token_id).sum())
    assert n_pad == int(inputs["image_grid_thw"].prod()) // 4
    assert inputs["image_grid_thw"].prod() * 14 * 14 <= 224 * 224  # max_pixels is honoured


def test_batch_of_two_with_left_padding_generates_greedily(loaded):
    model, processor = loaded
    rows = [synth_row(0), synth_row(1)]
    images = [Image.open(io.BytesIO(r["image"])) for r in rows]
    images[1] = images[1].resize((160, 200))  # a different number of image tokens
    texts = [
        processor.apply_chat_template(messages(r["question"]), add_generation_prompt=True, tokenize=False)
        for r in rows
    ]
    batch = processor(text=texts, images=images, return_tensors="pt", padding=True)
    lengths = batch["attention_mask"].sum(1)
    assert lengths[0] != lengths[1]
    assert batch["attention_mask"][:, -1].all()  # left padded: every row ends with a real token

    n_new = 8
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=n_new, min_new_tokens=n_new, do_sample=False)
        again = model.generate(**batch, max_new_tokens=n_new, min_new_tokens=n_new, do_sample=False)
        assert out.shape == (2, batch["input_ids"].shape[1] + n_new)
        assert torch.equal(out, again)
        # Padding must not change what a sample sees: batched logits equal the unbatched ones.
        last = model(**batch).logits[:, -1]
        for k in range(2):
            alone = processor(text=[texts[k]], images=[images[k]], return_tensors="pt")
            torch.testing.assert_close(last[k], model(**alone).logits[0, -1], atol=1e-4, rtol=1e-4)
    decoded = processor.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    assert len(decoded) == 2 and all(isinstance(t, str) for t in decoded)


def test_build_is_deterministic_and_seeded(tiny_dir, tmp_path):
    state = torch.random.get_rng_state()
    again = build_tiny_model(tmp_path / "again")
    assert torch.equal(state, torch.random.get_rng_state())  # the caller's RNG is left alone
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert (again / name).read_bytes() == (tiny_dir / name).read_bytes(), name
    other = build_tiny_model(tmp_path / "other", seed=1)
    assert (other / "model.safetensors").read_bytes() != (tiny_dir / "model.safetensors").read_bytes()


def test_ensure_tiny_model_honours_spatialeval_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("SPATIALEVAL_CACHE", str(tmp_path / "cache"))
    expected = tmp_path / "cache" / "models" / "tiny-qwen2.5-vl-tiny-v1"
    assert default_model_dir() == expected
    path = ensure_tiny_model()
    assert path == expected and (path / ".complete").exists()
    stamp = (path / "model.safetensors").stat().st_mtime_ns
    assert ensure_tiny_model() == path
    assert (path / "model.safetensors").stat().st_mtime_ns == stamp  # not rebuilt
    assert [p.name for p in (tmp_path / "cache" / "models").iterdir()] == [expected.name]


def test_sizes_and_model_ids():
    assert set(TINY_MODEL_IDS.values()) == set(SIZES) == {"tiny", "small"}
    tokenizer = build_tokenizer()
    small = build_config("small", tokenizer)
    assert small.text_config.hidden_size == 256 and small.text_config.num_hidden_layers == 4
    head_dim = small.text_config.hidden_size // small.text_config.num_attention_heads
    assert sum(small.text_config.rope_parameters["mrope_section"]) == head_dim // 2
    assert small.vision_config.out_hidden_size == small.text_config.hidden_size
    with pytest.raises(ValueError):
        build_config("huge", tokenizer)


def test_tokenizer_round_trips_any_text():
    tokenizer = build_tokenizer()
    text = "Is the red circle left of the blue square? <answer>(B) right</answer> ünïcödé 🙂"
    ids = tokenizer(text)["input_ids"]
    assert tokenizer.decode(ids) == text
    assert len(ids) < len(text.encode()) / 2  # the merges compress the prompt vocabulary
