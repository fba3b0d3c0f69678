#!/usr/bin/env bash
# The README's first command, idempotent: set up, then run the end-to-end demo
# (model → image → endpoint on the local SageMaker → prediction).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh demo
scripts/docker-engine.sh
# The image's base is python:3.11-slim when the engine has it or can pull it. Where nothing can be pulled
# (as on our CI machines), the tests' local base image stands in (debootstrap, about a minute, once), and
# the build uses the host's network for pip.
if [ -z "${DOCKYARD_DEMO_BASE_IMAGE:-}" ]; then
    if ! docker image inspect python:3.11-slim >/dev/null 2>&1 &&
        ! timeout 60 docker pull -q python:3.11-slim >/dev/null 2>&1; then
        echo "python:3.11-slim cannot be pulled here: using a local base image built with debootstrap"
        scripts/base-image.sh
        export DOCKYARD_DEMO_BASE_IMAGE=dockyard-test-base:bookworm
        export DOCKYARD_DEMO_NETWORK_MODE=${DOCKYARD_DEMO_NETWORK_MODE:-host}
    fi
fi
exec .venv/bin/dockyard demo "$@"
