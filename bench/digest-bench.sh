#!/usr/bin/env bash
# Benchmark: personalised digests for N subscribers (default 10,000) sent by
# the real `bantin digest run` to a real SMTP sink on loopback (postfix's
# smtp-sink), messages per second and peak memory (RSS), printed beside the
# rate of postfix's bulk client smtp-source into the same sink.
#
# Needs: postfix's smtp-sink and smtp-source (Debian: apt-get install
# --no-install-recommends postfix; they live in /usr/sbin), GNU time.
# Usage: bench/digest-bench.sh [SUBSCRIBERS] [--debug]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
PROFILE=release
[[ "${2:-}" == "--debug" ]] && PROFILE=debug
PATH="$PATH:/usr/sbin:/usr/lib/postfix/sbin"
for tool in smtp-sink smtp-source /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install --no-install-recommends postfix time" >&2; exit 69; }
done
if [[ $PROFILE == release ]]; then cargo build --release --quiet; else cargo build --quiet; fi
BIN=target/$PROFILE/bantin

WORK=$(mktemp -d)
SINK_PID=
cleanup() { [[ -n $SINK_PID ]] && kill "$SINK_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# -c counts, 1000 = listen backlog; the sink accepts and discards.
smtp-sink -u "$(id -un)" 127.0.0.1:"$PORT" 1000 &
SINK_PID=$!
sleep 0.5

cat > "$WORK/bantin.toml" <<TOML
[site]
title = "Cổng thông tin điện tử tỉnh Yên Bái"
base_url = "https://yenbai.gov.vn"
article_url = "tin-tuc/{slug}"
[store]
path = "$PWD/examples/articles"
[http]
public_url = "https://bantin.example.org/"
[state]
url = "sqlite://$WORK/state/bantin.db"
[mail]
smtp_url = "smtp://127.0.0.1:$PORT"
from = "Bản tin Yên Bái <bantin@example.org>"
max_per_second = 100000
connections = 8
[digest]
first_backlog = "400d"
TOML

{
  echo "email,topics,frequency,status"
  topics=("" "kinh-te" "du-lich" "van-hoa-xa-hoi" "kinh-te;nong-nghiep-nong-thon")
  for ((i = 0; i < N; i++)); do
    echo "reader$i@example.org,${topics[$((i % 5))]},daily,active"
  done
} > "$WORK/subscribers.csv"
"$BIN" --config "$WORK/bantin.toml" subscribers import "$WORK/subscribers.csv" >/dev/null

# bantin: plan + render + commit + send, as one run.
BANTIN_LOG=warn /usr/bin/time -f "%e %M" -o "$WORK/time" \
  "$BIN" --config "$WORK/bantin.toml" digest run --now --at 2026-08-31T07:00:00+07:00 > "$WORK/run.out"
read -r SECS RSS_KB < "$WORK/time"
echo "bantin: $(cat "$WORK/run.out")"
SENT=$(grep -o 'sent [0-9]*' "$WORK/run.out" | grep -o '[0-9]*')
SIZE=$(sqlite3 "$WORK/state/bantin.db" 'select avg(length(body)) from outbox' 2>/dev/null || echo 20000)
SIZE=${SIZE%.*}

# smtp-source: the same number of messages of the same size, 8 sessions.
START=$(date +%s.%N)
smtp-source -s 8 -m "$SENT" -l "$SIZE" -f bantin@example.org -t reader@example.org 127.0.0.1:"$PORT"
END=$(date +%s.%N)

python3 - "$SENT" "$SECS" "$RSS_KB" "$START" "$END" "$SIZE" "$PROFILE" <<'PY'
import sys
sent, secs, rss, start, end, size, profile = sys.argv[1:]
sent, secs, rss = int(sent), float(secs), int(rss)
src = float(end) - float(start)
print(f"bantin digest run ({profile}): {sent} personalised digests (~{size} bytes) in {secs:.2f} s "
      f"= {sent / secs:.0f} msg/s, peak RSS {rss / 1024:.1f} MiB")
print(f"postfix smtp-source:        {sent} messages of {size} bytes in {src:.2f} s = {sent / src:.0f} msg/s")
PY
