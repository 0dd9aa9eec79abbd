"""What a check sees of the student's code: handles to objects living in a worker.

``student.build("Block", 64, 128, stride=2)`` constructs the student's class inside
the sandbox and returns a :class:`RemoteModule`; its methods send plain data in and get
plain data back. Nothing here imports or runs student code in the judge.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import torch

from autograder.sandbox.client import StudentError
from autograder.sandbox.session import StudentSession

T = TypeVar("T")


def _shown(value: Any) -> str:
    """An argument as a message shows it: a symbol or support name by its name (or the
    ``shown`` text it carries), a handle as ``model``, anything else by ``repr``."""
    if isinstance(value, dict) and value:
        if "shown" in value:
            return str(value["shown"])
        if set(value) <= {"symbol", "support", "handle"}:
            return "model" if "handle" in value else str(next(iter(value.values())))
    return repr(value)


def call_text(symbol: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """``Block(64, 128, stride=2)``, for messages."""
    shown = [_shown(a) for a in args] + [f"{k}={_shown(v)}" for k, v in kwargs.items()]
    return f"{symbol}({', '.join(shown)})"


class StudentCode:
    """The student's module ``module`` (from ``file``), reachable through the sandbox."""

    def __init__(self, session: StudentSession, module: str, file: str, seed: int,
                 path: str | None = None) -> None:
        self.session = session
        self.module = module
        self.file = file  # the assignment's file (tasks and the reference go by this name)
        self.path = path or file  # what was submitted for it: a .py file for a notebook
        self.seed = seed

    def _call(self, op: str, culprit: tuple[str, str] | None = None, **args: Any) -> Any:
        """``culprit``: the student's symbol and what of it the call runs, so that once it
        ran past its limit, later calls that need it fail at once (see StudentSession)."""
        self.session.require(self.module, self.path)
        return self.session.call(op, culprit=culprit, **args)

    def _object_call(self, op: str, culprit: tuple[str, str] | None = None, **args: Any
                     ) -> dict[str, Any]:
        """A call whose reply describes an object in the worker (``construct``, ``call``,
        ``support_object``), read as data of the shapes the operation gives: a worker writes
        whatever it likes, and a forged reply is the student's fault, not a grader error."""
        reply = self._call(op, culprit=culprit, **args)
        handle = reply.get("handle") if isinstance(reply, dict) else "missing"
        if handle is not None and type(handle) is not int:
            raise StudentError({"type": "ProtocolError", "frames": [], "fault": True,
                                "message": f"the worker's reply to {op} describes no object"})
        tensors = reply.get("tensors")
        return {"handle": handle, "type": str(reply.get("type", ""))[:200],
                "is_module": reply.get("is_module") is True, "value": reply.get("value"),
                "tensors": tensors if isinstance(tensors, dict) else {}}

    def describe(self, symbol: str) -> dict[str, Any]:
        return self._call("describe_symbol", module=self.module, symbol=symbol)

    @staticmethod
    def symbol(name: str) -> dict[str, str]:
        """An argument that stands for the student's own ``name`` (e.g. a block class)."""
        return {"symbol": name}

    @staticmethod
    def support_symbol(name: str, shown: str | None = None) -> dict[str, str]:
        """An argument that stands for ``name`` of the assignment's support code (a public
        building block, say); ``shown``: how messages name it (default: ``name``)."""
        return {"support": name} | ({"shown": shown} if shown else {})

    def build(self, symbol: str, *args: Any, device: str = "cpu", seed: int | None = None,
              shared: bool = False, **kwargs: Any) -> RemoteModule:
        """Construct ``symbol(*args, **kwargs)`` in the worker.

        ``shared=True`` reuses an earlier identical build of this submission: for checks
        that only look (shapes, counts, traces) and never change the module.
        """
        if shared:
            key = ("build", symbol, repr(args), repr(sorted(kwargs.items())), device, seed)
            if key not in self.session.memo:
                self.session.memo[key] = self.build(symbol, *args, device=device, seed=seed,
                                                    **kwargs)
            return self.session.memo[key]
        info = self._object_call("construct", culprit=(symbol, "__init__"), module=self.module,
                                 symbol=symbol, args=list(args), kwargs=kwargs, device=device,
                                 seed=self.seed if seed is None else seed)
        remote = RemoteModule(self, info["handle"], call_text(symbol, args, kwargs), info["type"],
                              symbol)
        if not info["is_module"]:
            from autograder.checks.errors import CheckFailed

            raise CheckFailed(f"{remote.call} returned a {info['type']}, not a torch.nn.Module"
                              + (" (is a `return` missing?)" if info["type"] == "NoneType" else
                                 ": the class must subclass torch.nn.Module"))
        return remote

    def instantiate(self, symbol: str, *args: Any, **kwargs: Any) -> RemoteObject:
        """Construct ``symbol(*args, **kwargs)`` in the worker, whatever it returns (a plain
        class that is not a module). Arguments may be ``remote.ref()`` of another object."""
        info = self._object_call("construct", culprit=(symbol, "__init__"), module=self.module,
                                 symbol=symbol, args=list(args), kwargs=kwargs, device="cpu",
                                 seed=self.seed)
        shown = tuple({"shown": "model"} if isinstance(a, dict) and "handle" in a else a for a in args)
        return RemoteObject(self, info["handle"], call_text(symbol, shown, kwargs), info["type"],
                            symbol)

    def _handle(self, info: dict[str, Any], call: str, origin: str | None = None
                ) -> RemoteObject | None:
        """The object behind a reply's handle (a module or any other object), if any."""
        if info.get("handle") is None:
            return None
        kind = RemoteModule if info.get("is_module") else RemoteObject
        return kind(self, info["handle"], call, info["type"], origin)

    def call(self, symbol: str, *args: Any, seed: int | None = None,
             **kwargs: Any) -> dict[str, Any]:
        """Call the student's function ``symbol(*args, **kwargs)`` in the worker.

        Arguments are data, ``remote.ref()`` of objects in the worker, ``symbol(...)`` or
        ``support_symbol(...)``. Returns ``{"value": the result as data, "type": its type
        name, "tensors": {path: {"requires_grad", "has_grad_fn", "shape"}}, "object": a
        RemoteObject/RemoteModule for the result, or None when the result is plain data}``.
        """
        info = self._object_call("call", culprit=(symbol, "call"), module=self.module,
                                 symbol=symbol, args=list(args), kwargs=kwargs,
                                 seed=self.seed if seed is None else seed)
        return {"value": info["value"], "type": info["type"], "tensors": info["tensors"],
                "object": self._handle(info, call_text(symbol, args, kwargs), symbol)}

    def support_object(self, name: str, *args: Any, seed: int | None = None,
                       **kwargs: Any) -> RemoteObject:
        """``support.<name>(*args, **kwargs)`` of the assignment's support code (``support.py``
        beside ``assignment.toml``), built in the worker for student code to use: a
        :class:`RemoteModule` when it is an ``nn.Module``, else a :class:`RemoteObject`.
        The same file can be imported in the judge (``ctx.support``) to build the same thing."""
        info = self._support(name, args, kwargs, seed)
        return self._handle(info, f"a {info['type']}")

    def once(self, key: Any, compute: Callable[[], T]) -> T:
        """``compute()`` once per submission, for every check that reads the same run of the
        student's code: its result, or the exception it ended with (a student error, a
        time-out), is kept even when the worker is replaced, so a function that hangs costs
        one time limit, not one per check. Keep plain data only: handles die with a worker."""
        store = self.session.outcomes
        if key not in store:
            try:
                store[key] = (True, compute())
            except Exception as exc:  # every check of this run reports how it ended
                store[key] = (False, exc)
        ok, value = store[key]
        if not ok:
            raise value
        return value

    def support_call(self, name: str, *args: Any, seed: int | None = None,
                     **kwargs: Any) -> dict[str, Any]:
        """``support.<name>(*args, **kwargs)`` in the worker, its result as :meth:`call`
        returns one (``value``, ``type``, ``tensors``, ``object``): for support code that
        measures something in the worker (random draws after the student seeded them, the order
        a student's loader yields). Arguments as for :meth:`call`, ``symbol(...)`` included."""
        info = self._support(name, args, kwargs, seed)
        return {"value": info["value"], "type": info["type"], "tensors": info["tensors"],
                "object": self._handle(info, f"a {info['type']}")}

    def _support(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                 seed: int | None) -> dict[str, Any]:
        return self._object_call("support_object", name=name, args=list(args), kwargs=kwargs,
                                 seed=self.seed if seed is None else seed, module=self.module)


