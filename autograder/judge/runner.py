"""Grade one submission: ingest it, run the checks through pytest, build the report."""

from __future__ import annotations

import importlib
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import torch

import autograder
from autograder import profiling
from autograder.errors import UserError
from autograder.gradebook.fingerprint import grader_fingerprint
from autograder.ingest import ingest, submission_id
from autograder.judge.context import JudgeCache, JudgeContext
from autograder.judge.disk_cache import DiskCache
from autograder.judge.mutation import start_student_test_runs
from autograder.judge.outcomes import GRADER_PROBLEM, Outcome
from autograder.judge.plugin import CheckCollector, CheckInfo, JudgePlugin
from autograder.notebooks import notebook_problems
from autograder.report.model import (
    Environment,
    Report,
    SubmissionInfo,
    TaskResult,
    TestResult,
    Timing,
)
from autograder.sandbox.client import Zygote
from autograder.sandbox.limits import Limits
from autograder.sandbox.session import StudentSession
from autograder.spec import AssignmentSpec

PYTEST_INI = Path(__file__).with_name("pytest.ini")
_ISOLATED_ENV = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")
# Plugins a grading session does not need; unraisableexception alone costs two full
# garbage collections per session.
_UNUSED_PLUGINS = ("terminal", "cacheprovider", "unraisableexception", "threadexception",
                   "faulthandler", "logging", "warnings", "doctest", "junitxml", "pastebin",
                   "stepwise", "debugging", "setuponly", "setupplan", "tmpdir", "monkeypatch",
                   "recwarn", "capture", "skipping", "legacypath")


@contextmanager
def _isolated_pytest_env() -> Iterator[None]:
    """The judge's pytest ignores the caller's pytest options and third-party plugins."""
    saved = {k: os.environ.pop(k) for k in _ISOLATED_ENV if k in os.environ}
    autoload = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        yield
    finally:
        os.environ.update(saved)
        if autoload is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = autoload


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, as taskset or a container sets
    it), which is what ``-j auto`` uses."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class Judge:
    """Grades submissions of one assignment; keeps reference work cached between them.

    ``background``: start a submission's student-test runs beside its other checks (see
    :func:`start_student_test_runs`); by default when a CPU is spare for them. With as many
    judges as CPUs it is off: the runs would only compete with the checks for the same cores
    and their wall-clock limits.
    """

    def __init__(self, spec: AssignmentSpec, zygote: Zygote, seed: int | None = None,
                 tasks: list[str] | None = None, background: bool | None = None) -> None:
        self.background = available_cpus() > 1 if background is None else background
        self.graded = spec.only(tasks)  # what reports cover; checks come from all of spec
        self.tasks = {t.name for t in self.graded.tasks} if tasks else None
        self.spec = spec
        self.zygote = zygote
        self.seed = spec.seed if seed is None else seed
        # of all tasks: a report of some tasks merges only into one graded by the same grader
        self.fingerprint = grader_fingerprint(spec, self.seed)
        self.cache = JudgeCache(spec, DiskCache.for_grader(self.fingerprint))
        self._reference_packages_imported = False
        # A report of some tasks only is partial: exports refuse it, a later run merges into it.
        self.partial = len(self.graded.tasks) < len(spec.tasks)
        torch.set_num_threads(1)

    def _stamped(self, report: Report) -> Report:
        report.grader_fingerprint = self.fingerprint
        report.partial = self.partial
        return report

    def limits(self) -> Limits:
        return self.spec.limits

    def grade(self, path: Path, run_hidden: bool = True) -> Report:
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        workspace = Path(tempfile.mkdtemp(prefix="autograder-submission-"))
        scratch = workspace / "submission"
        scratch.mkdir()
        session = None
        try:
            if run_hidden and not self._reference_packages_imported:
                import_reference_packages(self.spec, self.cache.store)
                self._reference_packages_imported = True
            with profiling.timed("ingest"):
                submission = ingest(Path(path), self.spec, scratch)
            session = StudentSession(self.zygote, scratch, self.limits(),
                                     readable=[str(self.cache.shared_dir)],
                                     support=self.spec.support_file, aliases=self.spec.aliases)
            ctx = JudgeContext(self.spec, submission, session, self.cache, self.seed)
            if run_hidden and self.background:
                start_student_test_runs(ctx, self.tasks)
            plugin = JudgePlugin(ctx, run_hidden=run_hidden, tasks=self.tasks)
            with _isolated_pytest_env():
                plugin.pytest_started = time.perf_counter()
                exit_code = pytest.main(
                    [str(self.spec.checks_dir), "-c", str(PYTEST_INI), "--rootdir",
                     str(self.spec.root), "--noconftest", "--import-mode=importlib",
                     "--strict-markers", *(f"-pno:{name}" for name in _UNUSED_PLUGINS)],
                    plugins=[plugin],
                )
            if exit_code == pytest.ExitCode.INTERRUPTED:  # pytest caught the Ctrl-C: not a grade
                raise KeyboardInterrupt
            plugin.profile_ended()
            problems = list(submission.problems) + list(submission.file_problems.values())
            problems += plugin.collection_errors
            problems += hidden_weight_problems(self.graded, plugin.checks)
            if exit_code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
                problems.append(f"the grader could not run the checks (pytest exit status "
                                f"{int(exit_code)}); {GRADER_PROBLEM}, tell your instructor")
            problems += notebook_problems(session.notebooks)
            sandbox = (f"worker processes, Landlock ABI {session.landlock}" if session.landlock
                       else "worker processes (filesystem not confined: no Landlock)")
            with profiling.timed("report build"):
                return self._stamped(build_report(
                    self.graded, plugin.checks, run_hidden, problems,
                    SubmissionInfo(id=submission.id, path=str(path),
                                   content_hash=submission.content_hash,
                                   files=sorted(submission.files)),
                    Timing(started_at=started_at, duration=round(time.perf_counter() - started, 4)),
                    environment(sandbox), self.seed))
        except UserError:
            raise
        except Exception as exc:  # a grader bug must not cost the rest of the class its reports
            print(f"autograder: grading {path} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return self._stamped(failure_report(self.graded, Path(path),
                                                f"{type(exc).__name__}: {exc}", self.seed,
                                                started_at))
        except BaseException:  # Ctrl-C: the background runs stop at their next call
            if session is not None:
                session.budget.expire()
            self.cache.abandon()
            raise
        finally:
            try:
                self.cache.settle()  # no worker of this submission outlives its grading
            finally:
                if session is not None:
                    session.close()
                with profiling.timed("workspace removal"):
                    shutil.rmtree(workspace, ignore_errors=True)
                profiling.add("grade (whole submission, in the judge)",
                              time.perf_counter() - started)
                profiling.flush(str(path))

    def close(self) -> None:
        self.cache.close()
        shutil.rmtree(self.cache.shared_dir, ignore_errors=True)


