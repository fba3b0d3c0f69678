#!/usr/bin/env bash
# The README's first command, idempotent: set up, then run the end-to-end demo
# (model → image → endpoint on the local SageMaker → prediction).
set -euo pipefail
cd "$(dirname "$0")/.."

# The Python set (pip, mostly network) and the engine with its base image (apt and mmdebstrap) do not
# depend on each other: on a fresh machine, preparing them side by side saves the shorter of the two.
venv_log=$(mktemp /tmp/dockyard-demo-venv.XXXXXX.log)
scripts/venv.sh demo >"$venv_log" 2>&1 &
venv_pid=$!
venv_done() {
    if ! wait "$venv_pid"; then
        cat "$venv_log" >&2
        rm -f "$venv_log"
        echo "demo.sh: installing the demo's Python set (scripts/venv.sh demo) failed (output above)" >&2
        exit 1
    fi
    rm -f "$venv_log"
}
# The engine's or the base image's script has said what failed; let the install end first.
setup_failed() {
    wait "$venv_pid" || true
    rm -f "$venv_log"
    exit 1
}

scripts/docker-engine.sh || setup_failed
# The image's base is python:3.11-slim when the engine has it or can pull it. Where nothing can be pulled
# (as on our CI machines), the tests' local base image stands in (mmdebstrap, about 30 s, once), and
# the build uses the host's network for pip.
if [ -z "${DOCKYARD_DEMO_BASE_IMAGE:-}" ]; then
    if ! docker image inspect python:3.11-slim >/dev/null 2>&1 &&
        ! timeout 60 docker pull -q python:3.11-slim >/dev/null 2>&1; then
        echo "python:3.11-slim cannot be pulled here: using a local base image built with mmdebstrap"
        scripts/base-image.sh || setup_failed
        export DOCKYARD_DEMO_BASE_IMAGE=dockyard-test-base:bookworm
        export DOCKYARD_DEMO_NETWORK_MODE=${DOCKYARD_DEMO_NETWORK_MODE:-host}
    fi
fi
venv_done
exec .venv/bin/dockyard demo "$@"
