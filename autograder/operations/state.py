"""What one worker holds, in one object passed to every operation.

The worker makes a :class:`WorkerState` when it starts and hands it to each operation it
runs; no operation keeps anything at module level, so what a worker knows is all here.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from autograder.operations.registry import StudentFault, describe_exception

SUPPORT_MODULE = "assignment_support"  # the name an assignment's support.py is imported as


def _renaming(function: Callable[..., Any], aliases: dict[str, str]) -> Callable[..., Any]:
    """``function`` that also takes each alias as a keyword for its parameter (given both,
    the alias is passed on as it is, and the call fails as it would have)."""
    @functools.wraps(function)
    def renamed(*args: Any, **kwargs: Any) -> Any:
        for alias, parameter in aliases.items():
            if alias in kwargs and parameter not in kwargs:
                kwargs[parameter] = kwargs.pop(alias)
        return function(*args, **kwargs)

    return renamed


def accept_aliases(module: types.ModuleType, aliases: dict[str, dict[str, str]]) -> None:
    """Let the module's symbols take the assignment's other spellings of their keyword
    parameters (``{"Layer": {"units": "out_features"}}``): a class through its
    ``__init__``, a function itself. For trusted variants only, never student code."""
    for symbol, names in aliases.items():
        target = getattr(module, symbol, None)
        if inspect.isclass(target):
            target.__init__ = _renaming(target.__init__, names)
        elif callable(target):
            setattr(module, symbol, _renaming(target, names))


@dataclass
class WorkerState:
    """The scratch folder, loaded modules, object handles and the assignment's support code."""

    scratch: Path = Path(".")
    # The assignment's public support.py (the one assignment file a worker may read), or None.
    support_file: Path | None = None
    modules: dict[str, types.ModuleType] = field(default_factory=dict)
    objects: dict[int, Any] = field(default_factory=dict)
    next_handle: int = 1
    # Failed cells of each loaded notebook, by module name: for "defines no X" messages.
    notebook_failures: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # The assignment's other spellings of parameters (``AssignmentSpec.aliases``): the
    # support code's symbols accept them too, as the reference and the mutants do.
    support_aliases: dict[str, dict[str, str]] = field(default_factory=dict)
    _support: types.ModuleType | None = None

    def describe(self, exc: BaseException) -> dict[str, Any]:
        return describe_exception(exc, self.scratch)

    def new_handle(self, obj: Any) -> int:
        handle = self.next_handle
        self.next_handle += 1
        self.objects[handle] = obj
        return handle

    def object(self, handle: int) -> Any:
        return self.objects[handle]

    def module_object(self, handle: int) -> nn.Module:
        obj = self.object(handle)
        if not isinstance(obj, nn.Module):
            raise StudentFault(f"{type(obj).__name__} is not a torch.nn.Module")
        return obj

    def support(self) -> types.ModuleType:
        """The assignment's support module, imported on first use."""
        if self._support is None:
            if self.support_file is None:
                raise StudentFault("this assignment has no support.py")
            spec = importlib.util.spec_from_file_location(SUPPORT_MODULE, self.support_file)
            module = importlib.util.module_from_spec(spec)
            sys.modules[SUPPORT_MODULE] = module
            spec.loader.exec_module(module)
            accept_aliases(module, self.support_aliases)
            self._support = module
        return self._support

    def support_attribute(self, name: str) -> Any:
        support = self.support()
        if name.startswith("_") or not hasattr(support, name):
            raise StudentFault(f"the assignment's support code defines no `{name}`")
        return getattr(support, name)

    def resolve(self, value: Any, module: Any) -> Any:
        """Arguments may name a student symbol ({"symbol": "Name"}), a name in the
        assignment's support code ({"support": "Name"}) or a handle ({"handle": 3})."""
        if isinstance(value, dict):
            if set(value) == {"symbol"} and isinstance(value["symbol"], str):
                return self.symbol(module, value["symbol"])
            if set(value) <= {"support", "shown"} and isinstance(value.get("support"), str):
                return self.support_attribute(value["support"])
            if set(value) == {"handle"}:
                return self.object(value["handle"])
            return {k: self.resolve(v, module) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, module) for v in value]
        return value

    def symbol(self, module: Any, name: str) -> Any:
        if not hasattr(module, name):
            raise StudentFault(f"{file_label(module)} defines no "
                               f"`{name}`{self.missing_symbol_note(module)}")
        return getattr(module, name)

    def missing_symbol_note(self, module: Any) -> str:
        """Why a notebook may lack a definition: the cells that failed when it ran."""
        failures = next((v for k, v in self.notebook_failures.items()
                         if self.modules.get(k) is module), [])
        if not failures:
            return ""
        shown = ", ".join(str(r["cell"]) for r in failures[:5])
        return (f" (when the notebook ran, code cell{'s' if len(failures) > 1 else ''} {shown} "
                "failed: is the definition in one of them?)")


def file_label(module: Any) -> str:
    """The submitted file a module came from, for messages."""
    return Path(getattr(module, "__file__", "") or f"{module.__name__}.py").name
