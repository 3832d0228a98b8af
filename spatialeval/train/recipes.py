"""Training recipes: one YAML file per recipe in the top-level ``recipes/`` folder.

A recipe names the method (``grpo`` or ``sft``), the starting model, the data, the reward, the
prompt, and the TRL arguments, which go to ``GRPOConfig``/``SFTConfig`` unchanged, so every TRL
knob is available without a dialect of our own. ``--recipe`` takes a built-in name or a path;
``--set key=value`` overrides any field (dotted keys reach into ``data`` and ``trl``).

Fields:

- ``name``, ``description``, ``method`` (grpo | sft), ``model`` (a built-in tiny model id, a
  checkpoint folder, or a Hub id).
- ``data``: ``source`` (stvqa: STVQA-7K or data in its schema at ``path``; synth: generate from
  the bundled synthetic scenes with ``n``, ``seed``, ``balance``), ``split``, ``limit``.
- ``prompt``: ``problem`` (the dataset's own long training prompt, as the paper) or a harness
  prompt style (direct | reasoning | spatialthinker), so training and evaluation prompts match.
- ``target`` (SFT): trace (observe/scene/think/answer) | reasoning (think/answer) | answer (the
  letter) | option_text (the gold option's text, e.g. ``left``; the extractor maps it to its letter).
- ``reward`` (GRPO): spatialthinker | vanilla; ``accuracy_mode``: choice | exact;
  ``label_similarity``: spacy | minilm | exact (default: the best installed).
- ``processor``: ``min_pixels``/``max_pixels`` for the image processor.
- ``freeze``: parameter-name prefixes to keep fixed (e.g. ``[model.visual]``: the vision tower
  and merger). A randomly initialised vision tower left trainable collapses early in training
  (its outputs become nearly the same for every image token while the LLM learns the answer
  format), after which the answer no longer depends on the image; frozen, its random features stay
  informative.
- ``trl``: keyword arguments for the TRL config.
- ``eval``: ``prompt_style`` and ``max_new_tokens`` for ``spatialeval run`` on the checkpoint.
- ``launch``: how the recipe is meant to be launched (documentation; multi-GPU recipes).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError

METHODS = ("grpo", "sft")
TARGETS = ("trace", "reasoning", "answer", "option_text")
PROMPTS = ("problem", "direct", "reasoning", "spatialthinker")
_KNOWN = {"name", "description", "method", "model", "data", "prompt", "target", "reward", "accuracy_mode",
          "processor", "trl", "eval", "launch", "notes", "label_similarity", "freeze"}


@dataclass(frozen=True)
class Recipe:
    name: str
    method: str
    model: str
    data: dict[str, Any]
    trl: dict[str, Any]
    description: str = ""
    prompt: str = "spatialthinker"
    target: str = "trace"
    reward: str | None = None
    accuracy_mode: str = "choice"
    label_similarity: str | None = None  # None: the best installed (spacy, minilm, exact)
    processor: dict[str, Any] = field(default_factory=dict)
    freeze: tuple[str, ...] = ()
    eval: dict[str, Any] = field(default_factory=dict)
    launch: str | None = None
    notes: str = ""
    path: Path | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "method": self.method, "model": self.model, "data": self.data, "trl": self.trl,
                "description": self.description, "prompt": self.prompt, "target": self.target,
                "reward": self.reward, "accuracy_mode": self.accuracy_mode,
                "label_similarity": self.label_similarity, "processor": self.processor,
                "freeze": list(self.freeze),
                "eval": self.eval, "launch": self.launch, "path": str(self.path) if self.path else None}


def recipes_dir() -> Path:
    """``recipes/`` of the source tree (checkout or editable install), else the wheel's copy."""
    checkout = Path(__file__).resolve().parent.parent.parent / "recipes"
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files("spatialeval._recipes")))


def builtin_recipes() -> dict[str, Path]:
    return {p.stem: p for p in sorted(recipes_dir().glob("*.yaml"))}


def _parse_value(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``key=value`` pairs (YAML values); dotted keys set nested fields (``trl.max_steps=10``)."""
    out = copy.deepcopy(raw)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--set {item!r}: expected key=value")
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise UserError(f"--set {item!r}: {p} is not a mapping")
        node[parts[-1]] = _parse_value(value)
    return out


def load_recipe(name_or_path: str, overrides: list[str] | None = None) -> Recipe:
    builtin = builtin_recipes()
    path = builtin.get(name_or_path) or Path(name_or_path).expanduser()
    if not path.is_file():
        raise UserError(f"unknown recipe '{name_or_path}' (built-in: {', '.join(builtin)}; or a YAML path)")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: invalid YAML ({str(exc).splitlines()[0]})") from None
    raw = apply_overrides(raw, overrides or [])
    unknown = set(raw) - _KNOWN
    if unknown:
        raise UserError(f"{path}: unknown recipe fields {sorted(unknown)}")
    for key in ("name", "method", "model", "data"):
        if key not in raw:
            raise UserError(f"{path}: missing '{key}'")
    if raw["method"] not in METHODS:
        raise UserError(f"{path}: method must be one of {METHODS}")
    prompt = raw.get("prompt", "spatialthinker")
    if prompt not in PROMPTS:
        raise UserError(f"{path}: prompt must be one of {PROMPTS}")
    target = raw.get("target", "trace")
    if target not in TARGETS:
        raise UserError(f"{path}: target must be one of {TARGETS}")
    reward = raw.get("reward")
    if raw["method"] == "grpo" and reward not in ("spatialthinker", "vanilla"):
        raise UserError(f"{path}: a grpo recipe needs reward: spatialthinker | vanilla")
    freeze = raw.get("freeze") or []
    if isinstance(freeze, str):
        freeze = [freeze]
    if not isinstance(freeze, list) or not all(isinstance(f, str) and f for f in freeze):
        raise UserError(f"{path}: freeze must be a list of parameter-name prefixes")
    return Recipe(name=str(raw["name"]), method=raw["method"], model=str(raw["model"]), data=dict(raw["data"]),
                  trl=dict(raw.get("trl") or {}), description=str(raw.get("description", "")).strip(),
                  prompt=prompt, target=target, reward=reward, accuracy_mode=raw.get("accuracy_mode", "choice"),
                  label_similarity=raw.get("label_similarity"),
                  processor=dict(raw.get("processor") or {}), freeze=tuple(freeze), eval=dict(raw.get("eval") or {}),
                  launch=raw.get("launch"), notes=str(raw.get("notes", "")), path=path)
