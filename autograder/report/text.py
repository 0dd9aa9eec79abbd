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
        notes = [late_note(report)] if report.late and report.late.days_late else []
        notes += report.problems[:1]
        if trouble:
            notes.append(f"{trouble} check(s) errored or timed out")
        cells.append("; ".join(notes)[:80])
        rows.append(cells)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def late_note(report: Report) -> str:
    """'2 days late: -20% of 30 (6 points)' for a report graded with a deadline."""
    late = report.late
    if late is None or not late.days_late:
        return "on time"
    if not late.accepted:
        return f"{late.days_late} days late: not accepted (raw {points(late.raw_score)})"
    day = "day" if late.days_late == 1 else "days"
    return (f"{late.days_late} {day} late: -{points(late.penalty_percent)}% of "
            f"{points(late.raw_score)} ({points(late.penalty)} points)")


def _test_line(test: TestResult) -> list[str]:
    lines = [f"  {_MARKS[test.status]:7} {test.name}"]
    if test.feedback:  # why it did not pass; on a passed check, a note that cost nothing
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
        if not task.tests:
            lines.append("  (no public check: only the hidden checks grade this task)")
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
