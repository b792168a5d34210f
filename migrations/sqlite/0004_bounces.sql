-- no-transaction
-- bantin state, version 4: bounces and complaints received later (issue
-- 20). Two statuses more (suppressed: a hard bounce; complained: an abuse
-- report), the last bounce's reason and time, and one row per report
-- received. SQLite cannot change a CHECK in place: the table is rebuilt by
-- the documented procedure (foreign keys off, outside a transaction, then
-- one transaction), keeping every id and the AUTOINCREMENT counter, so an
-- id erased before is never given again.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE subscribers_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT    NOT NULL UNIQUE,
    topics        TEXT    NOT NULL DEFAULT '',
    frequency     TEXT    NOT NULL CHECK (frequency IN ('daily', 'weekly')),
    status        TEXT    NOT NULL CHECK (status IN ('pending', 'active', 'unsubscribed', 'bouncing', 'suppressed', 'complained')),
    created_at    BIGINT  NOT NULL,
    confirmed_at  BIGINT,
    -- failures in a row: synchronous 5xx and soft bounces (4.x.x)
    bounce_count  INTEGER NOT NULL DEFAULT 0,
    last_period   TEXT,
    last_digest_at BIGINT,
    last_bounce_reason TEXT,
    last_bounce_at BIGINT
);
INSERT INTO subscribers_new (id, email, topics, frequency, status, created_at, confirmed_at, bounce_count, last_period, last_digest_at)
SELECT id, email, topics, frequency, status, created_at, confirmed_at, bounce_count, last_period, last_digest_at FROM subscribers;
INSERT INTO sqlite_sequence (name, seq)
SELECT 'subscribers_new', seq FROM sqlite_sequence WHERE name = 'subscribers'
AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'subscribers_new');
UPDATE sqlite_sequence SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'subscribers'), 0))
WHERE name = 'subscribers_new';
DROP TABLE subscribers;
ALTER TABLE subscribers_new RENAME TO subscribers;

-- One row per recipient of each report received. `fingerprint` (SHA-256
-- of the whole message, hex, and the recipient's position in it) makes
-- the same message received twice, by any instance, count once. No
-- foreign keys: `subscribers forget` deletes a person's rows here itself.
CREATE TABLE bounce_reports (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at   BIGINT  NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('hard', 'soft', 'delayed', 'complaint', 'ignored')),
    subscriber_id INTEGER,
    outbox_id     INTEGER,
    reason        TEXT,
    fingerprint   TEXT    NOT NULL UNIQUE
);
CREATE INDEX bounce_reports_subscriber ON bounce_reports (subscriber_id);
COMMIT;
PRAGMA foreign_keys = ON;
