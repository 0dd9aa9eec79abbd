"""Grade N mixed submissions with autograder, then the usual way (or with a peer), and print figures.

    .venv/bin/python benchmarks/bench_grading.py [-a resnet] [-n 20] [-j 2|auto] [--baseline 6]
        [--cli] [--profile] [--check] [--peers]

resnet, cnn: "the usual way" is one fresh `python -m pytest` process per submission running the
same checks with the student's code imported into the test process (benchmarks/inprocess.py);
it runs on the first --baseline submissions only (it is slow) and is extrapolated.
nn_module: notebooks; with --peers, `nbgrader autograde` (one kernel per notebook) and Otter-Grader's
`otter run` (one process per notebook, the notebook's grade cells as its tests) grade the same
notebooks in the same run, and the ratios are printed. Otter is installed on first use into
.bench-peers/ (a virtual environment beside this one that sees this one's packages).

Every figure comes with the load average and the CPU seconds (user + system, this process and
every process it waited for: judges, zygote, workers), which contention does not inflate.
Scores are compared with benchmarks/expected_scores.json (recorded with --record-scores).
"""

from __future__ import annotations

import time

COMMAND_STARTED = time.perf_counter()  # before any import of the grader: "command start"

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
EXPECTED_SCORES = Path(__file__).with_name("expected_scores.json")
NOTEBOOK_ASSIGNMENT, NOTEBOOK = "nn_module", "nn_module.ipynb"  # graded by nbgrader too


