"""Checks on a module's own tensors, by the names an exercise's interface fixes.

Used where the interface names the tensors (``weight``, ``learned_mean``): a check can then
say exactly what is wrong with one ("a plain tensor, not an nn.Parameter") instead of only
noticing that the module misbehaves.
"""

from __future__ import annotations

from typing import Any

import torch

from autograder.checks.errors import CheckFailed
from autograder.checks.remote import RemoteModule
from autograder.sandbox.client import StudentError


def shape_text(shape: tuple[int, ...] | list[int]) -> str:
    """``(3, 7)``, or ``(3,)`` for one dimension."""
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def unregistered_layers(module: RemoteModule, input_shape: tuple[int, ...]) -> list[dict[str, Any]]:
    """Layers with parameters that run in forward but are not registered (a Python list)."""
    try:
        trace = module.trace(input_shape)
    except StudentError:
        return []
    return [leaf for leaf in trace if not leaf["registered"] and leaf["params"]]


def require_parameter(module: RemoteModule, info: dict[str, Any], name: str,
                      shape: tuple[int, ...], shape_meaning: str = "",
                      input_shape: tuple[int, ...] | None = None) -> None:
    """Fail with what is wrong with attribute ``name`` (an entry of ``module.attributes``)
    unless it is a registered nn.Parameter of ``shape`` that requires gradients.

    ``input_shape``: when the attribute is missing, trace a forward pass on such an input to
    tell whether the module hides its layers in a Python list.
    """
    attribute = info[name]
    where = f"{module.call}.{name}"
    if not attribute["exists"]:
        hidden = unregistered_layers(module, input_shape) if input_shape else []
        if hidden:
            raise CheckFailed(
                f"{module.call} has no attribute `{name}`, and its forward runs a "
                f"{hidden[0]['kind']} layer kept in a plain Python list, which nn.Module does "
                "not register: its parameters are invisible to .parameters(), the optimiser and "
                f"state_dict(). Create the parameters yourself: self.{name} = nn.Parameter(...)")
        raise CheckFailed(f"{module.call} has no attribute `{name}`: create it in __init__ as "
                          f"self.{name} = nn.Parameter(...) of shape {shape_text(shape)}")
    if attribute.get("is_none"):
        raise CheckFailed(f"{where} is None; it must be an nn.Parameter of shape {shape_text(shape)}")
    if not attribute.get("is_tensor"):
        raise CheckFailed(f"{where} is a {attribute['type']}, not an nn.Parameter")
    if not attribute["registered_parameter"]:
        if attribute["registered_buffer"]:
            raise CheckFailed(f"{where} is registered as a buffer, so no optimiser ever updates "
                              "it: make it an nn.Parameter")
        raise CheckFailed(f"{where} is a plain tensor, not an nn.Parameter, so the module does not "
                          "register it: .parameters(), the optimiser and state_dict() never see "
                          f"it. Wrap it: self.{name} = nn.Parameter(...)")
    if tuple(attribute["shape"]) != tuple(shape):
        meaning = f" = {shape_meaning}" if shape_meaning else ""
        raise CheckFailed(f"{where} has shape {shape_text(attribute['shape'])}; it must be "
                          f"{shape_text(shape)}{meaning}")
    if not attribute["requires_grad"]:
        raise CheckFailed(f"{where} does not require gradients (requires_grad=False), so it "
                          "cannot be trained")


def assign_or_fail(module: RemoteModule, values: dict[str, torch.Tensor], expected: str) -> None:
    """Set the module's tensors by name; ``expected`` says what the interface asks for."""
    try:
        module.assign(values)
    except StudentError as exc:
        raise CheckFailed(f"the check could not set the tensors of {module.call}: {exc.message}. "
                          f"{expected}") from None


def forward_backward(module: RemoteModule, x: torch.Tensor) -> dict[str, Any]:
    """``module.forward(x, backward=True)``; a forward that returns no usable tensor fails
    the check with the worker's explanation."""
    try:
        return module.forward(x, backward=True)
    except StudentError as exc:
        if exc.info.get("fault"):
            raise CheckFailed(f"{module.call}: {exc.message}") from None
        raise
