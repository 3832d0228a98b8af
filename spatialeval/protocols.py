"""Named evaluation protocols and their answer matchers.

``default`` is the benchmark authors' official rule, scored with the harness's extraction cascade
(``spatialeval.extraction``). ``spatialthinker`` reproduces the SpatialThinker paper's own
evaluation script (``evaluation/evals.py``): its dataset copies, prompt tweaks and 2,048 new
tokens come from each task file's ``protocols.spatialthinker`` section; its answer matching is
``spatialthinker_extract`` below.

The script maps any answer whose text is not exactly one option's text to "A" (an always-true
condition in its fallback). That is a bug; it is reproduced only by the extractor name
``spatialthinker+a_fallback`` (``--paper-a-fallback``). By default an unmatched answer is an
extraction failure.
"""

from __future__ import annotations

import re

from .records import LETTERS, Extraction

PROTOCOLS = ("default", "spatialthinker")
EXTRACTORS = ("default", "spatialthinker", "spatialthinker+a_fallback")

_ANSWER_BLOCK = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_LEADING_OPTION = re.compile(r"^\(\s*([A-Za-z])\s*\)\s+")
_PAREN_LETTER = re.compile(r"\(([^()]*)\)")


def spatialthinker_extract(text: str, choices: list[str] | tuple[str, ...], *, a_fallback: bool = False
                           ) -> Extraction:
    """The paper's matcher: ``Answer:`` split, last <answer> block, option-text lookup.

    Steps as in the script: keep what follows "Answer:" when present; wrap the text in answer tags
    when they are missing and take the last <answer> block; strip a leading "(X) " and look the
    rest up, lower-cased, among the lower-cased option texts. Where the script then compares the
    raw prediction with the gold letter (equal, or equal after taking the text in parentheses and
    dropping a trailing period), a bare letter such as "B" or "(B)." is read as that letter.
    """
    letters = LETTERS[: len(choices)]
    pred = text
    if "Answer:" in pred:
        pred = pred.split("Answer:")[-1]
    if "<answer>" not in pred.lower():
        pred = f"<answer>{pred}</answer>"
    blocks = _ANSWER_BLOCK.findall(pred)
    pred = (blocks[-1] if blocks else "").strip()
    body = _LEADING_OPTION.sub("", pred).strip().lower()
    lowered = [c.strip().lower() for c in choices]
    if body in lowered:
        return Extraction(answer=letters[lowered.index(body)], stage="paper_option_text")
    if a_fallback and letters:
        return Extraction(answer="A", stage="paper_a_fallback")
    # the script's equality checks: the prediction itself, or the text in its parentheses, minus a period
    candidate = pred
    m = _PAREN_LETTER.search(candidate)
    if m:
        candidate = m.group(1)
    candidate = candidate.strip().rstrip(".").strip().upper()
    if len(candidate) == 1 and candidate in letters:
        return Extraction(answer=candidate, stage="paper_letter")
    return Extraction(answer=None, failure="no_answer")
