"""Grade student-written tests by mutation: a test is worth the bugs it catches.

A student's test (``test_block_adds_skip`` in ``test_model.py``) runs against the
reference and against every mutant that names its task in ``mutants.toml``. It earns nothing
unless it passes against the reference; then it earns one equal share of its task for each
of those mutants it fails against (one check per mutant, see :func:`check_student_test`).

Each variant runs in a worker of its own, forked by the submission's zygote, in one folder
per submission that holds only the variant's module (as ``model.py``) and the student's
test file. The folder is emptied between variants, so every run sees the same path, module
name and listing, and nothing one run leaves behind reaches the next. The runs start when
the submission's grading starts (see :func:`start_student_test_runs`), in a thread of the
judge that only waits on them.

The worker calls the test functions and reports what happened, as data. The student's code
runs in that worker, so it could make the reply say anything; but a reply that says "passed"
against the reference and "failed" against a mutant is exactly what a test that tells them
apart achieves, which is the skill graded. The verdict is the judge's, from the outcomes of
all variants together. Mutant and reference source never reach feedback: messages from the
reference run are shown only when they cannot carry it.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from autograder import profiling
from autograder.checks.errors import CheckFailed
from autograder.judge.variants import (
    Mutant,
    load_mutant_specs,
    mutated_file,
    reference_source,
)
from autograder.operations.fixtures import PROVIDED
from autograder.sandbox.client import StudentError, WorkerDied, WorkerTimeout, Zygote, clean_frames
from autograder.sandbox.limits import Limits
from autograder.sandbox.session import Budget, BudgetExhausted
from autograder.spec import AssignmentSpec

# Outcomes of a test that did not pass: against a mutant, each of them catches it.
CATCHING = frozenset({"failed", "error", "timeout", "died", "import_error"})
STATUSES = CATCHING | {"passed", "skipped", "missing"}
# Against a mutant a test gets this many times its time against the reference (at least
# MIN_MUTANT_SECONDS, at most the check limit): a test that hangs only on mutants must not
# use up the submission's time budget.
MUTANT_SLOWDOWN = 20
MIN_MUTANT_SECONDS = 5.0


@dataclass(frozen=True)
class StudentTestOutcome:
    """What one student test did against one variant."""

    status: str
    type: str = ""
    message: str = ""
    builtin: bool = True
    fault: bool = False  # the worker's own words ("the test takes arguments ...")
    frames: tuple[dict[str, Any], ...] = ()
    line: int | None = None
    seconds: float = 0.0
    markers: tuple[str, ...] = ()  # skip, skipif or xfail markers that apply to the test

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def catches(self) -> bool:
        return self.status in CATCHING

    @classmethod
    def from_reply(cls, reply: Any) -> StudentTestOutcome:
        """Read a worker's reply as data; anything malformed is an error outcome."""
        if not isinstance(reply, dict) or reply.get("status") not in STATUSES:
            return cls("error", "ProtocolError", "the test's outcome could not be read")
        frames = tuple(clean_frames(reply.get("frames", [])))
        line = reply.get("line")
        seconds = reply.get("seconds")
        return cls(str(reply["status"]), str(reply.get("type", ""))[:100],
                   str(reply.get("message", ""))[:2000], reply.get("builtin") is True,
                   reply.get("fault") is True, frames,
                   line if isinstance(line, int) else None,
                   float(seconds) if isinstance(seconds, (int, float)) else 0.0,
                   applying_markers(reply.get("markers")))


def applying_markers(markers: Any) -> tuple[str, ...]:
    """The markers, of those a worker found on a test, under which pytest would not run it
    or not count its pass: ``skip``; ``skipif`` and ``xfail`` without a condition or with a
    true one. (A worker can only hide a marker, which gains what deleting it would.)"""
    applying = []
    for marker in markers if isinstance(markers, list) else []:
        if not isinstance(marker, dict) or marker.get("name") not in ("skip", "skipif", "xfail"):
            continue
        conditions = marker.get("conditions")
        conditions = conditions if isinstance(conditions, list) else []
        if marker["name"] == "skip" or not conditions or any(c is True for c in conditions):
            applying.append(str(marker["name"]))
    return tuple(dict.fromkeys(applying))


