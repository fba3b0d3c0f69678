#!/usr/bin/env bash
# Build the tests' base image (no image can be pulled here): Debian bookworm minbase with python3,
# python3-venv and ca-certificates from mmdebstrap, plus this machine's CA bundle, streamed into
# `docker import`. Idempotent (does nothing when the image exists); quiet unless something fails.
# (mmdebstrap, not debootstrap: apt resolves and downloads in parallel: 26 s here against 57 s.)
set -euo pipefail

image=${DOCKYARD_TEST_BASE_IMAGE:-dockyard-test-base:bookworm}
suite=bookworm

die() {
    echo "base-image.sh: $*" >&2
    exit 1
}

docker image inspect "$image" >/dev/null 2>&1 && exit 0
[ "$(id -u)" = 0 ] || die "the image $image is missing and mmdebstrap needs root; run this script as root"

log=$(mktemp /tmp/dockyard-base-image.XXXXXX.log)
fail() {
    tail -n 20 "$log" >&2
    die "$* (last lines of $log above)"
}

if ! command -v mmdebstrap >/dev/null; then
    # (waits for another apt run, such as docker-engine.sh's, instead of failing on its lock)
    { apt-get update -q &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            -o DPkg::Lock::Timeout=300 mmdebstrap; } >>"$log" 2>&1 ||
        fail "installing mmdebstrap failed"
fi

# The Debian mirror this machine's apt already uses for the suite (deb822 .sources or one-line
# .list), so that mmdebstrap goes where the network allows.
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

# The merged-usr hook lays out /usr the way debootstrap does (usr-is-merged), not with the usrmerge
# package, which would add perl to the image. The other hooks run on the finished tree ($1): the host's
# CA bundle (it may carry a corporate or proxy CA that pip inside builds needs) replaces the package's,
# and the package caches and the host's identity files are left out (Docker supplies its own at run
# time). The mirror may serve a snapshot whose Release file has expired, which apt would otherwise
# refuse. Bounded so that a stalled mirror fails the run instead of hanging it (it takes about 30 s).
# The import is named only once the whole tree is in it: a cut stream must not pass for the base.
if ! image_id=$(
    timeout 1200 mmdebstrap --mode=root --variant=minbase --format=tar \
        --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
        --include=python3,python3-venv,ca-certificates \
        --aptopt='Acquire::Check-Valid-Until "false"' \
        --customize-hook='upload /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt' \
        --customize-hook='chmod 0644 "$1/etc/ssl/certs/ca-certificates.crt"' \
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb' \
        --customize-hook='rm -rf "$1"/var/cache/debconf/*-old "$1"/var/log/* "$1"/tmp/*' \
        --customize-hook=': >"$1/etc/resolv.conf"; : >"$1/etc/hostname"' \
        "$suite" - "$mirror" 2>>"$log" |
        docker import \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'ENV LANG=C.UTF-8' \
            --change 'CMD ["python3"]' \
            - 2>>"$log"
); then
    [ -n "$image_id" ] && docker rmi "$image_id" >/dev/null 2>&1
    fail "mmdebstrap $suite from $mirror into docker import failed"
fi
docker tag "$image_id" "$image" >>"$log" 2>&1 || fail "docker tag $image failed"
rm -f "$log"
