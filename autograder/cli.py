"""The `autograder` command: a thin Click shell over :mod:`autograder.api`.

Heavy imports (torch, the judge) happen inside the commands, after the sandbox has been
asked to start, so `list` and `schema` answer at once and `grade` overlaps start-ups.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

import click

from autograder.errors import UserError

EXIT_STATUS = """
Exit status: 0 when grading completed, whatever the scores; 1 when it could not
(unknown assignment, a path that does not exist, ...), with one line saying why;
2 for a usage error.
"""


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


@click.group(cls=_Group, epilog=EXIT_STATUS)
@click.version_option(package_name="autograder")
def main() -> None:
    """Grade PyTorch exercises with hidden checks; student code runs only in a sandbox."""


@main.command("list")
def list_command() -> None:
    """List the assignments, their tasks and points."""
    from autograder.spec import assignment_names, load_assignment

    for name in assignment_names():
        spec = load_assignment(name)
        tasks = ", ".join(f"{t.name} ({t.points:g})" for t in spec.tasks)
        click.echo(f"{spec.name}: {spec.title}\n  files: "
                   f"{', '.join(f.name for f in spec.files)}\n  tasks: {tasks}")


@main.command()
def schema() -> None:
    """Print the JSON Schema of a report."""
    from autograder.report.model import Report

    click.echo(json.dumps(Report.model_json_schema(), indent=2))


@main.command("release")
@click.argument("assignment")
def release_command(assignment: str) -> None:
    """Regenerate student_template/ASSIGNMENT from reference/ASSIGNMENT."""
    from autograder.api import release

    for path in release(assignment):
        click.echo(f"wrote {path}")


@main.command(epilog=EXIT_STATUS)
@click.argument("submissions", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-a", "--assignment", required=True, help="Assignment name (see `list`).")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("reports"),
              show_default=True,
              help="A .json file for one submission, or a folder (one <name>.json each).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Submissions graded in parallel.")
@click.option("--seed", type=int, default=None, help="Override the assignment's seed.")
@click.option("-v", "--verbose", is_flag=True, help="Print every check's result.")
def grade(submissions: tuple[Path, ...], assignment: str, output: Path, jobs: int,
          seed: int | None, verbose: bool) -> None:
    """Grade SUBMISSIONS (folders, zips, or folders of them) with all checks.

    Writes one JSON report per submission and prints a summary table.
    """
    for path in submissions:
        if not path.exists():
            raise UserError(f"submission path does not exist: {path}")
    from autograder.sandbox.client import prestart_zygote

    prestart_zygote()
    from autograder import api
    from autograder.report.text import report_details, summary_table

    spec = api.load_assignment(assignment)
    count = len(api.expand_submissions(list(submissions), spec))
    with click.progressbar(length=count, label=f"grading {count} submission(s)",
                           file=sys.stderr, show_pos=True) as bar:
        reports = api.grade(list(submissions), assignment, jobs=jobs, seed=seed,
                            on_report=lambda _: bar.update(1))
    written = api.write_reports(reports, output)
    if verbose:
        for report in reports:
            click.echo(report_details(report) + "\n")
    click.echo(summary_table(reports))
    where = written[0] if len(written) == 1 else f"{output}/ ({len(written)} files)"
    click.echo(f"\nreports written to {where}")


@main.command()
@click.argument("path", required=False, default=".", type=click.Path(path_type=Path))
@click.option("-a", "--assignment", default=None,
              help="Assignment name; guessed from the files when left out.")
def check(path: Path, assignment: str | None) -> None:
    """Run the public checks on your work in PATH (default: this folder)."""
    if not path.exists():
        raise UserError(f"path does not exist: {path}")
    from autograder.sandbox.client import prestart_zygote

    prestart_zygote()
    from autograder import api
    from autograder.report.text import check_output

    result = api.check(path, assignment)
    click.echo(check_output(result.report, result.hidden_points))
