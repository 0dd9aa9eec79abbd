"""Compare a student's module with a reference after transplanting weights by structure.

The reference runs in the judge; the student's module runs in the worker with the very
same weights (mapped by :mod:`autograder.checks.structure`), input and loss, and the judge
compares outputs, gradients and BatchNorm statistics. When they differ, the message says
by how much and where, which matched layer is configured differently, and which known
bug (a mutant of the reference) computes exactly what the student's code computed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from autograder.checks.context import GradingContext
from autograder.checks.errors import CheckFailed
from autograder.checks.remote import RemoteModule, StudentCode
from autograder.checks.structure import Match, match_structure
from autograder.operations.introspect import loss_weights, trace_forward
from autograder.sandbox.client import StudentError
from autograder.seeding import manual_seed

_RUNNING_STATISTICS = {"running_mean": "running mean", "running_var": "running variance"}
LARGE_STATE = 200_000  # elements; larger transplants go through a memory-mapped file


def random_input(shape: tuple[int, ...], seed: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * scale


def difference_summary(actual: torch.Tensor, expected: torch.Tensor) -> str:
    diff = (actual.double() - expected.double()).abs()
    worst = int(diff.argmax())
    index, rest = [], worst
    for size in reversed(diff.shape):  # unravel the flat index by hand: torch's is slow
        rest, position = divmod(rest, size)
        index.insert(0, position)
    index = tuple(index)
    share = float((diff > 1e-4 + 1e-4 * expected.double().abs()).double().mean()) * 100
    return (f"largest difference {float(diff.max()):.4g} at index {index} (expected "
            f"{float(expected.flatten()[worst]):.4g}, got {float(actual.flatten()[worst]):.4g}); "
            f"{share:.0f}% of the values differ")


def tensors_close(actual: torch.Tensor, expected: torch.Tensor, rtol: float = 1e-4,
                  atol: float = 1e-4) -> bool:
    return (actual.shape == expected.shape
            and bool(torch.allclose(actual.double(), expected.double(), rtol=rtol, atol=atol)))


def assert_tensors_close(actual: torch.Tensor, expected: torch.Tensor, what: str,
                         hints: list[str] | None = None, rtol: float = 1e-4,
                         atol: float = 1e-4) -> None:
    """Fail with a student-readable message unless ``actual`` matches ``expected``."""
    if actual.shape != expected.shape:
        message = (f"{what} has shape {tuple(actual.shape)}, expected {tuple(expected.shape)}")
    elif not torch.isfinite(actual).all():
        message = f"{what} contains NaN or infinite values"
    elif tensors_close(actual, expected, rtol, atol):
        return
    else:
        message = f"{what} differs from the expected values: {difference_summary(actual, expected)}"
    if hints:
        message += ". " + " ".join(h[0].upper() + h[1:] + ("" if h.endswith(".") else ".")
                                   for h in hints)
    raise CheckFailed(message)


def build_traced(student: StudentCode, symbol: str, args: tuple[Any, ...],
                 kwargs: dict[str, Any], trace_shape: tuple[int, ...], shared: bool = False
                 ) -> tuple[RemoteModule, list[dict[str, Any]]]:
    """Build on the meta device (no real initialisation cost) and trace; if the student's
    code cannot run on meta, do both on the CPU. ``shared``: see ``StudentCode.build``."""
    key = ("traced", symbol, repr(args), repr(sorted(kwargs.items())), trace_shape)
    if shared and key in student.session.memo:
        return student.session.memo[key]
    try:
        remote = student.build(symbol, *args, device="meta", **kwargs)
        result = remote, remote.trace(trace_shape)
    except StudentError:
        remote = student.build(symbol, *args, **kwargs)
        result = remote, remote.trace(trace_shape)
    if shared:
        student.session.memo[key] = result
    return result


def output_shape(student: StudentCode, symbol: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                 input_shape: tuple[int, ...]) -> tuple[str, tuple[int, ...]]:
    """``(call, shape)`` of ``symbol(*args, **kwargs)`` applied to an input of ``input_shape``:
    on the meta device where the student's code allows (no compute), else on the CPU (code
    that reads values, like ``assert torch.isfinite(x).all()``, is correct too)."""
    try:
        remote = student.build(symbol, *args, device="meta", shared=True, **kwargs)
        return remote.call, tuple(remote.output_shape(input_shape))
    except StudentError:
        remote = student.build(symbol, *args, shared=True, **kwargs)
        return remote.call, tuple(remote.output_shape(input_shape))


def registered_leaves(student: StudentCode, symbol: str, args: tuple[Any, ...],
                      kwargs: dict[str, Any]) -> tuple[RemoteModule, list[dict[str, Any]]]:
    """The registered leaf modules, in registration order, without running forward."""
    remote = student.build(symbol, *args, device="meta", shared=True, **kwargs)
    return remote, remote.inventory()["leaves"]


def explain_structure(student: StudentCode, symbol: str, args: tuple[Any, ...],
                      kwargs: dict[str, Any], reference_trace: list[dict[str, Any]],
                      error: StudentError) -> None:
    """When the student's forward raises, a missing or extra layer is usually why: say so.

    Raises :class:`CheckFailed` if the registered layers differ from the reference's;
    returns (so the caller re-raises the student's error) if they match or cannot be read.
    """
    try:
        remote, leaves = registered_leaves(student, symbol, args, kwargs)
        match_structure(reference_trace, leaves, remote.call)
    except StudentError:
        return
    except CheckFailed as mismatch:
        raise CheckFailed(f"{mismatch} (Its forward pass fails as a result: {error.type}: "
                          f"{error.message})") from None


@dataclass
class ReferenceRun:
    """What a pristine reference model is and computes: plain data and tensors, so the judge
    can keep it on disk between runs of the same grader (``cache.get(..., keep=True)``)."""

    state: dict[str, torch.Tensor]  # its weights and buffers before the run
    trace: list[dict[str, Any]]
    output: torch.Tensor
    grads: dict[str, torch.Tensor]
    buffers: dict[str, torch.Tensor]

    def as_data(self) -> dict[str, Any]:
        return {"state": self.state, "trace": self.trace, "output": self.output,
                "grads": self.grads, "buffers": self.buffers}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> ReferenceRun:
        return cls(**data)


def run_reference(model: nn.Module, x: torch.Tensor, mode: str, seed: int,
                  trace_shape: tuple[int, ...]) -> ReferenceRun:
    """Trace and run a pristine reference model (the model itself is left untouched)."""
    state = {n: t.detach().clone() for n, t in model.state_dict().items()}
    trace = trace_forward(model, [random_input(trace_shape, seed)])
    work = copy.deepcopy(model)
    work.train(mode == "train")
    manual_seed(seed)
    output = work(x)
    (output * loss_weights(output.shape, 1)).sum().backward()
    grads = {n: p.grad.detach().clone() for n, p in work.named_parameters() if p.grad is not None}
    buffers = {n: b.detach().clone() for n, b in work.named_buffers()}
    return ReferenceRun(state, trace, output.detach(), grads, buffers)


def transplant(ctx: GradingContext, remote: RemoteModule,
               reference: nn.Module | Mapping[str, torch.Tensor], match: Match,
               key: str) -> dict[str, str]:
    """Load the reference's weights (a module, or its state dict) into the student's model,
    name by name as ``match`` pairs them; returns student name -> reference name."""
    names = match.transplant_names()
    state = reference.state_dict() if isinstance(reference, nn.Module) else reference
    if sum(state[r].numel() for r in names.values()) > LARGE_STATE:
        remote.load_state(file=ctx.cache.state_file(key, reference), mapping=names)
    else:
        remote.load_state(tensors={s: state[r] for s, r in names.items()})
    return names


def known_bug_hints(ctx: GradingContext, symbol: str, build: Callable[[Any], nn.Module], x: torch.Tensor,
                    mode: str, reference: nn.Module | Mapping[str, torch.Tensor],
                    student_output: torch.Tensor) -> list[str]:
    """Hints of the mutants of ``symbol`` that compute what the student's code computed."""
    hints = []
    for mutant in ctx.cache.mutants():
        if mutant.spec.symbol != symbol or not mutant.spec.hint:
            continue
        try:
            manual_seed(0)
            model = build(mutant.module())
            model.load_state_dict(reference.state_dict() if isinstance(reference, nn.Module)
                                  else reference)
            model.train(mode == "train")
            manual_seed(ctx.seed)
            with torch.no_grad():
                output = model(x)
        except Exception:  # a structural mutant cannot take these weights: not this bug
            continue
        if tensors_close(student_output, output):
            hints.append(f"this is exactly what happens when {mutant.spec.bug}: {mutant.spec.hint}")
    return hints


def _gradients_to_compare(names: dict[str, str], ref: ReferenceRun) -> list[str]:
    """All gradients of a small model; of a large one, the small tensors (every norm layer,
    the stem and the head), which depend on the whole backward pass but cost little to send."""
    with_grads = {own: r for own, r in names.items() if r in ref.grads}
    if sum(ref.grads[r].numel() for r in with_grads.values()) <= LARGE_STATE:
        return list(with_grads)
    return [own for own, r in with_grads.items() if ref.grads[r].numel() <= 16_384]


def compare_with_reference(ctx: GradingContext, student: StudentCode, symbol: str, args: tuple[Any, ...],
                           kwargs: dict[str, Any], build: Callable[[Any], nn.Module],
                           input_shape: tuple[int, ...], mode: str, key: str,
                           trace_shape: tuple[int, ...] | None = None,
                           compare_gradients: bool = True, rtol: float = 1e-4,
                           atol: float = 1e-4, diagnose: bool = True) -> None:
    """Check that ``student.<symbol>(*args, **kwargs)`` computes what ``build(reference)``
    computes, with the reference's weights transplanted by structure.

    ``build`` takes a module (the reference, a mutant, torchvision...) and returns the
    model to compare with; ``key`` names that model for the judge's caches.
    """
    trace_shape = trace_shape or input_shape
    x = random_input(input_shape, ctx.seed, scale=2.0)

    def reference_run() -> ReferenceRun:
        manual_seed(ctx.seed)
        model = build(ctx.reference(student.file))
        return run_reference(model, x, mode, ctx.seed, trace_shape)

    ref = ReferenceRun.from_data(ctx.cache.get(f"run:{key}:{mode}:{input_shape}",
                                               lambda: reference_run().as_data(), keep=True))
    try:  # shared: every comparison loads all weights and buffers before it runs
        remote, student_trace = build_traced(student, symbol, args, kwargs, trace_shape, shared=True)
    except StudentError as error:
        explain_structure(student, symbol, args, kwargs, ref.trace, error)
        raise
    match = match_structure(ref.trace, student_trace, remote.call)
    names = transplant(ctx, remote, ref.state, match, key)
    wanted = _gradients_to_compare(names, ref) if compare_gradients else []
    got = remote.forward(x, mode=mode, backward=compare_gradients, return_buffers=mode == "train",
                         grad_names=wanted)
    what = f"the output of {remote.call} in {mode} mode"
    hints = match.config_differences()
    if (diagnose and got["output"].shape == ref.output.shape
            and not tensors_close(got["output"], ref.output, rtol, atol)):
        hints += known_bug_hints(ctx, symbol, lambda m: build(m), x, mode, ref.state, got["output"])
    assert_tensors_close(got["output"], ref.output, what, hints, rtol, atol)
    for own, ref_name in names.items():
        if own in wanted:  # a gradient asked for and not sent back counts as missing
            grad = got.get("grads", {}).get(own)
            if grad is None:
                raise CheckFailed(f"in {remote.call}, no gradient reaches `{own}`: is it used in "
                                  "forward, and is the computation free of .detach() and no_grad?")
            assert_tensors_close(grad, ref.grads[ref_name], f"the gradient of `{own}` in "
                                 f"{remote.call} ({mode} mode)", rtol=rtol * 10, atol=atol * 10)
        statistic = ref_name.rsplit(".", 1)[-1]
        if mode == "train" and ref_name in ref.buffers and statistic in _RUNNING_STATISTICS:
            value = got.get("buffers", {}).get(own)
            if value is None:
                raise CheckFailed(f"in {remote.call}, `{own}` was not found after a training step")
            assert_tensors_close(value, ref.buffers[ref_name],
                                 f"the {_RUNNING_STATISTICS[statistic]} `{own}` after a training "
                                 "step", rtol=rtol, atol=atol)
