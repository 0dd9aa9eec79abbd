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


def test_the_quick_exit_loses_nothing_and_leaves_nothing(tmp_path: Path) -> None:
    """`autograder` ends with os._exit once its exit handlers ran (the interpreter's teardown
    with torch loaded costs seconds): the output, the report, the exit status and the clean-up
    of the sandbox are all still there."""
    import json
    import subprocess
    import sys

    from tests.classroom import cli_env, processes_marked

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = cli_env(TMPDIR=str(scratch), AUTOGRADER_TEST_MARK="quick-exit")
    env.pop("PYTHONUNBUFFERED", None)  # buffered output, as in a terminal-less CI job
    report = tmp_path / "check.json"
    done = subprocess.run([sys.executable, "-m", "autograder", "check",
                           str(ROOT / "examples" / "resnet" / "good_student"), "-o", str(report)],
                          capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("passing the public checks is not full marks.")
    assert json.loads(report.read_text())["assignment"] == "resnet"
    assert processes_marked("quick-exit", scratch) == []  # no zygote, no worker left
    # The zygote's and the workspace's folders are removed (torch keeps a cache folder there).
    assert [p.name for p in scratch.iterdir() if p.name.startswith("autograder")] == []
    missing = subprocess.run([sys.executable, "-m", "autograder", "check", str(tmp_path / "none")],
                             capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert missing.returncode == 1 and missing.stderr.strip() == \
        f"Error: path does not exist: {tmp_path / 'none'}"
    assert run("grade").returncode == 2
