-- no-transaction
-- bantin state, version 6: frequency 'instant' (issue 22: one mail per
-- digest.instant_window with the new articles). SQLite cannot change a
-- CHECK in place: subscribers is rebuilt by the documented procedure, as
-- in 0004 (foreign keys off, outside a transaction, then one
-- transaction), keeping every column, id and the AUTOINCREMENT counter,
-- so an id erased before is never given again. subscribers has no index
-- of its own besides the UNIQUE email, made with the table. The index on
-- articles_seen lets the scheduler ask "anything new since?" cheaply at
-- each instant window.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE subscribers_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT    NOT NULL UNIQUE,
    topics        TEXT    NOT NULL DEFAULT '',
    frequency     TEXT    NOT NULL CHECK (frequency IN ('daily', 'weekly', 'instant')),
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
INSERT INTO subscribers_new (id, email, topics, frequency, status, created_at, confirmed_at, bounce_count,
                             last_period, last_digest_at, last_bounce_reason, last_bounce_at)
SELECT id, email, topics, frequency, status, created_at, confirmed_at, bounce_count,
       last_period, last_digest_at, last_bounce_reason, last_bounce_at FROM subscribers;
INSERT INTO sqlite_sequence (name, seq)
SELECT 'subscribers_new', seq FROM sqlite_sequence WHERE name = 'subscribers'
AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'subscribers_new');
UPDATE sqlite_sequence SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'subscribers'), 0))
WHERE name = 'subscribers_new';
DROP TABLE subscribers;
ALTER TABLE subscribers_new RENAME TO subscribers;
CREATE INDEX articles_seen_at ON articles_seen (first_seen_at);
COMMIT;
PRAGMA foreign_keys = ON;