@dataclass
class StudentTestRuns:
    """Outcomes of a student's tests: against the reference, and per mutant (only the
    tests that passed against the reference and that the mutant grades)."""

    reference: dict[str, StudentTestOutcome]
    mutants: dict[str, dict[str, StudentTestOutcome]] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class VariantSandbox:
    """Where variants run: one folder, emptied and refilled for each, and a fresh worker."""

    zygote: Zygote
    folder: Path
    limits: Limits
    budget: Budget  # what is left of the submission's time (raises BudgetExhausted)

    def timeout(self) -> float:
        """Seconds for the next call: a check's limit, or what is left of the budget."""
        return self.budget.timeout(self.limits.check_seconds)


def _empty_folder(folder: Path) -> None:
    def unlock(func: Callable[[str], Any], path: str, _: Any) -> None:
        # A test may have taken permissions away from what it created; it is ours to remove.
        os.chmod(os.path.dirname(path), 0o700)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
        func(path)

    if folder.exists():
        shutil.rmtree(folder, onerror=unlock)
    folder.mkdir(mode=0o700, parents=True)


def run_variant(sandbox: VariantSandbox, files: dict[str, bytes], modules: dict[str, str],
                test_module: str, test_file: str, tests: list[str], seed: int,
                limits: dict[str, float] | None = None,
                aliases: dict[str, dict[str, str]] | None = None) -> dict[str, StudentTestOutcome]:
    """Run ``tests`` (functions of ``test_file``) against one variant.

    ``files`` is all the folder holds; ``modules`` (module name -> file) are imported first,
    so the test's ``from model import ...`` finds the variant. Tests run one call each on
    one worker; a test that hangs or ends the process costs only itself (the worker is
    killed and the remaining tests get a fresh one). ``limits``: seconds per test, below
    the sandbox's own limit. An outcome's ``seconds`` is measured here, not by the worker.
    ``aliases``: the assignment's other spellings of parameters, which the variant's
    modules accept too (see ``AssignmentSpec.aliases``).
    """
    with profiling.timed("student-test variants (one worker each)"):
        return _run_variant(sandbox, files, modules, test_module, test_file, tests, seed, limits,
                            aliases or {})


def _run_variant(sandbox: VariantSandbox, files: dict[str, bytes], modules: dict[str, str],
                 test_module: str, test_file: str, tests: list[str], seed: int,
                 limits: dict[str, float] | None,
                 aliases: dict[str, dict[str, str]]) -> dict[str, StudentTestOutcome]:
    results: dict[str, StudentTestOutcome] = {}
    pending = list(tests)
    while pending:
        sandbox.timeout()  # a spent budget (or an interrupted run) stops here, before the folder
        _empty_folder(sandbox.folder)
        for name, data in files.items():
            (sandbox.folder / name).write_bytes(data)
        worker = sandbox.zygote.spawn(sandbox.folder, sandbox.limits, [])
        try:
            for module, file in modules.items():
                try:
                    worker.call("load_module", sandbox.timeout(), name=module, file=file,
                                aliases=aliases)
                except StudentError as exc:  # trusted code that does not import: ours to fix
                    raise RuntimeError(f"the grader's {file} could not be imported: {exc}") from None
            for name in list(pending):
                seconds = min(sandbox.timeout(), (limits or {}).get(name, float("inf")))
                started = time.perf_counter()
                try:
                    reply = worker.call("run_tests", seconds, module=test_module,
                                        file=test_file, tests=[name], seed=seed)
                    outcome = StudentTestOutcome.from_reply(
                        reply.get(name) if isinstance(reply, dict) else None)
                    results[name] = replace(outcome, seconds=round(time.perf_counter() - started, 4))
                except BudgetExhausted:
                    raise
                except WorkerTimeout as exc:
                    results[name] = StudentTestOutcome("timeout", seconds=exc.seconds)
                except WorkerDied as exc:  # the CPU limit is a timeout measured in CPU time
                    results[name] = (StudentTestOutcome("timeout", seconds=seconds)
                                     if exc.cpu_limit else StudentTestOutcome("died", message=str(exc)))
                except StudentError as exc:  # the operation itself broke (a reply that is not data)
                    results[name] = StudentTestOutcome.from_reply({**exc.info, "status": "error"})
                pending.remove(name)
                if not worker.alive:
                    break
        finally:
            worker.kill()
    return results


