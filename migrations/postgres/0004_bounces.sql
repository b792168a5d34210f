-- bantin state, version 4, PostgreSQL: as migrations/sqlite/0004_bounces.sql
-- (two statuses more, the last bounce's reason and time, the reports).
ALTER TABLE subscribers DROP CONSTRAINT IF EXISTS subscribers_status_check;
ALTER TABLE subscribers ADD CONSTRAINT subscribers_status_check
    CHECK (status IN ('pending', 'active', 'unsubscribed', 'bouncing', 'suppressed', 'complained'));
ALTER TABLE subscribers ADD COLUMN last_bounce_reason TEXT;
ALTER TABLE subscribers ADD COLUMN last_bounce_at BIGINT;

CREATE TABLE bounce_reports (
    id            BIGSERIAL PRIMARY KEY,
    received_at   BIGINT  NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('hard', 'soft', 'delayed', 'complaint', 'ignored')),
    subscriber_id BIGINT,
    outbox_id     BIGINT,
    reason        TEXT,
    fingerprint   TEXT    NOT NULL UNIQUE
);
CREATE INDEX bounce_reports_subscriber ON bounce_reports (subscriber_id);
