"""Issue 16: the constructor spellings real students use (seed 000's `planes`, kuangliu's
`(in_planes, planes, stride=1)`) earn what the exercise's names earn. Through the CLI, on the
known-good and known-bad cases that `validate resnet` also grades."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autograder.report.model import Report
from autograder.spec import load_assignment
from tests.conftest import ROOT
from tests.test_cli import run

CASES = ROOT / "assignments" / "resnet" / "cases"
REFERENCE = ROOT / "reference" / "resnet"
RESIDUAL, BATCHNORM = "test_residual_addition_happens", "test_batchnorm_train_vs_eval"
SUBMISSIONS = {  # submission -> its case (the reference supplies the other file)
    "kuangliu": CASES / "good" / "kuangliu_block",
    "planes": CASES / "good" / "seed_planes_keyword",
    "fourth": CASES / "bad" / "constructor_needs_fourth_argument",
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    """The three submissions graded by one `autograder grade` of a class folder."""
    root = tmp_path_factory.mktemp("spellings")
    for name, case in SUBMISSIONS.items():
        shutil.copytree(REFERENCE, root / "class" / name, ignore=shutil.ignore_patterns("*.md"))
        for path in case.glob("*.py"):
            shutil.copyfile(path, root / "class" / name / path.name)
    result = run("grade", str(root / "class"), "-a", "resnet", "-o", str(root / "reports"),
                 "--task", "BasicBlock", "--task", RESIDUAL, "--task", BATCHNORM)
    assert result.returncode == 0, result.stdout + result.stderr
    return {name: Report.model_validate_json((root / "reports" / f"{name}.json").read_text())
            for name in SUBMISSIONS}


def _constructor_check(report: Report):
    [check] = [t for t in report.task("BasicBlock").tests if t.check_id.endswith("test_constructor")]
    return check


def test_a_kuangliu_block_earns_full_marks_with_a_note(graded: dict[str, Report]) -> None:
    report = graded["kuangliu"]
    assert (report.task("BasicBlock").score, report.task("BasicBlock").max_score) == (10, 10)
    check = _constructor_check(report)
    assert check.status == "passed" and check.score == check.max_score > 0
    assert "note: your constructor names its parameters (in_planes, planes, stride)" in check.feedback
    assert "costs nothing" in check.feedback


def test_a_test_that_says_planes_earns_full_marks(graded: dict[str, Report]) -> None:
    report = graded["planes"]
    assert [(t.name, t.score, t.max_score) for t in report.tasks[1:]] == [
        (RESIDUAL, 5, 5), (BATCHNORM, 5, 5)]
    # the exercise's names: no note
    assert _constructor_check(report).feedback == ""


def test_a_constructor_that_needs_a_fourth_argument_still_fails(graded: dict[str, Report]) -> None:
    check = _constructor_check(graded["fourth"])
    assert check.status == "failed" and check.score == 0
    assert check.feedback == (
        "BasicBlock's constructor takes (in_channels, out_channels, stride, norm_layer): it "
        "also needs `norm_layer`, so BasicBlock(in_channels, out_channels, stride=1) cannot "
        "build it; give `norm_layer` a default or leave it out")


def test_the_note_reaches_the_students_check_output(tmp_path: Path) -> None:
    work = tmp_path / "work"
    shutil.copytree(REFERENCE, work, ignore=shutil.ignore_patterns("*.md"))
    shutil.copyfile(SUBMISSIONS["kuangliu"] / "resnet.py", work / "resnet.py")
    result = run("check", str(work), "-a", "resnet")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    at = lines.index("  PASS    BasicBlock is an nn.Module built as BasicBlock(in_channels, "
                     "out_channels, stride=1)")
    assert lines[at + 1].strip().startswith("note: your constructor names its parameters")


def test_aliases_are_the_assignments_declaration() -> None:
    """Declared once, in assignment.toml (nothing about BasicBlock lives in autograder/)."""
    aliases = load_assignment("resnet").aliases
    assert aliases["BasicBlock"] == {"planes": "out_channels", "in_planes": "in_channels",
                                     "inplanes": "in_channels"}


@pytest.mark.parametrize("declared", [True, False], ids=["aliases", "without-aliases"])
def test_a_network_calling_its_block_in_kuangliu_names_keeps_its_points(
        tmp_path: Path, declared: bool) -> None:
    """The ResNet checks build the student's network with the grader's standard block, which
    takes the declared aliases as the reference does: a ResNet that calls
    `block(in_planes=..., planes=..., stride=...)` is correct. Without the declaration the
    same network loses ResNet (the unfairness the aliases remove)."""
    from autograder import api

    work = tmp_path / "work"
    shutil.copytree(REFERENCE, work, ignore=shutil.ignore_patterns("*.md"))
    shutil.copyfile(CASES / "good" / "kuangliu_keyword_calls" / "resnet.py", work / "resnet.py")
    spec = load_assignment("resnet")
    if not declared:
        spec = spec.model_copy(update={"aliases": {}})
    with api.judging(spec, tasks=["ResNet"]) as judge:
        task = judge.grade(work).task("ResNet")
    if declared:
        assert (task.score, task.max_score) == (10, 10), [t.feedback for t in task.tests]
    else:
        assert task.score < 1 and any("in_planes" in t.feedback for t in task.tests)
