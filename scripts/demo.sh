#!/usr/bin/env bash
# The README's first command: set up (idempotently) and run the end-to-end demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh
exec .venv/bin/dockyard demo "$@"
