"""Plain-text renderings for the terminal: the class summary table and `check` output."""

from __future__ import annotations

from autograder.report.model import Report, TestResult

_MARKS = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "timeout": "TIMEOUT",
          "skipped": "SKIP"}


def points(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def summary_table(reports: list[Report]) -> str:
    """One row per submission: the score of each task, the total and any problem."""
    if not reports:
        return "no submissions graded"
    tasks = [t.name for t in reports[0].tasks]
    header = ["submission", *tasks, "total", "notes"]
    rows = []
    for report in reports:
        cells = [report.submission.id]
        cells += [f"{points(t.score)}/{points(t.max_score)}" for t in report.tasks]
        cells.append(f"{points(report.score)}/{points(report.max_score)}")
        trouble = sum(t.status in ("error", "timeout") for task in report.tasks for t in task.tests)
        notes = list(report.problems[:1])
        if trouble:
            notes.append(f"{trouble} check(s) errored or timed out")
        cells.append("; ".join(notes)[:80])
        rows.append(cells)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _test_line(test: TestResult) -> list[str]:
    lines = [f"  {_MARKS[test.status]:7} {test.name}"]
    if test.status != "passed" and test.feedback:
        lines += [f"          {line}" for line in test.feedback.splitlines()]
    return lines


def check_output(report: Report, hidden_points: float) -> str:
    """What a student sees after `autograder check`: public checks and what is left."""
    lines = [f"{report.assignment}: public checks of {report.submission.path}"]
    for problem in report.problems:
        lines.append(f"  problem: {problem}")
    passed = total = 0
    for task in report.tasks:
        lines.append(f"{task.name}")
        for test in task.tests:
            lines += _test_line(test)
            total += 1
            passed += test.status == "passed"
    lines.append("")
    lines.append(f"{passed} of {total} public checks pass "
                 f"({points(report.score)} of {points(report.max_score)} points).")
    if hidden_points:
        lines.append(f"Hidden checks worth {points(hidden_points)} more points run when your "
                     "work is graded: passing the public checks is not full marks.")
    return "\n".join(lines)


def report_details(report: Report) -> str:
    """Every check of one graded submission, with feedback for those that did not pass."""
    lines = [f"{report.submission.id}: {points(report.score)}/{points(report.max_score)}"]
    lines += [f"  problem: {p}" for p in report.problems]
    for task in report.tasks:
        lines.append(f"{task.name}: {points(task.score)}/{points(task.max_score)}")
        for test in task.tests:
            lines += _test_line(test)
    return "\n".join(lines)
