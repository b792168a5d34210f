#!/usr/bin/env python3
"""Commit → served for an SQL store, as a user sees it (bench/sql-serve.sh).

sql_latency.py PG SCHEMA N ADDR UPDATES INSERTS DELETES

One psql session commits each change (autocommit); the clock starts when the
statement is written to it and stops when GET /feed.xml (polled every 2 ms)
shows the change. Changes touch rows in the site feed (the newest ids of the
table of bench/sql-serve.sh), one after another with a random 0-200 ms pause,
kinds interleaved. Prints p50, p99 and max per kind and for all, in ms.
"""
import os
import random
import subprocess
import sys
import time
import urllib.request


def served(addr, pred, timeout=30.0):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            with urllib.request.urlopen(f"http://{addr}/feed.xml", timeout=5) as r:
                if pred(r.read().decode()):
                    return True
        except OSError:
            pass
        time.sleep(0.002)
    return False


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def main():
    pg, schema, n, addr, updates, inserts, deletes = sys.argv[1:8]
    n, updates, inserts, deletes = int(n), int(updates), int(inserts), int(deletes)
    psql = subprocess.Popen(["psql", pg, "-qAtX", "-v", "ON_ERROR_STOP=1"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, bufsize=1)
    psql.stdin.write(f"SET search_path TO {schema};\n")
    # Updates take the 5 newest rows, deletes the ones below them.
    plan = ["update"] * updates + ["insert"] * inserts + ["delete"] * deletes
    random.seed(24)
    random.shuffle(plan)
    lat = {"update": [], "insert": [], "delete": []}
    next_insert, next_delete = n + 1, n - 5
    for i, kind in enumerate(plan):
        if kind == "update":
            key, title = n - (i % 5), f"Cập nhật lần {i}"
            sql = f"UPDATE articles SET title = '{title}', updated = now() WHERE id = {key};"
            pred = lambda b, t=title: f"<title>{t}</title>" in b
        elif kind == "insert":
            key, title = next_insert, f"Bài mới {next_insert}"
            next_insert += 1
            sql = (f"INSERT INTO articles (id, title, date, summary, body, categories) VALUES ({key}, '{title}', "
                   f"timestamptz '2024-01-01 08:00+07' + {key} * interval '1 minute', 'Tóm tắt', 'Nội dung **mới**.', ARRAY['Kinh tế']);")
            pred = lambda b, t=title: f"<title>{t}</title>" in b
        else:
            key = next_delete
            next_delete -= 1
            gone = f"<title>Bài viết số {key}</title>"
            if not served(addr, lambda b: gone in b, timeout=5):
                sys.exit(f"row {key} is not in the feed before its delete")
            sql = f"DELETE FROM articles WHERE id = {key};"
            pred = lambda b, g=gone: g not in b
        t0 = time.monotonic()
        psql.stdin.write(sql + f"\n\\echo done {i}\n")
        if not served(addr, pred):
            sys.exit(f"change {i} ({kind} of {key}) not served after 30 s")
        lat[kind].append((time.monotonic() - t0) * 1000)
        if os.environ.get("BENCH_VERBOSE"):
            print(f"{time.strftime('%H:%M:%S')} {kind} {key}: {lat[kind][-1]:.0f} ms", flush=True)
        line = psql.stdout.readline().strip()
        if line != f"done {i}":
            sys.exit(f"psql: {line}")
        time.sleep(random.uniform(0, 0.2))
    psql.stdin.close()
    psql.wait()
    everything = [v for vs in lat.values() for v in vs]
    for kind, values in list(lat.items()) + [("all", everything)]:
        if values:
            print(f"commit → served, {kind:6} ({len(values):3}): p50 {pct(values, 50):6.0f} ms  "
                  f"p99 {pct(values, 99):6.0f} ms  max {max(values):6.0f} ms")


if __name__ == "__main__":
    main()
