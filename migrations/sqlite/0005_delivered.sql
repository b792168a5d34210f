-- bantin state, version 5: a delivery clears the count (issue 20). A
-- report with `Action: delivered` is recorded as kind 'delivered' (and a
-- recipient refused in bantin's own SMTP conversation as 'hard', with the
-- fingerprint `smtp/<outbox id>/0`). SQLite cannot change a CHECK in
-- place: bounce_reports is rebuilt (nothing refers to it), keeping every
-- id and the AUTOINCREMENT counter, in the migration's transaction.
-- Indexes for the statements that look for a subscriber's messages and
-- the reports about a message (the policy in src/state/bounces.rs; also
-- the ON DELETE SET NULL of outbox.subscriber_id when a subscriber goes).
CREATE TABLE bounce_reports_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at   BIGINT  NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('hard', 'soft', 'delayed', 'delivered', 'complaint', 'ignored')),
    subscriber_id INTEGER,
    outbox_id     INTEGER,
    reason        TEXT,
    fingerprint   TEXT    NOT NULL UNIQUE
);
INSERT INTO bounce_reports_new (id, received_at, kind, subscriber_id, outbox_id, reason, fingerprint)
SELECT id, received_at, kind, subscriber_id, outbox_id, reason, fingerprint FROM bounce_reports;
INSERT INTO sqlite_sequence (name, seq)
SELECT 'bounce_reports_new', seq FROM sqlite_sequence WHERE name = 'bounce_reports'
AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'bounce_reports_new');
UPDATE sqlite_sequence SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'bounce_reports'), 0))
WHERE name = 'bounce_reports_new';
DROP TABLE bounce_reports;
ALTER TABLE bounce_reports_new RENAME TO bounce_reports;
CREATE INDEX bounce_reports_subscriber ON bounce_reports (subscriber_id);
CREATE INDEX bounce_reports_outbox ON bounce_reports (outbox_id);
CREATE INDEX outbox_subscriber ON outbox (subscriber_id);
