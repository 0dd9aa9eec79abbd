"""Markdown for a pull request comment or a GitHub job summary: a score table per task and
the feedback of every check that did not pass.

Text that comes from a submission (feedback quotes exception messages, file names come from
the student) is escaped so that it renders literally: ASCII punctuation is backslash-escaped
(CommonMark allows that for every such character; the few that start or end no construct
are left alone), so no markup, link, table cell or raw HTML can be injected, and a zero-width
space after ``@`` mentions no one and one in a URL links nowhere. Lengths are capped, and the
whole text stays under GitHub's 65,536-character limit for a comment.
"""

from __future__ import annotations

import string

from autograder.report.audience import STUDENT, Audience, ReportView, view
from autograder.report.model import Report, TestResult
from autograder.report.renderers import RenderRequest
from autograder.report.text import points

MAX_NAME = 200
MAX_FEEDBACK = 1500
MAX_TOTAL = 60_000
STATUS = {"passed": "✅ passed", "failed": "❌ failed", "error": "💥 error",
          "timeout": "⏱️ timeout", "skipped": "⏭️ skipped"}
# Punctuation that no Markdown construct starts or ends with stays as it is, for readability.
_ESCAPES = {c: "\\" + c for c in string.punctuation if c not in ",;:'\"?/%"}
# A zero-width space after @ keeps a student's text from mentioning anyone.
_ESCAPES["@"] = "@\u200b"


def escape(text: str, limit: int | None = None) -> str:
    """``text`` on one line, rendered literally by any CommonMark/GFM renderer."""
    text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    # GFM links bare URLs without any markup: a zero-width space keeps them plain text.
    text = text.replace("://", ":\u200b//").replace("www.", "www\u200b.")
    return "".join(_ESCAPES.get(c, c) for c in text)


def quote(text: str, limit: int = MAX_FEEDBACK) -> str:
    """Multi-line ``text`` as an escaped block quote."""
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    lines = [escape(line) for line in text.splitlines() if line.strip()]
    return "\n".join(f"> {line}" for line in lines) or "> (no details)"


def _fraction(score: float, max_score: float) -> str:
    return f"{points(score)} / {points(max_score)}"


def _where(test: TestResult) -> str:
    if test.location is None:
        return ""
    return f" ({escape(test.location.file, MAX_NAME)}, line {test.location.line})"


def _summary(rv: ReportView, not_run: float = 0.0) -> list[str]:
    report = rv.report
    which = ", public checks" if not_run > 0 else ""
    lines = [f"## {escape(report.assignment)}{which}: {_fraction(rv.score, rv.max_score)} points",
             "", f"Submission {escape(report.submission.id, MAX_NAME)}, graded by autograder "
             f"{escape(report.environment.autograder)}.", "",
             "| Task | Points | Checks passed |", "| --- | ---: | ---: |"]
    for task in rv.tasks:
        passed = sum(t.status == "passed" for t in task.shown)
        cells = (f"{_fraction(task.score, task.max_score)} | {passed} / {len(task.shown)}"
                 if task.shown else "– | –")
        lines.append(f"| {escape(task.name, MAX_NAME)} | {cells} |")
    passed = sum(t.status == "passed" for _, t in rv.shown())
    lines.append(f"| **Total** | **{_fraction(rv.score, rv.max_score)}** "
                 f"| **{passed} / {len(rv.shown())}** |")
    if rv.withheld_count:
        lines += ["", f"{rv.withheld_count} more check(s), worth {points(rv.withheld_points)} "
                      "point(s), are not shown yet: their results appear when grades are published."]
    if not_run > 0:
        lines += ["", f"Checks worth {points(not_run)} more point(s) did not run here: the hidden "
                      "checks run when your work is graded."]
    if report.problems:
        lines += ["", "**Problems with the submission**", ""]
        lines += [f"- {escape(p, MAX_FEEDBACK)}" for p in report.problems]
    return lines


def _task_sections(rv: ReportView) -> list[list[str]]:
    sections = []
    for task in rv.tasks:
        if not task.shown:
            continue
        lines = ["", f"### {escape(task.name, MAX_NAME)}: {_fraction(task.score, task.max_score)}", "",
                 "| Status | Check | Points |", "| --- | --- | ---: |"]
        for test in task.shown:
            lines.append(f"| {STATUS[test.status]} | {escape(test.name, MAX_NAME)} "
                         f"| {_fraction(test.score, test.max_score)} |")
        sections.append(lines)
        for test in task.shown:
            if test.status == "passed":
                if test.feedback:  # a note that cost nothing
                    sections.append(["", f"**Note: {escape(test.name, MAX_NAME)}**", "",
                                     quote(test.feedback)])
                continue
            sections.append(["", f"**{STATUS[test.status]}: {escape(test.name, MAX_NAME)}**"
                                 f"{_where(test)}", "", quote(test.feedback or f"this check {test.status}")])
    return sections


def render_markdown(reports: list[Report], audience: Audience = STUDENT,
                    not_run: list[float] | None = None) -> str:
    """One section per report. ``not_run``: for each report, the points of the checks that
    did not run at all (a student's `check` runs the public ones only). When the text would
    grow past ``MAX_TOTAL`` characters the remaining details are left out, with a line that
    says so; the score tables come first."""
    return markdown_from_views([view(r, audience) for r in reports], not_run)


def markdown_from_views(views: list[ReportView], not_run: list[float] | None = None) -> str:
    """The Markdown of reports as their audience sees them (see :func:`render_markdown`)."""
    out: list[str] = []
    for rv, missing in zip(views, not_run or [0.0] * len(views), strict=True):
        out += _summary(rv, missing)
    size = sum(len(line) + 1 for line in out)
    left_out = 0
    for rv in views:
        sections = _task_sections(rv)
        if len(views) > 1 and sections:
            sections.insert(0, ["", f"## {escape(rv.report.submission.id, MAX_NAME)}: details"])
        for section in sections:
            length = sum(len(line) + 1 for line in section)
            if left_out or size + length > MAX_TOTAL:
                left_out += 1
                continue
            out += section
            size += length
    if left_out:
        out += ["", f"*{left_out} more section(s) left out to keep this short: the JSON report "
                    "has every detail.*"]
    return "\n".join(out) + "\n"


class MarkdownRenderer:
    def render(self, request: RenderRequest) -> str:
        return markdown_from_views(request.views, request.not_run)


RENDERER = MarkdownRenderer()
