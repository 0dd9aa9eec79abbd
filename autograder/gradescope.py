"""What runs inside Gradescope's autograder zip (built by :mod:`autograder.packaging`).

The zip (``autograder package gradescope NAME``) holds, at its root, ``setup.sh`` (Gradescope
runs it once to build the image: a Python 3.11+ virtual environment with CPU torch and this
package), ``run_autograder`` (run for every submission) and ``grader/``: this package's source
with its ``pyproject.toml``, ``assignments/NAME`` (public and hidden checks, mutants) and
``reference/NAME``. Gradescope unpacks it to ``/autograder/source`` and puts the submission in
``/autograder/submission``; ``run_autograder`` must write ``/autograder/results/results.json``.

For tests, ``AUTOGRADER_ROOT`` replaces ``/autograder`` and ``AUTOGRADER_PYTHON`` names the
Python to run (skipping the virtual environment that ``setup.sh`` makes).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

from autograder import api
from autograder.errors import UserError
from autograder.spec import AssignmentSpec


def find_submission(folder: Path, spec: AssignmentSpec) -> Path:
    """The folder (or zip) in Gradescope's submission folder that holds the student's files:
    students upload files, a folder or a zip, so look for the assignment's files, shallowest
    first."""
    names = spec.accepted_names  # lab.py stands for lab.ipynb, and so on
    candidates = [folder] + sorted((p for p in folder.rglob("*") if p.is_dir()
                                    and not any(part.startswith((".", "__MACOSX"))
                                                for part in p.relative_to(folder).parts)),
                                   key=lambda p: (len(p.parts), str(p)))
    for candidate in candidates:
        if any((candidate / name).is_file() for name in names):
            return candidate
    zips = sorted(folder.glob("*.zip"))
    return zips[0] if len(zips) == 1 else folder


def _failure(results: Path, message: str) -> None:
    results.write_text(json.dumps({
        "score": 0.0, "output": f"The autograder could not grade this submission: {message}",
        "stdout_visibility": "hidden", "tests": []}, indent=2))


def run_autograder(root: Path, assignment: str) -> Path:
    """Grade ``root/submission`` with every check and write ``root/results/results.json``."""
    from autograder.report.gradescope import render_gradescope
    from autograder.report.text import report_details

    results_dir = root / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    results = results_dir / "results.json"
    spec = api.load_assignment(assignment)
    source = find_submission(root / "submission", spec)
    # Grade a copy: nothing the grading does can touch what Gradescope keeps.
    with tempfile.TemporaryDirectory(prefix="autograder-gradescope-") as work:
        copy = Path(work) / "submission"
        if source.is_dir():
            shutil.copytree(source, copy, symlinks=True)
        else:
            copy = Path(work) / source.name
            shutil.copy2(source, copy)
        report = api.grade([copy], assignment)[0]
    (results_dir / "report.json").write_text(report.model_dump_json(indent=2))
    results.write_text(json.dumps(render_gradescope(report), indent=2))
    print(report_details(report))  # the stdout Gradescope shows to instructors only
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Gradescope's run_autograder entry point.")
    parser.add_argument("--root", type=Path, default=Path("/autograder"))
    parser.add_argument("--assignment", required=True)
    args = parser.parse_args(argv)
    try:
        run_autograder(args.root, args.assignment)
    except Exception as exc:  # a results.json is always written, or Gradescope shows nothing
        traceback.print_exc()
        reason = str(exc) if isinstance(exc, UserError) else "an internal error; tell your instructor"
        _failure(args.root / "results" / "results.json", reason)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
