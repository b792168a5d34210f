#!/usr/bin/env bash
# bench/sql-serve.sh [N] [--debug] [--bin FILE] [--old-trigger|--no-trigger]: `bantin serve`
# on a PostgreSQL article table of N rows (default 10,000, ~1 KB of Markdown
# each) with the shipped NOTIFY trigger: time from start to listening (read +
# render), then commit → served as a user sees it: $UPDATES updates (default
# 100), $INSERTS inserts and $DELETES deletes (default 20 each) of rows in the
# site feed, one after another with a random 0-200 ms pause, each committed by
# one psql session and watched by polling /feed.xml every 2 ms; p50, p99 and
# max per kind and for all. --bin runs a prebuilt binary (e.g. an older
# build, for a before/after); --old-trigger installs the trigger as shipped
# before issue 24 (one notification per statement, naming no row);
# --no-trigger none (changes seen by polling).
# Needs psql, curl and python3, and PostgreSQL at $BANTIN_BENCH_PG (default: the
# test database on 127.0.0.1:5432); works in a schema of its own, dropped after.
set -euo pipefail
cd "$(dirname "$0")/.."
N=10000
PROFILE=release
BIN=
TRIGGER=docs/sql/postgres-notify-trigger.sql
while [ $# -gt 0 ]; do
  case $1 in
    --debug) PROFILE=debug ;;
    --bin) BIN=$2; shift ;;
    --old-trigger) TRIGGER=bench/postgres-notify-trigger-before-24.sql ;;
    --no-trigger) TRIGGER= ;;
    *) N=$1 ;;
  esac
  shift
done
PG=${BANTIN_BENCH_PG:-postgres://postgres@127.0.0.1:5432/test}
for tool in psql curl; do command -v $tool >/dev/null || { echo "needs $tool (apt-get install postgresql-client curl)"; exit 1; }; done
if [ -z "$BIN" ]; then
  if [ $PROFILE = release ]; then cargo build --locked --release -q; else cargo build --locked -q; fi
  BIN=${CARGO_TARGET_DIR:-target}/$PROFILE/bantin
fi
SCHEMA=bantin_bench_$$
work=$(mktemp -d)
pid=
cleanup() { [ -n "${BENCH_LOG:-}" ] && cp "$work/log" "$BENCH_LOG"; [ -n "$pid" ] && kill "$pid" 2>/dev/null; psql "$PG" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null; rm -rf "$work"; }
trap cleanup EXIT

psql "$PG" -v ON_ERROR_STOP=1 -q <<SQL
CREATE SCHEMA $SCHEMA; SET search_path TO $SCHEMA;
CREATE TABLE articles (id BIGINT PRIMARY KEY, title TEXT, date TIMESTAMPTZ, updated TIMESTAMPTZ DEFAULT now(),
  summary TEXT, body TEXT, categories TEXT[]);
INSERT INTO articles (id, title, date, summary, body, categories)
SELECT i, 'Bài viết số ' || i, timestamptz '2024-01-01 08:00+07' + i * interval '1 minute', 'Tóm tắt bài ' || i,
  repeat('Đoạn văn **thứ** ' || i || E' của bài viết về kinh tế, văn hóa và du lịch Yên Bái.\n\n', 12),
  ARRAY[(ARRAY['Kinh tế','Văn hóa','Du lịch','Xã hội','Thể thao'])[1 + i % 5]]
FROM generate_series(1, $N) i;
SQL
[ -n "$TRIGGER" ] && psql "$PG" -v ON_ERROR_STOP=1 -q -c "SET search_path TO $SCHEMA" -f "$TRIGGER"

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
until grep -qs 'listening on' "$work/log"; do
  kill -0 "$pid" 2>/dev/null || { cat "$work/log"; exit 1; }
  sleep 0.01
done
t1=$(date +%s%N)
addr=$(grep -o 'listening on [0-9.:]*' "$work/log" | head -1 | cut -d' ' -f3)
printf 'rows %d (%s, trigger %s)\nstartup to listening (connect + read + render): %d ms\n' "$N" "$BIN" "${TRIGGER:-none}" $(( (t1 - t0) / 1000000 ))

python3 bench/sql_latency.py "$PG" "$SCHEMA" "$N" "$addr" "${UPDATES:-100}" "${INSERTS:-20}" "${DELETES:-20}" || { echo "serve log:"; tail -20 "$work/log"; exit 1; }
