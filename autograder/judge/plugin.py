"""The pytest plugin that runs an assignment's checks against one submission.

Checks are ordinary pytest tests in ``assignments/<name>/checks/{public,hidden}/``, marked
with the task they grade and a relative weight::

    pytestmark = pytest.mark.task("Block")

    @pytest.mark.weight(2)
    def test_block_matches_reference(student, reference): ...

Fixtures: ``student`` (the submission's file for the task, in the sandbox), ``reference``
(the reference module, in the judge), ``ctx`` (the judge's context,
typed for checks as :class:`autograder.checks.GradingContext`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest

from autograder import profiling
from autograder.checks.remote import StudentCode
from autograder.judge.context import JudgeContext
from autograder.judge.outcomes import Outcome, cap, classify
from autograder.spec import AssignmentSpec, Visibility

MARKERS = (
    "task(name): the task this check grades",
    "weight(value): the check's share of its task's points (default 1)",
    "visibility(value): overrides the visibility set by the check's folder",
)


@dataclass
class CheckInfo:
    check_id: str
    name: str
    task: str
    weight: float
    visibility: Visibility
    public: bool
    outcome: Outcome | None = None
    duration: float = 0.0


def _display_name(item: pytest.Item) -> str:
    doc = (getattr(item, "function", None).__doc__ or "").strip().splitlines()
    name = doc[0].rstrip(".") if doc else item.originalname.removeprefix("test_").replace("_", " ")
    callspec = getattr(item, "callspec", None)
    return f"{name} [{callspec.id}]" if callspec else name


def check_info(item: pytest.Item, task: str, hidden_visibility: Visibility) -> CheckInfo:
    """What the markers and folder of a collected check say about it."""
    weight_marker = item.get_closest_marker("weight")
    public = "public" in item.path.parts
    visibility_marker = item.get_closest_marker("visibility")
    visibility = (visibility_marker.args[0] if visibility_marker
                  else "visible" if public else hidden_visibility)
    return CheckInfo(item.nodeid, _display_name(item), task,
                     float(weight_marker.args[0]) if weight_marker else 1.0, visibility, public)


def with_notes(outcome: Outcome, notes: list[str]) -> Outcome:
    """The outcome with the check's notes (``ctx.note``) after its own feedback."""
    text = "\n".join(part for part in (outcome.feedback, *notes) if part)
    return Outcome(outcome.status, cap(text), outcome.location)


class CheckCollector:
    """Collects an assignment's checks without running them (for their weights)."""

    def __init__(self, spec: AssignmentSpec) -> None:
        self.spec = spec
        self.checks: list[CheckInfo] = []
        self.errors: list[str] = []

    def pytest_configure(self, config: pytest.Config) -> None:
        for marker in MARKERS:
            config.addinivalue_line("markers", marker)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors.append(f"a check file could not be loaded: {report.nodeid}")

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        tasks = {t.name for t in self.spec.tasks}
        for item in items:
            marker = item.get_closest_marker("task")
            if marker is None or marker.args[0] not in tasks:
                self.errors.append(f"check {item.nodeid} names no known task")
            else:
                self.checks.append(check_info(item, marker.args[0], self.spec.hidden_visibility))


class JudgePlugin:
    def __init__(self, ctx: JudgeContext, run_hidden: bool = True,
                 tasks: set[str] | None = None) -> None:
        self.grading = ctx
        self.run_hidden = run_hidden
        self.tasks = tasks  # None: every task
        self.checks: list[CheckInfo] = []
        self.by_id: dict[str, CheckInfo] = {}
        self.collection_errors: list[str] = []
        self._started: dict[str, float] = {}
        # Moments for the profile: pytest.main called, collection done, last check done.
        self.pytest_started = time.perf_counter()
        self._collected = self._last_check = 0.0

    def pytest_configure(self, config: pytest.Config) -> None:
        for marker in MARKERS:
            config.addinivalue_line("markers", marker)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(f"a check file could not be loaded: {report.nodeid}")

    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        kept = []
        tasks = {t.name: t for t in self.grading.spec.tasks}
        for item in items:
            task_marker = item.get_closest_marker("task")
            if task_marker is None or task_marker.args[0] not in tasks:
                self.collection_errors.append(f"check {item.nodeid} names no known task")
                continue
            task = tasks[task_marker.args[0]]
            if self.tasks is not None and task.name not in self.tasks:
                continue
            info = check_info(item, task.name, self.grading.spec.hidden_visibility)
            public = info.public
            self.checks.append(info)
            self.by_id[item.nodeid] = info
            problem = self.grading.submission.file_problems.get(task.file)
            if problem:
                info.outcome = Outcome("error", problem)
            elif public or self.run_hidden:
                kept.append(item)
        items[:] = kept

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._collected = self._last_check = time.perf_counter()

    def profile_ended(self) -> None:
        """pytest.main has returned: its start-up, collection and teardown, for the profile."""
        if profiling.enabled() and self._collected:
            profiling.add("pytest start-up and collection", self._collected - self.pytest_started)
            profiling.add("pytest teardown", time.perf_counter() - self._last_check)

    def _task_file(self, request: pytest.FixtureRequest) -> str:
        return self.grading.spec.task(request.node.get_closest_marker("task").args[0]).file

    @pytest.fixture
    def student(self, request: pytest.FixtureRequest) -> StudentCode:
        return self.grading.student(self._task_file(request))

    @pytest.fixture
    def reference(self, request: pytest.FixtureRequest) -> Any:
        return self.grading.reference(self._task_file(request))

    @pytest.fixture
    def ctx(self) -> JudgeContext:
        return self.grading

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self._started[item.nodeid] = time.perf_counter()
        self.grading.notes = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
        """Record the outcome, and answer with a plain report: pytest's own would render a
        traceback with source analysis (milliseconds per failed check) that nobody reads."""
        excinfo = call.excinfo
        skipped = excinfo is not None and excinfo.errisinstance(pytest.skip.Exception)
        outcome = "passed" if excinfo is None else "skipped" if skipped else "failed"
        info = self.by_id.get(item.nodeid)
        if info is not None and info.outcome is None and (call.when == "call" or outcome != "passed"):
            if skipped:
                info.outcome = Outcome("skipped", str(excinfo.value))
            else:
                info.outcome = with_notes(classify(excinfo.value if excinfo else None),
                                          self.grading.notes)
            info.duration = time.perf_counter() - self._started.get(item.nodeid, time.perf_counter())
            profiling.add(f"check {info.task}: {getattr(item, 'originalname', item.name)}",
                          info.duration)
        if call.when == "teardown":
            self._last_check = time.perf_counter()
        path, line, _ = item.location
        longrepr = None if excinfo is None else (
            (str(path), (line or 0) + 1, str(excinfo.value)) if skipped else str(excinfo.value))
        return pytest.TestReport(item.nodeid, item.location, {}, outcome, longrepr, call.when,
                                 duration=call.duration, start=call.start, stop=call.stop)
