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


def mutant_names(assignment_root: Path | str, task: str) -> list[str]:
    """Names of the mutants that grade ``task``, read when checks are collected (a check
    file parametrizes over them: one check per mutant)."""
    return [m.name for m in load_mutant_specs(Path(assignment_root)) if task in m.tests]
