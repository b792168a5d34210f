-- A year of mail in a SQLite state, for timing the state's periodic work
-- and erasures by hand (bench/HISTORY.md, stops 55 and 56): 10,000 active
-- subscribers, 3.66 million digests sent over 366 days with their audit
-- rows, bodies kept for the last day only (as retention.mail_bodies leaves
-- them). ~790 MB.
--
--   bantin --config C subscribers list      (creates and migrates the state)
--   sqlite3 STATE.db < bench/year-state.sql  (~40 s)
--
-- Subscriber N is reader{N}@example.org; its messages have its id and
-- address. Time the statements with the service's page cache
-- (`PRAGMA cache_size = -2048`), or time the binary itself, e.g.
-- `bantin --config C subscribers forget reader5001@example.org` on a copy.
PRAGMA journal_mode = WAL;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO subscribers (id, email, topics, frequency, status, created_at, confirmed_at)
SELECT i, 'reader' || i || '@example.org', '', 'daily', 'active', 1733000000000, 1733000000000 FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 3659999)
INSERT INTO outbox (id, message_id, kind, subscriber_id, period_key, recipient, status, attempts,
                    next_attempt_at, created_at, sent_at)
SELECT i + 1, '<' || i || '.d@yenbai.gov.vn>', 'digest', i % 10000 + 1, 'daily:' || (i / 10000),
       'reader' || (i % 10000 + 1) || '@example.org', 'sent', 1,
       1733000000000 + (i / 10000) * 86400000, 1733000000000 + (i / 10000) * 86400000,
       1733000000000 + (i / 10000) * 86400000 + 1000
FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3660000)
INSERT INTO send_audit (outbox_id, message_id, at, outcome)
SELECT i, '<' || (i - 1) || '.d@yenbai.gov.vn>', 1733000000000 + ((i - 1) / 10000) * 86400000 + 1000, 'sent' FROM n;
WITH RECURSIVE n(i) AS (SELECT 3650001 UNION ALL SELECT i + 1 FROM n WHERE i < 3660000)
INSERT INTO outbox_bodies (outbox_id, body) SELECT i, randomblob(2000) FROM n;
-- The console's counts by day (migration 14), as the marks keep them.
INSERT INTO day_counts (day, what, kind, n)
SELECT sent_at / 86400000, 'sent', kind, COUNT(*) FROM outbox WHERE sent_at IS NOT NULL GROUP BY sent_at / 86400000, kind;
COMMIT;
