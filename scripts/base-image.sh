#!/usr/bin/env bash
# Build the tests' base image (no image can be pulled here): Debian bookworm minbase with python3,
# python3-venv and ca-certificates from debootstrap, plus this machine's CA bundle, then
# `docker import`. Idempotent (does nothing when the image exists); quiet unless something fails.
set -euo pipefail

image=${DOCKYARD_TEST_BASE_IMAGE:-dockyard-test-base:bookworm}
suite=bookworm

die() {
    echo "base-image.sh: $*" >&2
    exit 1
}

docker image inspect "$image" >/dev/null 2>&1 && exit 0
[ "$(id -u)" = 0 ] || die "the image $image is missing and debootstrap needs root; run this script as root"

log=$(mktemp /tmp/dockyard-base-image.XXXXXX.log)
fail() {
    tail -n 20 "$log" >&2
    die "$* (last lines of $log above)"
}

if ! command -v debootstrap >/dev/null; then
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap; } >>"$log" 2>&1 ||
        fail "installing debootstrap failed"
fi

# The Debian mirror this machine's apt already uses for the suite (deb822 .sources or one-line
# .list), so that debootstrap goes where the network allows.
mirror_from_apt() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v suite="$suite" '
            /^[[:space:]]*$/ { if (uri != "" && ok) exit; uri = ""; ok = 0; next }
            tolower($1) == "uris:" { uri = $2 }
            tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
            END { if (uri != "" && ok) print uri }
        ' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v suite="$suite" '$1 == "deb" { sub(/\[[^]]*\][[:space:]]*/, ""); if ($3 == suite) print $2 }' "$f"
    done
}
mirror=${DOCKYARD_DEBIAN_MIRROR:-$(mirror_from_apt | head -n 1)}
mirror=${mirror:-http://deb.debian.org/debian}

work=$(mktemp -d /var/tmp/dockyard-base.XXXXXX)
cleanup() {
    # debootstrap mounts /proc and /sys in the target; never let rm walk into a mount left behind.
    grep -o " $work/[^ ]*" /proc/mounts | sort -r | xargs -r -n 1 umount -l 2>/dev/null || true
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT
rootfs=$work/rootfs

# Bounded so that a stalled mirror fails the run instead of hanging it (it takes about a minute).
timeout 1200 debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$suite" "$rootfs" "$mirror" >>"$log" 2>&1 ||
    fail "debootstrap $suite from $mirror failed"

# The host's bundle may carry a corporate or proxy CA that pip inside builds needs.
install -m 0644 /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
# Leave out the package caches and the host's identity files (Docker supplies its own at run time).
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/log/* "$rootfs"/tmp/*
: >"$rootfs/etc/resolv.conf"
: >"$rootfs/etc/hostname"

tar --numeric-owner -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    - "$image" >>"$log" 2>&1 ||
    fail "docker import of $image failed"
rm -f "$log"
