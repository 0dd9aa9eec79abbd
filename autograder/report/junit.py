"""JUnit XML, for CI systems and test dashboards: one ``testsuite`` per task of each report,
one ``testcase`` per check (``failure`` for a failed check, ``error`` for an error or a
time-out, ``skipped``), with its time. Checks the audience may not see yet are folded into
one skipped test case per task that says how many there are."""

from __future__ import annotations

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from autograder.report.audience import STUDENT, Audience, ReportView, view
from autograder.report.model import Report, TestResult
from autograder.report.renderers import RenderRequest
from autograder.report.text import points

MAX_MESSAGE = 300
MAX_TEXT = 4000


def _result(test: TestResult) -> list[Failure | Error | Skipped]:
    details = test.feedback or f"this check {test.status}"
    if test.location is not None:
        details += f"\n(at {test.location.file}, line {test.location.line})"
    message = details.splitlines()[0][:MAX_MESSAGE]
    kind = {"failed": Failure, "error": Error, "timeout": Error, "skipped": Skipped}[test.status]
    result = kind(message, test.status)
    result.text = details[:MAX_TEXT]
    return [result]


def render_junit(reports: list[Report], audience: Audience = STUDENT) -> str:
    return junit_from_views([view(r, audience) for r in reports])


def junit_from_views(views: list[ReportView]) -> str:
    """One test suite per task of each report, as its audience sees it."""
    xml = JUnitXml("autograder")
    for rv in views:
        report = rv.report
        for task in rv.tasks:
            suite = TestSuite(f"{report.submission.id}.{task.name}")
            for key, value in (("assignment", report.assignment), ("submission", report.submission.id),
                               ("content_hash", report.submission.content_hash),
                               ("score", points(task.score)), ("max_score", points(task.max_score))):
                suite.add_property(key, value)
            suite.timestamp = report.timing.started_at.isoformat()
            for test in task.shown:
                case = TestCase(test.name, f"{report.assignment}.{task.name}", test.duration)
                if test.status != "passed":
                    case.result = _result(test)
                suite.add_testcase(case)
            if task.withheld_count:
                case = TestCase(f"{task.withheld_count} check(s) not shown yet",
                                f"{report.assignment}.{task.name}", 0.0)
                case.result = [Skipped(f"worth {points(task.withheld_points)} point(s); results appear "
                                       "when grades are published", "withheld")]
                suite.add_testcase(case)
            suite.update_statistics()
            xml.add_testsuite(suite)
    xml.update_statistics()
    text = xml.tostring()
    text = text.decode("utf-8") if isinstance(text, bytes) else text
    return '<?xml version="1.0" encoding="utf-8"?>\n' + text + "\n"


class JUnitRenderer:
    def render(self, request: RenderRequest) -> str:
        return junit_from_views(request.views)


RENDERER = JUnitRenderer()
