"""Small datasets in the formats a task can point at, built by the tests (no network)."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

from PIL import Image

COLOURS = [(200, 30, 30), (30, 160, 40), (40, 60, 210), (230, 200, 20), (140, 40, 160), (250, 130, 20)]


def png(i: int, size=(64, 48)) -> bytes:
    im = Image.new("RGB", size, COLOURS[i % len(COLOURS)])
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def rows(n: int) -> list[dict]:
    """MC rows in a CV-Bench-like schema: idx, question, choices (list), answer '(B)', task, image."""
    out = []
    for i in range(n):
        choices = ["left", "right"] if i % 2 else ["yes", "no", "maybe"]
        out.append({"idx": i, "question": f"Question {i}?", "choices": choices,
                    "answer": f"({'AB'[i % 2]})", "task": ["Count", "Relation"][i % 2],
                    "image": {"bytes": png(i), "path": None}})
    return out


def hf_dataset(n: int):
    from datasets import Dataset, Features, List, Value
    from datasets import Image as HFImage

    feats = Features({"idx": Value("int64"), "question": Value("string"), "choices": List(Value("string")),
                      "answer": Value("string"), "task": Value("string"), "image": HFImage()})
    return Dataset.from_list(rows(n), features=feats)


def write_parquet(path: Path, n: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    hf_dataset(n).to_parquet(str(path))
    return path


def write_hub_clone(root: Path, n2d: int = 6, n3d: int = 4) -> Path:
    """A local clone of a multi-config Hub dataset repository: README configs + parquet per config."""
    write_parquet(root / "2D" / "test-00000-of-00001.parquet", n2d)
    write_parquet(root / "3D" / "test-00000-of-00001.parquet", n3d)
    (root / "README.md").write_text(textwrap.dedent("""\
        ---
        configs:
        - config_name: 2D
          data_files:
          - split: test
            path: 2D/test-*.parquet
        - config_name: 3D
          data_files:
          - split: test
            path: 3D/test-*.parquet
        ---
        # fixture
        """))
    return root


def write_images_csv(root: Path, n: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "images").mkdir(exist_ok=True)
    lines = ["id,image,question,option_a,option_b,answer,category"]
    for i in range(n):
        (root / "images" / f"{i}.png").write_bytes(png(i))
        lines.append(f"q{i},images/{i}.png,Is it {i}?,yes,no,{'AB'[i % 2]},cat{i % 3}")
    (root / "questions.csv").write_text("\n".join(lines) + "\n")
    return root


def write_jsonl(path: Path, n: int) -> Path:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / "imgs").mkdir(exist_ok=True)
    with open(path, "w") as fh:
        for i in range(n):
            (path.parent / "imgs" / f"{i}.png").write_bytes(png(i))
            fh.write(json.dumps({"qid": f"j{i}", "q": f"Which {i}?", "options": ["a", "b", "c"],
                                 "label": i % 3, "img": f"imgs/{i}.png"}) + "\n")
    return path


CVLIKE_FIELDS = """\
fields:
  id: idx
  question: question
  choices: choices
  answer: answer
  images: image
  category: task
metrics: [accuracy, {name: macro, by: category}]
"""


def task_file(path: Path, source_yaml: str, fields_yaml: str = CVLIKE_FIELDS, task_id: str = "fixture") -> Path:
    path.write_text(f"id: {task_id}\nversion: '1'\nlicence: test\nmax_new_tokens: 4\n"
                    f"{textwrap.dedent(source_yaml)}{fields_yaml}")
    return path
