"""Test setup: offline, a private cache, and helpers to run the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

# Before anything imports datasets/transformers: no test may depend on the Hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
_CACHE = tempfile.mkdtemp(prefix="spatialeval-test-cache-")
os.environ.setdefault("SPATIALEVAL_CACHE", _CACHE)
os.environ.setdefault("HF_HOME", os.path.join(_CACHE, "hf"))

import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def tiny_model_path() -> Path:
    from spatialeval.tiny_model import ensure_tiny_model

    return ensure_tiny_model("tiny")


@pytest.fixture
def cli():
    """Invoke the click CLI in-process; returns (exit_code, output)."""
    from spatialeval.cli import main

    def invoke(*args: str):
        result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
        return result.exit_code, result.output

    return invoke


def run_cli_subprocess(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real console entry point in a fresh process (exit codes, stderr, no traceback)."""
    return subprocess.run([sys.executable, "-m", "spatialeval.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout, env=dict(os.environ))


def only_run_dir(root: Path, model_slug: str, task: str) -> Path:
    dirs = sorted((root / model_slug / task).iterdir())
    assert len(dirs) == 1, dirs
    return dirs[0]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def comparable(results: dict) -> dict:
    """results.json holds no timings; kept as a hook in case it ever does."""
    return results
