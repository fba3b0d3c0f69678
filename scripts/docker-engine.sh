#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine: install Debian's docker.io when dockerd is
# missing and start dockerd when none is running. Idempotent; quiet unless something goes wrong.
set -euo pipefail

log=${DOCKYARD_DOCKERD_LOG:-/var/log/dockyard-dockerd.log}
wait_s=60

die() {
    echo "docker-engine.sh: $*" >&2
    exit 1
}

# (bounded: an engine that accepts the connection but hangs counts as not answering)
engine_answers() { command -v docker >/dev/null && timeout 10 docker info >/dev/null 2>&1; }

engine_answers && exit 0

if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
    [ "$(id -u)" = 0 ] || die "Docker is not installed and installing it needs root; run this script as root"
    apt_log=$(mktemp)
    if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io; } >"$apt_log" 2>&1; then
        tail -n 20 "$apt_log" >&2
        die "installing Debian's docker.io failed (apt output above)"
    fi
    rm -f "$apt_log"
    engine_answers && exit 0 # the package's own service may have started it
fi

# Start dockerd unless one is already running (and merely still starting up).
# (A dead dockerd can leave a zombie or a stale pidfile behind: only a live cmdline counts.)
pid=$(cat /var/run/docker.pid 2>/dev/null || true)
if [ -z "$pid" ] || ! grep -qa dockerd "/proc/$pid/cmdline" 2>/dev/null; then
    [ "$(id -u)" = 0 ] || die "no Docker engine is running and starting dockerd needs root; run this script as root"
    mkdir -p "$(dirname "$log")"
    # setsid + nohup: dockerd outlives this script and the terminal that ran it.
    setsid nohup dockerd >>"$log" 2>&1 </dev/null &
fi

for _ in $(seq "$wait_s"); do
    engine_answers && exit 0
    sleep 1
done
tail -n 20 "$log" >&2 2>/dev/null || true
die "dockerd did not answer within ${wait_s}s (log: $log, last lines above)"
