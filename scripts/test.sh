#!/usr/bin/env bash
# Set up, then run the linter and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
# Every assignment grades what it claims: reference full marks, template nothing, every
# mutant caught, no hidden check that can never fail.
.venv/bin/autograder validate --all
.venv/bin/python -m pytest "$@"
