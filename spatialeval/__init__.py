"""spatialeval: reproducible evaluation of multimodal models on spatial reasoning."""

from __future__ import annotations

__version__ = "0.1.0"


def evaluate(*args, **kwargs):
    """See ``spatialeval.pipeline.evaluate``."""
    from .pipeline import evaluate as _evaluate

    return _evaluate(*args, **kwargs)


__all__ = ["__version__", "evaluate"]
