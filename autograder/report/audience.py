"""Who reads a rendering, and so which checks it may show.

The rule, the same in every format that a student can read (Markdown, JUnit, GitHub):

- An **instructor** sees every check.
- A **student** sees a check in full (name, status, points, feedback, annotation) when its
  visibility is ``visible``; ``after_due_date`` once the due date has passed
  (``after_due_date=True``); ``after_published`` once grades are published
  (``published=True``); ``hidden`` never.
- Checks a student may not see yet are *withheld*: nothing of them is shown but how many
  there are and how many points they are worth in all, so a student cannot learn which
  hidden check failed, nor (from a score that moves) whether one did.

Gradescope's ``results.json`` is the exception: it carries every check with its own
``visibility`` and Gradescope applies these same gates itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from autograder.report.model import Report, TaskResult, TestResult
from autograder.spec import Visibility


@dataclass(frozen=True)
class Audience:
    instructor: bool = False
    after_due_date: bool = False
    published: bool = False

    def shows(self, visibility: Visibility) -> bool:
        if self.instructor or visibility == "visible":
            return True
        if visibility == "after_due_date":
            return self.after_due_date
        if visibility == "after_published":
            return self.published
        return False


STUDENT = Audience()
INSTRUCTOR = Audience(instructor=True)


@dataclass
class TaskView:
    """One task as an audience sees it."""

    task: TaskResult
    shown: list[TestResult]
    withheld_count: int
    withheld_points: float

    @property
    def name(self) -> str:
        return self.task.name

    @property
    def score(self) -> float:
        # With nothing withheld this is the report's own score for the task, untouched.
        if not self.withheld_count:
            return self.task.score
        return round(sum(t.score for t in self.shown), 6)

    @property
    def max_score(self) -> float:
        if not self.withheld_count:
            return self.task.max_score
        return round(sum(t.max_score for t in self.shown), 6)


@dataclass
class ReportView:
    report: Report
    tasks: list[TaskView]

    @property
    def score(self) -> float:
        if not self.withheld_count:
            return self.report.score
        return round(sum(t.score for t in self.tasks), 6)

    @property
    def max_score(self) -> float:
        if not self.withheld_count:
            return self.report.max_score
        return round(sum(t.max_score for t in self.tasks), 6)

    @property
    def withheld_count(self) -> int:
        return sum(t.withheld_count for t in self.tasks)

    @property
    def withheld_points(self) -> float:
        return round(sum(t.withheld_points for t in self.tasks), 6)

    def shown(self) -> list[tuple[TaskView, TestResult]]:
        return [(task, test) for task in self.tasks for test in task.shown]


def view(report: Report, audience: Audience) -> ReportView:
    """The report as ``audience`` may see it: the checks it may not see yet are withheld."""
    tasks = []
    for task in report.tasks:
        shown = [t for t in task.tests if audience.shows(t.visibility)]
        withheld = [t for t in task.tests if not audience.shows(t.visibility)]
        tasks.append(TaskView(task, shown, len(withheld), round(sum(t.max_score for t in withheld), 6)))
    return ReportView(report, tasks)
