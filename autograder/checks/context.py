"""What a check may ask of the judge: the typed face of the judge's grading context.

Checks receive the judge's context as the ``ctx`` fixture; this protocol is all they may rely
on, so a check depends on this package and not on the judge's modules.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import torch

from autograder.checks.remote import StudentCode

T = TypeVar("T")


class MutantLike(Protocol):
    """A known bug: a variant of the reference (see ``mutants.toml``)."""

    name: str
    spec: Any  # symbol, bug, hint, tests: as mutants.toml gives them

    def module(self) -> types.ModuleType: ...


class JudgeCacheLike(Protocol):
    """What the judge keeps between submissions: values computed once per judge."""

    def get(self, key: str, compute: Callable[[], T], keep: bool = False) -> T:
        """``compute()`` once per judge; ``keep``: also on disk, for later runs of the same
        grader (the value must be JSON data and tensors, from the reference and seed alone)."""
        ...

    def state_file(self, key: str, module: torch.nn.Module | Mapping[str, torch.Tensor]) -> str: ...

    def mutants(self) -> list[Any]: ...


class GradingContext(Protocol):
    """One submission's grading, as checks see it (the ``ctx`` fixture)."""

    seed: int
    spec: Any  # the AssignmentSpec
    cache: JudgeCacheLike
    originals: dict[str, bytes]  # the submitted bytes of each file, read before any code ran

    def student(self, file: str) -> StudentCode: ...

    def reference(self, file: str) -> types.ModuleType: ...

    @property
    def support(self) -> types.ModuleType:
        """The assignment's support.py, imported in the judge (public code, no secret)."""
        ...

    def grade_test_on_stand_in(self, task: str, solution: dict[str, str],
                               bug: dict[str, str] | None = None, described: str = "",
                               hint: str = "") -> None:
        """Public feedback on the student's test ``task``, from stand-ins made of the support
        code: without ``bug``, returns when the test passes on ``solution``; with it, when the
        test also fails on ``bug`` (``described`` and ``hint``: what feedback says of it);
        else raises CheckFailed."""
        ...

    def note(self, text: str) -> None:
        """Add a remark to the running check's feedback that costs nothing: the check keeps
        its status (a passed check shows it beside its PASS)."""
        ...

    def grade_student_test(self, task: str, mutant: str) -> None:
        """Grade the student's test ``task`` against the known bug ``mutant``: returns when
        the test passes on the reference and fails on the mutant, else raises CheckFailed."""
        ...
