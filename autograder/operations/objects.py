"""Operations on student code as objects: import a file, describe and call its symbols,
keep what they return behind integer handles, call methods, and build objects of the
assignment's own support code (``assignments/NAME/support.py``) for student code to use.

Student objects stay in the worker; only plain data (and handles) cross the boundary.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from typing import Any

import torch
from torch import nn

from autograder.operations.registry import StudentFault, operation
from autograder.operations.state import WorkerState, accept_aliases
from autograder.seeding import manual_seed


@operation
def load_module(state: WorkerState, name: str, file: str,
                aliases: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    """Import a student file under a fixed module name, from the scratch folder only.

    ``aliases``: for a variant the grader wrote (the reference, a mutant), the other
    spellings its symbols accept (see :func:`accept_aliases`)."""
    path = state.scratch / file
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    accept_aliases(module, aliases or {})
    state.modules[name] = module
    return {"symbols": sorted(k for k in vars(module) if not k.startswith("_"))}


@operation
def describe_symbol(state: WorkerState, module: str, symbol: str) -> dict[str, Any]:
    """Whether a symbol exists, what it is, and its call signature."""
    mod = state.modules[module]
    if not hasattr(mod, symbol):
        return {"exists": False}
    obj = getattr(mod, symbol)
    info: dict[str, Any] = {
        "exists": True,
        "is_class": inspect.isclass(obj),
        "is_callable": callable(obj),
        "is_module_class": inspect.isclass(obj) and issubclass(obj, nn.Module),
        "parameters": None,
    }
    try:
        signature = inspect.signature(obj)
        info["parameters"] = [
            {"name": p.name, "kind": p.kind.name,
             "default": repr(p.default) if p.default is not inspect.Parameter.empty else None}
            for p in signature.parameters.values()
        ]
    except (TypeError, ValueError):
        pass
    return info


@operation
def construct(state: WorkerState, module: str, symbol: str, args: list[Any], kwargs: dict[str, Any],
              seed: int = 0, device: str = "cpu") -> dict[str, Any]:
    """Call a student class or factory; keep the result here and return a handle."""
    mod = state.modules[module]
    target = state.symbol(mod, symbol)
    manual_seed(seed)
    with torch.device(device):
        obj = target(*state.resolve(args, mod), **state.resolve(kwargs, mod))
    return {
        "handle": state.new_handle(obj),
        "type": type(obj).__name__,
        "is_module": isinstance(obj, nn.Module),
    }


@operation
def release(state: WorkerState, handle: int) -> None:
    state.objects.pop(handle, None)


def _plain(value: Any, path: str, tensors: dict[str, dict[str, Any]], depth: int = 0) -> Any:
    """A result as data; for each tensor, whether it is still part of an autograd graph."""
    if isinstance(value, torch.Tensor):
        tensors[path] = {"requires_grad": bool(value.requires_grad),
                         "has_grad_fn": value.grad_fn is not None,
                         "shape": list(value.shape)}
        return value
    if depth > 4:
        return f"<{type(value).__name__}>"
    if isinstance(value, dict):
        return {str(k): _plain(v, f"{path}.{k}" if path else str(k), tensors, depth + 1)
                for k, v in list(value.items())[:200]}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{path}[{i}]", tensors, depth + 1) for i, v in enumerate(value[:200])]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return f"<{type(value).__name__} object>"


@operation
def call_method(state: WorkerState, handle: int, method: str, args: list[Any] | None = None,
                kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """``obj.method(*args, **kwargs)``; arguments may name handles ({"handle": n})."""
    obj = state.object(handle)
    target = getattr(obj, method, None)
    if target is None or not callable(target):
        raise StudentFault(f"{type(obj).__name__} has no method `{method}`")
    result = target(*state.resolve(args or [], None), **state.resolve(kwargs or {}, None))
    tensors: dict[str, dict[str, Any]] = {}
    value = _plain(result, "", tensors)
    return {"value": value, "type": type(result).__name__, "tensors": tensors}


def _is_plain(value: Any) -> bool:
    """Whether a value travels whole as data (else the caller also gets a handle to it)."""
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def _reply(state: WorkerState, result: Any) -> dict[str, Any]:
    """A returned value as data, with a handle to it when it is not plain data."""
    tensors: dict[str, dict[str, Any]] = {}
    reply = {"value": _plain(result, "", tensors), "type": type(result).__name__,
             "tensors": tensors, "handle": None, "is_module": isinstance(result, nn.Module)}
    if not _is_plain(result):
        reply["handle"] = state.new_handle(result)
    return reply


@operation
def call(state: WorkerState, module: str, symbol: str, args: list[Any] | None = None,
         kwargs: dict[str, Any] | None = None, seed: int = 0) -> dict[str, Any]:
    """Call a student function (or class) with data or handles; the result as data, and a
    handle to it when it is an object."""
    mod = state.modules[module]
    target = state.symbol(mod, symbol)
    if not callable(target):
        raise StudentFault(f"`{symbol}` is a {type(target).__name__}, not a function")
    manual_seed(seed)
    result = target(*state.resolve(args or [], mod), **state.resolve(kwargs or {}, mod))
    return _reply(state, result)


@operation
def support_object(state: WorkerState, name: str, args: list[Any] | None = None,
                   kwargs: dict[str, Any] | None = None, seed: int = 0,
                   module: str | None = None) -> dict[str, Any]:
    """``support.<name>(*args, **kwargs)`` of the assignment's support code; arguments may be
    handles, or symbols of the student's ``module`` (support code that calls a student
    function itself, with nothing in between). The object stays here behind a handle."""
    target = state.support_attribute(name)
    mod = state.modules.get(module) if module else None
    manual_seed(seed)
    result = target(*state.resolve(args or [], mod), **state.resolve(kwargs or {}, mod))
    reply = _reply(state, result)
    if reply["handle"] is None:  # plain data is still an object the judge may refer to
        reply["handle"] = state.new_handle(result)
    return reply
