"""User-facing errors: one line saying what and where, exit code 2, no traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user (unknown task or model, malformed file, unreadable path...).

    The CLI prints ``error: <message>`` on one line and exits with code 2. Anything already
    written to a run directory stays there.
    """

    exit_code = 2
