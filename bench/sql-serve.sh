#!/usr/bin/env bash
# bench/sql-serve.sh [N] [--debug]: `bantin serve` on a PostgreSQL article
# table of N rows (default 10,000, ~1 KB of Markdown each) with the shipped
# NOTIFY trigger: time from start to listening (read + render), then the
# commit → served latency of 20 updates (psql commits, curl polls /feed.xml).
# Needs psql and curl, and PostgreSQL at $BANTIN_BENCH_PG (default: the
# test database on 127.0.0.1:5432); works in a schema of its own, dropped after.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
PROFILE=release
[ "${2:-}" = --debug ] && PROFILE=debug
PG=${BANTIN_BENCH_PG:-postgres://postgres@127.0.0.1:5432/test}
for tool in psql curl; do command -v $tool >/dev/null || { echo "needs $tool (apt-get install postgresql-client curl)"; exit 1; }; done
if [ $PROFILE = release ]; then cargo build --locked --release -q; else cargo build --locked -q; fi
BIN=${CARGO_TARGET_DIR:-target}/$PROFILE/bantin
SCHEMA=bantin_bench_$$
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; psql "$PG" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null; rm -rf "$work"; }
trap cleanup EXIT

psql "$PG" -v ON_ERROR_STOP=1 -q <<SQL
CREATE SCHEMA $SCHEMA; SET search_path TO $SCHEMA;
CREATE TABLE articles (id BIGINT PRIMARY KEY, title TEXT, date TIMESTAMPTZ, updated TIMESTAMPTZ DEFAULT now(),
  summary TEXT, body TEXT, categories TEXT[]);
INSERT INTO articles (id, title, date, summary, body, categories)
SELECT i, 'Bài viết số ' || i, timestamptz '2024-01-01 08:00+07' + i * interval '1 hour', 'Tóm tắt bài ' || i,
  repeat('Đoạn văn **thứ** ' || i || E' của bài viết về kinh tế, văn hóa và du lịch Yên Bái.\n\n', 12),
  ARRAY[(ARRAY['Kinh tế','Văn hóa','Du lịch','Xã hội','Thể thao'])[1 + i % 5]]
FROM generate_series(1, $N) i;
SQL
psql "$PG" -v ON_ERROR_STOP=1 -q -c "SET search_path TO $SCHEMA" -f docs/sql/postgres-notify-trigger.sql

cat > "$work/bantin.toml" <<TOML
[site]
title = "Bench"
base_url = "https://portal.example.org"
[store]
kind = "postgres"
url = "$PG"
table = "$SCHEMA.articles"
[http]
listen = "127.0.0.1:0"
[state]
url = "sqlite://$work/state.db"
TOML

t0=$(date +%s%N)
"$BIN" serve --config "$work/bantin.toml" 2>"$work/log" &
pid=$!
until grep -q 'listening on' "$work/log"; do
  kill -0 "$pid" 2>/dev/null || { cat "$work/log"; exit 1; }
  sleep 0.01
done
t1=$(date +%s%N)
addr=$(grep -o 'listening on [0-9.:]*' "$work/log" | head -1 | cut -d' ' -f3)
printf 'rows %d (%s build)\nstartup to listening (connect + read + render): %d ms\n' "$N" "$PROFILE" $(( (t1 - t0) / 1000000 ))

lat=()
for i in $(seq 1 20); do
  s=$(date +%s%N)
  psql "$PG" -qc "UPDATE $SCHEMA.articles SET title = 'Cập nhật lần $i', updated = now() WHERE id = $N"
  deadline=$(( $(date +%s) + 30 ))
  until curl -s "http://$addr/feed.xml" | grep -q "Cập nhật lần $i"; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "update $i not served after 30 s; log:"; tail -20 "$work/log"; exit 1; }
    sleep 0.005
  done
  e=$(date +%s%N)
  lat+=($(( (e - s) / 1000000 )))
done
sorted=$(printf '%s\n' "${lat[@]}" | sort -n)
printf 'commit → served (20 updates, ms): median %s  max %s  all: %s\n' \
  "$(echo "$sorted" | sed -n 10p)" "$(echo "$sorted" | tail -1)" "${lat[*]}"
