"""Make the student template from the reference: solution regions become TODO(human) stubs.

Solution regions are nbgrader's (``### BEGIN SOLUTION`` ... ``### END SOLUTION``) and are
cleared by nbgrader's own ``ClearSolutions`` preprocessor, for notebooks and, by treating
the file as a one-cell notebook, for plain ``.py`` files too. A notebook goes through the
preprocessors of nbgrader's ``generate_assignment`` that need no database: lock the read-only
and grade cells, clear solutions and outputs, check the nbgrader metadata, add checksums.
"""

from __future__ import annotations

import shutil
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
SOLUTION_MARK = "### BEGIN SOLUTION"


def _clear_solutions() -> ClearSolutions:
    return ClearSolutions(code_stub={"python": CODE_STUB}, enforce_metadata=False)


def strip_python_source(source: str) -> str:
    """A ``.py`` file's source with every solution region replaced by the stub."""
    cell = nbformat.v4.new_code_cell(source)
    notebook = nbformat.v4.new_notebook(cells=[cell])
    notebook, _ = _clear_solutions().preprocess(notebook, {})
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
        return strip_python_source(text)
    if path.suffix == ".ipynb":
        return strip_notebook(text)
    return text


def template_files(spec: AssignmentSpec) -> dict[str, str]:
    """Relative path -> content of every file the template should hold."""
    reference = spec.reference_dir
    if not reference.is_dir():
        raise UserError(f"assignment {spec.name} has no reference folder at {reference}")
    files: dict[str, str] = {}
    for path in sorted(p for p in reference.rglob("*") if p.is_file()):
        relative = path.relative_to(reference)
        # Dot folders stay behind, except .github: the student's CI workflow ships with the template.
        parts = relative.parts[1:] if relative.parts[0] == ".github" else relative.parts
        if any(part.startswith((".", "__pycache__")) for part in parts):
            continue
        text = path.read_text()
        files[str(relative)] = _template_text(path, text)
    return files


def release(spec: AssignmentSpec, target: Path | None = None) -> list[Path]:
    """Write the student template (by default ``student_template/<name>/``)."""
    target = target or spec.template_dir
    if target.exists():
        shutil.rmtree(target)
    written = []
    for relative, text in template_files(spec).items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def template_drift(spec: AssignmentSpec) -> list[str]:
    """Files whose committed template differs from what ``release`` would write."""
    expected = template_files(spec)
    drift = []
    for relative, text in expected.items():
        path = spec.template_dir / relative
        if not path.is_file() or path.read_text() != text:
            drift.append(relative)
    return drift
