"""`autograder package students`: the students' copy holds no solution, and works.

The leak scan here is independent of the one the command runs itself: it collects every
line of every solution region (reference files, the script that built the nn_module
notebook) and every line of the reference the template does not hold, and searches every
file of the built copy for each of them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.spec import assignment_names
from tests.conftest import ROOT

# Lines this long or shorter are common idioms (`return out`, `super().__init__()`).
COMMON = 20


def _lines(path: Path) -> list[str]:
    text = path.read_text(errors="replace")
    if path.suffix == ".ipynb":
        return [line for cell in json.loads(text)["cells"]
                for line in "".join(cell["source"]).splitlines()]
    return text.splitlines()


def _solution_regions(lines: list[str]) -> list[str]:
    found, inside = [], False
    for line in lines:
        if "### BEGIN SOLUTION" in line:
            inside = True
        elif "### END SOLUTION" in line:
            inside = False
        elif inside:
            found.append(line.strip())
    return found


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]


def _secrets() -> set[str]:
    from autograder.student_copy import public_lines

    template = {line.strip() for path in _files(ROOT / "student_template") for line in _lines(path)}
    secret = set()
    for path in _files(ROOT / "reference"):
        lines = _lines(path)
        secret |= set(_solution_regions(lines)) | {line.strip() for line in lines}
    secret |= set(_solution_regions(_lines(ROOT / "scripts" / "build_nn_module_notebook.py")))
    return {line for line in secret - template - public_lines() if len(line) > COMMON}


@pytest.fixture(scope="module")
def student_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("copy") / "grader"
    names = assignment_names()
    result = subprocess.run([sys.executable, "-m", "autograder", "package", "students", *names,
                             "-o", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert re.match(r"wrote .*grader/ \(\d+ files, \d+ changed\)", result.stdout)
    return out


def test_the_students_copy_holds_no_solution_line(student_copy: Path) -> None:
    secrets = _secrets()
    assert len(secrets) > 40  # the scan searches for something: both assignments' solutions
    leaks = []
    for path in _files(student_copy):
        text = path.read_text(errors="replace")
        if path.suffix == ".ipynb":
            text += "\n" + "\n".join(_lines(path))
        lines = {line.strip() for line in text.splitlines()}
        lines |= {line.lstrip("#").strip() for line in lines}  # commented-out code leaks too
        leaks += [f"{path.relative_to(student_copy)}: {line}" for line in lines & secrets]
    assert leaks == []


def test_the_students_copy_holds_only_what_students_may_read(student_copy: Path) -> None:
    relative = {p.relative_to(student_copy).as_posix() for p in _files(student_copy)}
    top = {name.split("/")[0] for name in relative}
    assert top == {"autograder", "assignments", "student_template", "pyproject.toml", "README.md",
                   ".autograder-students-copy"}
    forbidden = ("checks/hidden", "mutants.toml", "cases/", "reference", "examples", "scripts/",
                 "tests/", "good_student", "build_nn_module_notebook")
    assert [name for name in relative if any(word in name for word in forbidden)] == []
    hidden_tests = {line.strip() for path in ROOT.glob("assignments/*/checks/hidden/*.py")
                    for line in path.read_text().splitlines() if line.startswith("def test_")}
    found = {line.strip() for path in _files(student_copy) if path.suffix == ".py"
             for line in path.read_text().splitlines()}
    assert hidden_tests and not (hidden_tests & found)
    for name in assignment_names():  # every assignment: public checks, template, its workflow
        assert any(n.startswith(f"assignments/{name}/checks/public/") for n in relative)
        assert f"student_template/{name}/README.md" in relative
    readme = (student_copy / "README.md").read_text()
    assert "download.pytorch.org/whl/cpu" in readme and "source .venv/bin/activate" in readme


def test_the_students_copy_runs_public_checks(student_copy: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    for path in (ROOT / "examples" / "resnet" / "good_student").glob("*.py"):
        (work / path.name).write_text(path.read_text())
    env = {**os.environ, "PYTHONPATH": str(student_copy)}
    env.pop("AUTOGRADER_HOME", None)
    result = subprocess.run([sys.executable, "-m", "autograder", "check"], capture_output=True,
                            text=True, cwd=work, env=env, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "public checks pass" in result.stdout
    assert "Hidden checks worth 27.23 more points" in result.stdout
    # The published bugs that give students' tests public feedback come with the copy on
    # purpose (support.py: public by design); the hidden mutants stay out (mutants.toml).
    assert "PASS    Your test catches the published bug [the block forgets the shortcut]" \
        in result.stdout
    support = (student_copy / "assignments" / "resnet" / "support.py").read_text()
    assert "class BlockWithoutShortcut(BasicBlock):" in support


def test_packaging_again_replaces_only_a_students_copy(student_copy: Path, tmp_path: Path) -> None:
    again = subprocess.run([sys.executable, "-m", "autograder", "package", "students", "resnet",
                            "-o", str(student_copy)], capture_output=True, text=True, cwd=ROOT,
                           timeout=120)
    assert again.returncode == 0, again.stderr
    assert not (student_copy / "assignments" / "nn_module").exists()
    other = tmp_path / "notes"
    other.mkdir()
    (other / "mine.txt").write_text("keep me")
    refused = subprocess.run([sys.executable, "-m", "autograder", "package", "students", "resnet",
                              "-o", str(other)], capture_output=True, text=True, cwd=ROOT,
                             timeout=120)
    assert refused.returncode == 1
    assert "is not empty and is not a students' copy" in refused.stderr
    assert (other / "mine.txt").read_text() == "keep me"
