"""Public feedback on a student's own test: does it run and pass on a correct solution, and
does it catch one published bug? What `autograder check` can say before the hidden checks.

The hidden checks grade a test against the reference and the mutants, none of which a
student's copy of the grader holds. These checks use only the assignment's public support
code: a check names which support symbols stand in for the module the test imports (a
correct solution: ``{"Block": "Block"}``; a published bug: ``{"Block": "BlockWithoutSkip"}``).
The stand-in module is the support code itself with those names bound, written under the
module's own name beside the student's test, in a worker of its own (see
:func:`autograder.judge.mutation.run_variant`). Nothing in it is secret, so what the test
raised is shown in full.

Cost: one worker runs every test of the file on the correct stand-in, one more per
published bug runs the one test it is for; the outcomes are cached per test file, so an
unchanged file runs once per judge.
"""

from __future__ import annotations

import hashlib
from typing import Any

from autograder.checks.errors import CheckFailed
from autograder.judge.mutation import (
    MIN_MUTANT_SECONDS,
    MUTANT_SLOWDOWN,
    StudentTestOutcome,
    not_run_by_pytest,
    reference_failure,
    run_variant,
    variant_sandbox,
)
from autograder.spec import AssignmentSpec


def _stand_in_file(spec: AssignmentSpec, task: str, stand_in: dict[str, str]) -> str:
    """The file the stand-in replaces: the one of the task named like a bound symbol (the
    tasks of a test's subject are named after it), else the first file that is not the
    test's own."""
    test_file = spec.task(task).file
    named = [t.file for t in spec.tasks if t.name in stand_in and t.file != test_file]
    return named[0] if named else next(f.name for f in spec.files if f.name != test_file)


def stand_in_source(spec: AssignmentSpec, stand_in: dict[str, str]) -> bytes:
    """The support code as a module whose ``symbol`` names are the support's ``target``."""
    if spec.support_file is None:
        raise RuntimeError(f"assignment {spec.name} has no support.py to stand in for a solution")
    bindings = "".join(f"{symbol} = {target}\n" for symbol, target in stand_in.items()
                       if symbol != target)
    return (spec.support_file.read_text() + "\n\n# The grader's public stand-in for the "
            "module a student's test imports.\n" + bindings).encode()


def stand_in_outcomes(ctx: Any, task: str, stand_in: dict[str, str], tests: list[str],
                      limits: dict[str, float] | None = None) -> dict[str, StudentTestOutcome]:
    """What the student's ``tests`` (of ``task``'s file) did against a stand-in."""
    spec = ctx.spec
    test_file = spec.task(task).file
    source = ctx.originals.get(test_file)
    if source is None:  # no test file: every check of the file says so through its outcome
        return {t: StudentTestOutcome("missing") for t in tests}
    file = _stand_in_file(spec, task, stand_in)
    key = (f"public-tests:{test_file}:{ctx.seed}:{hashlib.sha256(source).hexdigest()}:"
           f"{sorted(stand_in.items())}:{tests}")

    def run() -> dict[str, StudentTestOutcome]:
        files = {file: stand_in_source(spec, stand_in), test_file: source}
        return run_variant(variant_sandbox(ctx), files, {spec.file(file).module: file},
                           spec.file(test_file).module, test_file, tests, ctx.seed, limits,
                           spec.aliases)

    return ctx.cache.get(key, run)


def _subject(stand_in: dict[str, str]) -> str:
    return next(iter(stand_in)) if len(stand_in) == 1 else "solution"


def _on_solution(ctx: Any, task: str, solution: dict[str, str]) -> StudentTestOutcome:
    test_file = ctx.spec.task(task).file
    tests = [t.name for t in ctx.spec.tasks if t.file == test_file]  # one run for all of them
    return stand_in_outcomes(ctx, task, solution, tests)[task]


def check_passes_on_solution(ctx: Any, task: str, solution: dict[str, str]) -> None:
    """The student's test ``task`` runs and passes on the correct stand-in ``solution``."""
    test_file = ctx.spec.task(task).file
    outcome = _on_solution(ctx, task, solution)
    if outcome.markers:
        raise not_run_by_pytest(task, outcome, test_file)
    if not outcome.passed:
        raise reference_failure(ctx, task, outcome, test_file,
                                subject=f"a correct {_subject(solution)}", public=True)


def check_catches_bug(ctx: Any, task: str, solution: dict[str, str], bug: dict[str, str],
                      described: str, hint: str = "") -> None:
    """The student's test ``task`` fails on the published bug ``bug`` (``described`` in a
    student's words), having passed on ``solution``; ``hint``: how a test can catch it."""
    subject = _subject(solution)
    correct = _on_solution(ctx, task, solution)
    if correct.markers:
        raise not_run_by_pytest(task, correct, ctx.spec.task(task).file)
    if not correct.passed:
        raise CheckFailed(f"first your test must pass on a correct {subject} (see the check "
                          "above): until it does, failing on a broken one proves nothing")
    limits = {task: max(MIN_MUTANT_SECONDS, MUTANT_SLOWDOWN * correct.seconds)}
    outcome = stand_in_outcomes(ctx, task, bug, [task], limits)[task]
    if outcome.catches:
        return
    location = (ctx.spec.task(task).file, correct.line) if correct.line else None
    hint = hint or (f"assert on the values the {subject} computes (a shape alone does not "
                    f"tell a correct {subject} from a broken one)")
    raise CheckFailed(f"your test still passes when {described}, so it does not check what "
                      f"its name says yet: {hint}. The hidden checks try more bugs like this "
                      "one.", location)
