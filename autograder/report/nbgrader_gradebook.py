"""Write graded reports into an nbgrader gradebook, through nbgrader's own API.

The instructor's formgrader then shows the scores: the assignment, its notebook (named after
the graded file, ``lab`` for ``lab.ipynb``), one grade cell per task with the
task's points, and for each student a submission whose grades carry the task scores as
auto scores. Exporting again updates those scores in place; a manual score an instructor
entered in the formgrader is left alone.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Grade, Gradebook, MissingEntry, SubmittedNotebook
from sqlalchemy.exc import SAWarning

from autograder.errors import UserError
from autograder.report.model import Report
from autograder.spec import AssignmentSpec, assignment_names, load_assignment


@dataclass
class GradebookExport:
    """What an export did."""

    database: str
    students: list[str] = field(default_factory=list)
    created: int = 0  # submissions new to the gradebook
    updated: int = 0  # submissions whose scores were replaced

    def summary(self) -> str:
        return (f"{len(self.students)} submission(s) exported to {self.database}: "
                f"{self.created} new, {self.updated} updated")


def database_url(db: str | Path) -> str:
    """A SQLAlchemy URL; a plain path means an SQLite file (created when missing)."""
    text = str(db)
    return text if "://" in text else f"sqlite:///{Path(text).resolve()}"


@contextmanager
def _alembic_on_path() -> Iterator[None]:
    """nbgrader runs the `alembic` command to stamp a new database; it sits beside this
    Python (in the virtual environment), which need not be on PATH."""
    saved = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), saved])
    try:
        yield
    finally:
        os.environ["PATH"] = saved


def _notebook_of(spec: AssignmentSpec | None, report: Report, task: str) -> str:
    """The nbgrader notebook a task belongs to: its file's name without the extension."""
    if spec is not None and any(t.name == task for t in spec.tasks):
        return Path(spec.task(task).file).stem
    return report.assignment


def _spec(name: str) -> AssignmentSpec | None:
    return load_assignment(name) if name in assignment_names() else None


def _ensure_structure(gradebook: Gradebook, report: Report, spec: AssignmentSpec | None) -> None:
    """Assignment, notebooks and one grade cell per task, with the task's points."""
    gradebook.update_or_create_assignment(report.assignment)
    for task in report.tasks:
        notebook = _notebook_of(spec, report, task.name)
        try:
            gradebook.find_notebook(notebook, report.assignment)
        except MissingEntry:
            gradebook.add_notebook(notebook, report.assignment)
        try:
            cell = gradebook.find_grade_cell(task.name, notebook, report.assignment)
            if cell.max_score != task.max_score:
                cell.max_score = task.max_score
                gradebook.db.commit()
        except MissingEntry:
            gradebook.add_grade_cell(task.name, notebook, report.assignment,
                                     max_score=task.max_score, cell_type="code")


def _grade(gradebook: Gradebook, report: Report, spec: AssignmentSpec | None, task: str,
           student: str) -> Grade:
    """The student's grade for a task, created when the cell is newer than the submission."""
    notebook = _notebook_of(spec, report, task)
    try:
        return gradebook.find_grade(task, notebook, report.assignment, student)
    except MissingEntry:
        pass
    submission = gradebook.find_submission(report.assignment, student)
    try:
        submitted = gradebook.find_submission_notebook(notebook, report.assignment, student)
    except MissingEntry:
        submitted = SubmittedNotebook(notebook=gradebook.find_notebook(notebook, report.assignment),
                                      assignment=submission)
        gradebook.db.add(submitted)
    cell = gradebook.find_grade_cell(task, notebook, report.assignment)
    grade = Grade(cell=cell, notebook=submitted)
    gradebook.db.add(grade)
    return grade


def _record_late_penalty(gradebook: Gradebook, report: Report, spec: AssignmentSpec | None,
                         student: str) -> None:
    """nbgrader keeps grades raw and the late penalty per submitted notebook (its total is
    the assignment's penalty, as nbgrader's own late-submission plugin records it): the
    report's penalty goes on the notebook of its first task, the others get none."""
    penalty = report.late.penalty if report.late is not None else 0.0
    notebooks = list(dict.fromkeys(_notebook_of(spec, report, t.name) for t in report.tasks))
    for index, notebook in enumerate(notebooks):
        submitted = gradebook.find_submission_notebook(notebook, report.assignment, student)
        submitted.late_submission_penalty = penalty if index == 0 else 0.0


def export_reports(reports: Iterable[Report], db: str | Path,
                   course_id: str = "default_course") -> GradebookExport:
    """Write each report's task scores as auto scores of its student's submission."""
    url = database_url(db)
    result = GradebookExport(database=url)
    specs: dict[str, AssignmentSpec | None] = {}
    try:
        with _alembic_on_path():
            gradebook = Gradebook(url, course_id=course_id)
    except Exception as exc:  # SQLAlchemy's errors name the database problem
        raise UserError(f"cannot open the nbgrader gradebook {url}: {exc}") from None
    # nbgrader's add_submission builds rows in a way SQLAlchemy 2 warns about; they are saved.
    with gradebook, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        for report in reports:
            if report.assignment not in specs:
                specs[report.assignment] = _spec(report.assignment)
            spec = specs[report.assignment]
            _ensure_structure(gradebook, report, spec)
            student = report.submission.id
            gradebook.update_or_create_student(student)
            submitted_at = report.submission.submitted_at or report.timing.started_at
            try:
                submission = gradebook.find_submission(report.assignment, student)
                submission.timestamp = submitted_at
                result.updated += 1
            except MissingEntry:
                gradebook.add_submission(report.assignment, student,
                                         timestamp=submitted_at.isoformat())
                result.created += 1
            for task in report.tasks:
                grade = _grade(gradebook, report, spec, task.name, student)
                grade.auto_score = task.score
                grade.needs_manual_grade = False
            _record_late_penalty(gradebook, report, spec, student)
            gradebook.db.commit()
            result.students.append(student)
    return result


def load_reports(paths: Iterable[Path]) -> list[Report]:
    """Reports from JSON files, or from every ``*.json`` in the given folders."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(path.glob("*.json")))
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"report path does not exist: {path}")
    reports = []
    for file in files:
        try:
            reports.append(Report.model_validate_json(file.read_text()))
        except ValueError as exc:
            first = str(exc).splitlines()[0]
            raise UserError(f"{file} is not an autograder report ({first})") from None
    if not reports:
        raise UserError("no reports found to export")
    return reports