def environment(sandbox: str) -> Environment:
    return Environment(python=platform.python_version(), torch=torch.__version__,
                       autograder=autograder.__version__,
                       platform=f"{sys.platform}-{platform.machine()}", sandbox=sandbox)


def failure_report(spec: AssignmentSpec, path: Path, error: str, seed: int,
                   started_at: datetime | None = None) -> Report:
    """The report of a submission the grader itself failed on: no score, and it says so."""
    return Report(
        assignment=spec.name,
        submission=SubmissionInfo(id=submission_id(path), path=str(path), content_hash=""),
        score=0, max_score=spec.max_score,
        tasks=[TaskResult(name=t.name, score=0, max_score=t.points, tests=[]) for t in spec.tasks],
        problems=[f"the grader failed on this submission ({error[:300]}); {GRADER_PROBLEM}, "
                  "not a grade: tell your instructor"],
        timing=Timing(started_at=started_at or datetime.now(UTC), duration=0.0),
        environment=environment("unknown"), seed=seed)


def hidden_checks_present(spec: AssignmentSpec) -> bool:
    return (spec.checks_dir / "hidden").is_dir()


def _collect(spec: AssignmentSpec, folder: Path) -> tuple[CheckCollector, pytest.ExitCode | int]:
    """Collect the checks in ``folder`` without running them."""
    collector = CheckCollector(spec)
    with _isolated_pytest_env():
        exit_code = pytest.main(
            [str(folder), "--collect-only", "-c", str(PYTEST_INI),
             "--rootdir", str(spec.root), "--noconftest", "--import-mode=importlib",
             "--strict-markers", *(f"-pno:{name}" for name in _UNUSED_PLUGINS)],
            plugins=[collector])
    return collector, exit_code


