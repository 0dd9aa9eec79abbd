"""pytest fixtures for a student's test, resolved the way pytest resolves them.

A student's test is called directly, not through pytest (see ``student_tests``), yet a test
that takes a fixture defined in its own file is as correct as one that builds everything
inline. So the fixtures a test asks for are made here: those defined in the test file
(function scope, plain or ``yield`` fixtures, fixtures asking for other fixtures, autouse
ones) and ``tmp_path``. Fixtures from a ``conftest.py`` or a plugin are never loaded: the
submission's ``conftest.py`` is ignored by design.
"""

from __future__ import annotations

import inspect
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from autograder.operations.registry import StudentFault

PROVIDED = ("tmp_path",)


def _required(func: Callable[..., Any]) -> list[str]:
    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters if p.default is inspect.Parameter.empty
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _definitions(module: Any) -> dict[str, tuple[Callable[..., Any], Any]]:
    """{fixture name: (function, its marker)} of the fixtures the module defines."""
    found = {}
    for value in list(vars(module).values()) if module is not None else []:
        marker = getattr(value, "_fixture_function_marker", None)  # pytest >= 8.4
        if marker is not None and hasattr(value, "_get_wrapped_function"):
            function = value._get_wrapped_function()
        else:  # older pytest marks the function itself
            marker = getattr(value, "_pytestfixturefunction", None)
            function = value
        if marker is not None and callable(function):
            found[getattr(marker, "name", None) or function.__name__] = (function, marker)
    return found


class _Resolver:
    def __init__(self, module: Any, scratch: Path, file: str, stack: ExitStack) -> None:
        self.definitions = _definitions(module)
        self.scratch = scratch
        self.file = file
        self.stack = stack
        self.values: dict[str, Any] = {}

    def value(self, name: str, asking: tuple[str, ...] = ()) -> Any:
        if name in self.values:
            return self.values[name]
        if name in asking:
            raise StudentFault(f"the fixtures {' -> '.join((*asking, name))} ask for each other")
        if name == "tmp_path":
            value: Any = Path(tempfile.mkdtemp(prefix="tmp_path-", dir=self.scratch))
        elif name in self.definitions:
            value = self._make(name, asking)
        else:
            provided = ", ".join(PROVIDED)
            raise StudentFault(
                f"the test asks for `{name}`, which is not a fixture defined in {self.file} "
                f"(fixtures there and {provided} are available; a conftest.py is not used)")
        self.values[name] = value
        return value

    def _make(self, name: str, asking: tuple[str, ...]) -> Any:
        function, marker = self.definitions[name]
        if getattr(marker, "params", None):
            raise StudentFault(f"the fixture `{name}` is parametrized; write one test per case "
                               "or a loop inside the test")
        arguments = {p: self.value(p, (*asking, name)) for p in _required(function)}
        if inspect.isgeneratorfunction(function):
            generator = function(**arguments)
            value = next(generator)
            self.stack.callback(_finish, generator, name)
            return value
        return function(**arguments)


def _finish(generator: Any, name: str) -> None:
    try:
        next(generator)
    except StopIteration:
        return
    raise StudentFault(f"the fixture `{name}` yields more than once")


def call_with_fixtures(func: Callable[..., Any], module: Any, scratch: Path, file: str) -> None:
    """Call ``func`` with the fixtures it asks for, then tear them down (a teardown that
    raises makes the test an error, as in pytest)."""
    if inspect.iscoroutinefunction(func):
        raise StudentFault("the test is an async function; write a plain `def` test")
    with ExitStack() as stack:
        resolver = _Resolver(module, scratch, file, stack)
        for name, (_, marker) in resolver.definitions.items():
            if getattr(marker, "autouse", False):
                resolver.value(name)
        func(**{name: resolver.value(name) for name in _required(func)})
