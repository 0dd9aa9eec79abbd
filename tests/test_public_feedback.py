"""Public checks worth running: a block with a real bug fails one that says how to fix it,
and `check --fail-under` turns failing public checks into a red CI status. Through the CLI."""

from __future__ import annotations

from tests.conftest import ROOT
from tests.test_cli import run

EXAMPLES = ROOT / "examples" / "resnet"


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
    # the test tasks say why they show no check instead of a bare heading
    assert "(no public check: only the hidden checks grade this task)" in result.stdout

    lenient = run("check", str(EXAMPLES / "buggy_student"), "--fail-under", "50")
    assert lenient.returncode == 0, lenient.stderr


def test_a_correct_block_passes_every_public_check() -> None:
    result = run("check", str(EXAMPLES / "good_student"), "--fail-under", "100")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout and "ERROR" not in result.stdout