def graded_tests(spec: AssignmentSpec, mutants: list[Mutant]) -> list[str]:
    """The student-test tasks of an assignment (those some mutant grades), in task order."""
    named = {t for m in mutants for t in m.spec.tests}
    return [t.name for t in spec.tasks if t.name in named]


def run_student_tests(spec: AssignmentSpec, mutants: list[Mutant], sandbox: VariantSandbox,
                      test_file: str, test_source: bytes, seed: int) -> StudentTestRuns:
    """Run the student's tests in ``test_file`` against the reference, then against each
    mutant that grades a test that passed there."""
    tests = [t for t in graded_tests(spec, mutants) if spec.task(t).file == test_file]
    mutants = [m for m in mutants if set(m.spec.tests) & set(tests)]
    targets = sorted({mutated_file(spec, m.spec) for m in mutants})
    reference = {f: reference_source(spec, f).encode() for f in targets}
    modules = {spec.file(f).module: f for f in targets}
    test_module = spec.file(test_file).module

    def files(variant: dict[str, bytes]) -> dict[str, bytes]:
        return {**variant, test_file: test_source}

    started = time.perf_counter()
    runs = StudentTestRuns(run_variant(sandbox, files(reference), modules, test_module,
                                       test_file, tests, seed, aliases=spec.aliases))
    passing = {t for t, outcome in runs.reference.items() if outcome.passed}
    limits = {t: max(MIN_MUTANT_SECONDS, MUTANT_SLOWDOWN * runs.reference[t].seconds)
              for t in passing}
    for mutant in mutants:
        wanted = [t for t in mutant.spec.tests if t in passing]
        if wanted:
            variant = {**reference, mutated_file(spec, mutant.spec): mutant.source.encode()}
            runs.mutants[mutant.name] = run_variant(sandbox, files(variant), modules,
                                                    test_module, test_file, wanted, seed, limits,
                                                    spec.aliases)
    runs.seconds = round(time.perf_counter() - started, 4)
    return runs


def variant_sandbox(ctx: Any, name: str = "tests") -> VariantSandbox:
    """Where the variants of one submission's grading run: ``name``, a folder of their own
    for each kind of run (the hidden runs below may run while a public check runs its own)."""
    session = ctx.session
    # Next to the submission's own folder (both inside the grading run's private workspace),
    # so it goes when the workspace goes.
    folder = Path(ctx.submission.folder).parent / name
    return VariantSandbox(session.zygote, folder, session.limits, session.budget)


def runs_key(test_file: str, test_source: bytes, seed: int) -> str:
    """Cache key: the outcomes depend only on the test file's bytes (and the seed), so a
    test file handed in unchanged by many students runs once per judge."""
    return f"student-tests:{test_file}:{seed}:{hashlib.sha256(test_source).hexdigest()}"


def _runs_of(ctx: Any, test_file: str) -> tuple[str, Callable[[], StudentTestRuns]]:
    """The cache key of the runs of the student's ``test_file``, and how to compute them."""
    source = ctx.originals[test_file]
    key = runs_key(test_file, source, ctx.seed)
    # A folder per key: a run recomputed in a check never shares one with a background run.
    folder = "variants-" + hashlib.sha256(key.encode()).hexdigest()[:12]
    return key, lambda: run_student_tests(
        ctx.spec, ctx.cache.mutants(), variant_sandbox(ctx, folder), test_file, source, ctx.seed)


def student_test_runs(ctx: Any, test_file: str) -> StudentTestRuns:
    return ctx.cache.get(*_runs_of(ctx, test_file))


