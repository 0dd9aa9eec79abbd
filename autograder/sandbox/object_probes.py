"""Worker operations for notebooks and for student objects beyond "build and run a module".

``load_notebook`` runs a submitted notebook's code cells (see :mod:`autograder.sandbox.cells`);
the others call methods of arbitrary student objects (a ``FeatureExtractor``), look at
attributes that may or may not be registered, count hooks and run a few optimiser steps.
Like every operation they return plain data; the judge decides.

Imported at the end of :mod:`autograder.sandbox.probes`, so the zygote preloads it.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import torch
import torch._dynamo  # noqa: F401  (torchvision loads it too; an optimiser needs it: ~1 s if not preloaded)
from torch import nn

from autograder.sandbox import cells, standard
from autograder.sandbox.probes import (
    State,
    StudentFault,
    _module_object,
    _new_handle,
    _object,
    _resolve,
    describe_exception,
    operation,
)

MAX_CELL_RECORDS = 20
PROGRESS_FILE = ".notebook-progress"  # the code cell running now, for the judge's messages
# Failed cells of each loaded notebook, by module name: for "defines no X" messages.
NOTEBOOK_FAILURES: dict[str, list[dict[str, Any]]] = {}


@operation
def load_notebook(name: str, file: str, cell_seconds: float = 10.0,
                  skip_cells: list[int] | None = None,
                  budget_seconds: float | None = None) -> dict[str, Any]:
    """Run the notebook's code cells in order as module ``name``; report cells that failed.

    The namespace is ``__main__``, as in Jupyter. Cells in ``skip_cells`` (those that ran
    out of time in an earlier worker) are not run again. ``budget_seconds``: the time all
    cells may take (see :func:`autograder.sandbox.cells.run_cells`).
    """
    path = State.scratch / file
    sources = cells.read_code_cells(path)
    module = types.ModuleType("__main__")
    module.__file__ = str(path)
    sys.modules[name] = module
    sys.modules["__main__"] = module
    records = cells.run_cells(sources, module, str(path), cell_seconds=cell_seconds,
                              skip=set(skip_cells or []), describe=describe_exception,
                              progress=State.scratch / PROGRESS_FILE,
                              budget_seconds=budget_seconds)
    State.modules[name] = module
    NOTEBOOK_FAILURES[name] = [r for r in records if r["status"] in ("error", "timeout")]
    return {"symbols": sorted(k for k in vars(module) if not k.startswith("_")),
            "code_cells": len(sources), "records": records[:MAX_CELL_RECORDS],
            "more_records": max(0, len(records) - MAX_CELL_RECORDS)}


def missing_symbol_note(module: Any) -> str:
    """Why a notebook may lack a definition: the cells that failed when it ran."""
    failures = next((v for k, v in NOTEBOOK_FAILURES.items() if State.modules.get(k) is module), [])
    if not failures:
        return ""
    shown = ", ".join(str(r["cell"]) for r in failures[:5])
    return (f" (when the notebook ran, code cell{'s' if len(failures) > 1 else ''} {shown} "
            "failed: is the definition in one of them?)")


@operation
def standard_model(name: str, seed: int = 0,
                   state: dict[str, torch.Tensor] | None = None) -> dict[str, Any]:
    """Build a standard model (see :mod:`autograder.sandbox.standard`) with the judge's weights."""
    model = standard.build(name, seed)
    if state is not None:
        model.load_state_dict(state)
    return {"handle": _new_handle(model), "type": type(model).__name__, "is_module": True}


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
def call_method(handle: int, method: str, args: list[Any] | None = None,
                kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """``obj.method(*args, **kwargs)``; arguments may name handles ({"handle": n})."""
    obj = _object(handle)
    target = getattr(obj, method, None)
    if target is None or not callable(target):
        raise StudentFault(f"{type(obj).__name__} has no method `{method}`")
    result = target(*_resolve(args or [], None), **_resolve(kwargs or {}, None))
    tensors: dict[str, dict[str, Any]] = {}
    value = _plain(result, "", tensors)
    return {"value": value, "type": type(result).__name__, "tensors": tensors}


@operation
def attributes(handle: int, names: list[str]) -> dict[str, Any]:
    """What each named attribute of a module is: missing, None, a registered Parameter or
    buffer, a plain tensor (with summary statistics), or something else."""
    model = _module_object(handle)
    result = {}
    for name in names:
        info: dict[str, Any] = {"exists": hasattr(model, name),
                                "registered_parameter": name in dict(model.named_parameters()),
                                "registered_buffer": name in dict(model.named_buffers()),
                                "in_parameter_slots": name in model._parameters}
        if info["exists"]:
            value = getattr(model, name)
            info["type"] = type(value).__name__
            info["is_none"] = value is None
            info["is_parameter"] = isinstance(value, nn.Parameter)
            if isinstance(value, torch.Tensor):
                data = value.detach().double()
                info.update(is_tensor=True, shape=list(value.shape),
                            requires_grad=bool(value.requires_grad))
                if data.numel():
                    info.update(mean=float(data.mean()), min=float(data.min()),
                                max=float(data.max()),
                                std=float(data.std()) if data.numel() > 1 else 0.0)
        result[name] = info
    return result


@operation
def assign_tensors(handle: int, tensors: dict[str, torch.Tensor]) -> None:
    """Copy values into existing tensor attributes (registered or not), in place."""
    model = _module_object(handle)
    with torch.no_grad():
        for name, value in tensors.items():
            current = getattr(model, name, None)
            if not isinstance(current, torch.Tensor):
                what = "has no attribute" if not hasattr(model, name) else "has no tensor attribute"
                raise StudentFault(f"{type(model).__name__} {what} `{name}`")
            if tuple(current.shape) != tuple(value.shape):
                raise StudentFault(f"`{name}` has shape {tuple(current.shape)}, expected "
                                   f"{tuple(value.shape)}")
            current.copy_(value.to(current.dtype))


@operation
def hook_counts(handle: int) -> dict[str, dict[str, int]]:
    """Hooks registered on each module of a model (modules without hooks left out)."""
    model = _module_object(handle)
    kinds = {"forward": "_forward_hooks", "forward_pre": "_forward_pre_hooks",
             "backward": "_backward_hooks", "backward_pre": "_backward_pre_hooks"}
    counts = {}
    for name, module in model.named_modules():
        found = {kind: len(getattr(module, attr, {}) or {}) for kind, attr in kinds.items()}
        found = {k: v for k, v in found.items() if v}
        if found:
            counts[name or "<model>"] = found
    hooks = torch.nn.modules.module
    global_count = len(hooks._global_forward_hooks) + len(hooks._global_forward_pre_hooks)
    if global_count:
        counts["<global>"] = {"forward": global_count}
    return counts


@operation
def train_steps(handle: int, inputs: torch.Tensor, targets: torch.Tensor, steps: int = 20,
                lr: float = 0.1) -> dict[str, Any]:
    """Plain SGD on the mean squared error; the loss before each step and at the end."""
    model = _module_object(handle)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise StudentFault(f"{type(model).__name__} has no trainable parameters, so an optimiser "
                           "has nothing to update (are they nn.Parameter attributes?)")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimiser = torch.optim.SGD(params, lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        optimiser.zero_grad()
        output = model(inputs)
        if not isinstance(output, torch.Tensor):
            raise StudentFault(f"forward returned {type(output).__name__}, not a tensor")
        loss = nn.functional.mse_loss(output, targets)
        losses.append(float(loss))
        if not loss.requires_grad:
            break
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        output = model(inputs)
        losses.append(float(nn.functional.mse_loss(output, targets)))
    changed = {n: not torch.equal(p.detach(), before[n]) for n, p in model.named_parameters()}
    return {"losses": losses, "changed": changed}


def file_label(module: Any) -> str:
    """The submitted file a module came from, for messages."""
    return Path(getattr(module, "__file__", "") or f"{module.__name__}.py").name
