"""Shared fixtures: one judge (and its sandbox) per assignment for the whole test session, and
one validation of resnet (reference, template, mutants, known-good and known-bad cases)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from autograder import api
from autograder.judge.runner import Judge
from autograder.report.model import Report
from autograder.spec import load_assignment
from autograder.validate import Validation

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_RESNET = ROOT / "reference" / "resnet" / "resnet.py"


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
