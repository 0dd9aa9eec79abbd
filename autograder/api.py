"""The library API: everything the CLI does, callable from Python (and from the tests)."""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.util
import os
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder import packaging
from autograder.errors import UserError
from autograder.fileio import write_atomic
from autograder.judge.runner import Judge, available_cpus, failure_report, preload_checks
from autograder.layouts import collect_submissions, identify
from autograder.packaging import build_package
from autograder.report.model import Report
from autograder.roster import Roster
from autograder.sandbox.client import Zygote, new_zygote
from autograder.spec import AssignmentSpec, assignment_names, detect_assignment, load_assignment

if TYPE_CHECKING:
    from autograder.release import Release
    from autograder.report.audience import Audience
    from autograder.report.nbgrader_gradebook import GradebookExport
    from autograder.student_copy import StudentCopy
    from autograder.validate import Validation

ProgressCallback = Callable[[Report], None]
_PR_SET_PDEATHSIG = 1


def list_assignments() -> list[AssignmentSpec]:
    return [load_assignment(name) for name in assignment_names()]


def report_schema() -> dict[str, Any]:
    return Report.model_json_schema()


def release(assignment: str) -> Release:
    """Regenerate ``student_template/ASSIGNMENT`` (only files whose content changes)."""
    from autograder import release as release_module  # nbgrader: imported only when needed

    return release_module.release(load_assignment(assignment))


def validate(assignment: str, judge: Judge | None = None) -> Validation:
    """Check that an assignment grades what it claims (see :mod:`autograder.validate`):
    full marks for the reference, none for the template, every mutant caught, no hidden
    check that can never fail, known-good cases at full marks, known-bad cases losing where
    they say. ``judge``: grade with this one (and its assignment)."""
    from autograder.validate import validate as run_validation  # api.validate shadows the name

    if judge is not None:
        return run_validation(judge.spec, judge)
    spec = load_assignment(assignment)
    with judging(spec) as own:
        return run_validation(spec, own)


@contextmanager
def judging(spec: AssignmentSpec, seed: int | None = None,
            tasks: list[str] | None = None) -> Iterator[Judge]:
    zygote = new_zygote(spec.preload)
    judge = Judge(spec, zygote, seed, tasks)
    try:
        yield judge
    finally:
        judge.close()
        zygote.close()


_judge: Judge | None = None


def _start_judge(spec: AssignmentSpec, zygote: Zygote, seed: int | None,
                 tasks: list[str] | None, parent: int, background: bool) -> None:
    global _judge
    # Ctrl-C is the coordinator's to handle (it stops the judges): a judge interrupted in
    # the middle of a submission must not turn the interruption into a grade.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)
    _judge = Judge(spec, zygote, seed, tasks, background=background)
    multiprocessing.util.Finalize(_judge, _judge.close, exitpriority=10)


def die_with_parent(parent: int) -> None:
    """A judge ends when the process that forked it does, even by SIGKILL (no stray judge
    holding the zygote open)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(1)


def _grade_in_judge(path: Path) -> Report:
    assert _judge is not None
    return _judge.grade(path)


def grade(paths: list[Path], assignment: str, jobs: int = 1, seed: int | None = None,
          on_report: ProgressCallback | None = None, tasks: list[str] | None = None,
          roster: Roster | None = None, deadline: datetime | None = None) -> list[Report]:
    """Grade submissions (hidden and public checks); reports come back in input order.
    ``tasks`` limits grading to those tasks (all by default); ``roster`` maps submissions to
    students; ``deadline`` applies the assignment's late policy."""
    spec = load_assignment(assignment)
    spec.only(tasks)  # an unknown task is an error here, before any judge starts
    with collect_submissions(paths, spec, roster, deadline) as classlist:
        entries = {str(entry.path): entry for entry in classlist.entries}

        def done(report: Report) -> None:
            identify(report, entries[report.submission.path], spec, deadline)
            if on_report:
                on_report(report)

        return grade_submissions([e.path for e in classlist.entries], spec, jobs, seed, done,
                                 tasks)


