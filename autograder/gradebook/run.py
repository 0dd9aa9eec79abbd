"""A class grading run backed by the gradebook: plan what needs grading, grade it (here or
on a Dask cluster), write each report and its row as soon as it is graded, and summarise.

Planning reads only files and the gradebook (no torch, no judge), so a rerun with nothing
new answers in a moment. What counts as the same result: the same submission content hash
and the same grader fingerprint (:mod:`autograder.gradebook.fingerprint`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from autograder.fileio import write_atomic
from autograder.gradebook.fingerprint import changed_parts, fingerprint_of, manifest
from autograder.gradebook.store import (
    GRADER_FAILURE,
    Gradebook,
    Result,
    default_location,
    scope_of,
)
from autograder.ingest import ingest
from autograder.layouts import collect_submissions, identify
from autograder.report.model import Report
from autograder.report.text import points
from autograder.roster import Roster
from autograder.spec import AssignmentSpec, load_assignment


@dataclass(frozen=True)
class Planned:
    """A submission to grade, with what the gradebook held for it before."""

    path: Path
    submission_id: str
    content_hash: str
    previous: Result | None


@dataclass(frozen=True)
class ScoreChange:
    submission_id: str
    old: float
    new: float
    max_score: float
    tasks: dict[str, float]  # task -> change, only tasks whose score changed

    def line(self) -> str:
        delta = self.new - self.old
        tasks = ", ".join(f"{name} {_signed(value)}" for name, value in self.tasks.items())
        return (f"  {self.submission_id}: {points(self.old)} -> {points(self.new)} of "
                f"{points(self.max_score)} ({_signed(delta)}{'; ' + tasks if tasks else ''})")


def _signed(value: float) -> str:
    return ("+" if value >= 0 else "-") + points(abs(value))


@dataclass
class RunSummary:
    """What a run did; :meth:`text` is what `grade` prints under the table."""

    gradebook: Path
    graded: list[Report] = field(default_factory=list)
    skipped: int = 0
    restored: int = 0  # skipped, but their report file was missing and is written again
    regraded: int = 0  # graded again: an earlier result was replaced
    regraded_for_grader: int = 0
    grader_changes: list[str] = field(default_factory=list)
    changes: list[ScoreChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # partial reports merged, or written beside

    def text(self) -> str:
        lines = [f"graded {len(self.graded)} submission(s); skipped {self.skipped} already "
                 "graded (same files, same grader)"]
        if self.restored:
            lines.append(f"rewrote {self.restored} missing report(s) from the gradebook")
        if self.regraded_for_grader:
            what = ", ".join(self.grader_changes[:5]) + (" ..." if len(self.grader_changes) > 5 else "")
            lines.append(f"the grader changed since {self.regraded_for_grader} of them were graded "
                         f"({what or 'fingerprint'}): regraded")
        if self.changes:
            lines.append(f"scores changed for {len(self.changes)} submission(s):")
            lines += [change.line() for change in self.changes]
        elif self.regraded:
            lines.append(f"no score changed among the {self.regraded} regraded")
        lines += self.notes
        lines.append(f"gradebook: {self.gradebook}")
        return "\n".join(lines)


def content_identities(paths: list[Path], spec: AssignmentSpec) -> list[tuple[str, str]]:
    """(submission id, content hash) of each path, exactly as the judge will compute them:
    the same ingest, into one scratch folder emptied between submissions (making and
    removing folders is what costs most here)."""
    workspace = Path(tempfile.mkdtemp(prefix="autograder-plan-"))
    scratch = workspace / "submission"
    scratch.mkdir()
    found = []
    try:
        for path in paths:
            submission = ingest(path, spec, scratch)
            found.append((submission.id, submission.content_hash))
            for item in scratch.iterdir():
                item.unlink()
        return found
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


class ClassRun:
    """One `grade` over a class: planned on construction (what to grade, what to skip), then
    :meth:`execute`."""

    def __init__(self, paths: list[Path], assignment: str, output: Path,
                 seed: int | None = None, tasks: list[str] | None = None,
                 gradebook: Path | None = None, regrade: bool = False,
                 roster: Roster | None = None, deadline: datetime | None = None) -> None:
        self.spec = load_assignment(assignment)
        self.graded_spec = self.spec.only(tasks)  # an unknown task is an error here
        self.tasks = tasks or None
        self.seed = seed
        self.output = Path(output)
        self.scope = scope_of(tasks)
        self.deadline = deadline
        # Class downloads as they come (Canvas, GitHub Classroom, Gradescope), under roster ids
        self.classlist = collect_submissions(paths, self.spec, roster, deadline)
        self.entries = self.classlist.entries
        self.submissions = [entry.path for entry in self.entries]
        self._entry_of = {str(entry.path): entry for entry in self.entries}
        self.parts = manifest(self.spec, seed, tasks)
        self.fingerprint = fingerprint_of(self.parts)
        self.book = Gradebook(Path(gradebook) if gradebook else default_location(self.output))
        self.book.remember_grader(self.spec.name, self.fingerprint, self.parts)
        self.summary = RunSummary(self.book.path)
        self.todo: list[Planned] = []
        self._plan(regrade)

    def _plan(self, regrade: bool) -> None:
        grader_changes: set[str] = set()
        identities = content_identities(self.submissions, self.spec)
        for entry, (_, content_hash) in zip(self.entries, identities, strict=True):
            path, submission_id = entry.path, entry.key
            previous = self.book.result(self.spec.name, submission_id, self.scope)
            if (not regrade and previous is not None and previous.content_hash == content_hash
                    and previous.fingerprint == self.fingerprint
                    and previous.status != GRADER_FAILURE):
                self.summary.skipped += 1
                report_path = self.book.report_location(previous)
                if not report_path.is_file():
                    write_atomic(report_path, previous.report_json)
                    self.summary.restored += 1
                continue
            if previous is not None and previous.fingerprint != self.fingerprint:
                self.summary.regraded_for_grader += 1
                old = self.book.grader_parts(previous.fingerprint) or {}
                grader_changes.update(changed_parts(old, self.parts))
            self.todo.append(Planned(path, submission_id, content_hash, previous))
        self.summary.grader_changes = sorted(grader_changes)

    def execute(self, jobs: int = 1, cluster: str | None = None,
                on_report: Callable[[Report], None] | None = None) -> RunSummary:
        """Grade what the plan left to do. Each report is written (atomically) and recorded
        (one transaction) as soon as it is graded; an interruption loses only the
        submissions being graded at that moment."""
        if not self.todo:
            return self.summary
        from autograder.api import ReportWriter  # torch and the judge: only when there is work

        writer = ReportWriter(self.output, len(self.submissions), [t.name for t in self.spec.tasks])
        self.summary.notes = writer.notes
        by_path = {str(p.path): p for p in self.todo}

        def done(report: Report) -> None:
            planned = by_path[report.submission.path]
            identify(report, self._entry_of[report.submission.path], self.spec, self.deadline)
            report_path = writer.write(report)
            self.book.record(report, planned.content_hash, self.fingerprint, self.scope,
                             report_path, str(planned.path))
            self.summary.graded.append(report)
            self._note_change(planned, report)
            if on_report:
                on_report(report)

        paths = [p.path for p in self.todo]
        if cluster:
            from autograder.cluster import grade_on_cluster

            grade_on_cluster(cluster, paths, self.spec, self.fingerprint, self.seed, self.tasks,
                             on_report=done)
        else:
            from autograder.api import grade_submissions

            grade_submissions(paths, self.spec, jobs, self.seed, done, self.tasks)
        order = {entry.key: i for i, entry in enumerate(self.entries)}
        self.summary.graded.sort(key=lambda r: order.get(r.submission.id, len(order)))
        return self.summary

    def _note_change(self, planned: Planned, report: Report) -> None:
        previous = planned.previous
        if previous is None or previous.status == GRADER_FAILURE:
            return
        self.summary.regraded += 1
        old_tasks = previous.task_scores()
        tasks = {t.name: round(t.score - old_tasks.get(t.name, 0.0), 4) for t in report.tasks
                 if abs(t.score - old_tasks.get(t.name, 0.0)) > 1e-9}
        if abs(report.score - previous.score) > 1e-9 or tasks:
            self.summary.changes.append(ScoreChange(report.submission.id, previous.score,
                                                    report.score, report.max_score, tasks))

    def close(self) -> None:
        self.book.close()
        self.classlist.close()
