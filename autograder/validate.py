"""`autograder validate`: does an assignment grade what it claims to grade?

For instructors, before they hand an assignment out, and for this project's CI. It grades
known submissions with the real judge and checks that:

- the reference solution earns full marks;
- the untouched student template earns nothing, on every task (and matches the reference);
- the reference's own tests catch every mutant that grades a student-test task;
- every mutant is caught by at least one hidden check, and every hidden check fails on at
  least one known-bad variant (no check that can never fail). The bad variants of a check
  are the mutants of its task's file (each graded as a submission: the reference with that
  one file replaced), or the template where no mutant changes that file (a student's test
  file is graded by running it, so its bad variant is a test that checks nothing);
- every known-good case (``cases/good/*``, see :mod:`autograder.cases`) earns full marks on
  every task: a check that costs one a point is unfair, and the row names the check;
- every known-bad case (``cases/bad/*``) loses points on each task its ``lose`` names and
  keeps full marks on the others (or on those its ``keep`` names).

All of it is graded by one judge, so reference work and the runs of an unchanged test file
are shared between the reference, the mutants and the cases.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder.cases import Case, CaseError, case_folders, case_submission, load_case
from autograder.judge.mutation import StudentTestRuns, VariantSandbox, run_student_tests, runs_key
from autograder.judge.runner import Judge
from autograder.judge.variants import Mutant, load_mutants, mutated_file
from autograder.release import template_drift
from autograder.report.model import Report, TaskResult
from autograder.report.text import points
from autograder.sandbox.session import Budget
from autograder.spec import AssignmentSpec

_SHOWN = 4  # names listed in a detail before "and N more"


@dataclass
class Row:
    """One validation result: what was checked, whether it holds, and the evidence."""

    subject: str
    ok: bool
    detail: str = ""


@dataclass
class Validation:
    assignment: str
    rows: list[Row] = field(default_factory=list)
    seconds: float = 0.0
    cases: dict[str, Report] = field(default_factory=dict)  # case label -> its report

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    @property
    def failures(self) -> list[Row]:
        return [row for row in self.rows if not row.ok]


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_public(check_id: str) -> bool:
    return "public" in Path(check_id.split("::")[0]).parts


def _failing(report: Report) -> set[str]:
    return {t.check_id for task in report.tasks for t in task.tests if t.status != "passed"}


def _lost(task: TaskResult) -> str:
    """A task that lost points, and the first check that cost them."""
    text = f"{task.name} {points(task.score)}/{points(task.max_score)}"
    first = next((t for t in task.tests if t.status != "passed"), None)
    return text + (f" ({first.check_id}: {_short(first.feedback, 100)})" if first else "")


def _full_marks_row(subject: str, report: Report) -> Row:
    short = [task for task in report.tasks if task.score < task.max_score]
    if not short and not report.problems:
        return Row(subject, True, f"{points(report.score)}/{points(report.max_score)}")
    return Row(subject, False, "; ".join([_lost(task) for task in short] + report.problems))


def _reference_row(report: Report) -> Row:
    return _full_marks_row("reference earns full marks", report)


def _good_case_row(case: Case, report: Report) -> Row:
    row = _full_marks_row(f"good case {case.name}", report)
    if row.ok:
        return Row(row.subject, True, f"{row.detail}: {case.spec.about}")
    return Row(row.subject, False, f"loses points, so a check is unfair to {case.spec.about!r}: "
               f"{row.detail}")


def _bad_case_row(case: Case, report: Report) -> Row:
    tasks = {task.name: task for task in report.tasks}
    kept = [tasks[name] for name in case.spec.lose if tasks[name].score >= tasks[name].max_score]
    lost = [tasks[name] for name in case.kept(list(tasks))
            if tasks[name].score < tasks[name].max_score]
    problems = [f"{task.name} keeps full marks, but must lose points" for task in kept]
    problems += [f"{_lost(task)} loses points, but must keep them all" for task in lost]
    problems += report.problems
    if problems:
        return Row(f"bad case {case.name}", False, f"{case.spec.about}: " + "; ".join(problems))
    losses = ", ".join(f"{tasks[name].name} {points(tasks[name].score)}/"
                       f"{points(tasks[name].max_score)}" for name in case.spec.lose)
    return Row(f"bad case {case.name}", True, f"loses {losses}: {case.spec.about}")


def _content_key(folder: Path) -> str:
    """What a submission folder holds (names and bytes): equal keys grade alike."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(folder)}\0{path.stat().st_size}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _grade_cases(spec: AssignmentSpec, judge: Judge, workspace: Path, result: Validation,
                 graded: dict[str, Report]) -> None:
    """Grade every known-good and known-bad case: one row each, its report kept. A case
    that holds exactly what an already graded submission holds (``graded``, by content:
    a known bug written out as a case is often a mutant too) reuses that report, since
    grading is deterministic."""
    for kind, folder in case_folders(spec):
        try:
            case = load_case(spec, kind, folder)
        except CaseError as exc:
            result.rows.append(Row(f"{kind} case {folder.name}", False, _short(str(exc), 300)))
            continue
        submission = case_submission(spec, case, workspace / "cases" / kind / case.name)
        key = _content_key(submission)
        report = graded[key] if key in graded else judge.grade(submission)
        result.cases[case.label] = report
        result.rows.append(_good_case_row(case, report) if kind == "good"
                           else _bad_case_row(case, report))


