"""The cnn assignment end to end: real grading of the reference, the template, the known-good
and known-bad cases in assignments/cnn/cases/, a notebook, and hostile loops.

Everything is graded once (module-scoped fixtures, one `grade` call with two judges); the
tests read the reports.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import api
from autograder.report.model import Report
from autograder.spec import load_assignment
from tests.conftest import ROOT, failing

CASES = ROOT / "assignments" / "cnn" / "cases"
REFERENCE = ROOT / "reference" / "cnn" / "cnn.py"
TEMPLATE = ROOT / "student_template" / "cnn" / "cnn.py"
TASKS = ["set_seed", "CNNPyTorch", "data_pipeline", "train_one_epoch", "evaluate"]
GOOD = sorted(p.name for p in (CASES / "good").iterdir())
BAD = sorted(p.name for p in (CASES / "bad").iterdir())

# A loop that never ends and an evaluation that allocates without bound.
HOSTILE = REFERENCE.read_text().replace(
    "        batches += 1\n    return train_loss / batches, train_correct / train_total\n",
    "        batches += 1\n    while True:\n        pass\n",
).replace(
    "    model.eval()\n    test_loss = 0.0\n",
    "    model.eval()\n    hoard = []\n    while True:\n        hoard.append(torch.ones(2**24))\n",
)


def notebook_from(source: str) -> nbformat.NotebookNode:
    """The module as a notebook: a markdown cell for its docstring, then one code cell per
    top-level statement group (imports, each function, each class), as a student would."""
    tree = ast.parse(source)
    lines = source.splitlines()
    cells = [nbformat.v4.new_markdown_cell(ast.get_docstring(tree) or "")]
    body = tree.body[1:] if ast.get_docstring(tree) else tree.body
    for node in body:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        cells.append(nbformat.v4.new_code_cell("\n".join(lines[start - 1:node.end_lineno])))
    return nbformat.v4.new_notebook(cells=cells)


def case_file(kind: str, name: str) -> Path:
    return CASES / kind / name / "cnn.py"


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    """Every submission of this file, graded in one call with two judges (as `grade -j 2`)."""
    root = tmp_path_factory.mktemp("cnn")
    folders: dict[str, Path] = {}

    def add(name: str, source: str | None = None, notebook: nbformat.NotebookNode | None = None) -> None:
        folder = root / name.replace(" ", "_").replace("/", "_")
        folder.mkdir()
        if notebook is not None:
            nbformat.write(notebook, folder / "cnn.ipynb")
        else:
            (folder / "cnn.py").write_text(source)
        folders[name] = folder

    add("reference", REFERENCE.read_text())
    add("reference again", REFERENCE.read_text())
    add("template", TEMPLATE.read_text())
    add("notebook", notebook=notebook_from(REFERENCE.read_text()))
    for name in GOOD:
        add(f"good/{name}", case_file("good", name).read_text())
    for name in BAD:
        add(f"bad/{name}", case_file("bad", name).read_text())
    add("bad/no_zero_grad again", case_file("bad", "no_zero_grad").read_text())
    graded = api.grade(list(folders.values()), "cnn", jobs=2)
    return dict(zip(folders, graded, strict=True))


def scores(report: Report) -> dict[str, float]:
    return {task.name: round(task.score, 4) for task in report.tasks}


def full(report: Report) -> dict[str, float]:
    return {task.name: task.max_score for task in report.tasks}


def test_reference_full_marks_template_nothing(reports: dict[str, Report]) -> None:
    reference = reports["reference"]
    assert reference.score == reference.max_score == 35, failing(reference)
    assert reference.problems == []
    template = reports["template"]
    assert template.score == 0, scores(template)
    assert all(t.status != "passed" for task in template.tasks for t in task.tests
               if "public" not in t.check_id)


def test_known_good_styles_get_full_marks(reports: dict[str, Report]) -> None:
    assert "seed_as_printed" in GOOD and len(GOOD) >= 3
    for name in GOOD:
        report = reports[f"good/{name}"]
        assert scores(report) == full(report), (name, failing(report))


@pytest.mark.parametrize("name", BAD)
def test_known_bad_case_loses_its_task_only(reports: dict[str, Report], name: str) -> None:
    expect = tomllib.loads((CASES / "bad" / name / "case.toml").read_text())
    lose = set(expect["lose"])
    keep = set(expect.get("keep", [t for t in TASKS if t not in lose]))
    report = reports[f"bad/{name}"]
    got = scores(report)
    for task in lose:
        assert got[task] < report.task(task).max_score, (name, task, got)
    for task in keep:
        assert got[task] == report.task(task).max_score, (name, task, failing(report))


def test_feedback_names_the_bug_in_the_students_words(reports: dict[str, Report]) -> None:
    expected = {
        "softmax_before_loss": "softmax to the outputs before CrossEntropyLoss",
        "no_zero_grad": "never zeroes the gradients",
        "zero_grad_between_backward_and_step": "zeroes the gradients between backward() and step()",
        "step_before_backward": "step() before loss.backward()",
        "step_once_per_epoch": "once after the epoch",
        "loss_tensor_accumulated": "`train_loss += loss` keeps every batch's graph",
        "no_train_mode": "call model.train()",
        "train_accuracy_wrong_dim": "maximum over dimension 0",
        "no_eval_mode": "call model.eval()",
        "no_no_grad": "torch.no_grad()",
        "evaluate_accuracy_wrong_dim": "maximum over dimension 0",
        "test_loader_shuffled": "the test loader shuffles",
        "wrong_normalisation": "(0.5,), (0.5,) instead of MNIST's mean 0.1307",
        "view_wrong_shape": "view of the wrong shape",
        "missing_relu": "no ReLU between fc1 and fc2",
        "unregistered_layer": "not registered",
        "softmax_in_forward": "softmax probabilities",
        "numpy_not_seeded": "np.random.seed(seed)",
    }
    assert set(expected) == set(BAD)
    for name, words in expected.items():
        feedback = " ".join(failing(reports[f"bad/{name}"]).values())
        assert words in feedback, (name, feedback[:600])


def test_notebook_graded_as_the_python_file(reports: dict[str, Report]) -> None:
    notebook, python = reports["notebook"], reports["reference"]
    assert notebook.submission.files == ["cnn.ipynb"]
    assert scores(notebook) == scores(python) == full(python), failing(notebook)
    statuses = {t.check_id: t.status for task in notebook.tasks for t in task.tests}
    assert statuses == {t.check_id: t.status for task in python.tasks for t in task.tests}


def test_grading_twice_gives_the_same_results(reports: dict[str, Report]) -> None:
    for name in ("reference", "bad/no_zero_grad"):
        first, second = reports[name], reports[f"{name} again"]
        assert scores(first) == scores(second)
        assert failing(first) == failing(second)  # the training check's accuracies too
    assert "reaches a test accuracy of" in " ".join(failing(reports["bad/no_zero_grad"]).values())


def test_hanging_loop_and_unbounded_allocation_cost_their_task_alone(tmp_path: Path) -> None:
    spec = load_assignment("cnn")
    quick = spec.model_copy(update={"limits": spec.limits.model_copy(
        update={"check_seconds": 3, "memory_mb": 512})})
    folder = tmp_path / "hostile"
    folder.mkdir()
    (folder / "cnn.py").write_text(HOSTILE)
    with api.judging(quick) as judge:
        report = judge.grade(folder)
    got = scores(report)
    assert got["train_one_epoch"] == 0 and got["evaluate"] == 0, got
    for task in ("set_seed", "CNNPyTorch", "data_pipeline"):
        assert got[task] == report.task(task).max_score, failing(report)
    assert {t.status for t in report.task("train_one_epoch").tests} == {"timeout"}
    assert {t.status for t in report.task("evaluate").tests} <= {"error", "timeout"}
    # Each stuck run costs one time limit, not one per check that reads it: four runs of the
    # loop (two support models, the real training, the public check), whatever the load.
    stuck = [t for t in report.task("train_one_epoch").tests if t.duration >= 3]
    assert len(stuck) <= 4 < len(report.task("train_one_epoch").tests), stuck


def test_cases_are_complete_submissions() -> None:
    """Each case folder holds a case.toml and a cnn.py that parses."""
    for kind in ("good", "bad"):
        for folder in (CASES / kind).iterdir():
            about = tomllib.loads((folder / "case.toml").read_text())
            assert about["about"], folder
            ast.parse((folder / "cnn.py").read_text())


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_command_line_workflow(tmp_path: Path) -> None:
    """check with hints and grade -j 2 as users run them (subprocesses), then every report
    format, the nbgrader export and the Gradescope package of what they wrote."""
    examples = ROOT / "examples" / "cnn"
    checked = cli("check", str(examples / "buggy_student"), "--assignment", "cnn")
    assert checked.returncode == 0, checked.stderr
    assert "set_seed(0) twice gives the same draws" in checked.stdout
    assert "metrics taken with .item()" in checked.stdout  # the hint of the failing check
    graded = cli("grade", str(examples / "good_student"), str(examples / "buggy_student"),
                 "--assignment", "cnn", "-j", "2", "--output", str(tmp_path / "reports"))
    assert graded.returncode == 0, graded.stderr
    good = json.loads((tmp_path / "reports" / "good_student.json").read_text())
    buggy_path = tmp_path / "reports" / "buggy_student.json"
    buggy = json.loads(buggy_path.read_text())
    assert good["score"] == good["max_score"] == 35
    lost = {t["name"] for t in buggy["tasks"] if t["score"] < t["max_score"]}
    assert lost == set(TASKS), buggy["tasks"]
    for fmt in ("gradescope", "junit", "markdown", "github"):
        rendered = api.render_reports([buggy_path], fmt)
        assert "draws from random, numpy differ" in rendered, (fmt, rendered[:300])
    exported = api.export_nbgrader([tmp_path / "reports"], tmp_path / "gb.db")
    assert exported.created == 2 and len(exported.students) == 2
    package = api.package_gradescope("cnn", tmp_path / "cnn.zip")
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
    assert {"grader/assignments/cnn/support.py", "grader/reference/cnn/cnn.py",
            "grader/assignments/cnn/checks/hidden/test_train_one_epoch.py"} <= names