def cpu_seconds() -> float:
    """User + system CPU of this process and of every descendant it (or they) waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def assignment_kinds(assignment: str) -> list[tuple[str, dict[str, str]]]:
    """A mix: reference, another correct style, a buggy one, the template, and mutants."""
    from autograder.judge.variants import load_mutants, mutated_file
    from autograder.spec import load_assignment

    spec = load_assignment(assignment)

    def files_of(where: Path) -> dict[str, str]:
        return {p.name: p.read_text() for p in where.iterdir()
                if p.is_file() and p.name in spec.accepted_names}

    reference = files_of(spec.reference_dir)
    kinds = [("reference", reference)] + [(name, files_of(where)) for name, where in (
        ("good_student", ROOT / "examples" / assignment / "good_student"),
        ("buggy_student", ROOT / "examples" / assignment / "buggy_student"),
        ("template", spec.template_dir)) if where.is_dir()]
    for mutant in load_mutants(spec):
        kinds.append((f"mutant {mutant.name}",
                      reference | {mutated_file(spec, mutant.spec): mutant.source}))
    return kinds


def notebook_kinds() -> list[tuple[str, dict[str, str]]]:
    """The released notebook with every, none, or all but one exercise solved (from the
    reference's solution cells): what nbgrader also grades."""
    import nbformat

    reference = nbformat.read(ROOT / "reference" / "nn_module" / NOTEBOOK, as_version=4)
    template = nbformat.read(ROOT / "student_template" / "nn_module" / NOTEBOOK, as_version=4)
    solutions = {c.metadata["nbgrader"]["grade_id"]: c.source for c in reference.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}

    def solved(ids: set[str]) -> str:
        notebook = nbformat.from_dict(template)
        for cell in notebook.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in ids:
                cell.source = solutions[grade_id]
        return nbformat.writes(notebook)

    kinds = [("all solved", {NOTEBOOK: solved(set(solutions))}),
             ("template", {NOTEBOOK: solved(set())})]
    for missing in solutions:
        kinds.append((f"without {missing}", {NOTEBOOK: solved(set(solutions) - {missing})}))
    return kinds


def make_submissions(folder: Path, count: int, kinds: list[tuple[str, dict[str, str]]]
                     ) -> list[tuple[str, Path]]:
    import nbformat

    paths = []
    for index in range(count):
        kind, files = kinds[index % len(kinds)]
        path = folder / f"student{index:03d}"
        path.mkdir()
        for name, text in files.items():
            # Every student's files differ, as in a real class: no result is reused.
            if name.endswith(".ipynb"):
                notebook = nbformat.reads(text, as_version=4)
                notebook.cells[-1].source += f"\n\n<!-- student {index} -->"
                nbformat.write(notebook, path / name)
            else:
                (path / name).write_text(f"{text}\n# student {index}\n")
        paths.append((kind, path))
    return paths


def task_scores(report) -> dict[str, float]:
    return {t.name: t.score for t in report.tasks}


def compare_scores(assignment: str, kinds: list[str], reports: list, record: bool) -> str:
    """Every report's task scores against those recorded for its kind of submission."""
    expected = json.loads(EXPECTED_SCORES.read_text()) if EXPECTED_SCORES.is_file() else {}
    known = expected.setdefault(assignment, {})
    mismatches, unrecorded = [], set()
    for kind, report in zip(kinds, reports, strict=True):
        scores = task_scores(report)
        recorded = known.setdefault(kind, {})
        for task, score in scores.items():
            if record:
                recorded[task] = score
            elif task not in recorded:  # a kind added since (a new mutant): said, not failed
                unrecorded.add(kind)
            elif abs(recorded[task] - score) > 1e-9:
                mismatches.append(f"{kind}: {task} scored {score}, recorded {recorded[task]}")
    if record:
        EXPECTED_SCORES.write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
        return f"scores recorded in {EXPECTED_SCORES.name}"
    if mismatches:
        raise SystemExit("scores differ from the recorded ones:\n  " + "\n  ".join(mismatches))
    compared = sum(kind not in unrecorded for kind in kinds)
    missing = f"; no recorded scores for {', '.join(sorted(unrecorded))} (--record-scores)" \
        if unrecorded else ""
    return f"scores identical to {EXPECTED_SCORES.name} on {compared} of {len(reports)} submissions{missing}"


def profile_table(path: Path, count: int) -> str:
    from autograder import profiling

    seconds: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for record in profiling.read(path):
        for phase, (spent, times) in record["phases"].items():
            seconds[phase] += spent
            counts[phase] += times
    width = max(map(len, seconds), default=10)
    lines = [f"{'phase (wall-clock in its process; checks include what they call)':<{width}}  "
             f"{'total s':>8}  {'s/subm.':>8}  {'count':>6}"]
    for phase in sorted(seconds, key=seconds.get, reverse=True):
        lines.append(f"{phase:<{width}}  {seconds[phase]:8.3f}  {seconds[phase] / count:8.4f}  "
                     f"{counts[phase]:6d}")
    return "\n".join(lines)


def grade_with_autograder(args: argparse.Namespace, paths: list[Path], folder: Path
                          ) -> tuple[list, dict[str, float]]:
    from autograder import profiling
    from autograder.sandbox.client import prestart_zygote

    if args.profile:
        profiling.enable(folder / "profile.jsonl")
    cpu_before = cpu_seconds()
    prestart_zygote()  # as the CLI does: the sandbox's torch import overlaps the judge's
    from autograder import api  # the import of torch counts as start-up

    jobs = api.available_cpus() if args.j == "auto" else int(args.j)
    writer = api.ReportWriter(folder / "reports", len(paths))
    finished: list[float] = []

    def done(report) -> None:
        with profiling.timed("report write (main process)"):
            writer.write(report)
        finished.append(time.perf_counter())

    reports = api.grade(paths, args.assignment, jobs=jobs, tasks=args.tasks, on_report=done)
    profiling.flush("(main process)")
    figures = {"total": time.perf_counter() - COMMAND_STARTED, "jobs": jobs,
               "first": finished[0] - COMMAND_STARTED, "cpu": cpu_seconds() - cpu_before}
    if len(finished) > jobs:
        # Once every judge has graded its first submission (start-up and cold caches paid),
        # what each further submission costs in wall-clock time:
        figures["steady"] = (finished[-1] - finished[jobs - 1]) / (len(finished) - jobs)
    return reports, figures


def grade_with_cli(args: argparse.Namespace, paths: list[Path], folder: Path
                   ) -> tuple[list, dict[str, float]]:
    """`autograder grade` as a user runs it, in a process of its own: the first report is
    the first file in the output folder, timed from the command's start (torch's import
    included, nothing of this benchmark's own set-up)."""
    from autograder.report.model import Report

    classroom, output = paths[0].parent, folder / "cli-reports"
    jobs = "auto" if args.j == "auto" else str(int(args.j))
    command = [sys.executable, "-m", "autograder", "grade", str(classroom), "-a", args.assignment,
               "-j", jobs, "-o", str(output), "--gradebook", str(folder / "cli.sqlite"),
               *(f"--task={task}" for task in args.tasks or [])]
    cpu_before, started = cpu_seconds(), time.perf_counter()
    # A file, not a pipe: the judges, zygote and workers inherit it, and a pipe nobody reads
    # while this loop polls would block them once full.
    errors = (folder / "cli-stderr.txt").open("w+")
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    first = None
    while process.poll() is None:
        if first is None and output.is_dir() and any(output.glob("*.json")):
            first = time.perf_counter() - started
        time.sleep(0.02)
    total = time.perf_counter() - started
    errors.seek(0)
    said = errors.read()
    errors.close()
    if process.returncode != 0:
        raise SystemExit(f"autograder grade failed:\n{said[-2000:]}")
    by_name = {p.stem: Report.model_validate_json(p.read_text()) for p in output.glob("*.json")}
    reports = [by_name[path.name] for path in paths]
    return reports, {"total": total, "jobs": jobs, "first": first if first is not None else total,
                     "cpu": cpu_seconds() - cpu_before}


def resnet_baseline(args: argparse.Namespace, paths: list[Path]) -> tuple[float, float]:
    """Seconds and CPU seconds per submission of one fresh pytest process each."""
    count = min(args.baseline, len(paths))
    cpu_before, started = cpu_seconds(), time.perf_counter()
    for path in paths[:count]:
        checks = ROOT / "assignments" / args.assignment / "checks"
        subprocess.run([sys.executable, "-m", "pytest", str(checks),
                        "-p", "benchmarks.inprocess", "--submission", str(path),
                        "--assignment", args.assignment, "-q",
                        "-p", "no:cacheprovider", "--import-mode=importlib", "--noconftest",
                        *(f"--task={task}" for task in args.tasks or [])],
                       cwd=ROOT, capture_output=True, check=False,
                       # one thread, as in the workers: the figures compare ways of
                       # grading, not thread contention on a busy machine
                       env=os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    return (time.perf_counter() - started) / count, (cpu_seconds() - cpu_before) / count


def nbgrader_autograde(paths: list[Path], folder: Path) -> tuple[float, float, list[float]]:
    """`nbgrader autograde` of the same notebooks in a course folder of its own: seconds and
    CPU seconds per notebook, and each student's total score from its gradebook."""
    course = folder / "nbgrader-course"
    source = course / "source" / "ps1"
    source.mkdir(parents=True)
    shutil.copy(ROOT / "reference" / "nn_module" / NOTEBOOK, source / NOTEBOOK)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'bench'\n"
        "c.CourseDirectory.db_assignments = [dict(name='ps1')]\n"
        "c.ExecutePreprocessor.timeout = 120\n")
    nbgrader = [sys.executable, "-m", "nbgrader"]
    # nbgrader runs `alembic` (its database migrations) and the kernel from PATH.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run([*nbgrader, "generate_assignment", "ps1", "--force"], cwd=course,
                   check=True, capture_output=True, env=env)
    for index, path in enumerate(paths):
        target = course / "submitted" / f"s{index:03d}" / "ps1"
        target.mkdir(parents=True)
        shutil.copy(path / NOTEBOOK, target / NOTEBOOK)
    cpu_before, started = cpu_seconds(), time.perf_counter()
    done = subprocess.run([*nbgrader, "autograde", "ps1", "--create"], cwd=course,
                          capture_output=True, text=True, check=False, env=env)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_before
    if done.returncode != 0:
        raise SystemExit(f"nbgrader autograde failed:\n{done.stderr[-3000:]}")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = [gradebook.find_submission("ps1", f"s{i:03d}").score for i in range(len(paths))]
    return seconds / len(paths), cpu / len(paths), scores


