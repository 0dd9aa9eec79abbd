"""Read a JSON report from disk (the one place reports are read back), and render reports
through the format registry (:mod:`autograder.report.renderers`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from autograder.errors import UserError
from autograder.report.audience import STUDENT, Audience
from autograder.report.model import Report
from autograder.report.renderers import FORMATS
from autograder.report.renderers import render as _render
from autograder.spec import load_assignment

__all__ = ["FORMATS", "load_report", "points_not_run", "render"]


def load_report(path: Path) -> Report:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"report file does not exist: {path}")
    try:
        return Report.model_validate_json(path.read_text())
    except ValidationError as exc:
        raise UserError(f"{path} is not an autograder JSON report: "
                        f"{exc.errors()[0]['msg']} at {exc.errors()[0]['loc']}") from None


def points_not_run(report: Report) -> float:
    """Points of the assignment's checks that are not in ``report`` (a student's `check` runs
    the public ones only); 0 when the assignment file is not at hand."""
    try:
        spec = load_assignment(report.assignment)
    except UserError:
        return 0.0
    return max(0.0, round(spec.max_score - report.max_score, 6))


def render(fmt: str, reports: list[Report], audience: Audience = STUDENT,
           path_prefix: str | None = None, not_run: list[float] | None = None) -> str:
    """``reports`` in format ``fmt`` for ``audience``. ``not_run``: per report, the points of
    checks that did not run; by default read here from the assignment, so that no renderer
    reads a file."""
    if not_run is None:
        not_run = [points_not_run(r) for r in reports]
    return _render(fmt, reports, audience, not_run, path_prefix)
