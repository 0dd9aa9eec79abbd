"""Grade N mixed submissions of an assignment with autograder, then the usual way, and print figures.

    .venv/bin/python benchmarks/bench_grading.py [--assignment resnet] [-n 20] [-j 2] [--baseline 6]

"The usual way" is one fresh `python -m pytest` process per submission running the same
checks with the student's code imported into the test process (benchmarks/inprocess.py).
The baseline runs on the first --baseline submissions only (it is slow) and is
extrapolated per submission.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_submissions(folder: Path, count: int, assignment: str) -> list[Path]:
    """A mix: reference, another correct style, a buggy one, the template, and mutants."""
    from autograder.judge.variants import load_mutants, mutated_file
    from autograder.spec import load_assignment

    spec = load_assignment(assignment)

    def files_of(where: Path) -> dict[str, str]:
        return {p.name: p.read_text() for p in where.iterdir()
                if p.is_file() and p.name in spec.accepted_names}

    reference = files_of(spec.reference_dir)
    kinds = [reference] + [files_of(where) for where in (
        ROOT / "examples" / assignment / "good_student", ROOT / "examples" / assignment / "buggy_student",
        spec.template_dir) if where.is_dir()]
    for mutant in load_mutants(spec):
        kinds.append(reference | {mutated_file(spec, mutant.spec): mutant.source})
    paths = []
    for index in range(count):
        path = folder / f"student{index:03d}"
        path.mkdir()
        for name, text in kinds[index % len(kinds)].items():
            # Every student's files differ, as in a real class: no result is reused.
            (path / name).write_text(f"{text}\n# student {index}\n")
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="resnet", help="the assignment to grade")
    parser.add_argument("-n", type=int, default=20, help="submissions to grade")
    parser.add_argument("-j", type=int, default=2, help="parallel judges")
    parser.add_argument("--baseline", type=int, default=6, help="submissions for the baseline")
    parser.add_argument("-t", "--task", action="append", dest="tasks",
                        help="grade only this task (repeatable), in both runs")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="autograder-bench-"))
    try:
        submissions = make_submissions(folder, args.n, args.assignment)
        started = time.perf_counter()
        from autograder import api  # the import of torch counts as start-up

        finished: list[float] = []
        reports = api.grade(submissions, args.assignment, jobs=args.j, tasks=args.tasks,
                            on_report=lambda _: finished.append(time.perf_counter()))
        total = time.perf_counter() - started
        # Once every judge has graded its first submission (start-up and cold caches paid),
        # what each further submission costs in wall-clock time:
        steady = (finished[-1] - finished[args.j - 1]) / max(len(finished) - args.j, 1)
        per_submission = sorted(r.timing.duration for r in reports)
        scope = ", ".join(args.tasks) if args.tasks else "all tasks"
        print(f"autograder, {args.assignment} ({scope}): {args.n} submissions, -j {args.j}: "
              f"{total:.1f} s in all, {total / args.n:.2f} s per submission (start-up included)")
        if args.n > args.j:
            print(f"  after start-up: {steady:.2f} s per submission")
        print(f"  grading time of one submission in a judge: median "
              f"{per_submission[len(per_submission) // 2]:.2f} s, max {per_submission[-1]:.2f} s")

        baseline_count = min(args.baseline, args.n)
        started = time.perf_counter()
        for path in submissions[:baseline_count]:
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
        baseline = (time.perf_counter() - started) / baseline_count
        print(f"baseline: one `python -m pytest` process per submission, checks in-process: "
              f"{baseline:.2f} s per submission (measured on {baseline_count})")
        after = f", {baseline / steady:.1f}x after start-up" if args.n > args.j else ""
        print(f"speed-up: {baseline / (total / args.n):.1f}x with start-up included{after}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