OTTER_VERSION = "7.0.0"
PEERS_DIR = ROOT / ".bench-peers"
# One exception-based Otter test per grade cell: the cell's code run in the notebook's globals,
# so Otter checks exactly what nbgrader checks.
OTTER_TEST = """from otter.test_files import test_case

OK_FORMAT = False
name = {name!r}
points = {points!r}


@test_case(points={points!r})
def test_grade_cell(env):
    exec({source!r}, env)
"""


def otter_command() -> tuple[list[str] | None, str]:
    """The `otter` command, installed on first use into a virtual environment of its own whose
    path ends with this one's site-packages (so pip adds only what Otter needs beyond torch,
    nbformat and IPython); or None and the reason it could not be installed."""
    import sysconfig

    venv = PEERS_DIR / f"otter-grader-{OTTER_VERSION}"
    otter = venv / "bin" / "otter"
    if otter.exists():
        return [str(otter)], ""
    python = venv / "bin" / "python"
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True,
                       capture_output=True, text=True)
        purelib = subprocess.run([str(python), "-c", "import sysconfig; "
                                  "print(sysconfig.get_paths()['purelib'])"], check=True,
                                 capture_output=True, text=True).stdout.strip()
        (Path(purelib) / "autograder-bench-base.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"otter-grader=={OTTER_VERSION}"],
                       check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as error:
        shutil.rmtree(venv, ignore_errors=True)
        detail = getattr(error, "stderr", "") or str(error)
        return None, f"installing otter-grader=={OTTER_VERSION} failed: {detail.strip()[-500:]}"
    return [str(otter)], ""


def otter_run(otter: list[str], paths: list[Path], folder: Path, jobs: int
              ) -> tuple[float, float, list[float]]:
    """Otter-Grader on the same notebooks: `otter run` (its local mode, one process per
    notebook), ``jobs`` at a time; seconds and CPU seconds per notebook, and each total."""
    from concurrent.futures import ThreadPoolExecutor

    import nbformat

    work = folder / "otter"
    (work / "tests").mkdir(parents=True)
    reference = nbformat.read(ROOT / "reference" / "nn_module" / NOTEBOOK, as_version=4)
    for cell in reference.cells:
        grading = cell.metadata.get("nbgrader", {})
        if grading.get("grade"):
            (work / "tests" / f"{grading['grade_id']}.py").write_text(OTTER_TEST.format(
                name=grading["grade_id"], points=grading["points"], source=cell.source))
    subprocess.run([*otter, "generate", "-t", "tests"], cwd=work, check=True, capture_output=True)

    def grade(index: int) -> float:
        output = work / f"s{index:03d}"
        output.mkdir()
        done = subprocess.run([*otter, "run", "--no-logo", "-a", str(work / "autograder.zip"),
                               "-o", str(output), str(paths[index] / NOTEBOOK)],
                              cwd=output, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"otter run failed:\n{done.stderr[-3000:]}")
        results = json.loads((output / "results.json").read_text())
        return sum(test.get("score") or 0 for test in results["tests"])

    cpu_before, started = cpu_seconds(), time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        scores = list(pool.map(grade, range(len(paths))))
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_before
    return seconds / len(paths), cpu / len(paths), scores


def time_check(path: Path, grader: Path = ROOT, server: bool = False) -> tuple[float, float]:
    """Seconds and CPU seconds of `autograder check PATH` (the student's command), process
    start to end, with the grader in ``grader`` (this tree, or the students' copy); with
    ``server``, through the warm check server (started by the first such call; its own CPU
    is not counted: it is no child of this process)."""
    cpu_before, started = cpu_seconds(), time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "autograder", "check", str(path)], cwd=path,
                          capture_output=True, text=True, check=False, env=check_env(grader, server))
    if done.returncode != 0:
        raise SystemExit(f"autograder check failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - started, cpu_seconds() - cpu_before


def check_env(grader: Path, server: bool) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(grader), "AUTOGRADER_SERVER": "on" if server else "off"}


