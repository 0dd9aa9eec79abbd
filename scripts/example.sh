#!/usr/bin/env bash
# Set up, then grade the bundled example submissions of the resnet assignment.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/autograder grade examples/resnet -a resnet -o out/example-reports -j 2 "$@"