def grade_submissions(submissions: list[Path], spec: AssignmentSpec, jobs: int = 1,
                      seed: int | None = None, on_report: ProgressCallback | None = None,
                      tasks: list[str] | None = None) -> list[Report]:
    """Grade each path as one submission (see :func:`collect_submissions`)."""
    if not submissions:
        return []
    if jobs <= 1 or len(submissions) == 1:
        reports = []
        with judging(spec, seed, tasks) as judge:
            for path in submissions:
                reports.append(judge.grade(path))
                if on_report:
                    on_report(reports[-1])
        return reports
    zygote = new_zygote(spec.preload)
    try:
        preload_checks(spec, seed)  # while the zygote imports torch, on the other core
        zygote.wait_ready()
        # Judges are forked from this process (trusted, torch imported, no ops run yet);
        # they share one zygote, which alone forks the workers that run student code. Each
        # judge is a pool of its own, given one submission at a time: a judge that dies
        # costs the report of the submission it was grading, and is replaced; the others
        # never see it (in one shared pool, its death would fail every pending submission).
        context = multiprocessing.get_context("fork")
        spare_cpu = available_cpus() > jobs  # for each judge's background runs

        def new_judge() -> ProcessPoolExecutor:
            return ProcessPoolExecutor(max_workers=1, mp_context=context,
                                       initializer=_start_judge,
                                       initargs=(spec, zygote, seed, tasks, os.getpid(),
                                                 spare_cpu))

        judges = [new_judge() for _ in range(min(jobs, len(submissions)))]
        waiting = list(enumerate(submissions))[::-1]  # popped from the end: input order
        grading: dict[Future[Report], tuple[int, int]] = {}  # -> (submission, judge)

        def give_next(judge: int) -> None:
            if waiting:
                index, path = waiting.pop()
                grading[judges[judge].submit(_grade_in_judge, path)] = (index, judge)

        results: dict[int, Report] = {}
        try:
            for judge in range(len(judges)):
                give_next(judge)
            while grading:
                finished, _ = wait(grading, return_when=FIRST_COMPLETED)
                for future in finished:
                    index, judge = grading.pop(future)
                    try:
                        results[index] = future.result()
                    except Exception as exc:  # e.g. the judge process died: the rest go on
                        results[index] = failure_report(spec.only(tasks), submissions[index],
                                                        f"{type(exc).__name__}: {exc}",
                                                        seed or spec.seed)
                        results[index].partial = len(spec.only(tasks).tasks) < len(spec.tasks)
                        if isinstance(exc, BrokenProcessPool):
                            judges[judge].shutdown(wait=False)
                            judges[judge] = new_judge()
                    if on_report:
                        on_report(results[index])
                    give_next(judge)
        except BaseException:  # Ctrl-C: stop now, no submission started after it
            for pool in judges:
                _stop_pool(pool)
            raise
        for pool in judges:
            pool.shutdown()
        return [results[i] for i in range(len(submissions))]
    finally:
        zygote.close()


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.kill()
    for process in processes:
        process.join(5)


@dataclass
class CheckResult:
    report: Report
    hidden_points: float


