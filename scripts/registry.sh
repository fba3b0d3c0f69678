#!/usr/bin/env bash
# Run a local image registry (Debian's docker-registry: the CNCF distribution binary, not a
# container) on 127.0.0.1:5000 for the tests. Idempotent; quiet unless something goes wrong.
set -euo pipefail

addr=127.0.0.1:5000
root=/var/lib/dockyard-registry
config=$root/config.yml
pidfile=$root/registry.pid
log=$root/registry.log
wait_s=30

die() {
    echo "registry.sh: $*" >&2
    exit 1
}

status() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$addr/v2/" 2>/dev/null || true; }

[ "$(status)" = 200 ] && exit 0
[ "$(id -u)" = 0 ] || die "no registry answers on $addr and starting one needs root; run this script as root"

if ! command -v docker-registry >/dev/null || ! command -v curl >/dev/null; then
    apt_log=$(mktemp)
    # Keep apt from starting the package's own service (it listens on :5000 on every interface,
    # with htpasswd auth): a policy-rc.d answering 101 forbids service starts during the install.
    policy=/usr/sbin/policy-rc.d
    own_policy=false
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod +x "$policy"
        own_policy=true
    fi
    ok=true
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-registry curl; } \
        >"$apt_log" 2>&1 || ok=false
    if "$own_policy"; then rm -f "$policy"; fi
    if ! "$ok"; then
        tail -n 20 "$apt_log" >&2
        die "installing Debian's docker-registry failed (apt output above)"
    fi
    rm -f "$apt_log"
fi

# The package's service, if something started it anyway, holds the port: stop and disable it.
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
    systemctl disable --now docker-registry >/dev/null 2>&1 || true
elif [ -s /var/run/docker-registry.pid ] && kill -0 "$(cat /var/run/docker-registry.pid)" 2>/dev/null; then
    /etc/init.d/docker-registry stop >/dev/null 2>&1 || true
fi

mkdir -p "$root/storage"
cat >"$config" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $root/storage
  delete:
    enabled: true
http:
  addr: $addr
YAML

# Ours is running when the pidfile names a live docker-registry process (a zombie has no cmdline).
ours_running() {
    local pid
    pid=$(cat "$pidfile" 2>/dev/null) && grep -qa docker-registry "/proc/$pid/cmdline" 2>/dev/null
}

# The process this run started is alive until it exits (its state Z, or gone). Its cmdline is not the
# test here: until the fork has exec'd setsid, nohup and the registry, it is this script's (on a busy
# machine the first check came before that and said the registry had exited).
started=""
started_alive() {
    local state
    state=$(awk '{print $3}' "/proc/$started/stat" 2>/dev/null) && [ -n "$state" ] && [ "$state" != Z ]
}

if ! ours_running; then
    # setsid + nohup: the registry outlives this script and the terminal that ran it.
    setsid nohup docker-registry serve "$config" >>"$log" 2>&1 </dev/null &
    started=$!
    echo "$started" >"$pidfile"
fi

hint="log: $log; is another process using port ${addr##*:}?"
for _ in $(seq $((wait_s * 2))); do
    [ "$(status)" = 200 ] && exit 0
    if { [ -n "$started" ] && ! started_alive; } || { [ -z "$started" ] && ! ours_running; }; then
        tail -n 20 "$log" >&2 2>/dev/null || true
        die "the registry exited before answering on $addr ($hint)"
    fi
    sleep 0.5
done
tail -n 20 "$log" >&2 2>/dev/null || true
die "the registry did not answer GET http://$addr/v2/ with 200 within ${wait_s}s (last answer: $(status); $hint)"
