"""Every output format rendered from the one report model: the reference's report, a real
buggy submission whose forward raises at a known line, and a hand-built report with
failures, errors, time-outs, skips, every visibility and hostile student text."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import pytest
from click.testing import CliRunner
from junitparser import Error, Failure, JUnitXml, Skipped

from autograder.cli import main
from autograder.judge.runner import Judge
from autograder.report.audience import INSTRUCTOR, STUDENT, Audience
from autograder.report.formats import render
from autograder.report.github import MAX_PER_KIND, annotations, escape_data, escape_property
from autograder.report.gradescope import render_gradescope, results_schema
from autograder.report.markdown import MAX_TOTAL, render_markdown
from autograder.report.model import (
    Environment,
    Report,
    SourceLocation,
    SubmissionInfo,
    TaskResult,
    Timing,
)
from autograder.report.model import TestResult as CheckResult  # not collected as a test class
from autograder.report.text import points
from tests.conftest import ROOT, mutate, reference_source

SNAPSHOTS = Path(__file__).with_name("snapshots")
HOSTILE = "<script>alert(1)</script> | **bold** [link](http://x) @teacher\n# heading\n::error::fake 100%"
RAISE = "        raise ValueError('the skip path is not ready')"


def _test(name: str, status: str, visibility: str = "visible", score: float | None = None,
          max_score: float = 1.0, feedback: str = "", location: SourceLocation | None = None,
          duration: float = 0.25) -> CheckResult:
    return CheckResult(name=name, check_id=f"checks/x.py::{name.replace(' ', '_')}",
                      score=max_score if score is None and status == "passed" else (score or 0.0),
                      max_score=max_score, status=status, visibility=visibility, feedback=feedback,
                      duration=duration, location=location)


def mixed_report() -> Report:
    """Failures, errors, time-outs, a skip, every visibility, and text meant to inject."""
    block = [
        _test("constructor", "passed"),
        _test("output shape", "error", feedback="your code raised ValueError: bad (at resnet.py line 31)",
              location=SourceLocation(file="resnet.py", line=31), max_score=2),
        _test("forward: 100%, done", "failed", feedback=HOSTILE,
              location=SourceLocation(file="resnet.py", line=12)),
        _test("hidden identity block", "failed", "hidden", feedback="secret hidden feedback"),
        _test("after due date check", "timeout", "after_due_date", feedback="stopped: endless loop"),
        _test("after published check", "passed", "after_published", max_score=3),
    ]
    resnet = [
        _test("parameter count", "timeout", feedback="stopped: your code ran past 20 s"),
        _test("logits", "skipped", feedback="needs BasicBlock"),
        _test("published-only failure", "failed", "after_published", feedback="published feedback"),
    ]
    tasks = [TaskResult(name=name, score=sum(t.score for t in tests),
                        max_score=sum(t.max_score for t in tests), tests=tests)
             for name, tests in (("BasicBlock", block), ("ResNet", resnet))]
    return Report(assignment="resnet",
                  submission=SubmissionInfo(id="alice", path="/tmp/alice", content_hash="ab" * 32,
                                            files=["resnet.py"]),
                  score=sum(t.score for t in tasks), max_score=sum(t.max_score for t in tasks),
                  tasks=tasks, problems=["resnet.py has a <b>problem</b>"],
                  timing=Timing(started_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), duration=3.5),
                  environment=Environment(python="3.11.7", torch="2.x", autograder="0.1.0",
                                          platform="linux-x86_64", sandbox="worker processes"),
                  seed=7)


@pytest.fixture(scope="module")
def graded(resnet_judge: Judge, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    """The reference, and a submission whose BasicBlock.forward raises at a known line."""
    folder = tmp_path_factory.mktemp("raising") / "bob"
    folder.mkdir()
    source = mutate(reference_source(), "        out = out + self.shortcut(x)", RAISE)
    (folder / "resnet.py").write_text(source)
    (folder / "test_resnet.py").write_text((ROOT / "reference" / "resnet" / "test_resnet.py").read_text())
    return {"reference": resnet_judge.grade(ROOT / "reference" / "resnet"),
            "raising": resnet_judge.grade(folder),
            "raising_line": source.splitlines().index(RAISE) + 1}


def all_reports(graded: dict) -> list[Report]:
    return [graded["reference"], graded["raising"], mixed_report()]


# --- Gradescope -------------------------------------------------------------------------

def test_gradescope_output_follows_the_schema(graded: dict) -> None:
    for report in all_reports(graded):
        results = render_gradescope(report)
        jsonschema.validate(results, results_schema())
        assert results["score"] == pytest.approx(report.score, abs=1e-4)
        assert len(results["tests"]) == sum(len(t.tests) for t in report.tasks)
        assert sum(t["max_score"] for t in results["tests"]) == pytest.approx(report.max_score, abs=1e-3)
    reference = render_gradescope(graded["reference"])
    assert all(t["status"] == "passed" for t in reference["tests"])


def test_gradescope_keeps_each_checks_visibility_and_status() -> None:
    tests = {t["name"]: t for t in render_gradescope(mixed_report())["tests"]}
    assert tests["BasicBlock: hidden identity block"]["visibility"] == "hidden"
    assert tests["BasicBlock: after due date check"]["visibility"] == "after_due_date"
    assert tests["BasicBlock: after published check"]["visibility"] == "after_published"
    assert tests["BasicBlock: constructor"]["visibility"] == "visible"
    timeout = tests["ResNet: parameter count"]
    assert timeout["status"] == "failed" and timeout["output"].startswith("Timed out: ")
    assert timeout["extra_data"]["status"] == "timeout"
    error = tests["BasicBlock: output shape"]
    assert error["output"].startswith("Error: ") and error["extra_data"]["location"]["line"] == 31
    assert error["number"] == "1.2" and error["output_format"] == "text"
    # The top-level output is shown to students at once: no check's name or score in it.
    output = render_gradescope(mixed_report())["output"]
    assert "hidden identity block" not in output and "problem" in output


def test_gradescope_schema_is_not_vacuous() -> None:
    results = render_gradescope(mixed_report())
    for broken in ({**results, "scroe": 1}, {**results, "visibility": "sometimes"},
                   {**results, "tests": [{**results["tests"][0], "status": "error"}]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, results_schema())


# --- JUnit ------------------------------------------------------------------------------

def test_junit_parses_back_with_a_junit_library(graded: dict) -> None:
    xml = JUnitXml.fromstring(render(
        "junit", [graded["reference"], graded["raising"], mixed_report()], INSTRUCTOR).encode())
    suites = {suite.name: suite for suite in xml}
    assert set(suites) >= {"resnet.BasicBlock", "bob.ResNet", "alice.BasicBlock", "alice.ResNet"}
    reference = suites["resnet.BasicBlock"]
    assert reference.tests == len(graded["reference"].task("BasicBlock").tests)
    assert reference.failures == reference.errors == 0
    raising = suites["bob.BasicBlock"]
    assert raising.errors > 0
    alice = list(suites["alice.BasicBlock"]) + list(suites["alice.ResNet"])
    kinds = {case.name: type(case.result[0]) if case.result else None for case in alice}
    assert kinds["constructor"] is None
    assert kinds["output shape"] is Error and kinds["parameter count"] is Error
    assert kinds["forward: 100%, done"] is Failure and kinds["logits"] is Skipped
    case = next(c for c in alice if c.name == "output shape")
    assert case.time == pytest.approx(0.25) and case.classname == "resnet.BasicBlock"
    assert "line 31" in case.result[0].text


def test_junit_for_a_student_folds_the_withheld_checks() -> None:
    text = render("junit", [mixed_report()], STUDENT)
    assert "secret hidden feedback" not in text and "hidden identity block" not in text
    suites = {suite.name: list(suite) for suite in JUnitXml.fromstring(text.encode())}
    folded = [c for c in suites["alice.BasicBlock"] if "not shown yet" in c.name]
    assert len(folded) == 1 and folded[0].name.startswith("3 check(s)")
    assert isinstance(folded[0].result[0], Skipped)


# --- Markdown ---------------------------------------------------------------------------

@pytest.mark.parametrize("audience, name", [(STUDENT, "markdown_student.md"),
                                            (INSTRUCTOR, "markdown_instructor.md")])
def test_markdown_snapshot(audience: Audience, name: str) -> None:
    text = render_markdown([mixed_report()], audience)
    expected = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS"):
        # A rewritten snapshot equals the output by construction: never in CI.
        assert not os.environ.get("CI"), "UPDATE_SNAPSHOTS is refused when CI is set"
        expected.write_text(text)
    assert text == expected.read_text()


def test_markdown_escapes_student_text() -> None:
    text = render_markdown([mixed_report()], INSTRUCTOR)
    for raw in ("<script>", "<b>", "**bold**", "[link](", "@teacher", "\n# heading"):
        assert raw not in text
    assert "\\<script\\>" in text and "@\u200bteacher" in text


def test_markdown_renders_student_text_as_plain_text() -> None:
    import mistune  # nbconvert's Markdown renderer

    ours = render_markdown([mixed_report()], INSTRUCTOR)
    html = mistune.create_markdown(plugins=["table", "strikethrough", "url"])(ours)
    assert "<script" not in html and "<h1" not in html and "<a " not in html and "<b>" not in html
    # Bold only where the renderer itself writes it (the total row, the feedback headings).
    assert re.findall("<strong>(.*?)</strong>", html) == [
        "Total", "4 / 12", "2 / 9", "Problems with the submission", "💥 error: output shape",
        "❌ failed: forward: 100%, done", "❌ failed: hidden identity block",
        "⏱️ timeout: after due date check", "⏱️ timeout: parameter count", "⏭️ skipped: logits",
        "❌ failed: published-only failure"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; | **bold** [link](http:" in html


def test_markdown_says_which_points_did_not_run(graded: dict) -> None:
    # A `check` report holds the public checks only; the assignment is worth more.
    public_only = render("markdown", [mixed_report()])
    assert "## resnet, public checks: 1 / 6 points" in public_only
    assert "more point(s) did not run here" in public_only
    assert "did not run" not in render("markdown", [graded["reference"]])


def test_markdown_caps_its_length() -> None:
    report = mixed_report()
    many = [_test(f"check {i}", "failed", feedback="x " * 5000) for i in range(300)]
    report.tasks[0].tests.extend(many)
    text = render_markdown([report], INSTRUCTOR)
    assert len(text) <= MAX_TOTAL + 2000
    assert "left out to keep this short" in text
    assert "x x" in text and "x " * 1000 not in text  # feedback capped per check too


def test_markdown_reference_report_is_full_marks(graded: dict) -> None:
    report = graded["reference"]
    text = render_markdown([report], INSTRUCTOR)
    assert "❌" not in text and "💥" not in text
    assert f"**{report.score:g} / {report.max_score:g}**" in text


# --- visibility, in every format a student reads ----------------------------------------

@pytest.mark.parametrize("fmt", ["markdown", "junit", "github"])
def test_visibility_gates(fmt: str) -> None:
    reports = [mixed_report()]

    def shows(audience: Audience, name: str) -> bool:
        return name in render(fmt, reports, audience)

    # Names as each format writes them (Markdown escapes spaces not, but punctuation yes).
    for audience, visible in ((STUDENT, set()), (Audience(after_due_date=True), {"after due date"}),
                              (Audience(published=True), {"published"}),
                              (INSTRUCTOR, {"after due date", "published", "secret hidden"})):
        assert shows(audience, "secret hidden") == ("secret hidden" in visible)
        assert shows(audience, "stopped: endless loop" if fmt != "markdown" else "endless loop") == (
            "after due date" in visible)
        assert shows(audience, "published feedback") == ("published" in visible)


def test_student_totals_do_not_reveal_withheld_scores() -> None:
    text = render_markdown([mixed_report()], STUDENT)
    # Shown checks are worth 1 + 2 + 1 (BasicBlock) + 1 + 1 (ResNet); 1 point of them passed.
    assert "**1 / 6**" in text
    assert "4 more check(s), worth 6 point(s), are not shown yet" in text


# --- GitHub -----------------------------------------------------------------------------

def test_github_escaping_follows_the_toolkit() -> None:
    assert escape_data("100%\r\nnext") == "100%25%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    lines = render("github", [mixed_report()], INSTRUCTOR).splitlines()
    assert all(line.startswith("::") for line in lines)
    assert not any(line.startswith("::error::fake") for line in lines)
    forward = next(line for line in lines if "forward" in line)
    assert forward.startswith("::error file=resnet.py,line=12,title=BasicBlock%3A forward%3A 100%25%2C done")
    assert "%0A: :error::fake 100%25" in forward  # neutralised in the report itself


def test_github_annotations_point_at_the_raising_line(graded: dict) -> None:
    report, line = graded["raising"], graded["raising_line"]
    located = [a for a in annotations([report], INSTRUCTOR, "submissions/bob") if a.file]
    assert located, "a raising forward gives annotations on the student's line"
    assert {(a.file, a.line) for a in located} == {("submissions/bob/resnet.py", line)}
    assert all(a.kind == "error" and "ValueError" in a.message for a in located)
    # A student sees only the public checks' annotations, still at the right line.
    public = [a for a in annotations([report], STUDENT) if a.file]
    assert public and {(a.file, a.line) for a in public} == {("resnet.py", line)}
    assert len(public) < len(located)
    commands = render("github", [report], STUDENT).splitlines()
    assert any(c.startswith(f"::error file=resnet.py,line={line},title=") for c in commands)


@pytest.mark.parametrize("path, expected", [(".", "resnet.py"), ("subs/bob/", "subs/bob/resnet.py"),
                                            ("/abs/bob", "resnet.py"), ("subs/bob.zip", "resnet.py")])
def test_github_paths_follow_the_submission_folder(path: str, expected: str) -> None:
    report = mixed_report()
    report.submission.path = path
    assert {a.file for a in annotations([report], STUDENT) if a.file} == {expected}
    assert {a.file for a in annotations([report], STUDENT, "repo/x") if a.file} == {"repo/x/resnet.py"}


def test_github_annotations_most_useful_first_and_capped() -> None:
    report = mixed_report()
    report.tasks[1].tests.extend(_test(f"extra {i}", "failed", max_score=0.5) for i in range(15))
    found = annotations([report], INSTRUCTOR)
    errors = [a for a in found if a.kind == "error"]
    assert len(errors) == MAX_PER_KIND
    assert [a.line for a in errors[:2]] == [31, 12]  # located first: the error, then the failure
    assert errors[2].title.startswith("BasicBlock: after due date check (timeout")
    notices = [a for a in found if a.kind == "notice"]
    assert notices[-1].message.startswith("11 more problem(s)")
    assert [a.kind for a in found].count("warning") == 1  # the submission problem


def test_github_step_summary_is_appended(tmp_path: Path, graded: dict) -> None:
    path = tmp_path / "report.json"
    path.write_text(graded["raising"].model_dump_json())
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    runner = CliRunner()
    result = runner.invoke(main, ["report", str(path), "--format", "github"],
                           env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 0, result.output
    assert f"::error file=resnet.py,line={graded['raising_line']}," in result.output
    text = summary.read_text()
    assert text.startswith("earlier step\n## resnet: ") and "| Task | Points |" in text
    result = runner.invoke(main, ["report", str(path), "--format", "github", "--no-summary"],
                           env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert summary.read_text() == text


# The JUnit element a check's status becomes (a passed check has none).
JUNIT_RESULTS = {"failed": ["failure"], "error": ["error"], "timeout": ["error"],
                 "skipped": ["skipped"]}


def test_report_command_writes_each_format(tmp_path: Path, graded: dict) -> None:
    path = tmp_path / "report.json"
    report = graded["raising"]  # failures, errors and passes, not full marks
    path.write_text(report.model_dump_json())
    runner = CliRunner()
    for fmt, audience in (("gradescope", "student"), ("junit", "student"),
                          ("markdown", "instructor")):
        out = tmp_path / f"out.{fmt}"
        result = runner.invoke(main, ["report", str(path), "-f", fmt, "-o", str(out),
                                      "--audience", audience])
        assert result.exit_code == 0, result.output
    jsonschema.validate(json.loads((tmp_path / "out.gradescope").read_text()), results_schema())
    # Each format read back says what the report says: every check, every task's points.
    suites = {suite.get("name"): suite.findall("testcase")
              for suite in ElementTree.parse(tmp_path / "out.junit").getroot().iter("testsuite")}
    assert list(suites) == [f"{report.submission.id}.{task.name}" for task in report.tasks]
    for task in report.tasks:  # a student sees the visible checks; the others are folded
        cases = suites[f"{report.submission.id}.{task.name}"]
        shown = [t.name for t in task.tests if t.visibility == "visible"]
        folded = len(task.tests) - len(shown)
        assert [(c.get("name"), [child.tag for child in c if child.tag in JUNIT_RESULTS])
                for c in cases] == [(t.name, JUNIT_RESULTS.get(t.status, [])) for t in task.tests
                                    if t.visibility == "visible"] + (
            [(f"{folded} check(s) not shown yet", ["skipped"])] if folded else [])
    markdown = (tmp_path / "out.markdown").read_text()
    assert markdown.startswith(f"## resnet: {points(report.score)} / {points(report.max_score)} "
                               "points\n")
    rows = re.findall(r"^\| (\S+) \| (\S+ / \S+) \| (\S+ / \S+) \|$", markdown, re.MULTILINE)
    passed = {task.name: sum(t.status == "passed" for t in task.tests) for task in report.tasks}
    assert rows == [(task.name.replace("_", "\\_"), f"{points(task.score)} / {points(task.max_score)}",
                     f"{passed[task.name]} / {len(task.tests)}") for task in report.tasks] + [
        ("**Total**", f"**{points(report.score)} / {points(report.max_score)}**",
         f"**{sum(passed.values())} / {sum(len(task.tests) for task in report.tasks)}**")]
    both = runner.invoke(main, ["report", str(path), str(path), "-f", "gradescope"])
    assert both.exit_code == 1 and "one report at a time" in both.output
    missing = runner.invoke(main, ["report", str(tmp_path / "nope.json"), "-f", "junit"])
    assert missing.exit_code == 1 and "does not exist" in missing.output