def check(path: Path, assignment: str | None = None) -> CheckResult:
    """Run the public checks only, as a student does before submitting."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"path does not exist: {path}")
    spec = load_assignment(assignment or detect_assignment(path))
    with judging(spec) as judge:
        report = judge.grade(path, run_hidden=False)
    return CheckResult(report, round(spec.max_score - report.max_score, 6))


class ReportWriter:
    """Writes each report as soon as it is graded, so an interrupted run loses nothing.

    One submission: ``output`` is the file when it ends in ``.json`` (and is not an existing
    folder). Several: ``output`` is a folder with one ``<submission id>.json`` each.
    A partial report (``grade --task``) never replaces a whole report: it merges into the
    one already there when both graded the same content with the same grader, and is written
    beside it as ``<name>.partial.json`` otherwise (an earlier partial report of other files
    is replaced). ``notes`` says what was merged where.
    """

    def __init__(self, output: Path, count: int, task_order: list[str] | None = None) -> None:
        self.output = Path(output)
        self.single = count == 1 and not self.output.is_dir() and self.output.suffix == ".json"
        self.task_order = task_order or []
        self.written: list[Path] = []
        self.notes: list[str] = []

    def _target(self, report: Report) -> Path:
        if self.single:
            return self.output
        return self.output / f"{report.submission.id}.json"

    def write(self, report: Report) -> Path:
        from autograder.report.partial import can_merge, merge

        path = self._target(report)
        path.parent.mkdir(parents=True, exist_ok=True)
        if report.partial:
            beside = path.with_name(path.stem + ".partial.json")
            for candidate in (path, beside):
                earlier = _read_report(candidate)
                if earlier is not None and can_merge(earlier, report):
                    report, path = merge(earlier, report, self.task_order), candidate
                    graded = len(report.tasks)
                    self.notes.append(f"merged into {candidate} ({graded} of "
                                      f"{len(self.task_order) or graded} tasks)")
                    break
            else:
                earlier = _read_report(path)
                # another content or grader: a whole report stays; a partial one is replaced
                if path.exists() and (earlier is None or not earlier.partial):
                    self.notes.append(f"{path} was graded from other files or by another "
                                      f"grader: wrote {beside} beside it")
                    path = beside
        write_atomic(path, report.model_dump_json(indent=2))
        self.written.append(path)
        return path


def _read_report(path: Path) -> Report | None:
    try:
        return Report.model_validate_json(path.read_text())
    except (OSError, ValueError):
        return None


def write_reports(reports: list[Report], output: Path) -> list[Path]:
    writer = ReportWriter(output, len(reports))
    for report in reports:
        writer.write(report)
    return writer.written


def render_reports(paths: list[Path], fmt: str, audience: Audience | None = None,
                   path_prefix: str | None = None) -> str:
    """JSON reports rendered as ``fmt`` (gradescope, junit, markdown, github) for ``audience``
    (default: a student, before due date and publication)."""
    from autograder.report.audience import STUDENT
    from autograder.report.formats import load_report, render
    from autograder.report.partial import refuse_partial

    files = [f for p in map(Path, paths)
             for f in (sorted(p.glob("*.json")) if p.is_dir() else [p])]
    if not files:
        raise UserError(f"no JSON report in {', '.join(map(str, paths))}")
    reports = [load_report(f) for f in files]
    if fmt == "gradescope":  # Gradescope records results.json as the submission's grade
        refuse_partial(reports, "Gradescope's results.json")
    return render(fmt, reports, audience or STUDENT, path_prefix)


def package_gradescope(assignment: str, output: Path) -> Path:
    """Write the Gradescope autograder zip of ``assignment``."""
    return build_package(load_assignment(assignment), output)


def write_hidden_weights(assignment: str, folder: Path) -> Path:
    """Write the derived ``hidden_weight`` of each task of ``assignment`` into the
    ``assignment.toml`` of ``folder``, a copy of its folder that will lack the hidden checks."""
    return packaging.write_hidden_weights(load_assignment(assignment), folder)


def package_students(assignments: list[str], output: Path) -> StudentCopy:
    """Write the students' copy of the grader (public checks and templates only)."""
    from autograder.student_copy import build_student_copy

    return build_student_copy([load_assignment(name) for name in assignments], output)


def export_nbgrader(paths: list[Path], db: str | Path, course_id: str = "default_course"
                    ) -> GradebookExport:
    """Write the reports in ``paths`` (files or folders of them, or autograder gradebooks:
    ``*.sqlite``) into an nbgrader gradebook."""
    from autograder.gradebook.exports import refuse_partial_results
    from autograder.gradebook.store import Gradebook, latest_results
    from autograder.report.nbgrader_gradebook import export_reports, load_reports
    from autograder.report.partial import refuse_partial

    books = [Path(p) for p in paths if Path(p).suffix == ".sqlite"]
    reports = []
    for book_path in books:
        with Gradebook(book_path, create=False) as book:
            results = list(latest_results(book))
        # a gradebook prefers a submission's whole result, but holds only a partial one
        # when every run of it was `grade -t`
        refuse_partial_results(results, "nbgrader")
        reports += [result.report for result in results]
    rest = [p for p in paths if Path(p) not in books]
    files = load_reports(rest) if rest or not reports else []
    refuse_partial(files, "the nbgrader export")
    return export_reports(reports + files, db, course_id)