# Operations that run the module's forward (and so hang where it hangs).
_RUNS_FORWARD = {"forward", "trace", "shapes", "train_steps"}


class RemoteObject:
    """Any object a student's code made, inside the worker, behind a handle; ``origin``:
    the student's symbol that made it (None for the assignment's support objects)."""

    def __init__(self, code: StudentCode, handle: int, call: str, type_name: str,
                 origin: str | None = None) -> None:
        self.code = code
        self.handle = handle
        self.call = call
        self.type_name = type_name
        self.origin = origin

    def _op(self, op: str, **args: Any) -> Any:
        run = "forward" if op in _RUNS_FORWARD else str(args.get("method", op))
        culprit = (self.origin, run) if self.origin else None
        return self.code._call(op, culprit=culprit, handle=self.handle, **args)

    def ref(self) -> dict[str, int]:
        """An argument standing for this object in another call."""
        return {"handle": self.handle}

    def call_method(self, method: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """``{"value": result as data, "type": ..., "tensors": {path: {"requires_grad",
        "has_grad_fn", "shape"}}}``; tensors in the value come back detached."""
        return self._op("call_method", method=method, args=list(args), kwargs=kwargs)


class RemoteModule(RemoteObject):
    """A student's ``nn.Module`` instance inside the worker."""

    def attributes(self, *names: str) -> dict[str, dict[str, Any]]:
        """What each attribute is; for a tensor its mean, std, min and max, computed here in
        the judge from the tensor the worker sent (not by code the student could replace)."""
        found = self._op("attributes", names=list(names))
        for info in found.values():
            tensor = info.pop("tensor", None)
            if isinstance(tensor, torch.Tensor) and tensor.numel() and not tensor.is_meta:
                data = tensor.detach().double()
                info.update(mean=float(data.mean()), min=float(data.min()), max=float(data.max()),
                            std=float(data.std()) if data.numel() > 1 else 0.0)
        return found

    def assign(self, tensors: dict[str, torch.Tensor]) -> None:
        """Set tensor attributes by name, registered or not (values are copied in place)."""
        self._op("assign_tensors", tensors=tensors)

    def hook_counts(self) -> dict[str, dict[str, int]]:
        return self._op("hook_counts")

    def train_steps(self, inputs: torch.Tensor, targets: torch.Tensor, steps: int = 20,
                    lr: float = 0.1) -> dict[str, Any]:
        return self._op("train_steps", inputs=inputs, targets=targets, steps=steps, lr=lr)

    def trace(self, *input_shapes: tuple[int, ...]) -> list[dict[str, Any]]:
        return self._op("trace", input_shapes=[list(s) for s in input_shapes], seed=self.code.seed)

    def inventory(self) -> dict[str, Any]:
        return self._op("inventory")

    def parameter_stats(self) -> list[dict[str, Any]]:
        """Name, owning kind, shape, mean, std, min and max of each registered parameter:
        the statistics computed here, in the judge, from the tensors the worker sent."""
        stats = []
        for entry in self._op("parameter_stats"):
            data = entry["tensor"].detach().float()
            std, mean = (torch.std_mean(data) if data.numel() > 1
                         else (torch.zeros(()), data.mean()))
            low, high = torch.aminmax(data) if data.numel() else (torch.zeros(()),) * 2
            stats.append({"name": str(entry["name"]), "kind": str(entry["kind"]),
                          "shape": list(data.shape), "mean": float(mean), "std": float(std),
                          "min": float(low), "max": float(high)})
        return stats

    def count_parameters(self) -> dict[str, int]:
        """Total and trainable parameter counts, summed here from the shapes the worker sent."""
        shapes = self._op("count_parameters")
        sizes = [(math.prod(int(n) for n in s["shape"]), s["requires_grad"] is True) for s in shapes]
        return {"total": sum(n for n, _ in sizes), "trainable": sum(n for n, t in sizes if t)}

    def output_shape(self, *input_shapes: tuple[int, ...]) -> list[int]:
        return self._op("shapes", input_shapes=[list(s) for s in input_shapes])["output_shape"]

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The module's ``state_dict()`` as tensors (detached copies)."""
        return self._op("state_dict")

    def load_state(self, tensors: dict[str, torch.Tensor] | None = None, file: str | None = None,
                   mapping: dict[str, str] | None = None) -> None:
        self._op("load_state", tensors=tensors, file=file, mapping=mapping)

    def forward(self, *inputs: torch.Tensor, mode: str = "eval", backward: bool = False,
                return_buffers: bool = False, grad_names: list[str] | None = None
                ) -> dict[str, Any]:
        return self._op("forward", inputs=list(inputs), mode=mode, backward=backward,
                        seed=self.code.seed, return_buffers=return_buffers,
                        grad_names=grad_names)

    def release(self) -> None:
        self._op("release")
