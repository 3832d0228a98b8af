"""Exports: STVQA-format rows to a Hub-style dataset folder, and to veRL/EasyR1 parquet.

``write_dataset`` lays rows out like a clone of the Hub repository (``data/<split>-00000-of-00001.parquet``
plus a ``README.md`` whose YAML names the splits, so ``val`` stays ``val``): ``load_stvqa(folder)``,
``datasets.load_dataset(folder)`` and ``--data folder`` all read it.

``write_verl_parquet`` writes one parquet file that both RL engines read (training.md §3):

- veRL: ``data_source``, ``prompt`` (chat messages whose text holds the ``<image>`` placeholder),
  ``images`` (list of ``{"bytes"}``), ``ability``, ``reward_model`` ``{"style": "rule",
  "ground_truth"}``, ``extra_info`` (index, category, image id, width, height);
- EasyR1: ``problem`` (``data.prompt_key``, with ``<image>``), ``images`` (``data.image_key``),
  ``ground_truth`` (``data.answer_key``), plus ``answer`` (the paper's ``answer_option_text``).

The ground truth is a JSON string with everything ``engine_rewards`` needs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..stvqa import CATEGORIES, HUB_ID, features, options_of
from .data import _image_bytes, prompt_for


def write_dataset(splits: dict[str, Sequence[dict[str, Any]]], folder: str | Path, *, card: str = "") -> Path:
    from datasets import Dataset

    out = Path(folder)
    (out / "data").mkdir(parents=True, exist_ok=True)
    configs = []
    for split, rows in splits.items():
        ds = Dataset.from_list(list(rows), features=features())
        ds.to_parquet(str(out / "data" / f"{split}-00000-of-00001.parquet"))
        configs.append(f"  - split: {split}\n    path: data/{split}-*")
    counts = {split: _counts(rows) for split, rows in splits.items()}
    yaml_head = "---\nconfigs:\n- config_name: default\n  data_files:\n" + "\n".join(configs) + "\n---\n"
    table = "\n".join(f"| {split} | {len(splits[split])} | "
                      + ", ".join(f"{c} {counts[split].get(c, 0)}" for c in CATEGORIES) + " |" for split in splits)
    (out / "README.md").write_text(
        f"{yaml_head}\n# Spatial VQA in STVQA-7K's schema\n\nSame fields as `{HUB_ID}` "
        f"(see `spatialeval/stvqa.py`).\n\n{card}\n\n| split | rows | categories |\n|---|---|---|\n{table}\n")
    return out


def _counts(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        out[r["category"]] = out.get(r["category"], 0) + 1
    return out


def verl_record(row: dict[str, Any], index: int, *, prompt: str = "problem", data_source: str = "stvqa"
                ) -> dict[str, Any]:
    from .trainer import image_size

    image = _image_bytes(row["images"])
    width, height = image_size(image)
    text = prompt_for(row, prompt, image)
    problem = text if "<image>" in text else "<image>" + text
    gt = {"answer": row["answer_only"], "choices": options_of(row), "answer_option_text": row["answer_option_text"],
          "answer_option_text_only": row["answer_option_text_only"], "width": width, "height": height}
    gt_json = json.dumps(gt, sort_keys=True)
    return {
        "data_source": data_source,
        "prompt": [{"role": "user", "content": problem}],
        "problem": problem,
        "images": [{"bytes": image, "path": None}],
        "ability": "spatial_reasoning",
        "reward_model": {"style": "rule", "ground_truth": gt_json},
        "ground_truth": gt_json,
        "answer": row["answer_option_text"],
        "extra_info": {"index": index, "category": row["category"], "image_id": str(row["image_id"]),
                       "width": width, "height": height, "split": row.get("split", "train")},
    }


def write_verl_parquet(rows: Sequence[dict[str, Any]], path: str | Path, *, prompt: str = "problem",
                       data_source: str = "stvqa") -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    records = [verl_record(r, i, prompt=prompt, data_source=data_source) for i, r in enumerate(rows)]
    pq.write_table(pa.Table.from_pylist(records), str(out))
    return out
