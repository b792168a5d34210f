#!/usr/bin/env python3
"""The cost of a sent mark's commit in a SQLite state, as the sender's
`Marker` commits them: three messages marked sent a statement, each its own
transaction (the audit row written by the trigger). bench/HISTORY.md,
stops 55 and 56. Run it on a copy: it adds 9,000 messages.

    bench/mark-cost.py STATE.db [LABEL]

Compare two schemas by alternating rounds on fresh copies."""
import sqlite3, statistics, sys, time

db = sys.argv[1]
c = sqlite3.connect(db, isolation_level=None)
for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "cache_size = -2048", "foreign_keys = ON"):
    c.execute(f"PRAGMA {pragma}")
first = c.execute("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()[0] + 1
n = 9000
now = int(time.time() * 1000)
c.execute("BEGIN")
c.executemany(
    "INSERT INTO outbox (id, message_id, kind, subscriber_id, period_key, recipient, status, next_attempt_at, created_at)"
    " VALUES (?, ?, 'digest', NULL, 'daily:x', ?, 'queued', ?, ?)",
    [(first + i, f"<x{first + i}@bench>", f"reader{i}@example.org", now, now) for i in range(n)])
c.execute("COMMIT")
c.execute("UPDATE outbox SET status = 'sending', lease_owner = 'bench', lease_until = ?, attempts = attempts + 1"
          " WHERE id >= ?", (now + 60000, first))
took = []
for g in range(first, first + n, 3):
    t = time.perf_counter()
    c.execute("UPDATE outbox SET status = 'sent', sent_at = ?, lease_owner = NULL, lease_until = NULL, last_error = NULL"
              " WHERE lease_owner = 'bench' AND id IN (?, ?, ?)", (now, g, g + 1, g + 2))
    took.append(time.perf_counter() - t)
label = sys.argv[2] if len(sys.argv) > 2 else db
print(f"{label}: a commit of three marks median {statistics.median(took) * 1e6:.1f} µs, "
      f"mean {statistics.mean(took) * 1e6:.1f} µs, {len(took)} commits")
