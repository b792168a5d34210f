#!/usr/bin/env bash
# Checks the systemd units offline: `systemd-analyze verify` (syntax, known
# directives, the socket/service pair) and `systemd-analyze security
# --offline=true` (the exposure score of the hardening), printing the score.
# Needs systemd-analyze (Debian package `systemd`); with --install it is
# installed with apt-get when missing.
#
#   systemd/check-units.sh [--install] [--max-exposure N]   (default 2.0)
#
# Exit status: 0 when both pass and the score is at most the maximum.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
max_exposure=2.0
install=no
while [ $# -gt 0 ]; do
    case "$1" in
        --install) install=yes ;;
        --max-exposure) max_exposure="$2"; shift ;;
        *) echo "usage: $0 [--install] [--max-exposure N]" >&2; exit 64 ;;
    esac
    shift
done

if ! command -v systemd-analyze >/dev/null 2>&1; then
    if [ "$install" = yes ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq systemd >/dev/null
    else
        echo "systemd-analyze not found: install the Debian package 'systemd' (or pass --install)" >&2
        exit 69
    fi
fi

# verify checks that ExecStart= names an executable; the unit names the
# installed path, so check a copy pointing at a binary that exists here.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bin="${BANTIN_BIN:-$(command -v true)}"
sed "s#/usr/local/bin/bantin#${bin}#" "$here/bantin.service" >"$work/bantin.service"
cp "$here/bantin.socket" "$work/bantin.socket"

echo "== systemd-analyze verify"
if ! out="$(cd "$work" && systemd-analyze verify ./bantin.service ./bantin.socket 2>&1)"; then
    echo "$out"
    echo "FAIL: systemd-analyze verify" >&2
    exit 1
fi
# verify exits 0 on some warnings; treat any line about our units as a failure.
if echo "$out" | grep -E 'bantin\.(service|socket)' >/dev/null; then
    echo "$out"
    echo "FAIL: systemd-analyze verify reported problems" >&2
    exit 1
fi
echo "ok"

echo "== systemd-analyze security --offline=true systemd/bantin.service"
report="$(systemd-analyze security --offline=true --no-pager "$here/bantin.service" 2>&1 || true)"
echo "$report" | grep -E '^✗' || true
score="$(echo "$report" | sed -n 's/.*Overall exposure level for bantin.service: \([0-9.]*\).*/\1/p')"
if [ -z "$score" ]; then
    echo "$report"
    echo "FAIL: no exposure score in the report" >&2
    exit 1
fi
echo "exposure score: $score (0 best, 10 worst; maximum allowed $max_exposure)"
if ! awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }'; then
    echo "FAIL: exposure $score is above $max_exposure" >&2
    exit 1
fi