def time_warm_checks(path: Path, grader: Path, runs: int = 5) -> str:
    """The first check through the warm server (which it starts) and the median of the next
    ``runs``; the server is stopped afterwards."""
    try:
        first, _ = time_check(path, grader, server=True)
        warm = sorted(time_check(path, grader, server=True)[0] for _ in range(runs))
    finally:
        subprocess.run([sys.executable, "-m", "autograder", "stop-server"], capture_output=True,
                       env=check_env(grader, True), check=False)
    return (f"first {first:.2f} s (starts the server), then median {warm[len(warm) // 2]:.2f} s "
            f"(min {warm[0]:.2f}, max {warm[-1]:.2f}) over {runs}")


def students_copy(assignment: str, folder: Path) -> Path:
    """The students' copy of the grader (no hidden check, reference or mutant), as
    `autograder package students` writes it: what a student's `check` really runs."""
    from autograder import api

    api.package_students([assignment], folder / "students-grader")
    return folder / "students-grader"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-a", "--assignment", default="resnet",
                        help="the assignment to grade (nn_module: notebooks)")
    parser.add_argument("-n", type=int, default=20, help="submissions to grade")
    parser.add_argument("-j", default="2", help="parallel judges, or auto (the CPUs available)")
    parser.add_argument("--baseline", type=int, default=6,
                        help="resnet: submissions for the one-pytest-per-submission baseline (0: none)")
    parser.add_argument("-t", "--task", action="append", dest="tasks",
                        help="grade only this task (repeatable), in both runs")
    parser.add_argument("--cli", action="store_true",
                        help="grade with the `autograder grade` command in a process of its own "
                             "(start-up as a user meets it) instead of the API in this one")
    parser.add_argument("--profile", action="store_true",
                        help="print where a submission's time goes, phase by phase")
    parser.add_argument("--check", action="store_true",
                        help="also time `autograder check` on a correct submission")
    parser.add_argument("--peers", action="store_true",
                        help="nn_module: also grade the notebooks with `nbgrader autograde` and "
                             "Otter-Grader's `otter run`")
    parser.add_argument("--record-scores", action="store_true",
                        help="record these scores as the expected ones instead of comparing")
    args = parser.parse_args()
    if args.cli and args.profile:
        parser.error("--profile times phases in this process: use it without --cli")

    folder = Path(tempfile.mkdtemp(prefix="autograder-bench-"))
    try:
        kinds = (notebook_kinds() if args.assignment == NOTEBOOK_ASSIGNMENT
                 else assignment_kinds(args.assignment))
        submissions = make_submissions(folder, args.n, kinds)
        paths = [path for _, path in submissions]
        before = load()
        grade_with = grade_with_cli if args.cli else grade_with_autograder
        reports, figures = grade_with(args, paths, folder)
        scope = ", ".join(args.tasks) if args.tasks else "all tasks"
        per = figures["total"] / args.n
        print(f"autograder {args.assignment} ({scope}): {args.n} submissions, -j {figures['jobs']}: "
              f"{figures['total']:.1f} s in all, {per:.3f} s per submission (start-up included)"
              f"  [{before} -> {load()}]")
        print(f"  CPU: {figures['cpu']:.1f} s in all, {figures['cpu'] / args.n:.3f} CPU s per "
              "submission (user+system: judges, zygote, workers)")
        print(f"  first report {figures['first']:.2f} s after the command started")
        if "steady" in figures:
            print(f"  after start-up: {figures['steady']:.3f} s per submission")
        durations = sorted(r.timing.duration for r in reports)
        print(f"  grading time of one submission in a judge: median "
              f"{durations[len(durations) // 2]:.3f} s, max {durations[-1]:.3f} s")
        print("  " + compare_scores(args.assignment, [k for k, _ in submissions], reports,
                                    args.record_scores))
        if args.profile:
            print(f"\nprofile ({args.n} submissions):\n" + profile_table(folder / "profile.jsonl", args.n))
        if args.check:
            correct = submissions[0][1]
            before = load()
            seconds, cpu = time_check(correct)
            print(f"\n`autograder check` of a correct submission: {seconds:.2f} s, {cpu:.2f} CPU s "
                  f"with this tree (hidden checks present) [{before} -> {load()}]")
            copy = students_copy(args.assignment, folder)
            before = load()
            seconds, cpu = time_check(correct, copy)
            print(f"  with the students' copy of the grader (what students run): {seconds:.2f} s, "
                  f"{cpu:.2f} CPU s [{before} -> {load()}]")
            before = load()
            print(f"  the same through the warm check server: {time_warm_checks(correct, copy)} "
                  f"[{before} -> {load()}]")
        if args.assignment != NOTEBOOK_ASSIGNMENT and args.baseline:
            before = load()
            baseline, baseline_cpu = resnet_baseline(args, paths)
            print(f"\nbaseline: one `python -m pytest` process per submission, checks in-process: "
                  f"{baseline:.2f} s, {baseline_cpu:.2f} CPU s per submission (measured on "
                  f"{min(args.baseline, args.n)}) [{before} -> {load()}]")
            after = f", {baseline / figures['steady']:.1f}x after start-up" if "steady" in figures else ""
            print(f"speed-up: {baseline / per:.1f}x with start-up included{after}; "
                  f"{baseline_cpu / (figures['cpu'] / args.n):.1f}x in CPU seconds")
        if args.assignment == NOTEBOOK_ASSIGNMENT and args.peers:
            before = load()
            seconds, cpu, scores = nbgrader_autograde(paths, folder)
            print(f"\nnbgrader autograde (a kernel per notebook), same {args.n} notebooks: "
                  f"{seconds:.3f} s, {cpu:.3f} CPU s per notebook [{before} -> {load()}]")
            print(f"  nbgrader's totals: {sorted(set(scores))} (its own grading: the notebook's "
                  "grade cells)")
            print(f"ratio nbgrader / autograder: {seconds / per:.1f}x in wall-clock (start-up "
                  f"included), {cpu / (figures['cpu'] / args.n):.1f}x in CPU seconds")
            otter, why_not = otter_command()
            if otter is None:
                print(f"\nOtter-Grader not run: {why_not}")
            else:
                from autograder.api import available_cpus

                jobs = available_cpus() if figures["jobs"] == "auto" else int(figures["jobs"])
                before = load()
                seconds, cpu, scores = otter_run(otter, paths, folder, jobs)
                print(f"\nOtter-Grader {OTTER_VERSION} `otter run` (a process per notebook, {jobs} at "
                      f"a time; its class command, `otter grade`, needs a Docker daemon), same "
                      f"{args.n} notebooks: {seconds:.3f} s, {cpu:.3f} CPU s per notebook "
                      f"[{before} -> {load()}]")
                print(f"  Otter's totals: {sorted(set(scores))} (the same grade cells as its tests)")
                print(f"ratio Otter / autograder: {seconds / per:.1f}x in wall-clock (start-up "
                      f"included), {cpu / (figures['cpu'] / args.n):.1f}x in CPU seconds")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
