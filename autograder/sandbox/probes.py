"""The operations a worker performs on student code, on behalf of the judge.

Each operation takes plain data (JSON values, tensors, handles to objects living in this
worker) and returns plain data. None of them decides a verdict: the judge compares what
comes back with what the reference computes. Student objects stay here, behind integer
handles, and never cross the boundary.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

from autograder.sandbox.introspect import describe_leaf, loss_weights, torch_kind, trace_forward

OPERATIONS: dict[str, Callable[..., Any]] = {}
MAX_TEXT = 2000


class StudentFault(Exception):
    """Raised by an operation for a problem with the student's code that is not an exception
    of its own (a missing class, a forward that returns None): reported like one."""


def operation(func: Callable[..., Any]) -> Callable[..., Any]:
    OPERATIONS[func.__name__] = func
    return func


class State:
    """What this worker holds: the scratch folder, loaded modules and object handles."""

    scratch: Path = Path(".")
    modules: dict[str, Any] = {}
    objects: dict[int, Any] = {}
    next_handle: int = 1


def clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 15] + " ... (cut)"


def describe_exception(exc: BaseException) -> dict[str, Any]:
    """Type, message and the frames of the student's own files, for feedback."""
    frames = []
    scratch = str(State.scratch)
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith(scratch):
            frames.append({
                "file": Path(frame.filename).name,
                "line": frame.lineno,
                "function": frame.name,
                "code": clip(frame.line or "", 200),
            })
    if isinstance(exc, SyntaxError) and exc.filename and exc.filename.startswith(scratch):
        frames.append({"file": Path(exc.filename).name, "line": exc.lineno or 0,
                       "function": "<module>", "code": clip((exc.text or "").strip(), 200)})
    message = exc.msg if isinstance(exc, SyntaxError) else str(exc)  # the frame gives the line
    return {
        "type": type(exc).__name__,
        "message": clip(message),
        "frames": frames[-5:],
        "fault": isinstance(exc, StudentFault),
    }


def _new_handle(obj: Any) -> int:
    handle = State.next_handle
    State.next_handle += 1
    State.objects[handle] = obj
    return handle


def _object(handle: int) -> Any:
    return State.objects[handle]


