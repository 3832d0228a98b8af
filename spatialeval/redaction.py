"""Keep credentials out of everything a run writes: run.json's command line, errors, logs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit, urlunsplit

SECRET_FLAGS = ("--api-key",)
MASK = "***"


def redact_argv(argv: Sequence[str]) -> list[str]:
    """``--api-key VALUE`` / ``--api-key=VALUE`` -> the flag with its value masked."""
    out: list[str] = []
    mask_next = False
    for arg in argv:
        if mask_next:
            out.append(MASK)
            mask_next = False
            continue
        flag, eq, _ = arg.partition("=")
        if flag in SECRET_FLAGS:
            if eq:
                out.append(f"{flag}={MASK}")
            else:
                out.append(arg)
                mask_next = True
            continue
        out.append(arg)
    return out


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Every occurrence of each (non-trivial) secret in ``text`` masked."""
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, MASK)
    return text


def public_url(url: str) -> str:
    """A URL without user:password@ and without its query string (where tokens hide)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