def preload_checks(spec: AssignmentSpec, seed: int | None = None) -> None:
    """Collect every check once in this (trusted) process, so that the judges forked from it
    inherit what the checks import (pytest's own modules, and the reference's packages when
    they will be needed) instead of each importing it on its first submission. What
    collection finds is not used here: each judge collects again and reports any problem in
    its reports."""
    with profiling.timed("check preload (before the judges fork)"):
        store = DiskCache.for_grader(grader_fingerprint(spec, spec.seed if seed is None else seed))
        import_reference_packages(spec, store)
        _collect(spec, spec.checks_dir)


def import_reference_packages(spec: AssignmentSpec, store: DiskCache | None) -> None:
    """Import the assignment's preload packages (torchvision) in the judge too, unless this
    grader's reference results are kept on disk already. A check that computes a reference
    result imports them (say, to build a torchvision model): done first, the import
    overlaps the zygote's start on the other core instead of delaying the first submission,
    and a warm cache spares the judge it (1.5 s for torchvision) altogether."""
    if store is not None and not store.is_empty():
        return
    with profiling.timed("judge imports the preload (no reference results kept yet)"):
        # torch's own submodules (torch._dynamo) are the workers' concern: no check needs them.
        for name in [n for n in spec.preload if n.split(".")[0] != "torch"]:
            try:
                importlib.import_module(name)
            except Exception:  # the zygote refuses to start over it, and says why
                return


def hidden_weights(spec: AssignmentSpec) -> dict[str, float]:
    """The total weight of each task's hidden checks, from collecting them (nothing runs)."""
    collector, exit_code = _collect(spec, spec.checks_dir / "hidden")
    if exit_code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED) or collector.errors:
        problems = "; ".join(collector.errors) or f"pytest exit status {int(exit_code)}"
        raise UserError(f"the hidden checks of {spec.name} could not be collected: {problems}")
    return {task.name: sum(c.weight for c in collector.checks if c.task == task.name)
            for task in spec.tasks}


def hidden_weight_problems(spec: AssignmentSpec, checks: list[CheckInfo]) -> list[str]:
    """Where a ``hidden_weight`` written into a copy disagrees with the hidden checks present."""
    if not hidden_checks_present(spec):
        return []
    problems = []
    for task in spec.tasks:
        actual = sum(c.weight for c in checks if c.task == task.name and not c.public)
        if task.hidden_weight is not None and abs(actual - task.hidden_weight) > 1e-9:
            problems.append(f"assignment.toml gives task {task.name} hidden_weight "
                            f"{task.hidden_weight:g} but its hidden checks weigh {actual:g}: "
                            "update it, or a copy without hidden checks scores public ones wrong")
    return problems


def build_report(spec: AssignmentSpec, checks: list[CheckInfo], run_hidden: bool,
                 problems: list[str], submission: SubmissionInfo, timing: Timing,
                 env: Environment, seed: int) -> Report:
    """Scores: each task's points are shared among its checks by weight."""
    tasks = []
    for task in spec.tasks:
        own = [c for c in checks if c.task == task.name]
        # Without the hidden checks (a student's copy), their declared weight stands in.
        absent = 0.0 if hidden_checks_present(spec) else task.hidden_weight or 0.0
        total_weight = sum(c.weight for c in own) + absent or 1.0
        tests = []
        for check in own:
            if not (check.public or run_hidden):
                continue
            outcome = check.outcome or Outcome("error", "the check did not run")
            max_score = round(task.points * check.weight / total_weight, 4)
            tests.append(TestResult(
                name=check.name, check_id=check.check_id,
                score=max_score if outcome.status == "passed" else 0.0, max_score=max_score,
                status=outcome.status, visibility=check.visibility, feedback=outcome.feedback,
                duration=round(check.duration, 4), location=outcome.location))
        # Task totals from weights, not from the rounded per-check shares.
        shown = [c for c in own if c.public or run_hidden]
        passed = sum(c.weight for c in shown if c.outcome and c.outcome.status == "passed")
        tasks.append(TaskResult(
            name=task.name, score=round(task.points * passed / total_weight, 4),
            max_score=round(task.points * sum(c.weight for c in shown) / total_weight, 4),
            tests=tests))
    return Report(assignment=spec.name, submission=submission,
                  score=round(sum(t.score for t in tasks), 4),
                  max_score=round(sum(t.max_score for t in tasks), 4), tasks=tasks,
                  problems=problems, timing=timing, environment=env, seed=seed)
