"""Optional LLM stages of the data pipeline: question generation and answer validation.

SpatialThinker generated STVQA with Claude Sonnet 4 (one question per scene graph, JSON out) and
kept a question only if GPT-4o, answering it from the image, agreed with the gold letter in one
of its first two tries, or one of two more (spatialthinker.md §5). Both stages run here through
the harness's own runner interface, ``generate(list[Request]) -> list[Response]``, so any runner
serves: the OpenAI-compatible API runner (``spatialeval.runners.api``, e.g. a local ``vllm
serve``), vLLM, or a scripted one in tests. Neither stage is needed offline: the templates in
``questions`` write the questions, and validation is skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from ..extraction import extract_choice
from ..records import LETTERS, GenerationParams, ImageRef, Request, Response, hash_json
from ..stvqa import CATEGORIES, LEVELS, question_with_options
from .questions import Draft, draft_to_row, scene_image_bytes
from .scenegraph import SceneGraph, VGRelationship

GENERATION_PROMPT = """You write one multiple-choice question that tests visual-spatial reasoning about the image, \
using only the objects and relationships in its scene graph below.
Categories: relation, reach, size, orientation, instance_location, depth, distance, count, existence.
Use object names, never ids. Give 2-4 options, exactly one correct.
Reply with a JSON object and nothing else: {{"question": str, "options": [str], "answer": "A".."D", \
"category": str, "level": "easy"|"medium"|"hard", "rating": 1-10}}.
Prefer the category {category}.

Scene graph:
{scene}"""

VALIDATION_PROMPT = """Answer the following multiple choice question about the image.

Question: {question}

Reply with only the letter of the correct answer."""

_JSON = re.compile(r"\{.*\}", re.S)
_OPTION_LABEL = re.compile(r"^\s*\(?[A-D][).:]\s*")


class Runner(Protocol):
    def generate(self, requests: list[Request]) -> list[Response]: ...


def _request(sample_id: str, image: bytes, text: str, max_tokens: int, seed: int = 0) -> Request:
    messages = ({"role": "user", "content": [{"type": "image", "image": 0}, {"type": "text", "text": text}]},)
    return Request(sample_id=sample_id, messages=messages, images=(ImageRef(data=image),),
                   params=GenerationParams(max_new_tokens=max_tokens, temperature=0.0, seed=seed),
                   prompt_hash=hash_json(list(messages))[:16])


def _words(text: str) -> set[str]:
    """Lower-case words plus naive singulars and plurals, for matching names in a question."""
    out: set[str] = set()
    for w in re.findall(r"[a-z]+", text.lower()):
        out |= {w, w + "s", w + "es"}
        if w.endswith("ies"):
            out.add(w[:-3] + "y")
        if w.endswith("es"):
            out.add(w[:-2])
        if w.endswith("s"):
            out.add(w[:-1])
    return out


def sub_graph(sg: SceneGraph, question: str) -> tuple[tuple[int, ...], tuple[VGRelationship, ...]]:
    """The paper's filter: keep objects whose name's words all occur in the question (singular or
    plural), and relations whose two ends are both kept."""
    words = _words(question)
    keep = tuple(o.object_id for o in sg.objects if set(o.name.lower().split()) <= words)
    kept = set(keep)
    rels = tuple(r for r in sg.relationships if r.subject_id in kept and r.object_id in kept)
    return keep, rels


def parse_generated(text: str) -> dict[str, Any] | None:
    """The generator's JSON, checked: known category, 2-4 options, a valid answer letter."""
    m = _JSON.search(text or "")
    if not m:
        return None
    try:
        d = json.loads(m.group(0))
    except json.JSONDecodeError:
        return None
    opts = d.get("options")
    if not isinstance(d.get("question"), str) or not isinstance(opts, list) or not 2 <= len(opts) <= 4:
        return None
    options = [_OPTION_LABEL.sub("", str(o)).strip() for o in opts]
    letter = str(d.get("answer", "")).strip().strip("()").upper()[:1]
    if d.get("category") not in CATEGORIES or letter not in LETTERS[: len(options)] or len(set(options)) != len(options):
        return None
    level = d.get("level") if d.get("level") in LEVELS else "medium"
    rating = d.get("rating") if isinstance(d.get("rating"), int) else 5
    return {"question": d["question"].strip(), "options": options, "answer": LETTERS.index(letter),
            "category": d["category"], "level": level, "rating": max(1, min(10, rating))}


def _fix_count(sg: SceneGraph, q: dict[str, Any]) -> dict[str, Any]:
    """Count auto-correction: recount the class the question names; put the true count in the options."""
    words = _words(q["question"])
    kinds = {o.kind for o in sg.objects if o.kind in words}
    if len(kinds) != 1:
        return q
    kind = kinds.pop()
    n = str(sum(o.kind == kind for o in sg.objects))
    options = list(q["options"])
    if options[q["answer"]] == n:
        return q
    if n in options:
        return {**q, "answer": options.index(n)}
    options[q["answer"]] = n
    return {**q, "options": options}


def generate_questions(graphs: Sequence[SceneGraph], runner: Runner, *, categories: Iterable[str] | None = None,
                       max_tokens: int = 512) -> list[dict[str, Any]]:
    """One LLM-written question per graph (STVQA rows); unparseable replies are dropped."""
    cats = list(categories or CATEGORIES)
    reqs = []
    for k, sg in enumerate(graphs):
        prompt = GENERATION_PROMPT.format(category=cats[k % len(cats)], scene=json.dumps(sg.to_scene_json()))
        reqs.append(_request(sg.image_id, scene_image_bytes(sg), prompt, max_tokens))
    rows = []
    for sg, resp in zip(graphs, runner.generate(reqs), strict=True):
        q = None if resp.error else parse_generated(resp.text)
        if q is None:
            continue
        if q["category"] == "count":
            q = _fix_count(sg, q)
        ids, rels = sub_graph(sg, q["question"])
        options = q["options"]
        ordered = (options[q["answer"]], *[o for i, o in enumerate(options) if i != q["answer"]])
        draft = Draft(q["category"], q["question"], ordered, ids, rels, q["level"], q["rating"])
        rows.append(draft_to_row(sg, draft, scene_image_bytes(sg)))
    return rows


def validate_rows(rows: Sequence[dict[str, Any]], runner: Runner, *, tries: tuple[int, int] = (2, 2),
                  max_tokens: int = 10) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """pass@2, then 2 more: keep a row if any answer matches its gold letter; returns (kept, dropped).

    Each round asks every still-undecided row once per try (the paper used GPT-4o at temperature 0,
    max_tokens 10). Answers are read by the evaluation's extractor.
    """
    undecided = list(range(len(rows)))
    passed: set[int] = set()
    for round_tries in tries:
        for t in range(round_tries):
            if not undecided:
                break
            reqs = []
            for i in undecided:
                r = rows[i]
                img = r["images"][0]
                data = img["bytes"] if isinstance(img, dict) else img
                text = VALIDATION_PROMPT.format(question=question_with_options(r["question_only"], r["options"]))
                reqs.append(_request(f"{r['image_id']}#{t}", data, text, max_tokens, seed=t))
            for i, resp in zip(list(undecided), runner.generate(reqs), strict=True):
                got = None if resp.error else extract_choice(resp.text, rows[i]["options"]).answer
                if got == rows[i]["answer_only"]:
                    passed.add(i)
            undecided = [i for i in undecided if i not in passed]
    kept = [r for i, r in enumerate(rows) if i in passed]
    dropped = [r for i, r in enumerate(rows) if i not in passed]
    return kept, dropped