class StandardBasicBlock(torchvision.models.resnet.BasicBlock):
    """torchvision's public BasicBlock behind the assignment's constructor signature.

    Passing it to a student's ``ResNet`` grades the network on its own, independent of
    the student's block.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        downsample = None
        if stride != 1 or in_channels != out_channels:
            downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels))
        super().__init__(in_channels, out_channels, stride, downsample)


STANDARD = {"BasicBlock": StandardBasicBlock}


def _resolve(value: Any, module: Any) -> Any:
    """Arguments may name a student symbol ({"symbol": "BasicBlock"}), a standard
    building block ({"standard": "BasicBlock"}) or a handle ({"handle": 3})."""
    if isinstance(value, dict):
        if set(value) == {"symbol"} and isinstance(value["symbol"], str):
            return _symbol(module, value["symbol"])
        if set(value) == {"standard"} and value["standard"] in STANDARD:
            return STANDARD[value["standard"]]
        if set(value) == {"handle"}:
            return _object(value["handle"])
        return {k: _resolve(v, module) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, module) for v in value]
    return value


def _symbol(module: Any, name: str) -> Any:
    if not hasattr(module, name):
        from autograder.sandbox.object_probes import file_label, missing_symbol_note

        raise StudentFault(f"{file_label(module)} defines no `{name}`{missing_symbol_note(module)}")
    return getattr(module, name)


@operation
def load_module(name: str, file: str) -> dict[str, Any]:
    """Import a student file under a fixed module name, from the scratch folder only."""
    path = State.scratch / file
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    State.modules[name] = module
    return {"symbols": sorted(k for k in vars(module) if not k.startswith("_"))}


def _module(name: str) -> Any:
    return State.modules[name]


@operation
def describe_symbol(module: str, symbol: str) -> dict[str, Any]:
    """Whether a symbol exists, what it is, and its call signature."""
    mod = _module(module)
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
def construct(module: str, symbol: str, args: list[Any], kwargs: dict[str, Any],
              seed: int = 0, device: str = "cpu") -> dict[str, Any]:
    """Call a student class or factory; keep the result here and return a handle."""
    mod = _module(module)
    target = _symbol(mod, symbol)
    torch.manual_seed(seed)
    with torch.device(device):
        obj = target(*_resolve(args, mod), **_resolve(kwargs, mod))
    return {
        "handle": _new_handle(obj),
        "type": type(obj).__name__,
        "is_module": isinstance(obj, nn.Module),
    }


def _module_object(handle: int) -> nn.Module:
    obj = _object(handle)
    if not isinstance(obj, nn.Module):
        raise StudentFault(f"{type(obj).__name__} is not a torch.nn.Module")
    return obj


@operation
def release(handle: int) -> None:
    State.objects.pop(handle, None)


@operation
def trace(handle: int, input_shapes: list[list[int]], seed: int = 0) -> list[dict[str, Any]]:
    """The leaves that run in a forward pass on random inputs of the given shapes.

    A model built on the meta device is first given (zeroed) CPU storage: CPU kernels on
    small inputs are faster than meta's Python shape functions, and values do not matter.
    """
    model = _module_object(handle)
    _materialize(model)
    device = _device_of(model)
    generator = torch.Generator().manual_seed(seed)
    inputs = [torch.randn(shape, generator=generator).to(device) for shape in input_shapes]
    return trace_forward(model, inputs)


def _device_of(model: nn.Module) -> torch.device:
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")


@operation
def inventory(handle: int) -> dict[str, Any]:
    """Registered parameters, buffers and submodules, by name, with shapes."""
    model = _module_object(handle)
    return {
        "parameters": [
            {"name": n, "shape": list(p.shape), "requires_grad": p.requires_grad,
             "is_parameter": isinstance(p, nn.Parameter)}
            for n, p in model.named_parameters()
        ],
        "buffers": [{"name": n, "shape": list(b.shape)} for n, b in model.named_buffers()],
        "modules": [
            {"name": n, "type": type(m).__name__,
             "kind": torch_kind(m)}
            for n, m in model.named_modules()
        ],
        "leaves": [describe_leaf(m, n, True) | {"producer": None}
                   for n, m in model.named_modules() if not any(True for _ in m.children())],
        "state_dict_keys": list(model.state_dict().keys()),
        "training": model.training,
    }


def _materialize(model: nn.Module) -> None:
    """Give a meta-device model zeroed CPU storage (no initialisation cost)."""
    if any(t.is_meta for t in list(model.parameters()) + list(model.buffers())):
        model.to_empty(device="cpu")
        with torch.no_grad():
            for tensor in list(model.parameters()) + list(model.buffers()):
                tensor.zero_()


@operation
def load_state(handle: int, tensors: dict[str, torch.Tensor] | None = None,
               file: str | None = None, mapping: dict[str, str] | None = None) -> None:
    """Put given values into the model's parameters and buffers, by the model's own names.

    Anything the judge does not set is zero, so results are deterministic.
    ``file`` + ``mapping`` (own name -> key in file) avoids sending large tensors.
    """
    model = _module_object(handle)
    values = dict(tensors or {})
    if file is not None:
        stored = torch.load(file, mmap=True, weights_only=True)
        values.update({own: stored[key] for own, key in (mapping or {}).items()})
    _materialize(model)
    own = dict(model.named_parameters())
    own.update(dict(model.named_buffers()))
    with torch.no_grad():
        for name, tensor in own.items():
            if name in values:
                tensor.copy_(values[name].to(tensor.dtype))
            else:
                tensor.zero_()


@operation
def forward(handle: int, inputs: list[torch.Tensor], mode: str = "eval",
            backward: bool = False, seed: int = 0, return_buffers: bool = False,
            grad_seed: int = 1, grad_names: list[str] | None = None) -> dict[str, Any]:
    """Run the model; optionally backpropagate a fixed random projection of the output.

    ``grad_names`` limits which parameters' gradients come back (all by default).
    """
    model = _module_object(handle)
    model.train(mode == "train")
    torch.manual_seed(seed)
    inputs = [x.clone().requires_grad_(backward and x.is_floating_point()) for x in inputs]
    if backward:
        for p in model.parameters():
            p.grad = None
    output = model(*inputs)
    if not isinstance(output, torch.Tensor):
        raise StudentFault(
            f"forward returned {type(output).__name__}, not a tensor"
            + (" (is a `return` missing?)" if output is None else ""))
    result: dict[str, Any] = {"output": output.detach()}
    if backward:
        if not output.requires_grad:
            raise StudentFault("the output is not connected to the autograd graph "
                               "(was it detached, or computed under torch.no_grad()?)")
        (output * loss_weights(output.shape, grad_seed).to(output.dtype)).sum().backward()
        result["grads"] = {
            n: (p.grad.detach() if p.grad is not None else None)
            for n, p in model.named_parameters() if grad_names is None or n in grad_names
        }
        result["input_grads"] = [x.grad for x in inputs]
    if return_buffers:
        result["buffers"] = {n: b.detach() for n, b in model.named_buffers()}
    return result


@operation
def parameter_stats(handle: int) -> list[dict[str, Any]]:
    """Summary statistics of each parameter with the module kind that owns it."""
    model = _module_object(handle)
    stats = []
    for module_name, module in model.named_modules():
        for name, p in module.named_parameters(recurse=False):
            data = p.detach().float()
            std, mean = torch.std_mean(data) if data.numel() > 1 else (torch.zeros(()), data.mean())
            low, high = torch.aminmax(data)
            stats.append({
                "name": f"{module_name}.{name}" if module_name else name,
                "kind": torch_kind(module),
                "shape": list(p.shape),
                "mean": float(mean),
                "std": float(std),
                "min": float(low),
                "max": float(high),
            })
    return stats


@operation
def shapes(handle: int, input_shapes: list[list[int]]) -> dict[str, Any]:
    """Output shape of a forward pass, computed on the meta device where possible."""
    model = _module_object(handle)
    device = _device_of(model)
    inputs = [torch.empty(shape, device=device) for shape in input_shapes]
    model.eval()
    with torch.no_grad():
        output = model(*inputs)
    if not isinstance(output, torch.Tensor):
        raise StudentFault(f"forward returned {type(output).__name__}, not a tensor")
    return {"output_shape": list(output.shape)}


@operation
def count_parameters(handle: int) -> dict[str, Any]:
    model = _module_object(handle)
    params = list(model.parameters())
    return {"total": sum(p.numel() for p in params),
            "trainable": sum(p.numel() for p in params if p.requires_grad)}


# pytest.skip() and pytest.xfail() in a student's test: neither a pass nor a failure.
_SKIP_EXCEPTIONS = ("Skipped", "XFailed")


def _test_failure(exc: BaseException, file: str) -> dict[str, Any]:
    """An exception from a student's test, with the frames of the test file only (never of
    the module under test, which may be the reference)."""
    info = describe_exception(exc)
    info["frames"] = [f for f in info["frames"] if f["file"] == Path(file).name]
    info["builtin"] = type(exc).__module__ == "builtins"
    return info


def _call_student_test(func: Any, file: str, seed: int) -> dict[str, Any]:
    import random
    import time

    line = getattr(getattr(func, "__code__", None), "co_firstlineno", None)
    # Every test starts from the same state whatever ran before it, so its outcome depends
    # only on the module under test (the judge runs subsets of tests against mutants).
    torch.manual_seed(seed)
    random.seed(seed)
    torch.set_grad_enabled(True)
    started = time.perf_counter()
    try:
        if not callable(func):
            raise StudentFault(f"`{getattr(func, '__name__', 'the test')}` is not a function")
        if inspect.iscoroutinefunction(func):
            raise StudentFault("the test is an async function; write a plain `def` test")
        try:
            required = [p.name for p in inspect.signature(func).parameters.values()
                        if p.default is inspect.Parameter.empty
                        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        except (TypeError, ValueError):
            required = []
        if required:
            raise StudentFault(f"the test takes arguments ({', '.join(required)}); it is called "
                               "without any, so pytest fixtures are not available")
        func()
        result: dict[str, Any] = {"status": "passed"}
    except BaseException as exc:  # SystemExit and KeyboardInterrupt from a test are failures too
        status = ("failed" if isinstance(exc, AssertionError) else
                  "skipped" if type(exc).__name__ in _SKIP_EXCEPTIONS else "error")
        result = {"status": status, **_test_failure(exc, file)}
    result.update(line=line, seconds=round(time.perf_counter() - started, 4))
    return result


@operation
def run_tests(module: str, file: str, tests: list[str], seed: int = 0) -> dict[str, Any]:
    """Import a student's test file and call the named test functions directly.

    Not through pytest: pytest would load a ``conftest.py``, ini file or plugin that came
    with the submission, and a plugin can rewrite any outcome. Called directly, a test
    passes when it returns and fails when it raises, nothing else. The reply is data per
    test (status, exception type, message, the test file's own frames); the judge alone
    decides what an outcome is worth. The module under test must be loaded first (it is
    whichever variant the judge put in this worker's folder).
    """
    test_module = State.modules.get(module)
    if test_module is None:
        try:
            load_module(module, file)
        except BaseException as exc:  # a broken test file: every test in it fails to run
            info = _test_failure(exc, file)
            return {name: {**info, "status": "import_error", "line": None, "seconds": 0.0}
                    for name in tests}
        test_module = State.modules[module]
    results = {}
    for name in tests:
        if not hasattr(test_module, name):
            results[name] = {"status": "missing", "line": None, "seconds": 0.0}
        else:
            results[name] = _call_student_test(getattr(test_module, name), file, seed)
    return results


# Notebook and object operations register themselves; imported here so the zygote preloads them.
from autograder.sandbox import object_probes as _object_probes  # noqa: E402, F401
