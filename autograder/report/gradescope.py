"""Gradescope's ``results.json``, per its autograder specifications ("Output format").

Every check becomes one test with its own ``visibility`` (``visible``, ``hidden``,
``after_due_date``, ``after_published``), which Gradescope enforces: a hidden check's name
and output never reach a student, an ``after_published`` one's only once grades are
published. Gradescope knows two statuses; ``error``, ``timeout`` and ``skipped`` are
``failed`` with the reason first in the output, and the report's own status is kept in
``extra_data``. Names and outputs are plain text (``text`` format), so nothing a submission
wrote is rendered as HTML or Markdown. The top-level output names submission problems only:
it is shown to students at once, so it carries no per-task score that a hidden check is
part of.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from autograder.errors import UserError
from autograder.report.model import Report, TestResult
from autograder.report.renderers import RenderRequest

SCHEMA_PATH = Path(__file__).with_name("gradescope_results.schema.json")
MAX_OUTPUT = 8000
_REASON = {"error": "Error", "timeout": "Timed out", "skipped": "Skipped", "failed": "Failed"}


@cache
def results_schema() -> dict[str, Any]:
    """The JSON Schema of ``results.json``, written from Gradescope's documented fields."""
    return json.loads(SCHEMA_PATH.read_text())


def _cap(text: str) -> str:
    return text if len(text) <= MAX_OUTPUT else text[: MAX_OUTPUT - 12].rstrip() + " (shortened)"


def _test(task: str, number: str, test: TestResult) -> dict[str, Any]:
    output = test.feedback  # on a passed check: a note that cost nothing
    if test.status != "passed":
        output = f"{_REASON[test.status]}: {test.feedback or 'no details'}"
    return {
        "name": f"{task}: {test.name}",
        "name_format": "text",
        "number": number,
        "score": round(test.score, 4),
        "max_score": round(test.max_score, 4),
        "status": "passed" if test.status == "passed" else "failed",
        "output": _cap(output),
        "output_format": "text",
        "tags": [task],
        "visibility": test.visibility,
        "extra_data": {"check_id": test.check_id, "status": test.status,
                       "duration": test.duration,
                       "location": test.location.model_dump() if test.location else None},
    }


def render_gradescope(report: Report) -> dict[str, Any]:
    tests = [_test(task.name, f"{i}.{j}", test)
             for i, task in enumerate(report.tasks, 1)
             for j, test in enumerate(task.tests, 1)]
    lines = [f"{report.assignment}: graded by autograder {report.environment.autograder}."]
    lines += [f"Problem: {problem}" for problem in report.problems]
    return {
        "score": round(report.score, 4),
        "execution_time": round(report.timing.duration, 3),
        "output": _cap("\n".join(lines)),
        "output_format": "text",
        "test_output_format": "text",
        "test_name_format": "text",
        "stdout_visibility": "hidden",
        "extra_data": {"schema_version": report.schema_version, "assignment": report.assignment,
                       "submission": report.submission.id,
                       "content_hash": report.submission.content_hash, "seed": report.seed,
                       "max_score": report.max_score,
                       "environment": report.environment.model_dump()},
        "tests": tests,
    }


class GradescopeRenderer:
    """Gradescope's ``results.json`` describes one submission and carries every check with
    its visibility (Gradescope enforces it), so it renders the report in full, not a view."""

    def render(self, request: RenderRequest) -> str:
        if len(request.reports) != 1:
            raise UserError("the gradescope format renders one report at a time "
                            f"(got {len(request.reports)})")
        return json.dumps(render_gradescope(request.reports[0]), indent=2) + "\n"


RENDERER = GradescopeRenderer()
