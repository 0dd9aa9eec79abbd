"""GitHub Actions workflow commands: annotations on the student's own lines, and the job
summary (the Markdown rendering, appended to ``$GITHUB_STEP_SUMMARY``).

Each annotation is one line, ``::error file=F,line=N,title=T::message``, escaped as GitHub's
toolkit escapes them (``%``, CR and LF in the message; those and ``:`` and ``,`` in a
property), so no text from a submission can end the command early or start another one.
GitHub shows at most 10 annotations of each kind per step, so they are ordered most useful
first: checks that point at a line of the student's code, then errors, time-outs and
failures, the checks worth more points first; one notice says how many were left out.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

from autograder.report.audience import STUDENT, Audience, ReportView, view
from autograder.report.model import Report, TestResult
from autograder.report.renderers import RenderRequest
from autograder.report.text import points

MAX_PER_KIND = 10
MAX_MESSAGE = 2000
_SEVERITY = {"error": 0, "timeout": 1, "failed": 2, "skipped": 3}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


@dataclass
class Annotation:
    kind: str  # error, warning or notice
    message: str
    title: str = ""
    file: str | None = None
    line: int | None = None

    def command(self) -> str:
        props = []
        if self.file:
            props.append(f"file={escape_property(self.file)}")
            if self.line:
                props.append(f"line={self.line}")
        if self.title:
            props.append(f"title={escape_property(self.title)}")
        message = self.message if len(self.message) <= MAX_MESSAGE else self.message[:MAX_MESSAGE - 1] + "…"
        return f"::{self.kind}{' ' + ','.join(props) if props else ''}::{escape_data(message)}"


def default_prefix(report: Report) -> str:
    """Where the submission lies relative to the working directory, when the report says so
    (``autograder check .`` in a repository gives ``""``; ``grade subs/alice``, ``subs/alice``)."""
    path = Path(report.submission.path)
    if path.is_absolute() or path.suffix.lower() in (".zip", ".ipynb", ".py"):
        return ""
    prefix = posixpath.normpath(path.as_posix())
    return "" if prefix == "." else prefix


def _annotation(task: str, test: TestResult, path_prefix: str) -> Annotation:
    title = f"{task}: {test.name} ({test.status}, {points(test.score)}/{points(test.max_score)} points)"
    file = line = None
    if test.location is not None:
        file = posixpath.normpath(posixpath.join(path_prefix, test.location.file))
        line = test.location.line
    kind = "notice" if test.status == "skipped" else "error"
    return Annotation(kind, test.feedback or f"this check {test.status}", title[:300], file, line)


def annotations(reports: list[Report], audience: Audience = STUDENT,
                path_prefix: str | None = None) -> list[Annotation]:
    """The annotations for every check ``audience`` may see that did not pass, most useful
    first and at most ``MAX_PER_KIND`` of each kind. ``path_prefix`` is where the submission
    lies in the repository (locations are relative to the submission folder); by default,
    the submission's path in the report when it is a relative folder."""
    return annotations_from_views([view(r, audience) for r in reports], path_prefix)


def annotations_from_views(views: list[ReportView], path_prefix: str | None = None
                           ) -> list[Annotation]:
    """The annotations of reports as their audience sees them (see :func:`annotations`)."""
    reports = [rv.report for rv in views]
    ranked = []
    for rv in views:
        report = rv.report
        prefix = default_prefix(report) if path_prefix is None else path_prefix
        for task in rv.tasks:
            for test in task.shown:
                if test.status != "passed":
                    key = (test.location is None, _SEVERITY[test.status], -test.max_score, len(ranked))
                    ranked.append((key, _annotation(task.name, test, prefix)))
    ranked.sort(key=lambda pair: pair[0])
    problems = [Annotation("warning", problem, f"{report.submission.id}: submission problem")
                for report in reports for problem in report.problems]
    out: list[Annotation] = []
    left_out = 0
    for candidate in problems + [a for _, a in ranked]:
        if sum(a.kind == candidate.kind for a in out) < MAX_PER_KIND - (candidate.kind == "notice"):
            out.append(candidate)
        else:
            left_out += 1
    if left_out:
        out.append(Annotation("notice", f"{left_out} more problem(s) are not annotated here: the job "
                                        "summary lists every check.", "More results"))
    return out


def render_github(reports: list[Report], audience: Audience = STUDENT,
                  path_prefix: str | None = None) -> str:
    return "".join(a.command() + "\n" for a in annotations(reports, audience, path_prefix))


class GitHubRenderer:
    def render(self, request: RenderRequest) -> str:
        return "".join(a.command() + "\n"
                       for a in annotations_from_views(request.views, request.path_prefix))


RENDERER = GitHubRenderer()


def write_step_summary(markdown: str) -> Path | None:
    """Append ``markdown`` to ``$GITHUB_STEP_SUMMARY`` when that is set."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    with open(target, "a", encoding="utf-8") as summary:
        summary.write(markdown)
    return Path(target)
