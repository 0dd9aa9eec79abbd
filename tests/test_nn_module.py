"""The nn_module assignment end to end: real notebooks (nbformat), real workers.

Each submission is graded once (module-scoped fixtures); the tests read its report. Correct
solutions in other styles and typical bugs are the assignment's known-good and known-bad cases
(assignments/nn_module/cases), graded by `validate nn_module`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import nbformat
import pytest

from autograder import api
from autograder.judge.runner import Judge
from autograder.report.model import Report
from autograder.spec import load_assignment
from autograder.validate import Validation
from tests.conftest import ROOT, case_names, failing

REFERENCE_NOTEBOOK = ROOT / "reference" / "nn_module" / "nn_module.ipynb"
TEMPLATE_NOTEBOOK = ROOT / "student_template" / "nn_module" / "nn_module.ipynb"
CELL_SECONDS = 3  # short, so the endless cell below costs little

def reference_notebook() -> nbformat.NotebookNode:
    return nbformat.read(REFERENCE_NOTEBOOK, as_version=4)


def cell(notebook: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    return next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def reference_python() -> str:
    """The reference as a plain module: the setup cell's imports and the three solutions."""
    notebook = reference_notebook()
    setup = next(c for c in notebook.cells if c.cell_type == "code")
    parts = [setup.source] + [cell(notebook, f"{task}_solution").source
                              for task in ("CustomLinear", "FeatureExtractor", "LearnedNorm")]
    return "\n\n\n".join(parts) + "\n"


@pytest.fixture(scope="module")
def nn_judge() -> Iterator[Judge]:
    spec = load_assignment("nn_module")
    spec = spec.model_copy(update={"limits": spec.limits.model_copy(
        update={"cell_seconds": CELL_SECONDS})})
    with api.judging(spec) as judge:
        yield judge


@pytest.fixture(scope="module")
def grade_files(nn_judge: Judge, tmp_path_factory: pytest.TempPathFactory
                ) -> Callable[[str, dict[str, str | bytes | nbformat.NotebookNode]], Report]:
    """Grade a submission folder holding ``files`` (notebooks are written with nbformat)."""
    root = tmp_path_factory.mktemp("nn_module")

    def grade(name: str, files: dict[str, str | bytes | nbformat.NotebookNode]) -> Report:
        folder = root / name
        folder.mkdir()
        for file_name, content in files.items():
            if isinstance(content, nbformat.NotebookNode):
                nbformat.write(content, folder / file_name)
            elif isinstance(content, bytes):
                (folder / file_name).write_bytes(content)
            else:
                (folder / file_name).write_text(content)
        return nn_judge.grade(folder)

    return grade


@pytest.fixture(scope="module")
def reports(grade_files: Callable[..., Report]) -> dict[str, Report]:
    """Every submission these tests look at, graded once."""
    magic_notebook = reference_notebook()
    magic_notebook.cells[1:1] = [
        nbformat.v4.new_code_cell("!pip install foo\n%matplotlib inline"),
        nbformat.v4.new_code_cell("%%time\nfiles = !ls\ndisplay(files)\ntimed = 41 + 1"),
        nbformat.v4.new_code_cell("%load_ext autoreload\n%run helpers.py\nassert HELP == 7"),
        nbformat.v4.new_code_cell("%time assert timed == 42\nraise RuntimeError('a teaching "
                                  "cell that fails')"),
    ]
    # Warnings on stderr, from the student's forward and from PyTorch, cost nothing.
    linear = cell(magic_notebook, "CustomLinear_solution")
    linear.source = "import warnings\nwarnings.simplefilter('always')\n" + linear.source.replace(
        "    def forward(self, x):\n", "    def forward(self, x):\n        warnings.warn('slow path')\n"
        "        torch.tensor(x)  # PyTorch: 'To copy construct from a tensor...'\n")
    broken = reference_notebook()
    cell(broken, "LearnedNorm_solution").source = "class LearnedNorm(nn.Module:\n    pass"
    broken.cells[2:2] = [nbformat.v4.new_code_cell("print('x' * (100 * 1024 * 1024))"),
                         nbformat.v4.new_code_cell("while True:\n    pass")]
    return {
        "reference notebook": grade_files("reference_notebook",
                                          {"nn_module.ipynb": REFERENCE_NOTEBOOK.read_bytes()}),
        "reference py": grade_files("reference_py", {"nn_module.py": reference_python()}),
        "template": grade_files("template", {"nn_module.ipynb": TEMPLATE_NOTEBOOK.read_bytes()}),
        "magics": grade_files("magics", {"nn_module.ipynb": magic_notebook,
                                         "helpers.py": "HELP = 7\n"}),
        "broken": grade_files("broken", {"nn_module.ipynb": broken}),
    }