def _template_row(report: Report) -> Row:
    scored = [f"{t.name} {points(t.score)}/{points(t.max_score)}" for t in report.tasks if t.score]
    if scored:
        return Row("untouched template earns nothing", False, "earns points: " + ", ".join(scored))
    return Row("untouched template earns nothing", True, f"0/{points(report.max_score)}")


def _submission_from(spec: AssignmentSpec, folder: Path, replaced: dict[str, str]) -> Path:
    """The reference's files, with ``replaced`` (file -> source) written over them."""
    folder.mkdir(parents=True)
    for file in spec.files:
        source = spec.reference_dir / file.name
        if source.is_file():
            shutil.copyfile(source, folder / file.name)
    for name, text in replaced.items():
        (folder / name).write_text(text)
    return folder


def _reference_test_runs(spec: AssignmentSpec, judge: Judge, mutants: list[Mutant],
                         workspace: Path) -> dict[str, StudentTestRuns]:
    """The reference tests against every mutant, per test file. Grading the reference has
    computed them already (same cache key); otherwise they run here."""
    # No submission's budget here: each call gets a check's limit, however long it all takes.
    sandbox = VariantSandbox(judge.zygote, workspace / "tests", judge.limits(),
                             Budget(float("inf")))

    def run(file: str, source: bytes) -> StudentTestRuns:
        return judge.cache.get(runs_key(file, source, judge.seed), lambda: run_student_tests(
            spec, mutants, sandbox, file, source, judge.seed))

    files = sorted({spec.task(t).file for m in mutants for t in m.spec.tests})
    return {file: run(file, (spec.reference_dir / file).read_bytes()) for file in files}


def _mutant_row(spec: AssignmentSpec, mutant: Mutant, runs: dict[str, StudentTestRuns],
                failed_checks: set[str], task_of: dict[str, str]) -> Row:
    problems, notes = [], []
    for test in mutant.spec.tests:
        test_runs = runs[spec.task(test).file]
        if not test_runs.reference[test].passed:
            problems.append(f"the reference {test} does not pass against the reference")
            continue
        outcome = test_runs.mutants.get(mutant.name, {}).get(test)
        if outcome is not None and outcome.catches:
            notes.append(f"caught by the reference {test}")
        else:
            problems.append(f"the reference {test} does not catch it")
    own_file = mutated_file(spec, mutant.spec)
    hidden = sorted(c for c in failed_checks if not _is_public(c)
                    and spec.task(task_of[c]).file == own_file)
    if hidden:
        notes.append(f"fails {len(hidden)} hidden check(s)")
    else:
        problems.append("no hidden check fails on it")
    return Row(f"mutant {mutant.name}", not problems, "; ".join(problems + notes))


