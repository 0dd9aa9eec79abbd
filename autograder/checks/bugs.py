"""Name the known bug a student's code behaves like, for any function, not only modules.

A mutant (``mutants.toml``) is the reference with one known bug. When a check finds that the
student's code computed something other than the reference, it can run each mutant of the
same symbol in the judge on the same inputs; a mutant that gives what the student's code gave
(the same weights after a training loop, the same error message, the same draws) is very
likely the student's bug, and its ``bug`` and ``hint`` say so in the student's words.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from autograder.checks.context import GradingContext
from autograder.sandbox.client import StudentError


@dataclass(frozen=True)
class Raised:
    """What a mutant's run ended with when it raised instead of returning."""

    type: str
    message: str


def known_bugs_like(ctx: GradingContext, symbols: str | Iterable[str], key: str,
                    run: Callable[[types.ModuleType], Any],
                    matches: Callable[[Any], bool]) -> list[str]:
    """Hints of the mutants of ``symbols`` whose ``run(mutant module)`` gives a result that
    ``matches`` accepts. A run that raises gives :class:`Raised`. Each mutant's result is
    computed once per judge under ``key`` (it depends on the check's inputs, not on the
    student), so diagnosing a whole class costs one run per mutant."""
    wanted = {symbols} if isinstance(symbols, str) else set(symbols)
    hints = []
    for mutant in ctx.cache.mutants():
        if mutant.spec.symbol not in wanted or not mutant.spec.hint:
            continue

        def result(mutant: Any = mutant) -> Any:
            try:
                return run(mutant.module())
            except Exception as exc:  # trusted code: any error it raises is its result
                return Raised(type(exc).__name__, str(exc))

        if matches(ctx.cache.get(f"known-bug:{mutant.name}:{key}", result)):
            hints.append(f"this is exactly what happens when {mutant.spec.bug}: {mutant.spec.hint}")
    return hints


def same_error(error: StudentError) -> Callable[[Any], bool]:
    """A ``matches`` for :func:`known_bugs_like`: the mutant raised what the student's code
    raised (same exception type and message)."""
    return lambda result: (isinstance(result, Raised) and result.type == error.type
                           and result.message == error.message)


def with_hints(message: str, hints: list[str]) -> str:
    """``message``, then each hint as a sentence of its own."""
    return message + "".join(f". {h[0].upper()}{h[1:]}" for h in hints if h) if hints else message