@pytest.fixture(scope="module")
def validation(nn_judge: Judge) -> Validation:
    """`validate nn_module`: its rows, and the reports of its known-good and known-bad cases
    (assignments/nn_module/cases), each graded once."""
    return api.validate("nn_module", judge=nn_judge)


def case(validation: Validation, label: str) -> Report:
    return validation.cases[label]


def test_validate_passes_on_nn_module(validation: Validation) -> None:
    assert validation.ok, [(r.subject, r.detail) for r in validation.failures]
    cases = case_names("nn_module", "good") + case_names("nn_module", "bad")
    assert sorted(validation.cases) == sorted(
        [f"good/{c}" for c in case_names("nn_module", "good")]
        + [f"bad/{c}" for c in case_names("nn_module", "bad")])
    assert len([r for r in validation.rows if " case " in r.subject]) == len(cases)


def scores(report: Report) -> dict[str, float]:
    return {task.name: round(task.score, 2) for task in report.tasks}


def feedback_of(report: Report, task: str) -> dict[str, str]:
    """check id -> feedback for the checks of ``task`` that did not pass."""
    ids = {t.check_id for t in report.task(task).tests}
    return {k: v for k, v in failing(report).items()
            if any(i.endswith(k) for i in ids)}


@pytest.mark.parametrize("name", ["reference notebook", "reference py"])
def test_correct_solutions_get_full_marks(reports: dict[str, Report], name: str) -> None:
    report = reports[name]
    assert report.score == report.max_score == 30, failing(report)
    assert report.problems == []


@pytest.mark.parametrize("name", case_names("nn_module", "good"))
def test_known_good_cases_get_full_marks(validation: Validation, name: str) -> None:
    """The seed notebook's own solutions and other styles (`self.bias = None`, detach without
    clone, F.linear, lambda hooks, ...): full marks."""
    report = case(validation, f"good/{name}")
    assert report.score == report.max_score == 30, failing(report)
    assert report.problems == []


def test_untouched_template_gets_zero(reports: dict[str, Report]) -> None:
    report = reports["template"]
    assert report.score == 0
    assert all(t.status in ("failed", "error") for task in report.tasks for t in task.tests)
    # The read-only "try it" cells raise on the stubs; they are reported, never fatal.
    assert any("code cell" in p and "raised" in p for p in report.problems)


def test_plain_tensor_parameters_lose_registration_checks(validation: Validation) -> None:
    report = case(validation, "bad/plain_tensor_parameters")
    lost = feedback_of(report, "CustomLinear")
    # The public formula check (weight 0, a hint) cannot assign weights that are not
    # registered either.
    assert set(lost) == {"test_parameters_registered", "test_gradients", "test_state_dict_keys",
                         "test_custom_linear_shape",
                         "test_custom_linear_computes_x_weight_t_plus_bias"}, lost
    assert "plain tensor, not an nn.Parameter" in lost["test_parameters_registered"]
    assert "no gradient reaches `weight`" in lost["test_gradients"]
    assert "weight" in lost["test_state_dict_keys"]
    assert 0 < report.task("CustomLinear").score < 10  # the maths is right: output, init


def test_attached_features_lose_the_detach_check(validation: Validation) -> None:
    lost = feedback_of(case(validation, "bad/features_not_detached"), "FeatureExtractor")
    assert set(lost) == {"test_features_are_detached"}, lost
    assert "output.detach()" in lost["test_features_are_detached"]


