"""Where spatialeval keeps shared state: the response cache and locally built models."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$SPATIALEVAL_CACHE``, else ``$XDG_CACHE_HOME/spatialeval``, else ``~/.cache/spatialeval``."""
    env = os.environ.get("SPATIALEVAL_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "spatialeval"
