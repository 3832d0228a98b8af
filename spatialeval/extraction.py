"""Multiple-choice answer extraction: one deterministic cascade with named stages.

Why a cascade and not one clever regex: every published harness mis-reads some common output
(harnesses.md §4.2), and the errors only become visible when each result says *how* it was read.
So every success names the stage that matched, and every miss names a failure class. A miss is
never turned into a guess: a random or default letter scores about 1/k instead of 0 and makes
runs non-deterministic.

Reasoning (``<think>``, SpatialThinker's ``<observe>`` and ``<scene>``) is removed before any
stage runs: a letter weighed while thinking is not the answer. The same function serves scoring
and the RL reward, so the two can never disagree about what a model answered.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from spatialeval.records import LETTERS, Extraction, FailureClass

STAGES = ("answer_tag", "boxed", "answer_phrase", "final_line", "unique_letter", "option_text")
FAILURE_CLASSES = ("truncated", "refusal", "invalid_letter", "multiple_answers", "no_answer")

# Pre-processing. Zero-width characters split a letter from its brackets without being visible;
# chat-template tokens left in the text break the "line is just a letter" test.
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_SPECIAL_TOKEN = re.compile(r"<\|[^|>]*\|>|</s>")
_MARKDOWN = re.compile(r"\*\*|__")
_TEXT = re.compile(r"\\text(?:bf|rm|tt)?\{([^{}]*)\}")
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")

_THINK_TAG = re.compile(r"</?think>", re.I)
_THINK_CLOSE = re.compile(r"</think>", re.I)
_REASONING_BLOCK = re.compile(r"<(observe|scene)>.*?</\1>", re.I | re.S)
_REASONING_OPEN = re.compile(r"<(?:think|observe|scene)>", re.I)
_ANY_REASONING_TAG = re.compile(r"</?(?:think|observe|scene)>", re.I)
_ANSWER_OPEN = re.compile(r"<answer>", re.I)
_ANSWER_CLOSE = re.compile(r"</answer>", re.I)

# "Answer: X", "the answer is X", "the correct option is (X)"; the letter is read from the tail.
_PHRASE = re.compile(
    r"\b(?:answer|(?:correct|right|best|final)\s+(?:option|choice))"
    r"(?:\s+(?:is|would\s+be|should\s+be|will\s+be)\s*[:=]?|\s*[:=])\s*",
    re.I,
)
# A letter at the start of a string: "(B)", "[B]", "B)", "B", optionally after "Option".
_LEAD = re.compile(
    r"\s*(?P<opt>(?:option|choice)\s*)?"
    r"(?:\((?P<p>[A-Za-z])\)|\[(?P<q>[A-Za-z])\]|(?P<b>[A-Za-z])(?P<c>\))?)"
    r"(?![A-Za-z0-9'’])(?P<rest>.*)",
    re.I | re.S,
)
_STRICT_REST = re.compile(r"\s*\Z|[.:,;)](?:\s|\Z)")
_ONLY_PUNCT = re.compile(r"[\s.:,;!)]*")
_WORD_AFTER = re.compile(r"\s+([a-z][a-z'’]*)")
# Words that can follow the letter "A" but not the article "a" ("A is closer", "A or B").
_LETTER_FOLLOWERS = frozenset(
    "is was are because since as and or nor but than vs versus seems appears looks would should will"
    " could might has had in on at from to with".split()
)
_CANDIDATE = re.compile(r"(?<![A-Za-z0-9'’-])([A-Z])(?![A-Za-z0-9'’-]|\.[A-Za-z])")

_OPTION_LABEL = re.compile(r"^\s*\([A-Za-z]\)\s*")
_OPTION_PUNCT = re.compile(r"[^\w\s.]|(?<!\d)\.|\.(?!\d)")

_REFUSAL = re.compile(
    r"\bi\s*(?:cannot|can\s*not|can['’]t|am\s+unable|['’]m\s+unable|am\s+not\s+able|['’]m\s+not\s+able)\b"
    r"|\bcannot\s+(?:be\s+)?(?:determined?|tell|answer|help|identify)\b"
    r"|\b(?:unable|impossible|not\s+possible)\s+to\s+(?:determine|tell|answer|say)\b"
    r"|\bnot\s+enough\s+information\b|\bas\s+an\s+ai\b|\bsorry\b|\bi\s+don['’]t\s+know\b",
    re.I,
)


def split_thinking(text: str) -> tuple[str | None, str]:
    """Return ``(thinking, answer_segment)``; ``thinking`` is None when the text has no reasoning.

    The answer segment is what follows the last ``</think>`` (a closing tag alone counts, since
    some servers drop the opening one), minus any ``<observe>``/``<scene>`` blocks. A reasoning
    tag that never closes means generation stopped mid-thought: all of it is thinking and the
    answer segment is empty, so nothing is parsed out of partial reasoning.
    """
    thinking, answer, _ = _split(text)
    return thinking, answer


def _split(text: str) -> tuple[str | None, str, bool]:
    if "<" not in text or not _ANY_REASONING_TAG.search(text):  # no reasoning tag: nothing to split
        return None, text.strip(), False
    closes = list(_THINK_CLOSE.finditer(text))
    pieces: list[str] = []
    answer = text
    if closes:
        pieces += _THINK_TAG.split(text[: closes[-1].start()])
        answer = text[closes[-1].end() :]
    blocks = [m.group(0) for m in _REASONING_BLOCK.finditer(answer)]
    pieces += blocks
    answer = _REASONING_BLOCK.sub(" ", answer)
    if _REASONING_OPEN.search(answer):
        return text.strip(), "", True
    if not closes and not blocks:
        return None, answer.strip(), False
    return "\n".join(p.strip() for p in pieces if p.strip()), answer.strip(), False


def extract_choice(text: str, choices: Sequence[str], *, finish_reason: str | None = None) -> Extraction:
    """Read the chosen option letter from a model output, or say why it cannot be read.

    Valid letters are the first ``len(choices)`` of ``LETTERS``. An explicit letter outside them
    (a tag, phrase or final line naming "E" with four options) is ``invalid_letter``, not a miss
    to recover from elsewhere in the text.
    """
    valid = LETTERS[: len(choices)]
    _, segment, unclosed = _split(_normalise(text))
    if unclosed:
        return _fail("truncated")
    segment = _TEXT.sub(r"\1", _MARKDOWN.sub("", segment))

    tag = _answer_tag(segment)
    # A cut-off output is only trusted if it already closed its answer tag.
    if finish_reason == "length" and not (tag and tag[1]):
        return _fail("truncated")
    focus: str | None = None
    stage = ""
    if tag is not None:
        focus, stage = _BOXED.sub(r"\1", tag[0]).strip(), "answer_tag"
    elif boxes := _BOXED.findall(segment):
        focus, stage = boxes[-1].strip(), "boxed"
    if focus is not None:
        letter = _lead_letter(focus, valid, strict=True)
        if letter:
            return _verdict(letter, valid, stage)
        # The declared answer is the only place to look; the text around it is rationale.
        segment = focus
    segment = _BOXED.sub(r"\1", segment).strip()

    letter = _phrase_letter(segment, choices, valid)
    if letter:
        return _verdict(letter, valid, "answer_phrase")
    lines = [line for line in segment.splitlines() if line.strip()]
    letter = _lead_letter(lines[-1], valid, strict=True) if lines else None
    if letter:
        return _verdict(letter, valid, "final_line")
    found = _candidate_letters(segment, choices, valid)
    if len(found) == 1:
        return Extraction(answer=found.pop(), stage="unique_letter")
    letter = _option_match(segment, choices)
    if letter:
        return Extraction(answer=letter, stage="option_text")
    if _REFUSAL.search(segment):
        return _fail("refusal")
    return _fail("multiple_answers" if found else "no_answer")


def _normalise(text: str) -> str:
    """NFKC folds full-width letters and brackets ("（Ｂ）") into ASCII."""
    text = unicodedata.normalize("NFKC", text or "")
    return _SPECIAL_TOKEN.sub("", _ZERO_WIDTH.sub("", text))


def _fail(failure: FailureClass) -> Extraction:
    return Extraction(answer=None, stage=None, failure=failure)


def _verdict(letter: str, valid: str, stage: str) -> Extraction:
    if letter in valid:
        return Extraction(answer=letter, stage=stage)
    return _fail("invalid_letter")


def _answer_tag(segment: str) -> tuple[str, bool] | None:
    """Content of the last ``<answer>`` block and whether it closed.

    An unclosed last tag is kept because ``</answer>`` is a common stop string, which servers
    strip from the returned text.
    """
    opens = list(_ANSWER_OPEN.finditer(segment))
    if not opens:
        return None
    start = opens[-1].end()
    close = _ANSWER_CLOSE.search(segment, start)
    return (segment[start : close.start()], True) if close else (segment[start:], False)


def _is_word(letter: str, rest: str) -> bool:
    """True when "A"/"I" before a lowercase word is the article or pronoun ("A chair", "I think")."""
    if letter not in "AI":
        return False
    m = _WORD_AFTER.match(rest)
    return bool(m) and (letter == "I" or m.group(1) not in _LETTER_FOLLOWERS)


def _lead_letter(s: str, valid: str, *, strict: bool) -> str | None:
    """The letter that ``s`` starts with, uppercased, or None.

    Strict mode (tag content, final line) needs the letter alone or followed by punctuation, so
    "B is closer" is left to later stages. A lowercase letter counts only when bracketed or alone
    ("d", "(b)"), and only if valid: lowercase is weak evidence, too weak to report as invalid.
    """
    m = _LEAD.match(s)
    if not m:
        return None
    letter = m.group("p") or m.group("q") or m.group("b")
    bracketed = bool(m.group("p") or m.group("q") or m.group("c"))
    rest = m.group("rest")
    if letter.islower():
        if bracketed or _ONLY_PUNCT.fullmatch(rest):
            return letter.upper() if letter.upper() in valid else None
        return None
    if not bracketed:
        if strict and not m.group("opt") and not _STRICT_REST.match(rest):
            return None
        if _is_word(letter, rest):
            return None
    return letter


def _phrase_letter(segment: str, choices: Sequence[str], valid: str) -> str | None:
    """Letter (or exact option text) after the last answer phrase that names one."""
    for m in reversed(list(_PHRASE.finditer(segment))):
        tail = segment[m.end() :].split("\n", 1)[0]
        letter = _lead_letter(tail, valid, strict=False) or _option_match(tail, choices)
        if letter:
            return letter
    return None


def _candidate_letters(segment: str, choices: Sequence[str], valid: str) -> set[str]:
    """Distinct valid standalone capitals, ignoring articles and letters inside option texts.

    Option texts are masked first so that labels like "Point B" in a BLINK option do not read as
    the answer B.
    """
    for choice in sorted((c.strip() for c in choices), key=len, reverse=True):
        if len(choice) > 1:
            pattern = r"(?<![A-Za-z0-9])" + re.escape(choice) + r"(?![A-Za-z0-9])"
            segment = re.sub(pattern, " ", segment, flags=re.I)
    return {
        m.group(1)
        for m in _CANDIDATE.finditer(segment)
        if m.group(1) in valid and not _is_word(m.group(1), segment[m.end() :])
    }


def _norm_option(s: str) -> str:
    s = _OPTION_LABEL.sub("", s).lower()
    return " ".join(_OPTION_PUNCT.sub(" ", s).split())


def _option_match(text: str, choices: Sequence[str]) -> str | None:
    """The letter whose option text equals ``text`` after normalising; never a substring match."""
    target = _norm_option(text)
    if not target:
        return None
    hits = [LETTERS[i] for i, c in enumerate(choices) if _norm_option(c) == target]
    return hits[0] if len(hits) == 1 else None