def start_student_test_runs(ctx: Any, tasks: set[str] | None) -> None:
    """Start the runs of the student's tests (of ``tasks``; None: all) against the reference
    and the mutants now, beside the other checks: they happen in workers of their own, which
    a spare core runs while the other checks run. The checks of those tasks then read their
    outcomes (see ``JudgeCache.prefetch``). Any problem (mutants that do not apply, say) is
    left for those checks to report, as they would without this head start."""
    try:
        graded = {t for m in load_mutant_specs(ctx.spec.root) for t in m.tests
                  if tasks is None or t in tasks}
        files = {ctx.spec.task(t).file for t in graded}
        if not files:
            return
        ctx.cache.mutants()  # loaded here, not in the thread
        for test_file in sorted(f for f in files if f in ctx.originals):
            ctx.cache.prefetch(*_runs_of(ctx, test_file))
    except Exception:
        return


def mutant_names(assignment_root: Path | str, task: str) -> list[str]:
    """Names of the mutants that grade ``task``, read when checks are collected (a check
    file parametrizes over them: one check per mutant)."""
    return [m.name for m in load_mutant_specs(Path(assignment_root)) if task in m.tests]


class StudentTestTimeout(WorkerTimeout):
    """A student's test did not finish against the reference."""

    def __init__(self, seconds: float, feedback: str) -> None:
        super().__init__(seconds)
        self.feedback = feedback


def _exception_name(name: str) -> str:
    """The name if it is one of Python's own exceptions (a closed vocabulary), else ''."""
    value = getattr(builtins, name, None) if name.isidentifier() else None
    return name if isinstance(value, type) and issubclass(value, BaseException) else ""


def _unknown_fixtures(test_source: str, test_name: str) -> list[str]:
    """The arguments of ``test_name`` that its file defines no fixture for, read from the
    source (parsed, never run): the worker's own words cannot be shown."""
    try:
        tree = ast.parse(test_source)
    except (SyntaxError, ValueError):
        return []
    defined = set(PROVIDED)
    wanted: list[str] = []
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if node.name == test_name:
            wanted = [a.arg for a in node.args.posonlyargs + node.args.args]
        for decorator in node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            if (getattr(target, "attr", None) or getattr(target, "id", None)) == "fixture":
                names = [k.value.value for k in getattr(decorator, "keywords", [])
                         if k.arg == "name" and isinstance(k.value, ast.Constant)]
                defined.add(names[0] if names else node.name)
    return [name for name in wanted if name not in defined]


def safe_error_text(outcome: StudentTestOutcome, test_source: str, test_name: str = "") -> str:
    """What a run against the reference did, in words that cannot carry its source.

    Everything in a reply is the student's to shape: during the reference run, the code under
    test is the reference, so any message text could quote or encode it (reversed, split,
    translated...). Only a closed vocabulary is shown: Python's own exception names, and an
    assertion's message only when the student's own file holds it verbatim.
    """
    kind = _exception_name(outcome.type) if outcome.builtin else ""
    message = outcome.message.strip()
    if outcome.status == "failed" or kind == "AssertionError":
        shown = message if message and message in test_source else ""
        return f"AssertionError: {shown}" if shown else "an assertion failed"
    if outcome.fault:
        unknown = _unknown_fixtures(test_source, test_name)
        if unknown:
            return (f"it asks for `{unknown[0]}`, which is not a fixture defined in its own file "
                    f"(fixtures defined there and {', '.join(PROVIDED)} are available; a "
                    "conftest.py is not used)")
        return ("it could not be called as a test: a plain `def` (not `async def`) whose "
                "arguments are fixtures its file defines, none of them parametrized")
    return kind or "it raised an exception of its own"


def _where(outcome: StudentTestOutcome, test_file: str, test_source: str
           ) -> tuple[str, tuple[str, int] | None]:
    """Where in the student's test file it happened; a frame that claims another file, or
    code that the file does not hold, is not shown."""
    for frame in reversed(outcome.frames):
        line = frame.get("line")
        if frame.get("file") != test_file or not isinstance(line, int):
            continue
        code = str(frame.get("code") or "").strip()
        shown = f": `{code}`" if code and code in test_source else ""
        return f" (at {test_file} line {line}{shown})", (test_file, line)
    return "", None


