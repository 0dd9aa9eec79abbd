"""Operations on a student's own tests: import the test file and call the named test
functions directly, reporting each outcome as data (the judge alone decides its worth).
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import torch

from autograder.operations.fixtures import call_with_fixtures
from autograder.operations.objects import load_module
from autograder.operations.registry import StudentFault, operation
from autograder.operations.state import WorkerState
from autograder.seeding import manual_seed

# pytest.skip() and pytest.xfail() in a student's test: neither a pass nor a failure.
_SKIP_EXCEPTIONS = ("Skipped", "XFailed")
# Markers under which pytest would not run a test (or not count its pass).
_NOT_RUN_MARKERS = ("skip", "skipif", "xfail")


def _condition(value: Any, module: Any) -> bool:
    """A skipif/xfail condition as pytest evaluates it (a string in the module's globals)."""
    try:
        if isinstance(value, str):
            import os
            import platform
            import sys

            return bool(eval(value, {"os": os, "sys": sys, "platform": platform,
                                     **vars(module)}))
        return bool(value)
    except Exception:  # pytest reports an error for such a test: it does not run either
        return True


def _markers(func: Any, module: Any) -> list[dict[str, Any]]:
    """The skip, skipif and xfail markers on a test or its module, with their conditions
    evaluated, as data: whether they keep the test from counting is the judge's to say."""
    found = []
    for owner in (func, module):
        marks = getattr(owner, "pytestmark", [])
        for mark in marks if isinstance(marks, (list, tuple)) else [marks]:
            name = getattr(mark, "name", None)
            if name in _NOT_RUN_MARKERS:
                args = getattr(mark, "args", ()) or ()
                kwargs = getattr(mark, "kwargs", {}) or {}
                # skip's arguments are a reason; skipif's and xfail's are conditions.
                conditions = [] if name == "skip" else [_condition(a, module) for a in args]
                if "condition" in kwargs:
                    conditions.append(_condition(kwargs["condition"], module))
                found.append({"name": name, "conditions": conditions})
    return found


def _test_failure(state: WorkerState, exc: BaseException, file: str) -> dict[str, Any]:
    """An exception from a student's test, with the frames of the test file only (never of
    the module under test, which may be the reference)."""
    info = state.describe(exc)
    info["frames"] = [f for f in info["frames"] if f["file"] == Path(file).name]
    info["builtin"] = type(exc).__module__ == "builtins"
    return info


def _call_student_test(state: WorkerState, func: Any, file: str, seed: int,
                       module: Any = None) -> dict[str, Any]:

    line = getattr(getattr(func, "__code__", None), "co_firstlineno", None)
    # Every test starts from the same state whatever ran before it, so its outcome depends
    # only on the module under test (the judge runs subsets of tests against mutants).
    manual_seed(seed)
    random.seed(seed)
    torch.set_grad_enabled(True)
    started = time.perf_counter()
    try:
        if not callable(func):
            raise StudentFault(f"`{getattr(func, '__name__', 'the test')}` is not a function")
        call_with_fixtures(func, module, state.scratch, Path(file).name)
        result: dict[str, Any] = {"status": "passed"}
    except BaseException as exc:  # SystemExit and KeyboardInterrupt from a test are failures too
        status = ("failed" if isinstance(exc, AssertionError) else
                  "skipped" if type(exc).__name__ in _SKIP_EXCEPTIONS else "error")
        result = {"status": status, **_test_failure(state, exc, file)}
    result.update(line=line, seconds=round(time.perf_counter() - started, 4))
    try:
        result["markers"] = _markers(func, module)
    except Exception:  # markers a test made up itself: it is graded as if it had none
        result["markers"] = []
    return result


@operation
def run_tests(state: WorkerState, module: str, file: str, tests: list[str], seed: int = 0) -> dict[str, Any]:
    """Import a student's test file and call the named test functions directly (with
    the fixtures its file defines, see ``fixtures``).

    Not through pytest: pytest would load a ``conftest.py``, ini file or plugin that came
    with the submission, and a plugin can rewrite any outcome. Called directly, a test
    passes when it returns and fails when it raises, nothing else. The reply is data per
    test (status, exception type, message, the test file's own frames); the judge alone
    decides what an outcome is worth. The module under test must be loaded first (it is
    whichever variant the judge put in this worker's folder).
    """
    test_module = state.modules.get(module)
    if test_module is None:
        try:
            load_module(state, module, file)
        except BaseException as exc:  # a broken test file: every test in it fails to run
            info = _test_failure(state, exc, file)
            return {name: {**info, "status": "import_error", "line": None, "seconds": 0.0}
                    for name in tests}
        test_module = state.modules[module]
    results = {}
    for name in tests:
        if not hasattr(test_module, name):
            results[name] = {"status": "missing", "line": None, "seconds": 0.0}
        else:
            results[name] = _call_student_test(state, getattr(test_module, name), file, seed,
                                               test_module)
    return results
