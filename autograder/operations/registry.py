"""The table of operations a worker answers, and how a failure in student code is described.

An operation is a function ``op(state, **args)`` of plain data (JSON values, tensors,
handles) returning plain data; it never decides a verdict. Each operation module registers
its functions here with :func:`operation` when it is imported; the table is complete once
:mod:`autograder.operations` is imported, and nothing changes it afterwards.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

OPERATIONS: dict[str, Callable[..., Any]] = {}
MAX_TEXT = 2000


class StudentFault(Exception):
    """Raised by an operation for a problem with the student's code that is not an exception
    of its own (a missing class, a forward that returns None): reported like one."""


def operation(func: Callable[..., Any]) -> Callable[..., Any]:
    """Register ``func`` under its own name."""
    OPERATIONS[func.__name__] = func
    return func


def clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 15] + " ... (cut)"


def describe_exception(exc: BaseException, scratch: Path) -> dict[str, Any]:
    """Type, message and the frames of the student's own files (under ``scratch``)."""
    frames = []
    folder = str(scratch)
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith(folder):
            frames.append({
                "file": Path(frame.filename).name,
                "line": frame.lineno,
                "function": frame.name,
                "code": clip(frame.line or "", 200),
            })
    if isinstance(exc, SyntaxError) and exc.filename and exc.filename.startswith(folder):
        frames.append({"file": Path(exc.filename).name, "line": exc.lineno or 0,
                       "function": "<module>", "code": clip((exc.text or "").strip(), 200)})
    message = exc.msg if isinstance(exc, SyntaxError) else str(exc)  # the frame gives the line
    return {
        "type": type(exc).__name__,
        "message": clip(message),
        "frames": frames[-5:],
        "fault": isinstance(exc, StudentFault),
    }
