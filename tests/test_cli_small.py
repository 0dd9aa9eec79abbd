"""Small things users meet first: -h everywhere, exit statuses in every help, `report` of a
folder with a default format, `release` says what it left unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_cli import run

COMMANDS = [["list"], ["schema"], ["release"], ["validate"], ["grade"], ["check"], ["report"],
            ["package"], ["package", "gradescope"], ["package", "students"], ["export"],
            ["export", "nbgrader"], []]


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) or "autograder" for c in COMMANDS])
def test_every_command_takes_h_and_documents_its_exit_status(command: list[str]) -> None:
    result = run(*command, "-h")
    assert result.returncode == 0, result.stderr
    assert "Exit status: 0" in result.stdout


def test_report_renders_a_folder_as_markdown_by_default(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    source = tmp_path / "one.json"
    graded = run("grade", str(ROOT / "examples" / "resnet" / "good_student"), "-a", "resnet",
                 "-o", str(source), "-t", "BasicBlock")
    assert graded.returncode == 0, graded.stderr
    (folder / "good_student.json").write_text(source.read_text())
    result = run("report", str(folder))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("## resnet") and "Submission good\\_student" in result.stdout


def test_release_says_what_it_left_unchanged() -> None:
    result = run("release", "resnet")
    assert result.returncode == 0, result.stderr
    assert "wrote" not in result.stdout  # the committed template is up to date
    assert "file(s) unchanged" in result.stdout
