#!/usr/bin/env bash
# Set up, then run the linter and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The stats page is tested in headless Chromium: required in CI, installed when missing.
if [ "${CI:-}" = "true" ]; then
    bash scripts/install_browser.sh
elif ! bash scripts/install_browser.sh; then
    echo "no Chromium: the HTML stats test will be skipped" >&2
fi
.venv/bin/ruff check .
# Every assignment grades what it claims: reference full marks, template nothing, every
# mutant caught, no hidden check that can never fail.
.venv/bin/autograder validate --all
# -rs: each skip says why (a skip is never silent).
.venv/bin/python -m pytest -rs "$@"
