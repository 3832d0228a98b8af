"""Training with TRL on CPU: recipes, a few GRPO steps that change the weights and log every reward
component, the loud warnings, and checkpoints that the harness evaluates directly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from spatialeval.errors import UserError
from spatialeval.train.recipes import builtin_recipes, load_recipe

TINY_TRL = ["trl.use_cpu=true", "trl.bf16=false", "trl.report_to=none", "trl.logging_steps=1",
            "trl.save_strategy='no'", "trl.disable_tqdm=true", "trl.gradient_checkpointing=false"]


def test_every_builtin_recipe_loads():
    names = set(builtin_recipes())
    assert {"spatialthinker-3b", "spatialthinker-7b", "vanilla-grpo", "sft", "tiny-sft", "tiny-grpo",
            "tiny-sft-reasoning", "tiny-vanilla-grpo"} <= names
    for name in names:
        r = load_recipe(name)
        assert r.method in ("grpo", "sft") and r.eval.get("prompt_style")
    paper = load_recipe("spatialthinker-3b")
    t = paper.trl
    assert (t["num_generations"], t["learning_rate"], t["beta"], t["epsilon"], t["epsilon_high"]) == (
        8, 1e-6, 0.01, 0.2, 0.3)
    assert t["max_completion_length"] == 2048 and t["max_steps"] == 75 * 4 and t["use_vllm"] is True
    assert paper.processor == {"min_pixels": 512 * 512, "max_pixels": 2048 * 2048}
    # 16 completions x 4 GPUs x 16 accumulation = 128 prompts x 8 per update; 4 updates per rollout step
    assert t["per_device_train_batch_size"] * 4 * t["gradient_accumulation_steps"] == 128 * 8
    assert t["steps_per_generation"] == 4 * t["gradient_accumulation_steps"]
    assert load_recipe("tiny-grpo").trl["use_cpu"] is True and load_recipe("tiny-grpo").trl["bf16"] is False


def test_overrides_and_bad_recipes(tmp_path):
    r = load_recipe("tiny-sft", ["trl.max_steps=3", "data.n=10", "model=/x"])
    assert (r.trl["max_steps"], r.data["n"], r.model) == (3, 10, "/x")
    for text, msg in [("name: x\nmethod: ppo\nmodel: m\ndata: {}\n", "method"),
                      ("name: x\nmethod: grpo\nmodel: m\ndata: {}\n", "reward"),
                      ("name: x\nmethod: sft\nmodel: m\ndata: {}\nflavour: 1\n", "unknown"),
                      ("name: x\nmethod: sft\nmodel: m\n", "data")]:
        (tmp_path / "r.yaml").write_text(text)
        with pytest.raises(UserError, match=msg):
            load_recipe(str(tmp_path / "r.yaml"))
    with pytest.raises(UserError, match="unknown recipe"):
        load_recipe("no-such-recipe")
    with pytest.raises(UserError, match="key=value"):
        load_recipe("tiny-sft", ["trl.max_steps"])


def test_cli_lists_recipes_and_refuses_a_method_mismatch(cli):
    code, output = cli("train", "recipes")
    assert code == 0 and "spatialthinker-7b" in output and "tiny-grpo" in output
    pytest.importorskip("trl")
    code, output = cli("train", "grpo", "--recipe", "tiny-sft")
    assert code == 2 and "sft recipe" in output


def _state(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def _metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_untrained_model_under_the_gated_reward_logs_every_component_and_warns(tmp_path, tiny_model_path, capfd):
    pytest.importorskip("trl")
    from spatialeval.train.trainer import train

    recipe = load_recipe("tiny-grpo", [f"model={tiny_model_path}", "data.n=4", "trl.max_steps=1",
                                       "trl.num_generations=2", "trl.per_device_train_batch_size=4",
                                       "trl.max_completion_length=12", "label_similarity=exact", *TINY_TRL])
    result = train(recipe, tmp_path / "grpo")
    err = capfd.readouterr().err
    assert "WARNING: GRPO batch 1: all 4 completions earned reward 0" in err
    assert re.search(r"WARNING: GRPO batch 1: [34]/4 completions hit the length limit \(12 tokens\)", err)
    logged = _metrics(tmp_path / "grpo")[0]
    for name in ("format", "count", "accuracy", "spatial"):
        assert logged[f"rewards/{name}/mean"] == 0.0
    info = json.loads((tmp_path / "grpo" / "train.json").read_text())
    assert info["label_similarity"] == "exact" and info["reward_health"]["all_zero_batches"] == 1
    assert result.checkpoint.exists()


@pytest.mark.slow
def test_sft_then_grpo_changes_weights_and_the_checkpoint_is_evaluated_by_the_harness(tmp_path, tiny_model_path):
    pytest.importorskip("trl")
    import spatialeval
    from spatialeval.train.trainer import train

    # SFT warm start on the letter answer (direct prompt): a few steps teach the model to answer
    # with a letter, so the vanilla reward's accuracy term varies within a group.
    sft = load_recipe("tiny-sft", [f"model={tiny_model_path}", "data.n=48", "prompt=direct", "target=answer",
                                   "trl.max_steps=24", "trl.learning_rate=0.005", "trl.num_train_epochs=1",
                                   "trl.per_device_train_batch_size=8", "trl.warmup_steps=0", *TINY_TRL])
    sft_out = train(sft, tmp_path / "sft").checkpoint
    losses = [r["loss"] for r in _metrics(tmp_path / "sft") if "loss" in r]
    assert losses[-1] < losses[0]

    grpo = load_recipe("tiny-vanilla-grpo", [f"model={sft_out}", "data.n=8", "prompt=direct", "trl.max_steps=3",
                                             "trl.num_generations=4", "trl.per_device_train_batch_size=8",
                                             "trl.max_completion_length=4", "trl.learning_rate=0.01", *TINY_TRL])
    result = train(grpo, tmp_path / "grpo")
    before, after = _state(sft_out), _state(result.checkpoint)
    changed = [k for k in before if not (before[k] == after[k]).all()]
    assert len(changed) > len(before) // 2
    rows = _metrics(tmp_path / "grpo")
    assert len([r for r in rows if "rewards/vanilla_accuracy/mean" in r]) == 3
    assert all("rewards/vanilla_format/mean" in r for r in rows if "reward" in r)
    assert any(r.get("reward_std", 0) > 0 for r in rows)

    info = json.loads((tmp_path / "grpo" / "train.json").read_text())
    assert info["global_steps"] == 3 and info["time_s"]["train"] > 0
    assert info["eval_command"].startswith(f"spatialeval run -m {result.checkpoint}")
    assert result.checkpoint.name == "tiny-vanilla-grpo-final"
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in result.checkpoint.iterdir()}

    (outcome,) = spatialeval.evaluate(str(result.checkpoint), "synth_spatial", limit=8, output_dir=tmp_path / "runs",
                                      prompt_style="direct", progress=False, use_cache=False)
    assert outcome.status == "finished" and outcome.results["n_samples"] == 8
    assert outcome.results["metrics"]["accuracy"]["n"] == 8


def test_reward_monitor_warns_on_zero_batches_and_truncation_but_not_on_healthy_ones():
    import io

    from spatialeval import rewards as R
    from spatialeval.train.monitor import RewardMonitor

    funcs, weights = R.REWARD_SETS["spatialthinker"]
    names = [f.__name__.removesuffix("_reward") for f in funcs]
    stream = io.StringIO()
    mon = RewardMonitor(names, weights, max_completion_length=5, stream=stream)
    wrapped = [mon.wrap(f, n) for f, n in zip(funcs, names, strict=True)]
    assert [w.__name__ for w in wrapped] == ["format", "count", "accuracy", "spatial"]
    cols = {"answer": ["A", "A"], "choices": [["left", "right"]] * 2, "completion_ids": [[1, 2], [1, 2, 3, 4, 5]]}
    for w in wrapped:
        w(None, ["noise", "more noise"], **cols)
    text = stream.getvalue()
    assert "batch 1: all 2 completions earned reward 0" in text and "hit the length limit" not in text
    good = "<observe>o</observe><scene>{\"objects\": [], \"relationships\": []}</scene><think>t</think><answer>(A) left</answer>"
    cols["completion_ids"] = [[1] * 5, [1] * 5]
    for w in wrapped:
        w(None, [good, "noise"], **cols)
    text = stream.getvalue()
    assert "batch 2: all" not in text and "batch 2: 2/2 completions hit the length limit (5 tokens)" in text
    assert mon.summary() == {"batches": 2, "all_zero_batches": 1, "mostly_truncated_batches": 1}
    assert mon.totals[1] == pytest.approx((0.1 + 0.2 + 0.5 + 0.2) / 2)


def test_every_recipe_is_accepted_by_trls_config_classes(tmp_path):
    trl = pytest.importorskip("trl")
    for name in builtin_recipes():
        r = load_recipe(name)
        cls = trl.GRPOConfig if r.method == "grpo" else trl.SFTConfig
        # bf16/GPU settings are forced off: this machine has no GPU; the rest is checked as written
        config = cls(**{**r.trl, "bf16": False, "use_cpu": True, "output_dir": str(tmp_path)})
        if r.method == "grpo":
            assert config.generation_batch_size % config.num_generations == 0
    paper = trl.GRPOConfig(**{**load_recipe("spatialthinker-3b").trl, "bf16": False, "use_cpu": True,
                              "output_dir": str(tmp_path)})
    assert paper.generation_batch_size * 4 == 512 * 8  # per process; 4 GPUs make the paper's 512 prompts x 8


def test_freeze_keeps_the_named_parameters_out_of_training(tmp_path, tiny_model_path):
    pytest.importorskip("transformers")
    from transformers import Qwen2_5_VLForConditionalGeneration

    from spatialeval.train.trainer import freeze

    r = load_recipe("tiny-sft", ["freeze=[model.visual]"])
    assert r.freeze == ("model.visual",) and r.to_json()["freeze"] == ["model.visual"]
    assert load_recipe("tiny-sft").freeze == ()
    (tmp_path / "r.yaml").write_text("name: x\nmethod: sft\nmodel: m\ndata: {}\nfreeze: {a: 1}\n")
    with pytest.raises(UserError, match="freeze"):
        load_recipe(str(tmp_path / "r.yaml"))

    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_model_path)
    n = freeze(model, r.freeze)
    visual = {k for k, _ in model.named_parameters() if k.startswith("model.visual")}
    assert visual and n == sum(p.numel() for k, p in model.named_parameters() if k in visual)
    assert all(p.requires_grad == (k not in visual) for k, p in model.named_parameters())
    with pytest.raises(UserError, match="no parameter matches"):
        freeze(model, ["model.no_such_part"])
