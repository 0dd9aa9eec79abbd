"""What a check sees of the student's code: handles to objects living in a worker.

``student.build("BasicBlock", 64, 128, stride=2)`` constructs the student's class inside
the sandbox and returns a :class:`RemoteModule`; its methods send plain data in and get
plain data back. Nothing here imports or runs student code in the judge.
"""

from __future__ import annotations

from typing import Any

import torch

from autograder.sandbox.session import StudentSession


def call_text(symbol: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """``BasicBlock(64, 128, stride=2)``, for messages."""
    shown = [("torchvision's " if "standard" in a else "") + next(iter(a.values()))
             if isinstance(a, dict) else repr(a) for a in args]
    shown += [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{symbol}({', '.join(shown)})"


class StudentCode:
    """The student's module ``module`` (from ``file``), reachable through the sandbox."""

    def __init__(self, session: StudentSession, module: str, file: str, seed: int,
                 path: str | None = None) -> None:
        self.session = session
        self.module = module
        self.file = file  # the assignment's file (tasks and the reference go by this name)
        self.path = path or file  # what was submitted for it: nn_module.py for nn_module.ipynb
        self.seed = seed

    def _call(self, op: str, **args: Any) -> Any:
        self.session.require(self.module, self.path)
        return self.session.call(op, **args)

    def describe(self, symbol: str) -> dict[str, Any]:
        return self._call("describe_symbol", module=self.module, symbol=symbol)

    @staticmethod
    def symbol(name: str) -> dict[str, str]:
        """An argument that stands for the student's own ``name`` (e.g. a block class)."""
        return {"symbol": name}

    @staticmethod
    def standard(name: str) -> dict[str, str]:
        """An argument that stands for a standard, public building block (torchvision's)."""
        return {"standard": name}

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
        info = self._call("construct", module=self.module, symbol=symbol, args=list(args),
                          kwargs=kwargs, device=device,
                          seed=self.seed if seed is None else seed)
        remote = RemoteModule(self, info["handle"], call_text(symbol, args, kwargs), info["type"])
        if not info["is_module"]:
            from autograder.checks.errors import CheckFailed

            raise CheckFailed(f"{remote.call} returned a {info['type']}, not a torch.nn.Module"
                              + (" (is a `return` missing?)" if info["type"] == "NoneType" else
                                 ": the class must subclass torch.nn.Module"))
        return remote

    def instantiate(self, symbol: str, *args: Any, **kwargs: Any) -> RemoteObject:
        """Construct ``symbol(*args, **kwargs)`` in the worker, whatever it returns (a plain
        class like ``FeatureExtractor``). Arguments may be ``remote.ref()`` of another object."""
        info = self._call("construct", module=self.module, symbol=symbol, args=list(args),
                          kwargs=kwargs, device="cpu", seed=self.seed)
        shown = tuple({"shown": "model"} if isinstance(a, dict) and "handle" in a else a for a in args)
        return RemoteObject(self, info["handle"], call_text(symbol, shown, kwargs), info["type"])

    def standard_model(self, name: str, seed: int,
                       state: dict[str, torch.Tensor] | None = None) -> RemoteModule:
        """A standard model (:mod:`autograder.sandbox.standard`) living in the worker, with the
        judge's weights, for student code that takes a model."""
        info = self._call("standard_model", name=name, seed=seed, state=state)
        return RemoteModule(self, info["handle"], f"a {info['type']}", info["type"])


class RemoteObject:
    """Any object a student's code made, inside the worker, behind a handle."""

    def __init__(self, code: StudentCode, handle: int, call: str, type_name: str) -> None:
        self.code = code
        self.handle = handle
        self.call = call
        self.type_name = type_name

    def _op(self, op: str, **args: Any) -> Any:
        return self.code._call(op, handle=self.handle, **args)

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
        return self._op("attributes", names=list(names))

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
        return self._op("parameter_stats")

    def count_parameters(self) -> dict[str, int]:
        return self._op("count_parameters")

    def output_shape(self, *input_shapes: tuple[int, ...]) -> list[int]:
        return self._op("shapes", input_shapes=[list(s) for s in input_shapes])["output_shape"]

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