def test_batch_statistics_norm_is_named(validation: Validation) -> None:
    report = case(validation, "bad/batch_statistics_norm")
    lost = feedback_of(report, "LearnedNorm")
    assert set(lost) == {"test_forward_formula[2-D]", "test_forward_formula[N-D]",
                         "test_eps_honoured", "test_gradients_reach_parameters",
                         "test_it_trains", "test_learned_norm_computes_the_normalisation"}, lost
    assert "batch's own mean and std" in lost["test_forward_formula[2-D]"]
    assert "no gradient reaches `learned_mean`: forward must use it" in lost[
        "test_gradients_reach_parameters"]
    assert "did not change" in lost["test_it_trains"]
    assert report.task("LearnedNorm").score > 0  # its parameters are right


def test_python_list_of_layers_is_explained(validation: Validation) -> None:
    report = case(validation, "bad/layer_in_python_list")
    lost = feedback_of(report, "CustomLinear")
    assert "Python list" in lost["test_parameters_registered"]
    assert report.task("LearnedNorm").score == 10


def test_forgotten_hook_handles_lose_remove_hooks(validation: Validation) -> None:
    lost = feedback_of(case(validation, "bad/hook_handles_forgotten"), "FeatureExtractor")
    assert set(lost) == {"test_remove_hooks"}, lost
    assert "hooks are still registered" in lost["test_remove_hooks"]
    assert "`conv1`" in lost["test_remove_hooks"]


def test_magics_and_shell_escapes_are_neutralised(reports: dict[str, Report]) -> None:
    report = reports["magics"]
    assert report.score == 30, failing(report)
    # %%time ran its body (42), %time its statement; the failing cell is reported alone.
    assert report.problems == [
        "nn_module.ipynb code cell 4 raised RuntimeError: a teaching cell that fails (line 2: "
        "`raise RuntimeError('a teaching cell that fails')`); the cells after it still ran"]


def test_broken_exercise_cell_endless_cell_and_huge_output(reports: dict[str, Report]) -> None:
    report = reports["broken"]
    assert scores(report) == {"CustomLinear": 10, "FeatureExtractor": 10, "LearnedNorm": 0}
    problems = "\n".join(report.problems)
    assert "code cell 2 printed 100.0 MB of output" in problems
    assert f"code cell 3 did not finish within {CELL_SECONDS} s and was stopped" in problems
    assert "raised SyntaxError" in problems
    lost = feedback_of(report, "LearnedNorm")
    assert all("defines no `LearnedNorm`" in text or "defines no LearnedNorm" in text
               for text in lost.values()), lost
    assert any("code cells 3, " in text for text in lost.values()), lost  # which cells failed


@pytest.mark.parametrize("content, expected", [
    (b'{"cells": [', "could not be read: it is not valid notebook JSON"),
    (b"", "could not be read: it is empty"),
    (b"import torch\n", "could not be read: it is not valid notebook JSON"),
    (json.dumps({"hello": 1}).encode(), "is JSON but not a Jupyter notebook"),
    (json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [
        {"cells": [{"cell_type": "code", "input": "x = 1", "language": "python",
                    "outputs": []}]}]}).encode(), "is in notebook format 3"),
], ids=["truncated", "empty", "python", "other json", "nbformat 3"])
def test_unreadable_notebooks_give_a_clear_report(grade_files: Callable[..., Report],
                                                  content: bytes, expected: str) -> None:
    report = grade_files(f"bad_{len(content)}_{abs(hash(content)) % 10**6}",
                         {"nn_module.ipynb": content})
    assert report.score == 0
    assert any(expected in p for p in report.problems), report.problems
    messages = {t.feedback for task in report.tasks for t in task.tests}
    assert len(messages) == 1 and expected in messages.pop()


def test_notebook_wins_over_python_file(grade_files: Callable[..., Report]) -> None:
    report = grade_files("both", {"nn_module.ipynb": TEMPLATE_NOTEBOOK.read_bytes(),
                                  "nn_module.py": reference_python()})
    assert report.score == 0
    assert "both nn_module.ipynb and nn_module.py were submitted; nn_module.ipynb was graded" \
        in report.problems


