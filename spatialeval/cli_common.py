"""Helpers shared by the command modules (kept apart from cli.py so that command modules can import
them without importing the CLI itself, which imports them)."""

from __future__ import annotations

import functools
import sys
from typing import Any

import click

from .errors import UserError


def user_errors(fn):
    """Bad input -> one line on stderr, exit code 2, no traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted: completed batches are saved; rerun the same command to resume", err=True)
            sys.exit(130)

    return wrapper


def format_table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _ci(m: dict[str, Any]) -> str:
    if m.get("ci_low") is None:
        return "-"
    return f"[{_pct(m['ci_low'])}, {_pct(m['ci_high'])}]"
