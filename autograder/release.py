"""Make the student template from the reference: solution regions become TODO(human) stubs.

Solution regions are nbgrader's (``### BEGIN SOLUTION`` ... ``### END SOLUTION``) and are
cleared by nbgrader's own ``ClearSolutions`` preprocessor, for notebooks and, by treating
the file as a one-cell notebook, for plain ``.py`` files too. A notebook goes through the
preprocessors of nbgrader's ``generate_assignment`` that need no database: lock the read-only
and grade cells, clear solutions and outputs, check the nbgrader metadata, add checksums.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    ClearSolutions,
    ComputeChecksums,
    LockCells,
)

from autograder.errors import UserError
from autograder.spec import AssignmentSpec

CODE_STUB = "# TODO(human): implement this\npass"
# An untouched test must fail under plain pytest (a ``pass`` stub passes, and tells the
# student their test is fine); the grader scores it 0 like any test that fails.
TEST_STUB = ('# TODO(human): implement this test\n'
             'raise NotImplementedError("TODO(human): implement this test")')
SOLUTION_MARK = "### BEGIN SOLUTION"


def is_test_file(path: Path) -> bool:
    """pytest's default test file names: ``test_*.py`` and ``*_test.py``."""
    return path.suffix == ".py" and (path.name.startswith("test_") or path.stem.endswith("_test"))


def strip_python_source(source: str, stub: str = CODE_STUB) -> str:
    """A ``.py`` file's source with every solution region replaced by ``stub``."""
    cell = nbformat.v4.new_code_cell(source)
    notebook = nbformat.v4.new_notebook(cells=[cell])
    clear = ClearSolutions(code_stub={"python": stub}, enforce_metadata=False)
    notebook, _ = clear.preprocess(notebook, {})
    return notebook.cells[0].source


def strip_notebook(text: str) -> str:
    """A reference notebook as students get it (nbgrader metadata required on its cells)."""
    notebook = nbformat.reads(text, as_version=4)
    resources: dict = {}
    steps = [LockCells(), ClearSolutions(code_stub={"python": CODE_STUB}), ClearOutput(),
             ClearHiddenTests(), ClearMarkScheme(), CheckCellMetadata(), ComputeChecksums(),
             CheckCellMetadata()]
    for step in steps:
        notebook, resources = step.preprocess(notebook, resources)
    return nbformat.writes(notebook) + "\n"


def _template_text(path: Path, text: str) -> str:
    if path.suffix == ".py":
        return strip_python_source(text, TEST_STUB if is_test_file(path) else CODE_STUB)
    if path.suffix == ".ipynb":
        return strip_notebook(text)
    return text


WORKFLOW = ".github/workflows/autograder.yml"


def student_workflow(spec: AssignmentSpec) -> str:
    """The student's CI workflow for ``spec``: one source (``autograder/workflows/student.yml``)
    for every assignment."""
    source = Path(__file__).resolve().parent / "workflows" / "student.yml"
    return source.read_text().format(assignment=spec.name)


def template_files(spec: AssignmentSpec) -> dict[str, str]:
    """Relative path -> content of every file the template should hold: the reference with
    its solutions cleared (dot folders stay behind), and the student workflow."""
    reference = spec.reference_dir
    if not reference.is_dir():
        raise UserError(f"assignment {spec.name} has no reference folder at {reference}")
    files: dict[str, str] = {}
    for path in sorted(p for p in reference.rglob("*") if p.is_file()):
        relative = path.relative_to(reference)
        if any(part.startswith((".", "__pycache__")) for part in relative.parts):
            continue
        files[relative.as_posix()] = _template_text(path, path.read_text())
    files[WORKFLOW] = student_workflow(spec)
    return files


@dataclass
class Release:
    written: list[Path]  # new or changed
    unchanged: list[Path]
    removed: list[Path]  # files the template no longer holds


def release(spec: AssignmentSpec, target: Path | None = None) -> Release:
    """Write the student template (by default ``student_template/<name>/``); files whose
    content is already right are left alone."""
    target = target or spec.template_dir
    files = template_files(spec)
    result = Release([], [], [])
    if target.is_dir():
        for path in sorted(p for p in target.rglob("*") if p.is_file()):
            if path.relative_to(target).as_posix() not in files:
                path.unlink()
                result.removed.append(path)
    for relative, text in files.items():
        path = target / relative
        if path.is_file() and path.read_text() == text:
            result.unchanged.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        result.written.append(path)
    return result


def template_drift(spec: AssignmentSpec) -> list[str]:
    """Files whose committed template differs from what ``release`` would write."""
    expected = template_files(spec)
    drift = []
    for relative, text in expected.items():
        path = spec.template_dir / relative
        if not path.is_file() or path.read_text() != text:
            drift.append(relative)
    return drift
