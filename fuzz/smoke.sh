#!/usr/bin/env bash
# Builds the fuzz targets and runs each for a short fixed time (default
# 10 s): the CI smoke run that keeps them working. A crash fails the run and
# leaves its input in fuzz/artifacts/<target>/; turn it into a regression
# test named after the bug. Longer runs: FUZZ_SECONDS=600 fuzz/smoke.sh
#
# cargo-fuzz needs nightly features; the machine has one stable toolchain,
# so RUSTC_BOOTSTRAP=1 unlocks them for this build only.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-10}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --quiet
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
for target in $(cargo fuzz list); do
  printf 'fuzz %-14s ' "$target"
  if cargo fuzz run -O "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 >"/tmp/bantin-fuzz-$target.log" 2>&1; then
    grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "/tmp/bantin-fuzz-$target.log" | tail -1
  else
    echo "FAILED"
    tail -40 "/tmp/bantin-fuzz-$target.log"
    exit 1
  fi
done
