"""Grading the tests students write, as a check file uses it: one check per known bug.

The grading itself is the judge's (it runs the student's test against the reference and
each mutant in workers); a check asks for it through its context, so check files need no
import from the judge.
"""

from __future__ import annotations

from pathlib import Path

from autograder.checks.context import GradingContext
from autograder.judge.variants import load_mutant_specs


def check_student_test(ctx: GradingContext, task: str, mutant: str) -> None:
    """The check that the student's test ``task`` catches the mutant ``mutant``: passes
    when the test passes against the reference and fails against the mutant."""
    ctx.grade_student_test(task, mutant)


def check_test_passes_on_stand_in(ctx: GradingContext, task: str, solution: dict[str, str]) -> None:
    """Public feedback: the student's test ``task`` runs and passes when the module it tests
    is the assignment's support code with ``solution`` bound (module symbol -> support
    symbol, e.g. ``{"Block": "Block"}``: a correct one, public)."""
    ctx.grade_test_on_stand_in(task, solution)


def check_test_catches_published_bug(ctx: GradingContext, task: str, solution: dict[str, str],
                                     bug: dict[str, str], described: str, hint: str = "") -> None:
    """Public feedback: the student's test ``task``, passing on ``solution``, fails on the
    published bug ``bug`` (support symbols as for ``solution``); ``described``: the bug in
    a student's words ("the block forgets the shortcut"); ``hint``: how a test catches it."""
    ctx.grade_test_on_stand_in(task, solution, bug, described, hint)


def mutant_names(assignment_root: Path | str, task: str) -> list[str]:
    """Names of the mutants that grade ``task``, read when checks are collected (a check
    file parametrizes over them: one check per mutant)."""
    return [m.name for m in load_mutant_specs(Path(assignment_root)) if task in m.tests]
