"""Exports from the gradebook: a plain CSV and a Canvas gradebook import file.

Canvas's gradebook import reads the layout its own export writes: the columns Student, ID,
SIS User ID, SIS Login ID and Section, then one column per assignment (a new column name
creates an assignment; ``Name (123)`` updates Canvas assignment 123), and a second row
whose first cell is ``Points Possible`` giving each assignment's points. Canvas matches a
row to a student by ID, SIS User ID or SIS Login ID; without a roster the submission id is
the only identity known here, so it goes in Student and SIS Login ID (use the students'
Canvas login names as submission names, or map them with a roster).
"""

from __future__ import annotations

import csv
import io

from autograder.errors import UserError
from autograder.gradebook.store import Gradebook, Result, latest_results
from autograder.report.text import points

CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def _results(book: Gradebook, assignment: str | None) -> tuple[str, list[Result]]:
    names = book.assignments()
    if not names:
        raise UserError(f"the gradebook {book.path} holds no results")
    if assignment is None:
        if len(names) > 1:
            raise UserError(f"the gradebook holds several assignments ({', '.join(names)}): "
                            "pass --assignment")
        assignment = names[0]
    elif assignment not in names:
        raise UserError(f"the gradebook holds no results for {assignment} "
                        f"(it has: {', '.join(names)})")
    return assignment, sorted(latest_results(book, assignment), key=lambda r: r.submission_id)


def _status(result: Result) -> str:
    return f"{result.status} (tasks: {result.scope})" if result.scope else result.status


def refuse_partial_results(results: list[Result], where: str) -> None:
    """Totals go out whole only: one line naming a result of some tasks only."""
    partial = [r.submission_id for r in results if r.scope]
    if partial:
        raise UserError(f"{len(partial)} result(s) cover some tasks only (grade -t), for example "
                        f"{partial[0]}: grade every task before exporting totals to {where}")


def export_csv(book: Gradebook, assignment: str | None = None) -> str:
    """One row per student: id, each task's score, total, max score, status, graded at."""
    assignment, results = _results(book, assignment)
    tasks: list[str] = []
    for result in results:
        tasks += [t for t in result.task_scores() if t not in tasks]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", *tasks, "total", "max_score", "status", "graded_at"])
    for result in results:
        scores = result.task_scores()
        writer.writerow([result.submission_id,
                         *(points(scores[t]) if t in scores else "" for t in tasks),
                         points(result.score), points(result.max_score), _status(result),
                         result.graded_at])
    return out.getvalue()


def export_canvas(book: Gradebook, assignment: str | None = None,
                  column: str | None = None) -> str:
    """The Canvas gradebook import file of one assignment's totals. ``column``: the Canvas
    assignment column (``Name (id)`` to update an existing one; default: the assignment)."""
    assignment, results = _results(book, assignment)
    refuse_partial_results(results, "Canvas")
    top = max(r.max_score for r in results)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CANVAS_IDENTITY, column or assignment])
    writer.writerow(["Points Possible", "", "", "", "", points(top)])
    for result in results:
        writer.writerow([result.submission_id, "", "", result.submission_id, "", points(result.score)])
    return out.getvalue()