def test_gradebook_export_round_trip(reports: dict[str, Report], tmp_path: Path) -> None:
    from click.testing import CliRunner
    from nbgrader.api import Gradebook

    from autograder.cli import main
    from autograder.report.nbgrader_gradebook import export_reports

    chosen = [reports[n] for n in ("reference notebook", "template", "broken")]
    folder = tmp_path / "reports"
    api.write_reports(chosen, folder)
    db = tmp_path / "gradebook.db"

    def read_back() -> dict[str, dict[str, float | None]]:
        with Gradebook(f"sqlite:///{db}") as gradebook:
            assignment = gradebook.find_assignment("nn_module")
            assert [n.name for n in assignment.notebooks] == ["nn_module"]
            cells = {c.name: c.max_score for c in assignment.notebooks[0].grade_cells}
            assert cells == {"CustomLinear": 10, "FeatureExtractor": 10, "LearnedNorm": 10}
            found = {}
            for submission in gradebook.assignment_submissions("nn_module"):
                (notebook,) = submission.notebooks
                found[submission.student_id] = {g.name: g.auto_score for g in notebook.grades}
                assert submission.score == sum(found[submission.student_id].values())
            return found

    result = CliRunner().invoke(main, ["export", "nbgrader", "--db", str(db), str(folder)])
    assert result.exit_code == 0, result.output
    assert "3 submission(s) exported" in result.output and "3 new" in result.output
    expected = {r.submission.id: {t.name: pytest.approx(t.score) for t in r.tasks} for r in chosen}
    assert read_back() == expected
    # Exporting again updates in place; a changed score replaces the old one.
    changed = chosen[2].model_copy(deep=True)
    changed.task("LearnedNorm").score = 10.0
    summary = export_reports([*chosen[:2], changed], db)
    assert (summary.created, summary.updated) == (0, 3)
    expected[changed.submission.id]["LearnedNorm"] = 10.0
    assert read_back() == expected


def test_released_template_is_in_sync_and_stripped() -> None:
    from autograder.release import template_drift

    assert template_drift(load_assignment("nn_module")) == []
    text = TEMPLATE_NOTEBOOK.read_text()
    assert "BEGIN SOLUTION" not in text and "register_forward_hook(self._make_hook" not in text
    notebook = nbformat.read(TEMPLATE_NOTEBOOK, as_version=4)
    for each in notebook.cells:
        meta = each.metadata["nbgrader"]
        if meta["solution"]:
            assert "# TODO(human): implement this" in each.source
            assert each.metadata.get("editable", True)
        else:  # teaching and "try it" cells are read-only
            assert each.metadata["editable"] is False and each.metadata["deletable"] is False
        if each.cell_type == "code":
            assert each.outputs == [] and each.execution_count is None
    readme = (TEMPLATE_NOTEBOOK.parent / "README.md").read_text()
    assert "nn_module.ipynb" in readme and "nn_module.py" in readme


def test_notebook_checks_are_data_only() -> None:
    """Validation reads JSON: a harmless schema slip still grades; magics become calls."""
    from autograder.notebooks import check_notebook
    from autograder.operations.cells import to_python

    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                "cells": [{"cell_type": "code", "source": ["x = 1\n", "y = 2"]}]}
    problem, cleaned = check_notebook("nn_module.ipynb", json.dumps(notebook).encode())
    assert problem is None
    assert json.loads(cleaned)["cells"] == [{"cell_type": "code", "source": "x = 1\ny = 2"}]
    problem, _ = check_notebook("nn_module.ipynb", b"[" * 100_000 + b"]" * 100_000)
    assert problem is not None and "nested too deeply" in problem
    assert to_python("!pip install foo") == "get_ipython().system('pip install foo')\n"
    assert to_python("%matplotlib inline") == "get_ipython().run_line_magic('matplotlib', 'inline')\n"


def test_cell_budget_keeps_time_for_later_cells() -> None:
    """Slow cells first: each is stopped, the budget shrinks, the last cell still runs."""
    import types

    from autograder.operations.cells import run_cells

    module = types.ModuleType("notebook")
    records = run_cells(["while True:\n    pass"] * 3 + ["defined = True"], module, "nb",
                        cell_seconds=1, budget_seconds=1.5)
    assert [r["status"] for r in records] == ["timeout"] * 3
    assert records[0]["seconds"] == 1 and not records[0]["budget"]
    assert records[1]["budget"] and records[1]["seconds"] < 1
    assert module.defined is True
