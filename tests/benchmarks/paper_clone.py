"""Local Hub-repository clones for the "paper" group's benchmark tests (a README with `configs:`
and one parquet file per split, columns typed as on the Hub)."""

from __future__ import annotations

import uuid
from pathlib import Path

import yaml


def write_clone(tmp_path: Path, name: str, splits: dict[str, list[dict]], features, config: str = "default") -> Path:
    """Write ``{split: rows}`` as ``data/{split}-00000-of-00001.parquet`` under a fresh folder.

    The folder name is unique because `datasets` caches a local repository by its folder name and
    README configs: two clones that share a name would share one cache entry.
    """
    from datasets import Dataset

    root = tmp_path / f"{name}-{uuid.uuid4().hex[:8]}"
    (root / "data").mkdir(parents=True)
    for split, rows in splits.items():
        Dataset.from_list(rows, features=features).to_parquet(str(root / "data" / f"{split}-00000-of-00001.parquet"))
    card = {"configs": [{"config_name": config,
                         "data_files": [{"split": s, "path": f"data/{s}-*"} for s in splits]}]}
    (root / "README.md").write_text(f"---\n{yaml.safe_dump(card, sort_keys=False)}---\n")
    return root
