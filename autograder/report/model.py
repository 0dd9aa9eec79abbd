"""The one report model. Every output format is rendered from a :class:`Report`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from autograder.report.untrusted import neutralise
from autograder.spec import Visibility

# Text a submission can reach (feedback quotes its exceptions, names come from its files):
# no line of it may read as a CI workflow command, in any format (see report/untrusted.py).
UntrustedText = Annotated[str, AfterValidator(neutralise)]

SCHEMA_VERSION = "1.0"
Status = Literal["passed", "failed", "error", "timeout", "skipped"]


class SourceLocation(BaseModel):
    """A place in the student's own files that a check points at."""

    file: UntrustedText
    line: int


class TestResult(BaseModel):
    name: UntrustedText = Field(description="human-readable check name")
    check_id: str = Field("", description="stable identifier of the check (pytest node id)")
    score: float
    max_score: float
    status: Status
    visibility: Visibility = "visible"
    feedback: UntrustedText = Field("", description="what to fix, in words a student acts on")
    duration: float = Field(0.0, description="seconds")
    location: SourceLocation | None = None


class TaskResult(BaseModel):
    name: str
    score: float
    max_score: float
    tests: list[TestResult]


class SubmissionInfo(BaseModel):
    id: UntrustedText = Field(description="the student id when a roster knows the student, "
                              "else a name derived from the download")
    path: UntrustedText
    content_hash: str = Field(description="sha256 of the graded files, name and content")
    files: list[UntrustedText] = []
    student_id: str | None = Field(None, description="the roster's student id")
    name: UntrustedText = Field("", description="the student's name (roster or LMS)")
    submitted_at: datetime | None = Field(None, description="when it was submitted")
    submitted_at_source: Literal["", "lms", "git", "file"] = Field(
        "", description="where submitted_at comes from: the LMS, the commit, or a file time")


class Lateness(BaseModel):
    """The late policy applied: ``score`` of the report is ``final_score``."""

    deadline: datetime
    submitted_at: datetime
    days_late: int = Field(description="started days after deadline and grace; 0: on time")
    penalty_percent: float
    raw_score: float
    penalty: float = Field(description="points taken off the raw score")
    final_score: float
    accepted: bool = Field(True, description="false when later than the policy accepts")


class Timing(BaseModel):
    started_at: datetime
    duration: float = Field(description="seconds spent grading this submission")


class Environment(BaseModel):
    python: str
    torch: str
    autograder: str
    platform: str
    sandbox: str = Field(description="how student code was confined")


class Report(BaseModel):
    schema_version: Literal["1.0"] = SCHEMA_VERSION
    assignment: str
    submission: SubmissionInfo
    score: float
    max_score: float
    tasks: list[TaskResult]
    problems: list[UntrustedText] = Field([], description="submission-level problems, one "
                                          "sentence each")
    timing: Timing
    environment: Environment
    seed: int
    grader_fingerprint: str = Field(
        "", description="sha256 of everything that decides a score (checks, reference, mutants, "
        "support code, seed, versions); reports of one content hash and fingerprint may merge")
    late: Lateness | None = Field(None, description="deadline and late penalty, when graded "
                                  "with a deadline; score is then the final score")
    partial: bool = Field(False, description="only some tasks were graded (grade --task): not "
                          "a whole grade, so exports refuse it")

    def task(self, name: str) -> TaskResult:
        return next(t for t in self.tasks if t.name == name)

    def test(self, name: str) -> TestResult:
        """The result of the check named ``name`` (or whose check_id ends with it)."""
        for task in self.tasks:
            for test in task.tests:
                if test.name == name or test.check_id.endswith(name):
                    return test
        raise KeyError(name)
