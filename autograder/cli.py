"""The `autograder` command: a thin Click shell over :mod:`autograder.api`.

Heavy imports (torch, the judge) happen inside the commands, after the sandbox has been
asked to start, so `list` and `schema` answer at once and `grade` overlaps start-ups.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import sys
import threading
import time
import traceback
from datetime import datetime
from pathlib import Path

import click

from autograder.errors import UserError
from autograder.report.renderers import FORMATS, format_help


class JobsType(click.ParamType):
    """A count of parallel judges (at least 1), or ``auto``: one per CPU this process may use."""

    name = "N|auto"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None
                ) -> int | str:
        if value == "auto":
            return "auto"
        try:
            jobs = int(value)
        except (TypeError, ValueError):
            jobs = 0
        if jobs < 1:
            self.fail(f"{value!r} is not a positive whole number or auto", param, ctx)
        return jobs


JOBS = JobsType()

EXIT_STATUS = """
Exit status: 0 when grading completed, whatever the scores; 1 when it could not
(unknown assignment, a path that does not exist, ...), with one line saying why;
2 for a usage error.
"""
DONE_STATUS = """
Exit status: 0 when it is done; 1 when it could not be done, with one line saying why;
2 for a usage error.
"""
VALIDATE_STATUS = """
Exit status: 0 when every assignment holds what it claims; 1 when anything does not hold
(or it could not run), with one line saying why; 2 for a usage error.
"""
# -h as well as --help, on every command
CONTEXT = {"help_option_names": ["-h", "--help"]}


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            raise click.ClickException(str(exc)) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:  # never a traceback from the grader itself
            if os.environ.get("AUTOGRADER_DEBUG"):
                traceback.print_exc()
            raise click.ClickException(
                f"internal error: {type(exc).__name__}: {exc} "
                "(set AUTOGRADER_DEBUG=1 for details)") from None


@click.group(cls=_Group, epilog=EXIT_STATUS, context_settings=CONTEXT)
@click.version_option(package_name="autograder")
def main() -> None:
    """Grade PyTorch exercises with hidden checks; student code runs only in a sandbox."""


# Set by the console entry point: its standard streams are the process's own, which a warm
# check server (autograder.server) can take over; a caller of main() may have replaced them.
_from_console = False


def run(prog_name: str = "autograder") -> None:
    """The console entry point: :func:`main`, then a quick exit.

    Once the command is done and its exit handlers have run (the sandbox stopped, temporary
    folders removed), the interpreter's own teardown with torch loaded only frees memory the
    kernel frees anyway: 1.5 s of every command here. It is skipped when no other thread
    is alive (none can lose work), after the standard streams are flushed.
    """
    global _from_console
    _from_console = True
    try:
        main(prog_name=prog_name)
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if not isinstance(done.code, int | None):
            print(done.code, file=sys.stderr)
    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()
    logging.shutdown()  # every file this package writes is closed by then (`with`, write_atomic)
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except (BrokenPipeError, ValueError):  # a closed reader or stream: nothing can reach it
            pass
        except OSError as exc:  # a full disk: the output is incomplete, so is the command
            try:
                os.write(2, f"Error: the output could not be written: {exc}\n".encode())
            except OSError:
                pass
            code = code or 120  # what Python's own exit gives when the last flush fails
    os._exit(code)


def serve_checks() -> None:
    """The warm check server's entry point (see autograder.server): each check it serves
    runs this command, as `autograder check` would have in a process of its own."""
    from autograder.server import main as serve

    serve(lambda: run(prog_name="autograder"))


@main.command("list", epilog=DONE_STATUS)
def list_command() -> None:
    """List the assignments, their tasks and points."""
    from autograder.spec import assignment_names, load_assignment

    for name in assignment_names():
        spec = load_assignment(name)
        tasks = ", ".join(f"{t.name} ({t.points:g})" for t in spec.tasks)
        click.echo(f"{spec.name}: {spec.title}\n  files: "
                   f"{', '.join(' or '.join(f.candidates) for f in spec.files)}\n  tasks: {tasks}")


@main.command(epilog=DONE_STATUS)
def schema() -> None:
    """Print the JSON Schema of a report."""
    from autograder.report.model import Report

    click.echo(json.dumps(Report.model_json_schema(), indent=2))


@main.command("release", epilog=DONE_STATUS)
@click.argument("assignment")
def release_command(assignment: str) -> None:
    """Regenerate student_template/ASSIGNMENT from reference/ASSIGNMENT."""
    from autograder.api import release

    result = release(assignment)
    for path in result.written:
        click.echo(f"wrote {path}")
    for path in result.removed:
        click.echo(f"removed {path}")
    click.echo(f"{len(result.unchanged)} file(s) unchanged")


@main.command("validate", epilog=VALIDATE_STATUS)
@click.argument("assignments", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Validate every assignment (see `list`).")
def validate_command(assignments: tuple[str, ...], every: bool) -> None:
    """Check that ASSIGNMENTS grade what they claim to grade.

    Grades the reference (full marks), the untouched template (nothing), every mutant in
    mutants.toml (each caught by the reference's tests where it grades one, and by some
    hidden check), and requires every hidden check to fail on some known-bad variant.
    Grades the known-good cases (cases/good/*: full marks, or a check is unfair) and the
    known-bad ones (cases/bad/*: points lost where case.toml says, and only there).
    Prints a table; exits with status 1 when anything does not hold.
    """
    from autograder.spec import assignment_names, load_assignment

    if every == bool(assignments):
        raise click.UsageError("name one or more assignments, or pass --all")
    names = assignment_names() if every else list(assignments)
    from autograder.sandbox.client import prestart_zygote

    if names:  # the first assignment's preload: the next ones start their own if theirs differs
        prestart_zygote(load_assignment(names[0]).preload)
    from autograder import api
    from autograder.validate import format_validation

    failed = []
    for name in names:
        result = api.validate(name)
        click.echo(format_validation(result) + "\n")
        if not result.ok:
            failed.append(f"{name} ({len(result.failures)} problem(s))")
    if failed:
        raise click.ClickException(f"validation failed: {', '.join(failed)}")


def _deadline(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not an ISO 8601 time such as "
                                 "2026-03-01T23:59+01:00", param_hint="--deadline") from None
    return parsed if parsed.tzinfo else parsed.astimezone()  # no offset: this machine's zone


@main.command(epilog=EXIT_STATUS)
@click.argument("submissions", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-a", "--assignment", required=True, help="Assignment name (see `list`).")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("reports"),
              show_default=True,
              help="A .json file for one submission, or a folder (one <id>.json each).")
@click.option("-j", "--jobs", type=JOBS, default="1", show_default=True,
              help="Submissions graded in parallel, or auto: one per CPU available.")
@click.option("--seed", type=int, default=None, help="Override the assignment's seed.")
@click.option("-t", "--task", "tasks", multiple=True,
              help="Grade only this task (repeatable); all tasks by default. The result merges "
                   "into the report already there for the same files and grader.")
@click.option("--roster", type=click.Path(path_type=Path), default=None,
              help="CSV of the class: student_id and any of name, email, github, lms_id; "
                   "reports are then named and keyed by student id.")
@click.option("--deadline", default=None,
              help="ISO 8601 deadline (2026-03-01T23:59+01:00): applies the assignment's late "
                   "policy; git repositories are graded at the last commit it accepts.")
@click.option("-v", "--verbose", is_flag=True, help="Print every check's result.")
@click.option("--gradebook", type=click.Path(path_type=Path), default=None,
              help="The SQLite gradebook to record results in [default: OUTPUT/gradebook.sqlite].")
@click.option("--regrade", is_flag=True,
              help="Grade every submission again, even those the gradebook already has.")
@click.option("--cluster", default=None, metavar="ADDRESS",
              help="Grade on a Dask cluster: tcp://HOST:PORT of its scheduler, or local:N to "
                   "start one here with N workers (needs the `cluster` extra).")
def grade(submissions: tuple[Path, ...], assignment: str, output: Path, jobs: int | str,
          seed: int | None, tasks: tuple[str, ...], roster: Path | None, deadline: str | None,
          verbose: bool, gradebook: Path | None, regrade: bool, cluster: str | None) -> None:
    """Grade SUBMISSIONS with all checks: folders, zips, or a class of them (a folder of
    folders or zips, a GitHub Classroom clone folder, Canvas's "Download Submissions" files,
    a Gradescope export).

    Writes one JSON report per submission as soon as it is graded, records each in the
    gradebook, and prints a summary table. Running the same command again grades only what
    is new: a submission whose files and grader (checks, reference, seed, versions) are
    unchanged is skipped, so an interrupted run resumes where it stopped.
    """
    when = _deadline(deadline)
    for path in submissions:
        if not path.exists():
            raise UserError(f"submission path does not exist: {path}")
    from autograder.gradebook.run import ClassRun
    from autograder.report.text import report_details, summary_table
    from autograder.report.untrusted import guard_for_ci
    from autograder.roster import Roster

    class_roster = Roster.load(roster) if roster else None
    run = ClassRun(list(submissions), assignment, output, seed, list(tasks), gradebook, regrade,
                   roster=class_roster, deadline=when)
    try:
        if run.todo and not cluster:
            from autograder.sandbox.client import prestart_zygote
            from autograder.spec import load_assignment

            prestart_zygote(load_assignment(assignment).preload)
        if jobs == "auto":  # the API (and torch) is imported only when -j auto asks for it
            from autograder.api import available_cpus

            jobs = available_cpus()
        count = len(run.todo)
        progress = _Progress(count)
        try:
            with click.progressbar(length=count, label=f"grading {count} submission(s)",
                                   file=sys.stderr, show_pos=True, show_eta=True,
                                   item_show_func=progress.rate, hidden=not count) as bar:
                summary = run.execute(jobs, cluster,
                                      on_report=lambda report: bar.update(progress.tick(), report))
        except KeyboardInterrupt:
            click.echo(f"\ninterrupted: {len(run.summary.graded)} submission(s) graded and saved; "
                       "run the same command again to grade the rest", err=True)
            sys.exit(130)
    finally:
        run.close()
    printed = [report_details(report) + "\n" for report in summary.graded] if verbose else []
    if summary.graded:
        printed.append(summary_table(summary.graded) + "\n")
    printed.append(summary.text())
    click.echo(guard_for_ci("\n".join(printed)))  # feedback and names come from submissions
    single = len(run.submissions) == 1 and output.suffix == ".json" and not output.is_dir()
    click.echo(f"reports written to {output if single else f'{output}/'}")
    if class_roster is not None:
        submitted = {e.student.student_id for e in run.entries if e.student}
        missing = [s.student_id for s in class_roster.students if s.student_id not in submitted]
        unknown = [e.key for e in run.entries if e.student is None]
        if unknown:
            click.echo(f"not in the roster: {', '.join(unknown)}")
        if missing:
            click.echo(f"no submission from {len(missing)} student(s) of the roster: "
                       f"{', '.join(missing)}")


class _Progress:
    """Rate and time left for the progress bar (click prints its own ETA beside them)."""

    def __init__(self, total: int) -> None:
        self.started = time.monotonic()
        self.total = total
        self.done = 0

    def tick(self) -> int:
        self.done += 1
        return 1

    def rate(self, item: object) -> str:
        if item is None or not self.done:
            return ""
        elapsed = time.monotonic() - self.started
        left = elapsed / self.done * (self.total - self.done)
        return f"{self.done / elapsed * 60:.1f}/min, {left:.0f} s left"


CHECK_EXIT_STATUS = """
Exit status: 0 when the checks ran (and, with --fail-under, enough of them passed); 1 when
they could not run (no such path, unknown assignment, ...) or when fewer public checks
passed than --fail-under asks, with one line saying why; 2 for a usage error.
"""


@main.command(epilog=CHECK_EXIT_STATUS)
@click.argument("path", required=False, default=".", type=click.Path(path_type=Path))
@click.option("-a", "--assignment", default=None,
              help="Assignment name; guessed from the files when left out.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Also write the JSON report to this file (for `autograder report`).")
@click.option("--fail-under", type=click.FloatRange(0, 100), default=None, metavar="PERCENT",
              help="Exit with status 1 when fewer than PERCENT percent of the public checks "
                   "pass (100: any failing check); for a CI status.")
def check(path: Path, assignment: str | None, output: Path | None = None,
          fail_under: float | None = None) -> None:
    """Run the public checks on your work in PATH (default: this folder)."""
    if not path.exists():
        raise UserError(f"path does not exist: {path}")
    from autograder.sandbox.client import prestart_zygote
    from autograder.spec import detect_assignment, load_assignment

    assignment = assignment or detect_assignment(path)
    preload = load_assignment(assignment).preload
    if _from_console:
        from autograder.server import run_through_server

        argv = ["check", "-a", assignment]
        argv += ["-o", str(output)] if output is not None else []
        argv += ["--fail-under", repr(fail_under)] if fail_under is not None else []
        argv += ["--", str(path)]  # a folder named like an option stays a folder
        status = run_through_server(argv, preload)
        if status is not None:
            sys.exit(status)
    prestart_zygote(preload)
    from autograder import api
    from autograder.fileio import write_atomic
    from autograder.report.text import check_output
    from autograder.report.untrusted import guard_for_ci

    result = api.check(path, assignment)
    click.echo(guard_for_ci(check_output(result.report, result.hidden_points)))
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(output, result.report.model_dump_json(indent=2))
    if fail_under is not None:
        tests = [t for task in result.report.tasks for t in task.tests]
        passed = sum(t.status == "passed" for t in tests)
        share = 100.0 * passed / len(tests) if tests else 100.0
        if share < fail_under:
            raise click.ClickException(f"{passed} of {len(tests)} public checks pass "
                                       f"({share:.0f}%), under --fail-under {fail_under:g}")


@main.command("stop-server", epilog=DONE_STATUS)
def stop_server_command() -> None:
    """Stop the warm server that answers `check` here (it stops by itself after 10 idle
    minutes; AUTOGRADER_SERVER=off keeps `check` from starting one)."""
    from autograder.server import stop_server

    click.echo({"stopped": "stopped the warm check server",
                "busy": "the warm check server is running a check: ask again when it is done",
                "none": "no warm check server runs"}[stop_server()])


REPORT_FORMATS = tuple(FORMATS)


@main.command("report", epilog=DONE_STATUS)
@click.argument("reports", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-f", "--format", "fmt", type=click.Choice(REPORT_FORMATS), default="markdown",
              show_default=True, help=format_help())
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="File to write (default: standard output).")
@click.option("--audience", type=click.Choice(["student", "instructor"]), default="student",
              show_default=True, help="Who reads it: a student sees a check only as its "
                                      "visibility allows (gradescope: Gradescope decides).")
@click.option("--after-due-date", is_flag=True, help="Students may see after_due_date checks.")
@click.option("--published", is_flag=True, help="Students may see after_published checks.")
@click.option("--path-prefix", default=None,
              help="github: the submission's folder in the repository, for annotation paths "
                   "(default: its path in the report when that is a relative folder).")
@click.option("--summary/--no-summary", default=True, show_default=True,
              help="github: also append the Markdown to $GITHUB_STEP_SUMMARY when it is set.")
def report_command(reports: tuple[Path, ...], fmt: str, output: Path | None, audience: str,
                   after_due_date: bool, published: bool, path_prefix: str | None,
                   summary: bool) -> None:
    """Render JSON REPORTS (files, or folders of them, from `grade` or `check -o`) in
    another format."""
    from autograder import api
    from autograder.report.audience import Audience

    reader = Audience(instructor=audience == "instructor", after_due_date=after_due_date,
                      published=published)
    text = api.render_reports(list(reports), fmt, reader, path_prefix)
    if output is None:
        from autograder.report.untrusted import guard_for_ci

        # github's annotations are the commands the runner must see (their text is escaped).
        click.echo(text if fmt == "github" else guard_for_ci(text), nl=False)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
    if fmt == "github" and summary:
        from autograder.report.github import write_step_summary

        write_step_summary(api.render_reports(list(reports), "markdown", reader))


@main.group("package", epilog=DONE_STATUS)
def package_group() -> None:
    """Package an assignment for a grading platform."""


@package_group.command("gradescope", epilog=DONE_STATUS)
@click.argument("assignment")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("autograder.zip"),
              show_default=True, help="The zip to write.")
def package_gradescope_command(assignment: str, output: Path) -> None:
    """The autograder zip to upload to Gradescope (setup.sh, run_autograder, checks, reference)."""
    from autograder import api

    click.echo(f"wrote {api.package_gradescope(assignment, output)}")


@main.command("stats", epilog=DONE_STATUS)
@click.argument("gradebook", type=click.Path(exists=True, path_type=Path))
@click.option("-a", "--assignment", default=None, help="Only this assignment (default: all).")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "html"]), default="text",
              show_default=True, help="html: one self-contained page with plots.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="File to write (default: standard output; html: class-stats.html).")
def stats_command(gradebook: Path, assignment: str | None, fmt: str, output: Path | None) -> None:
    """Class analytics from GRADEBOOK (a grade output folder or its gradebook.sqlite):
    score distribution, each task's mean and spread, each check's pass rate from hardest
    to easiest, and the known bugs the diagnosis matched most often."""
    from autograder.fileio import write_atomic
    from autograder.gradebook.stats import gradebook_stats, stats_html, stats_text
    from autograder.gradebook.store import Gradebook, find_gradebook

    with Gradebook(find_gradebook(gradebook), create=False) as book:
        all_stats = gradebook_stats(book, assignment)
    if not all_stats or not any(s.count for s in all_stats):
        raise UserError(f"no graded results in {gradebook}")
    if fmt == "html":
        output = output or Path("class-stats.html")
        write_atomic(output, stats_html(all_stats))
        click.echo(f"wrote {output}")
        return
    text = "\n\n".join(stats_text(s) for s in all_stats) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        write_atomic(output, text)


@package_group.command("students", epilog=DONE_STATUS)
@click.argument("assignments", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="The folder to write: new, empty, or an earlier students' copy (replaced).")
def package_students_command(assignments: tuple[str, ...], output: Path) -> None:
    """The students' copy of the grader for ASSIGNMENTS: the package, public checks, support
    code, the templates and their workflows; no hidden check, mutant, reference or example.
    It may be public (the student workflow checks it out without a token)."""
    from autograder import api

    copy = api.package_students(list(assignments), output)
    click.echo(f"wrote {copy.folder}/ ({len(copy.files)} files, {len(copy.changed)} changed)")


@main.group("export", epilog=DONE_STATUS)
def export_group() -> None:
    """Write graded reports into another grading system."""


def _export_from_gradebook(gradebook: Path, output: Path | None, render: object) -> None:
    from autograder.fileio import write_atomic
    from autograder.gradebook.store import Gradebook, find_gradebook

    with Gradebook(find_gradebook(gradebook), create=False) as book:
        text = render(book)  # type: ignore[operator]
    if output is None:
        click.echo(text, nl=False)
    else:
        write_atomic(output, text)
        click.echo(f"wrote {output}", err=True)


@export_group.command("csv", epilog=DONE_STATUS)
@click.argument("gradebook", type=click.Path(exists=True, path_type=Path))
@click.option("-a", "--assignment", default=None, help="Needed when the gradebook holds several.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="File to write (default: standard output).")
def export_csv_command(gradebook: Path, assignment: str | None, output: Path | None) -> None:
    """One CSV row per student from GRADEBOOK (a grade output folder or its
    gradebook.sqlite): id, each task's score, total, max score, status, graded at."""
    from autograder.gradebook.exports import export_csv

    _export_from_gradebook(gradebook, output, lambda book: export_csv(book, assignment))


@export_group.command("canvas", epilog=DONE_STATUS)
@click.argument("gradebook", type=click.Path(exists=True, path_type=Path))
@click.option("-a", "--assignment", default=None, help="Needed when the gradebook holds several.")
@click.option("--column", default=None,
              help="The Canvas assignment column, e.g. 'Homework 3 (1234)' to update Canvas "
                   "assignment 1234 [default: the assignment's name, a new column].")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="File to write (default: standard output).")
def export_canvas_command(gradebook: Path, assignment: str | None, column: str | None,
                          output: Path | None) -> None:
    """The totals in GRADEBOOK as a file for Canvas's gradebook import (Grades > Import):
    Student, ID, SIS User ID, SIS Login ID, Section, the assignment; a Points Possible row."""
    from autograder.gradebook.exports import export_canvas

    _export_from_gradebook(gradebook, output, lambda book: export_canvas(book, assignment, column))


@export_group.command("nbgrader", epilog=DONE_STATUS)
@click.argument("reports", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--db", required=True,
              help="The nbgrader gradebook: a path to its SQLite file (gradebook.db, created "
                   "when missing) or a database URL.")
@click.option("--course", default="default_course", show_default=True,
              help="The nbgrader course id.")
def export_nbgrader_command(reports: tuple[Path, ...], db: str, course: str) -> None:
    """Put the scores of JSON REPORTS (files or folders, from `grade`, or a gradebook.sqlite) into an nbgrader
    gradebook: one grade cell per task, auto scores per student. Exporting again updates
    the scores rather than adding rows."""
    from autograder import api

    click.echo(api.export_nbgrader(list(reports), db, course).summary())
