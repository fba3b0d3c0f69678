#!/usr/bin/env bash
# Everything the Docker and browser tests need, idempotently: a running engine, the local registry on
# 127.0.0.1:5000, the test base image and chromium. Quiet when all is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/docker-engine.sh
scripts/registry.sh
scripts/base-image.sh
scripts/browser.sh
