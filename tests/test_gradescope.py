"""`autograder package gradescope`: the zip, and its run_autograder run for real in a folder
laid out as Gradescope lays out /autograder (source, submission, results)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from autograder import api
from autograder.gradescope import main as run_autograder_main
from autograder.report.gradescope import results_schema
from tests.conftest import ROOT

EXAMPLES = ROOT / "examples" / "resnet"


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return api.package_gradescope("resnet", tmp_path_factory.mktemp("package") / "autograder.zip")


def test_zip_holds_what_gradescope_expects(package: Path) -> None:
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        run_script = archive.read("run_autograder").decode()
    assert {"setup.sh", "run_autograder", "grader/pyproject.toml", "grader/autograder/cli.py",
            "grader/autograder/judge/pytest.ini", "grader/autograder/report/gradescope_results.schema.json",
            "grader/assignments/resnet/assignment.toml", "grader/reference/resnet/resnet.py"} <= names
    assert any(n.startswith("grader/assignments/resnet/checks/hidden/") for n in names)
    assert not any("__pycache__" in n or n.endswith(".pyc") or "/." in n for n in names)
    assert modes["setup.sh"] & stat.S_IXUSR and modes["run_autograder"] & stat.S_IXUSR
    assert "--assignment resnet" in run_script and 'AUTOGRADER_ROOT:-/autograder' in run_script


def _unpack(package: Path, root: Path, files: dict[str, Path]) -> Path:
    """A folder laid out as /autograder: source/ (the zip), run_autograder, submission/."""
    with zipfile.ZipFile(package) as archive:
        archive.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "run_autograder").chmod(0o755)
    for name, source in files.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, root / "submission" / name)
    return root


def _install_zipped_grader(root: Path) -> Path:
    """The zip's grader installed by setup.sh's own install line, as far as this offline
    machine allows: into a folder of its own (``--target``) with this interpreter's pip, and
    without dependencies (torch cannot be downloaded here; this interpreter has it). A
    fresh venv that borrowed torch from elsewhere would not do: Landlock lets workers read
    only their own installation. Returns the folder to put first on PYTHONPATH."""
    setup = (root / "source" / "setup.sh").read_text()
    [install] = [line for line in setup.splitlines()
                 if line.startswith("/autograder/venv/bin/pip install /autograder/source/grader")]
    target = root / "grader-installed"
    command = [sys.executable, "-m", "pip", *install.replace("/autograder", str(root)).split()[1:],
               "--target", str(target), "--no-deps", "--quiet"]
    installed = subprocess.run(command, timeout=300, capture_output=True, text=True)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return target


def test_run_autograder_for_real(package: Path, tmp_path: Path) -> None:
    reference = ROOT / "reference" / "resnet"
    roots = {
        "reference": _unpack(package, tmp_path / "reference", {
            "resnet.py": reference / "resnet.py", "test_resnet.py": reference / "test_resnet.py"}),
        # Uploaded as a folder: the files one level down.
        "buggy": _unpack(package, tmp_path / "buggy", {
            "my_work/resnet.py": EXAMPLES / "buggy_student" / "resnet.py",
            "my_work/test_resnet.py": EXAMPLES / "buggy_student" / "test_resnet.py"}),
    }
    # The zip's own package, installed once and shared; never this checkout's.
    installed = _install_zipped_grader(roots["reference"])
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AUTOGRADER", "PYTEST", "PYTHON"))}
    env.update(PYTHONPATH=str(installed), AUTOGRADER_PYTHON=sys.executable)
    imported = subprocess.run(
        [sys.executable, "-c", "import autograder.gradescope; print(autograder.__file__)"],
        cwd=roots["buggy"], env=env, capture_output=True, text=True, check=True)
    assert Path(imported.stdout.strip()) == installed / "autograder" / "__init__.py"
    runs = {name: subprocess.Popen(
                ["bash", str(root / "run_autograder")], cwd=root, text=True,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                env={**env, "AUTOGRADER_ROOT": str(root)})
            for name, root in roots.items()}  # both at once: two cores
    results = {}
    for name, process in runs.items():
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output
        results[name] = json.loads((roots[name] / "results" / "results.json").read_text())
        jsonschema.validate(results[name], results_schema())

    full = results["reference"]
    assert full["score"] == full["extra_data"]["max_score"] > 0
    assert all(t["status"] == "passed" for t in full["tests"])
    assert full["extra_data"]["submission"] == "submission"

    buggy = results["buggy"]
    assert 0 < buggy["score"] < buggy["extra_data"]["max_score"]
    failed = [t for t in buggy["tests"] if t["status"] == "failed"]
    assert failed and all(t["output"] for t in failed)
    assert any("ReLU" in t["output"] for t in failed)
    visibility = {t["visibility"] for t in buggy["tests"]}
    assert {"visible", "after_published"} <= visibility  # the hidden checks' own, kept
    # The instructor-only stdout says what was graded; the full report lies beside results.json.
    assert (roots["buggy"] / "results" / "report.json").is_file()
    # The submission Gradescope keeps is untouched: grading worked on a copy.
    assert sorted(p.name for p in (roots["buggy"] / "submission").rglob("*")) == [
        "my_work", "resnet.py", "test_resnet.py"]


def test_run_autograder_always_writes_results(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "submission").mkdir()
    assert run_autograder_main(["--root", str(tmp_path), "--assignment", "no_such_assignment"]) == 1
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    jsonschema.validate(results, results_schema())
    assert results["score"] == 0 and "unknown assignment" in results["output"]
