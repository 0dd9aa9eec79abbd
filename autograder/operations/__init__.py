"""What a worker can do with student code: one module per concept, one table of operations.

``models`` (trace, inspect, load weights, forward and backward), ``objects`` (import, call,
handles, methods, the assignment's support objects), ``notebooks`` (run code cells) and
``student_tests`` (call a student's test functions). Every operation takes the worker's
:class:`~autograder.operations.state.WorkerState`. This package is worker code: the zygote
imports it before any fork, and it never imports the judge.

The table and its modules are imported on first use (``from autograder.operations import
OPERATIONS``): the judge uses a few light modules of this package (``introspect``, ``state``,
``cells``) and must not pay for the worker's whole vocabulary at start-up (``models`` preloads
torch._dynamo for the workers, seconds of import).
"""

from __future__ import annotations

from typing import Any

from autograder.operations import registry
from autograder.operations.registry import StudentFault
from autograder.operations.state import WorkerState

_TABLE_MODULES = ("models", "notebooks", "objects", "student_tests")

__all__ = ["OPERATIONS", "StudentFault", "WorkerState", *_TABLE_MODULES]


def __getattr__(name: str) -> Any:
    if name == "OPERATIONS" or name in _TABLE_MODULES:
        # Each registers its operations as it is imported (and becomes an attribute here).
        import autograder.operations.models
        import autograder.operations.notebooks
        import autograder.operations.objects
        import autograder.operations.student_tests  # noqa: F401

        globals()["OPERATIONS"] = registry.OPERATIONS
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
