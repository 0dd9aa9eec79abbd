"""`python -m autograder`: the same as the `autograder` command."""

import os
import sys

# `python -m` puts the current folder first on sys.path; a student's folder must not be
# able to shadow the grader's own imports (a torch.py, a click.py ...).
sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]

from autograder.cli import run  # noqa: E402

run(prog_name="autograder")
