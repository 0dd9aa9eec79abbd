"""Class scale: grade a class locally with -j 2, then on a Dask LocalCluster of 2 workers,
and rerun with nothing changed (the gradebook skips every submission).

    .venv/bin/python benchmarks/bench_class.py [-n 60] [-j 2] [-t BasicBlock -t ResNet]

Each run is a real `autograder grade` process (start-up included), as an instructor runs it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_grading import assignment_kinds, make_submissions  # noqa: E402


def timed_grade(folder: Path, output: Path, tasks: list[str], *extra: str) -> float:
    command = [sys.executable, "-m", "autograder", "grade", str(folder), "-a", "resnet",
               "-o", str(output), *(a for t in tasks for a in ("-t", t)), *extra]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"grade failed: {result.stderr[-2000:]}")
    print("   ", next(line for line in result.stdout.splitlines() if line.startswith("graded ")))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=60, help="submissions in the class")
    parser.add_argument("-j", type=int, default=2, help="local judges, and Dask workers")
    parser.add_argument("-t", "--task", action="append", dest="tasks",
                        help="grade only this task (repeatable; default BasicBlock and ResNet)")
    parser.add_argument("--cluster-only", action="store_true", help="skip the local runs")
    parser.add_argument("--local-only", action="store_true", help="skip the Dask run")
    args = parser.parse_args()
    tasks = args.tasks or ["BasicBlock", "ResNet"]
    work = Path(tempfile.mkdtemp(prefix="autograder-bench-class-"))
    try:
        (work / "class").mkdir()
        make_submissions(work / "class", args.n, assignment_kinds("resnet"))
        print(f"class of {args.n}, tasks {', '.join(tasks)}")
        if not args.cluster_only:
            local = timed_grade(work / "class", work / "local", tasks, "-j", str(args.j))
            print(f"  local -j {args.j}: {local:.1f} s, {local / args.n:.2f} s per submission")
            rerun = timed_grade(work / "class", work / "local", tasks, "-j", str(args.j))
            print(f"  rerun, nothing changed: {rerun:.2f} s for {args.n} "
                  f"({rerun / args.n:.3f} s per submission)")
        if args.local_only:
            return
        try:
            import distributed  # noqa: F401
        except ImportError:
            print("  --cluster: skipped (pip install '.[cluster]')")
            return
        cluster = timed_grade(work / "class", work / "cluster", tasks, "--cluster", f"local:{args.j}")
        print(f"  --cluster local:{args.j}: {cluster:.1f} s, {cluster / args.n:.2f} s per submission")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