def _subject(ctx: Any, task: str) -> str:
    symbols = {m.spec.symbol for m in ctx.cache.mutants() if task in m.spec.tests}
    return next(iter(symbols)) if len(symbols) == 1 else "solution"


def reference_failure(ctx: Any, task: str, outcome: StudentTestOutcome, test_file: str,
                      subject: str | None = None, public: bool = False) -> BaseException:
    """Why a test that does not pass against the reference earns nothing. ``subject``: how
    the code it ran against is named (default: "a correct <the symbol its mutants change>");
    ``public``: that code is public (a support stand-in), so what the test raised is shown
    as it is, since it cannot carry secret source."""
    correct = subject or f"a correct {_subject(ctx, task)}"
    def_line = (test_file, outcome.line) if outcome.line else None
    if outcome.status == "missing":
        return CheckFailed(f"{test_file} defines no function `{task}`: keep the test's name as "
                           "given, so the grader can find it")
    if outcome.status == "timeout":
        return StudentTestTimeout(outcome.seconds, (
            f"stopped: your test `{task}` did not finish within {outcome.seconds:g} s against "
            f"{correct}. Look for an endless loop, a sleep, or a model far larger than needed."))
    if outcome.status == "died":
        return CheckFailed(f"your test `{task}` ended the process it ran in against {correct}: "
                           f"{outcome.message}", def_line)
    if outcome.status == "skipped":
        return CheckFailed(f"your test `{task}` skips itself against {correct}; a skipped test "
                           "checks nothing", def_line)
    test_source = ctx.originals.get(test_file, b"").decode("utf-8", "replace")
    what = safe_error_text(outcome, test_source, task)
    if public and outcome.type and not outcome.fault and outcome.status != "failed":
        what = f"{outcome.type}: {outcome.message}" if outcome.message else outcome.type
    where, location = _where(outcome, test_file, test_source)
    if outcome.status == "import_error":
        return CheckFailed(f"{test_file} could not be imported: {what}{where}", location)
    return CheckFailed(f"your test fails against {correct}, so it cannot tell a correct one from "
                       f"a broken one: {what}{where}", location or def_line)


def not_run_by_pytest(task: str, outcome: StudentTestOutcome, test_file: str) -> CheckFailed:
    """A test marked so that pytest skips it (or expects it to fail) proves nothing."""
    marker = outcome.markers[0]
    why = ("so pytest expects it to fail and its passing proves nothing" if marker == "xfail"
           else "so it never runs in pytest")
    return CheckFailed(f"your test `{task}` is marked {marker}, {why}: remove the marker to "
                       "have it graded", (test_file, outcome.line) if outcome.line else None)


def check_student_test(ctx: Any, task: str, mutant_name: str) -> None:
    """The check that a student's test ``task`` catches the mutant ``mutant_name``: passes
    when the test passes against the reference and fails against the mutant."""
    test_file = ctx.spec.task(task).file
    runs = student_test_runs(ctx, test_file)
    reference = runs.reference[task]
    if reference.markers:
        raise not_run_by_pytest(task, reference, test_file)
    if not reference.passed:
        raise reference_failure(ctx, task, reference, test_file)
    mutants = {m.name: m for m in ctx.cache.mutants() if task in m.spec.tests}
    mutant = mutants[mutant_name]
    outcome = runs.mutants.get(mutant_name, {}).get(task)
    if outcome is None:
        raise RuntimeError(f"mutant {mutant_name} was not run")
    if outcome.catches:
        return
    location = (test_file, reference.line) if reference.line else None
    caught = [name for name in mutants
              if (found := runs.mutants.get(name, {}).get(task)) is not None and found.catches]
    subject = _subject(ctx, task)
    if not caught:
        raise CheckFailed(
            f"your test passes against every broken {subject} too ({len(mutants)} known bugs), "
            f"so it does not check the behaviour: it still passes when {mutant.spec.bug}. "
            f"Assert on the values the {subject} computes; a shape alone does not tell a "
            "correct one from a broken one.", location)
    raise CheckFailed(f"your test still passes when {mutant.spec.bug} (it catches "
                      f"{len(caught)} of {len(mutants)} known bugs)", location)
