#!/usr/bin/env bash
# The README's second command: set up (idempotently), then lint, type-check and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh dev
scripts/test-env.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# pytest exits 5 when it collected no tests: that is a failure here, not a pass.
status=0
.venv/bin/pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests" >&2
    exit 1
fi
exit "$status"
