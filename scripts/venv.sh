#!/usr/bin/env bash
# Create or refresh the project's virtual environment (.venv) with one set of extras:
#   scripts/venv.sh demo   the CLI and scikit-learn: what `dockyard demo` imports (scripts/demo.sh)
#   scripts/venv.sh dev    everything the tests, linters and benchmarks need (scripts/test.sh; default)
# Idempotent: it installs only when pyproject.toml changed since that set was last installed. The dev
# set contains the demo set, so a venv made for the tests serves the demo without another install.
set -euo pipefail
cd "$(dirname "$0")/.."
extras=${1:-dev}
case "$extras" in
demo | dev) ;;
*)
    echo "venv.sh: unknown set '$extras' (demo or dev)" >&2
    exit 2
    ;;
esac
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
installed() { [ "$(cat ".venv/.dockyard-installed-$1" 2>/dev/null)" = "$want" ]; }
if installed "$extras" || { [ "$extras" = demo ] && installed dev; }; then
    exit 0
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[$extras]"
echo "$want" >".venv/.dockyard-installed-$extras"
