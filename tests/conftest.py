"""Shared fixtures: one judge (and its sandbox) per assignment for the whole test session, and
one validation of resnet (reference, template, mutants, known-good and known-bad cases)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from autograder import api
from autograder.judge.disk_cache import CACHE_ENV
from autograder.judge.outcomes import GRADER_PROBLEM
from autograder.judge.runner import Judge
from autograder.report.model import Report, TestResult
from autograder.sandbox.limits import landlock_abi
from autograder.spec import load_assignment
from autograder.validate import Validation

ROOT = Path(__file__).resolve().parents[1]
# Set in CI, whose kernel has Landlock: a test that needs it fails there instead of skipping.
REQUIRE_LANDLOCK = os.environ.get("AUTOGRADER_REQUIRE_LANDLOCK") == "1"
REFERENCE_RESNET = ROOT / "reference" / "resnet" / "resnet.py"
# One store of kept reference results for the whole session, shared by the CLI runs it starts
# (they inherit the environment), never the user's own ~/.cache.
_SESSION_STORE = tempfile.mkdtemp(prefix="autograder-test-store-")
os.environ[CACHE_ENV] = _SESSION_STORE
# `check` runs in the command itself unless a test asks for the warm server (and stops it).
os.environ["AUTOGRADER_SERVER"] = "off"


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_SESSION_STORE, ignore_errors=True)


@pytest.fixture(scope="session")
def resnet_judge() -> Iterator[Judge]:
    with api.judging(load_assignment("resnet")) as judge:
        yield judge


@pytest.fixture(scope="session")
def resnet_validation(resnet_judge: Judge) -> Validation:
    """`validate resnet`, run once: its rows, and the report of every case it graded."""
    return api.validate("resnet", judge=resnet_judge)


def case_names(assignment: str, kind: str) -> list[str]:
    """The names of an assignment's known-good (kind "good") or known-bad cases."""
    folder = ROOT / "assignments" / assignment / "cases" / kind
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


@pytest.fixture
def make_submission(tmp_path: Path) -> Callable[..., Path]:
    """Write a submission folder: make_submission({"resnet.py": source}, name="alice")."""
    counter = iter(range(1000))

    def make(files: dict[str, str | bytes], name: str | None = None) -> Path:
        folder = tmp_path / (name or f"submission{next(counter)}")
        folder.mkdir(parents=True)
        for file_name, content in files.items():
            path = folder / file_name
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
        return folder

    return make


def reference_source() -> str:
    return REFERENCE_RESNET.read_text()


def mutate(source: str, old: str, new: str) -> str:
    """The reference with one change; fails loudly if ``old`` is not found exactly once."""
    assert source.count(old) == 1, f"{old!r} occurs {source.count(old)} times"
    return source.replace(old, new)


def statuses(report: Report) -> dict[str, str]:
    return {t.check_id.split("::")[-1]: t.status for task in report.tasks for t in task.tests}


def failing(report: Report) -> dict[str, str]:
    """check id -> feedback, for every check that did not pass."""
    return {t.check_id.split("::")[-1]: t.feedback for task in report.tasks for t in task.tests
            if t.status != "passed"}


def _checks(report: Report, task: str | None) -> list[TestResult]:
    return report.task(task).tests if task else [t for r in report.tasks for t in r.tests]


def assert_graded(report: Report, task: str | None = None) -> None:
    """The grader graded ``report`` (or its ``task``): checks were reported and nothing blames
    the grader. A failure report has no checks and scores 0, so without this, "earns nothing"
    and "no failing check" hold for a grader that failed."""
    blamed = [p for p in report.problems if GRADER_PROBLEM in p]
    tests = _checks(report, task)
    blamed += [f"{t.check_id}: {t.feedback}" for t in tests if GRADER_PROBLEM in t.feedback]
    assert not blamed, blamed
    assert tests, f"no check was reported for {task or report.submission.id}"


def assert_full_marks(report: Report, task: str | None = None) -> None:
    """Full marks, for real: graded (see :func:`assert_graded`), every check passed, and the
    score is the whole maximum."""
    assert_graded(report, task)
    result = report.task(task) if task else report
    assert all(t.status == "passed" for t in _checks(report, task)), failing(report)
    assert result.score == result.max_score > 0, (result.score, result.max_score)


def require_landlock(abi: int, what: str) -> None:
    """Skip the rest of a test on a kernel whose Landlock ABI is below ``abi`` (``what``:
    the Landlock feature it proves); with AUTOGRADER_REQUIRE_LANDLOCK=1, fail instead."""
    if landlock_abi() >= abi:
        return
    reason = f"needs Landlock ABI {abi} ({what}); this kernel has ABI {landlock_abi()}"
    if REQUIRE_LANDLOCK:
        pytest.fail(f"{reason}, and AUTOGRADER_REQUIRE_LANDLOCK=1")
    pytest.skip(reason)
