"""Public checks worth running: a block with a real bug fails one that says how to fix it,
the tests students write get public feedback (do they pass on a correct block, do they catch
a published bug), and `check --fail-under` turns failing public checks into a red CI status.
Through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from autograder.validate import Validation
from tests.conftest import ROOT, case_names
from tests.test_cli import run

EXAMPLES = ROOT / "examples" / "resnet"
REFERENCE = ROOT / "reference" / "resnet"
RESIDUAL, BATCHNORM = "test_residual_addition_happens", "test_batchnorm_train_vs_eval"
PASSES = "Your test runs and passes on a correct BasicBlock"
CATCHES = {RESIDUAL: "Your test catches the published bug [the block forgets the shortcut]",
           BATCHNORM: "Your test catches the published bug [the block ignores .eval()]"}


def test_a_buggy_block_fails_a_public_check_with_its_hint_and_fails_ci() -> None:
    # buggy_student applies ReLU to the main path before adding the shortcut: before the
    # feedback checks, every public check passed on it.
    result = run("check", str(EXAMPLES / "buggy_student"), "--fail-under", "100")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL    A stride-1 block adds its input to the main path, then applies ReLU once" \
        in result.stdout
    assert "add the shortcut first, then apply the final ReLU once" in result.stdout
    assert "under --fail-under 100" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    # the test tasks get public feedback too (its tests are fine: they pass it)
    assert "PASS    Your test catches the published bug [the block forgets the shortcut]" \
        in result.stdout

    lenient = run("check", str(EXAMPLES / "buggy_student"), "--fail-under", "50")
    assert lenient.returncode == 0, lenient.stderr


def test_a_correct_block_passes_every_public_check() -> None:
    result = run("check", str(EXAMPLES / "good_student"), "--fail-under", "100")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout and "ERROR" not in result.stdout
    # its tests pass on a correct block and catch both published bugs
    for task in (RESIDUAL, BATCHNORM):
        assert f"{task}\n  PASS    {PASSES}\n  PASS    {CATCHES[task]}\n" in result.stdout


def _test_file(residual: str, batchnorm: str) -> str:
    return ("import torch\n\n\ndef test_residual_addition_happens():\n"
            "    from resnet import BasicBlock\n" + residual +
            "\n\ndef test_batchnorm_train_vs_eval():\n    from resnet import BasicBlock\n" + batchnorm)


STUB = "    raise NotImplementedError\n"
WEAK = ("    block = BasicBlock(8, 8)\n"  # shapes only: passes on every broken block too
        "    assert block(torch.randn(2, 8, 4, 4)).shape == (2, 8, 4, 4)\n")


def _check(folder: Path, tests: str) -> tuple[str, dict[str, dict[str, tuple[str, str]]]]:
    """`autograder check` on the reference's resnet.py with these tests: its output, and
    task -> check name -> (status, feedback) of the two test tasks."""
    shutil.copytree(REFERENCE, folder, ignore=shutil.ignore_patterns("*.md"))
    (folder / "test_resnet.py").write_text(tests)
    result = run("check", str(folder), "-o", str(folder / "report.json"))
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((folder / "report.json").read_text())
    return result.stdout, {task["name"]: {t["name"]: (t["status"], t["feedback"])
                                          for t in task["tests"]}
                           for task in report["tasks"] if task["name"] in CATCHES}


def test_student_tests_get_public_feedback(tmp_path: Path) -> None:
    """A weak residual test (shapes only) and an untouched stub: one `check` shows both. (A
    correct test passes both checks: the good_student test above.)"""
    out, checks = _check(tmp_path / "work", _test_file(WEAK, STUB))
    assert checks[RESIDUAL][PASSES] == ("passed", "")
    status, feedback = checks[RESIDUAL][CATCHES[RESIDUAL]]
    assert status == "failed" and feedback.startswith(
        "your test still passes when the block forgets the shortcut")
    assert "zero the convolution weights and compare the output with relu(input)" in feedback
    assert f"  PASS    {PASSES}\n  FAIL    {CATCHES[RESIDUAL]}\n" in out

    status, feedback = checks[BATCHNORM][PASSES]
    assert status == "failed"
    assert feedback.startswith("your test fails against a correct BasicBlock")
    assert "NotImplementedError (at test_resnet.py line 12: `raise NotImplementedError`)" in feedback
    status, feedback = checks[BATCHNORM][CATCHES[BATCHNORM]]
    assert status == "failed" and feedback.startswith("first your test must pass on a correct")


@pytest.mark.parametrize("case", case_names("resnet", "good"))
def test_known_good_tests_pass_their_public_feedback(resnet_validation: Validation,
                                                     case: str) -> None:
    """Fair: every known-good test (any style, either spelling) passes on torchvision's block
    and catches both published bugs, as it passes the hidden checks."""
    report = resnet_validation.cases[f"good/{case}"]
    for task in (RESIDUAL, BATCHNORM):
        public = [t for t in report.task(task).tests if "/checks/public/" in f"/{t.check_id}"]
        assert [(t.name, t.status) for t in public] == [
            (PASSES, "passed"), (CATCHES[task], "passed")], case
