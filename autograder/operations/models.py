"""Operations on a student's ``nn.Module`` inside the worker: trace, inspect, load weights,
run forward and backward, read parameter statistics, hooks and a few training steps.

Each takes the worker's :class:`~autograder.operations.state.WorkerState` and plain data and
returns plain data; the judge compares it with what the reference computes.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from autograder.operations.introspect import describe_leaf, loss_weights, torch_kind, trace_forward
from autograder.operations.registry import StudentFault, operation
from autograder.operations.state import WorkerState
from autograder.seeding import manual_seed


@operation
def trace(state: WorkerState, handle: int, input_shapes: list[list[int]],
          seed: int = 0) -> list[dict[str, Any]]:
    """The leaves that run in a forward pass on random inputs of the given shapes.

    A model built on the meta device is first given (zeroed) CPU storage: CPU kernels on
    small inputs are faster than meta's Python shape functions, and values do not matter.
    """
    model = state.module_object(handle)
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
def inventory(state: WorkerState, handle: int) -> dict[str, Any]:
    """Registered parameters, buffers and submodules, by name, with shapes."""
    model = state.module_object(handle)
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
def load_state(state: WorkerState, handle: int, tensors: dict[str, torch.Tensor] | None = None,
               file: str | None = None, mapping: dict[str, str] | None = None) -> None:
    """Put given values into the model's parameters and buffers, by the model's own names.

    Anything the judge does not set is zero, so results are deterministic.
    ``file`` + ``mapping`` (own name -> key in file) avoids sending large tensors.
    """
    model = state.module_object(handle)
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
def state_dict(state: WorkerState, handle: int) -> dict[str, torch.Tensor]:
    """The module's ``state_dict()``, detached (tensors travel as data, see the protocol)."""
    model = state.module_object(handle)
    return {name: tensor.detach() for name, tensor in model.state_dict().items()}


@operation
def forward(state: WorkerState, handle: int, inputs: list[torch.Tensor], mode: str = "eval",
            backward: bool = False, seed: int = 0, return_buffers: bool = False,
            grad_seed: int = 1, grad_names: list[str] | None = None) -> dict[str, Any]:
    """Run the model; optionally backpropagate a fixed random projection of the output.

    ``grad_names`` limits which parameters' gradients come back (all by default).
    """
    model = state.module_object(handle)
    model.train(mode == "train")
    manual_seed(seed)
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


def registered_parameters(model: nn.Module) -> list[tuple[str, nn.Module, torch.Tensor]]:
    """(dotted name, owning module, parameter) of each registered parameter, once each, in
    ``named_parameters`` order, read from the modules' own ``_parameters`` and ``_modules``
    dictionaries: not through ``parameters()``/``named_modules()``, which student code may
    have replaced (on its class or on nn.Module itself)."""
    found: list[tuple[str, nn.Module, torch.Tensor]] = []
    seen_modules: set[int] = set()
    seen_parameters: set[int] = set()

    def walk(prefix: str, module: nn.Module) -> None:
        if id(module) in seen_modules:
            return
        seen_modules.add(id(module))
        own = object.__getattribute__(module, "__dict__")
        for name, parameter in dict(own.get("_parameters") or {}).items():
            if isinstance(parameter, torch.Tensor) and id(parameter) not in seen_parameters:
                seen_parameters.add(id(parameter))
                found.append((prefix + name, module, parameter))
        for name, child in dict(own.get("_modules") or {}).items():
            if isinstance(child, nn.Module):
                walk(f"{prefix}{name}.", child)

    walk("", model)
    return found


@operation
def parameter_stats(state: WorkerState, handle: int) -> list[dict[str, Any]]:
    """Each registered parameter's tensor with the kind of module that owns it. The judge
    computes the statistics (see RemoteModule.parameter_stats), so a student's replaced
    ``Tensor.std`` or ``torch.std_mean`` changes nothing."""
    model = state.module_object(handle)
    return [{"name": name, "kind": torch_kind(module), "tensor": torch.Tensor.detach(p)}
            for name, module, p in registered_parameters(model)]


@operation
def shapes(state: WorkerState, handle: int, input_shapes: list[list[int]]) -> dict[str, Any]:
    """Output shape of a forward pass, computed on the meta device where possible.

    Off the meta device the inputs are seeded random values, never ``torch.empty``: its
    uninitialised memory can hold NaN or inf, which a correct forward may refuse.
    """
    model = state.module_object(handle)
    device = _device_of(model)
    if device.type == "meta":
        inputs = [torch.empty(shape, device=device) for shape in input_shapes]
    else:
        generator = torch.Generator().manual_seed(0)
        inputs = [torch.randn(shape, generator=generator).to(device) for shape in input_shapes]
    model.eval()
    with torch.no_grad():
        output = model(*inputs)
    if not isinstance(output, torch.Tensor):
        raise StudentFault(f"forward returned {type(output).__name__}, not a tensor")
    return {"output_shape": list(output.shape)}


@operation
def count_parameters(state: WorkerState, handle: int) -> list[dict[str, Any]]:
    """The shape of each registered parameter and whether it is trained; the judge counts
    (see RemoteModule.count_parameters)."""
    model = state.module_object(handle)
    return [{"shape": list(p.shape), "requires_grad": bool(p.requires_grad)}
            for _, _, p in registered_parameters(model)]


@operation
def attributes(state: WorkerState, handle: int, names: list[str]) -> dict[str, Any]:
    """What each named attribute of a module is: missing, None, a registered Parameter or
    buffer, a plain tensor (sent as it is), or something else."""
    model = state.module_object(handle)
    registered = {name for name, _, _ in registered_parameters(model)}
    result = {}
    for name in names:
        info: dict[str, Any] = {"exists": hasattr(model, name),
                                "registered_parameter": name in registered,
                                "registered_buffer": name in dict(model.named_buffers()),
                                "in_parameter_slots": name in model._parameters}
        if info["exists"]:
            value = getattr(model, name)
            info["type"] = type(value).__name__
            info["is_none"] = value is None
            info["is_parameter"] = isinstance(value, nn.Parameter)
            if isinstance(value, torch.Tensor):  # statistics: the judge's (RemoteModule)
                info.update(is_tensor=True, shape=list(value.shape),
                            requires_grad=bool(value.requires_grad),
                            tensor=torch.Tensor.detach(value))
        result[name] = info
    return result


@operation
def assign_tensors(state: WorkerState, handle: int, tensors: dict[str, torch.Tensor]) -> None:
    """Copy values into existing tensor attributes (registered or not), in place."""
    model = state.module_object(handle)
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
def hook_counts(state: WorkerState, handle: int) -> dict[str, dict[str, int]]:
    """Hooks registered on each module of a model (modules without hooks left out)."""
    model = state.module_object(handle)
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
def train_steps(state: WorkerState, handle: int, inputs: torch.Tensor, targets: torch.Tensor, steps: int = 20,
                lr: float = 0.1) -> dict[str, Any]:
    """Plain SGD on the mean squared error; the loss before each step and at the end."""
    model = state.module_object(handle)
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
