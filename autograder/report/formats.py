"""Every output format, by name: each renders from :class:`Report` objects alone."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from autograder.errors import UserError
from autograder.report.audience import STUDENT, Audience
from autograder.report.github import render_github
from autograder.report.gradescope import render_gradescope
from autograder.report.junit import render_junit
from autograder.report.markdown import render_markdown
from autograder.report.model import Report
from autograder.spec import load_assignment

FORMATS = ("gradescope", "junit", "markdown", "github")


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
           path_prefix: str | None = None) -> str:
    """``reports`` in format ``fmt``. Gradescope's ``results.json`` describes one submission
    and carries every check with its visibility (Gradescope enforces it), so ``audience``
    does not apply to it."""
    if fmt == "gradescope":
        if len(reports) != 1:
            raise UserError(f"the gradescope format renders one report at a time (got {len(reports)})")
        return json.dumps(render_gradescope(reports[0]), indent=2) + "\n"
    if fmt == "junit":
        return render_junit(reports, audience)
    if fmt == "markdown":
        return render_markdown(reports, audience, [points_not_run(r) for r in reports])
    if fmt == "github":
        return render_github(reports, audience, path_prefix)
    raise UserError(f"unknown format '{fmt}' (known: {', '.join(FORMATS)})")
