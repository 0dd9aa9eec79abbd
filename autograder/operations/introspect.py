"""Describe a module's structure as plain data: the leaves that run in a forward pass.

Used on both sides of the trust boundary: in the worker on the student's model, and in the
judge on the reference, so the two traces are made by the same code and can be matched.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

_CONFIG_ATTRIBUTES = (
    "in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
    "in_features", "out_features", "num_features", "eps", "momentum", "affine",
    "track_running_stats", "inplace", "output_size", "normalized_shape",
)


def torch_kind(module: nn.Module) -> str:
    """The first ``torch.nn`` class in the module's ancestry (``Conv2d`` for a subclass)."""
    for cls in type(module).__mro__:
        if cls.__module__.startswith("torch.nn.modules"):
            return cls.__name__
    return type(module).__name__


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return str(value)


def module_config(module: nn.Module) -> dict[str, Any]:
    config = {}
    for name in _CONFIG_ATTRIBUTES:
        if name in module.__dict__ or hasattr(type(module), name):
            try:
                config[name] = _jsonable(getattr(module, name))
            except Exception:  # a property that raises is simply not reported
                continue
    if "bias" in module._parameters or hasattr(module, "bias"):
        config["has_bias"] = getattr(module, "bias", None) is not None
    return config


def describe_leaf(module: nn.Module, name: str, registered: bool) -> dict[str, Any]:
    return {
        "name": name,
        "kind": torch_kind(module),
        "type": type(module).__name__,
        "registered": registered,
        "config": module_config(module),
        "params": {
            n: list(p.shape) for n, p in module._parameters.items() if p is not None
        },
        "buffers": {n: list(b.shape) for n, b in module._buffers.items() if b is not None},
    }


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        for item in value:
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


def trace_forward(model: nn.Module, inputs: list[torch.Tensor]) -> list[dict[str, Any]]:
    """Run ``model(*inputs)`` and record, in order, every leaf module that ran.

    Each record holds the leaf's name, torch kind, configuration, parameter and buffer
    shapes, its output shape and ``producer``: the index of the record whose output was
    this leaf's input (None when the input came from elsewhere). A global hook sees
    modules that run but were never registered (layers kept in a Python list).
    """
    names = {id(m): n for n, m in model.named_modules()}
    records: list[dict[str, Any]] = []
    produced_by: dict[int, int] = {}
    keep_alive: list[torch.Tensor] = []  # ids are only unique while tensors live

    def hook(module: nn.Module, args: Any, output: Any) -> None:
        if any(True for _ in module.children()):
            return
        record = describe_leaf(module, names.get(id(module), ""), id(module) in names)
        source = _first_tensor(args)
        record["producer"] = produced_by.get(id(source)) if source is not None else None
        result = _first_tensor(output)
        record["output_shape"] = list(result.shape) if result is not None else None
        records.append(record)
        if result is not None:
            produced_by[id(result)] = len(records) - 1
            keep_alive.append(result)

    handle = torch.nn.modules.module.register_module_forward_hook(hook)
    training = model.training
    model.eval()  # structure does not depend on the mode, and eval works on a batch of one
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        handle.remove()
        model.train(training)
    return records


def loss_weights(shape: torch.Size | list[int], seed: int) -> torch.Tensor:
    """Fixed random weights whose dot product with an output is the loss to backpropagate.

    Judge and worker both call this, so gradients are comparable.
    """
    return torch.randn(list(shape), generator=torch.Generator().manual_seed(seed))