def validate(spec: AssignmentSpec, judge: Judge) -> Validation:
    """Validate one assignment with ``judge`` (a judge of that assignment)."""
    started = time.perf_counter()
    result = Validation(spec.name)
    rows = result.rows
    try:
        mutants = load_mutants(spec)
    except Exception as exc:  # an invalid declaration or a replacement that does not apply
        rows.append(Row("mutants.toml", False, _short(str(exc), 300)))
        mutants = []
    tasks = {t.name: t for t in spec.tasks}
    for mutant in mutants:
        unknown = [t for t in mutant.spec.tests if t not in tasks]
        if unknown:
            rows.append(Row(f"mutant {mutant.name}", False, f"grades unknown task(s) {_names(unknown)}"))
    mutants = [m for m in mutants if all(t in tasks for t in m.spec.tests)]

    drift = template_drift(spec)
    rows.append(Row("template matches the reference", not drift,
                    f"out of date: {_names(drift)} (run `autograder release {spec.name}`)"
                    if drift else "in sync"))
    reference = judge.grade(spec.reference_dir)
    rows.append(_reference_row(reference))
    template = judge.grade(spec.template_dir)
    rows.append(_template_row(template))
    task_of = {test.check_id: task.name for report in (reference, template)
               for task in report.tasks for test in task.tests}

    workspace = Path(tempfile.mkdtemp(prefix="autograder-validate-"))
    try:
        runs = _reference_test_runs(spec, judge, mutants, workspace)
        failed_by: dict[str, set[str]] = {}
        graded: dict[str, Report] = {}
        for mutant in mutants:
            folder = _submission_from(spec, workspace / mutant.name,
                                      {mutated_file(spec, mutant.spec): mutant.source})
            report = judge.grade(folder)
            graded[_content_key(folder)] = report
            task_of.update({test.check_id: task.name for task in report.tasks for test in task.tests})
            failed_by[mutant.name] = _failing(report)
            rows.append(_mutant_row(spec, mutant, runs, failed_by[mutant.name], task_of))
        _grade_cases(spec, judge, workspace, result, graded)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)

    mutated = {mutated_file(spec, m.spec) for m in mutants}
    template_failed = _failing(template)
    for task in reference.tasks:
        file = spec.task(task.name).file
        for test in task.tests:
            if _is_public(test.check_id):
                continue
            if file in mutated:
                catching = [m.name for m in mutants if mutated_file(spec, m.spec) == file
                            and test.check_id in failed_by[m.name]]
                ok = bool(catching)
                detail = (f"fails on {len(catching)} mutant(s): {_names(catching)}" if ok
                          else f"passes on every mutant of {file}: it can never fail")
            else:
                ok = test.check_id in template_failed
                detail = ("fails on the untouched template" if ok else
                          f"passes on the template, and no mutant changes {file}: it can never fail")
            rows.append(Row(f"check {test.check_id}", ok, detail))
    result.seconds = round(time.perf_counter() - started, 2)
    return result


def format_validation(result: Validation) -> str:
    """The table `autograder validate` prints: one row per claim, FAIL rows first in mind."""
    header = ["", "what", "evidence"]
    rows = [["ok" if r.ok else "FAIL", r.subject, r.detail] for r in result.rows]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(2)]
    lines = [f"validate {result.assignment}"]
    for row in [header, *rows]:
        lines.append(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}".rstrip())
    lines.insert(2, f"{'-' * widths[0]}  {'-' * widths[1]}  {'-' * 8}")
    failures = len(result.failures)
    lines.append(f"{result.assignment}: " + ("valid" if not failures else
                                              f"{failures} problem(s)") + f" ({result.seconds:g} s)")
    return "\n".join(lines)
