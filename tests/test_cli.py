"""The command line, run for real as a subprocess, as users run it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.release import template_drift
from autograder.spec import load_assignment
from tests.conftest import ROOT

EXAMPLES = ROOT / "examples" / "resnet"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_list_and_schema() -> None:
    listing = run("list")
    assert listing.returncode == 0
    assert "resnet:" in listing.stdout and "BasicBlock (10)" in listing.stdout
    schema = json.loads(run("schema").stdout)
    assert schema["properties"]["schema_version"]["const"] == "1.0"
    assert {"assignment", "submission", "score", "max_score", "tasks", "timing",
            "environment", "seed"} <= set(schema["required"])


def test_committed_template_matches_release() -> None:
    assert template_drift(load_assignment("resnet")) == []


def test_release_regenerates_the_template(tmp_path: Path) -> None:
    from autograder.release import release

    written = release(load_assignment("resnet"), tmp_path / "resnet").written
    text = (tmp_path / "resnet" / "resnet.py").read_text()
    assert "TODO(human)" in text and "BEGIN SOLUTION" not in text
    assert "nn.Conv2d" not in text.split("class BasicBlock")[1].split("class ResNet")[0]
    assert {p.name for p in written} >= {"resnet.py", "test_resnet.py"}


def test_grade_many_writes_one_report_each(tmp_path: Path) -> None:
    # -j auto: one judge per CPU available (two or more here, so the judges run in parallel).
    result = run("grade", str(EXAMPLES), "-a", "resnet", "-o", str(tmp_path / "out"), "-j", "auto")
    assert result.returncode == 0, result.stderr
    reports = sorted(p.name for p in (tmp_path / "out").iterdir() if p.suffix == ".json")
    assert reports == ["buggy_student.json", "good_student.json"]
    assert (tmp_path / "out" / "gradebook.sqlite").is_file()  # and the gradebook beside them
    good = json.loads((tmp_path / "out" / "good_student.json").read_text())
    assert good["score"] == good["max_score"]
    assert "good_student" in result.stdout and "buggy_student" in result.stdout
    assert "Traceback" not in result.stderr


def test_grade_one_writes_the_named_file(tmp_path: Path) -> None:
    target = tmp_path / "good.json"
    result = run("grade", str(EXAMPLES / "good_student"), "-a", "resnet", "-o", str(target),
                 "--task", "BasicBlock")
    assert result.returncode == 0, result.stderr
    report = json.loads(target.read_text())
    assert report["submission"]["id"] == "good_student"
    assert [t["name"] for t in report["tasks"]] == ["BasicBlock"]
    assert report["score"] == report["max_score"] == 10


@pytest.mark.parametrize("args, message", [
    (["grade", "examples/resnet", "-a", "nope"], "unknown assignment 'nope' (known: "),
    (["grade", "no/such/folder", "-a", "resnet"], "submission path does not exist: no/such/folder"),
    (["check", "no/such/folder"], "path does not exist: no/such/folder"),
    (["grade", "examples/resnet", "-a", "resnet", "-t", "Nope"], "unknown task Nope (known: "),
])
def test_errors_are_one_clear_line(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("jobs", ["0", "two"])
def test_jobs_is_a_positive_count_or_auto(jobs: str) -> None:
    result = run("grade", str(EXAMPLES), "-a", "resnet", "-j", jobs)
    assert result.returncode == 2
    assert f"{jobs!r} is not a positive whole number or auto" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_documents_exit_status() -> None:
    result = run("grade", "--help")
    assert result.returncode == 0
    assert "Exit status: 0 when grading completed" in result.stdout


def test_student_check_hides_hidden_checks(resnet_judge) -> None:
    # The hidden checks' names, as a full grade reports them (their docstrings' first lines).
    graded = resnet_judge.grade(EXAMPLES / "buggy_student")
    hidden = {(t.name, t.check_id.split("::")[-1].split("[")[0]) for task in graded.tasks
              for t in task.tests if "/hidden/" in t.check_id}
    assert len(hidden) >= 20
    result = run("check", cwd=EXAMPLES / "buggy_student")
    assert result.returncode == 0, result.stderr
    shown = [pair for pair in hidden if any(name in result.stdout for name in pair)]
    assert shown == [], "hidden checks shown by `check`"
    assert "public checks pass" in result.stdout
    assert "Hidden checks worth" in result.stdout and "not full marks" in result.stdout


def test_check_on_the_template_shows_hints() -> None:
    result = run("check", str(ROOT / "student_template" / "resnet"))
    assert result.returncode == 0
    assert "forward returned NoneType" in result.stdout
    assert re.search(r"^0 of \d+ public checks pass \(0 of [\d.]+ points\)\.$", result.stdout,
                     re.MULTILINE), result.stdout


def test_a_copy_without_hidden_checks_scores_public_checks_the_same(tmp_path: Path,
                                                                   monkeypatch) -> None:
    """Students get the grader without checks/hidden; `check` must still say what the
    public checks are worth and what is left, from the hidden_weight derived into the copy."""
    import shutil

    from autograder import api

    full = api.check(EXAMPLES / "buggy_student", "resnet")
    for folder in ("assignments", "reference", "student_template"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    api.write_hidden_weights("resnet", tmp_path / "assignments" / "resnet")  # as a copy is built
    shutil.rmtree(tmp_path / "assignments" / "resnet" / "checks" / "hidden")
    monkeypatch.setenv("AUTOGRADER_HOME", str(tmp_path))
    public_only = api.check(EXAMPLES / "buggy_student", "resnet")
    assert public_only.hidden_points == full.hidden_points > 0
    assert public_only.report.max_score == full.report.max_score
    assert public_only.report.score == full.report.score
