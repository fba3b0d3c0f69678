#!/usr/bin/env bash
# Debian's chromium (and its driver) for the console's browser tests, which Playwright drives through
# /usr/bin/chromium: no browser download. Idempotent; quiet when chromium is already there.
set -euo pipefail

die() {
    echo "browser.sh: $*" >&2
    exit 1
}

[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && exit 0
[ "$(id -u)" = 0 ] || die "chromium is missing and installing it needs root; run: apt-get install chromium chromium-driver"

apt_log=$(mktemp)
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium chromium-driver fonts-liberation; } >"$apt_log" 2>&1; then
    tail -n 20 "$apt_log" >&2
    rm -f "$apt_log"
    die "installing chromium with apt failed (output above)"
fi
rm -f "$apt_log"
/usr/bin/chromium --version >/dev/null 2>&1 || die "chromium is installed but does not start: /usr/bin/chromium --version fails"
