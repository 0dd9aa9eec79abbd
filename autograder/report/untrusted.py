"""Text that came from a submission, made safe for the logs it is printed to.

In a GitHub Actions log a line that starts with ``::`` is a workflow command (``::error``,
``::add-mask::``, ``::stop-commands::``) and one that starts with ``##[`` a legacy one, so a
student's exception message could forge annotations or mask values in an instructor's run.
Two defences, in one place:

- :func:`neutralise` breaks such a prefix at the start of every line (``::error`` becomes
  ``: :error``). The report model applies it to every text field a submission can reach
  (feedback, problems, file and submission names), so every format rendered from a report,
  and every report read back from disk, carries no command.
- :func:`guard_for_ci` wraps text printed to standard output in
  ``::stop-commands::TOKEN`` ... ``::TOKEN::`` with a fresh random token when
  ``GITHUB_ACTIONS`` is set, as GitHub Classroom's runner does: between the two the runner
  runs no command at all, whatever slipped through.
"""

from __future__ import annotations

import os
import re
import secrets

_COMMAND_PREFIX = re.compile(r"(\A|[\r\n])([ \t\f\v]*)(::|##\[)")


def neutralise(text: str) -> str:
    """``text`` with no line that a GitHub runner would take as a workflow command."""
    return _COMMAND_PREFIX.sub(lambda m: f"{m[1]}{m[2]}{m[3][0]} {m[3][1:]}", text)


def in_github_actions() -> bool:
    return bool(os.environ.get("GITHUB_ACTIONS"))


def guard_for_ci(text: str) -> str:
    """``text`` as it may be printed to a CI log: inside a stop-commands block on GitHub
    Actions (with a token the text cannot guess), unchanged elsewhere."""
    if not in_github_actions():
        return text
    token = secrets.token_hex(16)
    ending = "\n" if text.endswith("\n") else ""
    return f"::stop-commands::{token}\n{neutralise(text.rstrip(chr(10)))}\n::{token}::{ending}"
