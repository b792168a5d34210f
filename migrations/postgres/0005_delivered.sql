-- bantin state, version 5, PostgreSQL: as migrations/sqlite/0005_delivered.sql
-- (reports of kind 'delivered'; indexes for the bounce policy's look-ups).
ALTER TABLE bounce_reports DROP CONSTRAINT IF EXISTS bounce_reports_kind_check;
ALTER TABLE bounce_reports ADD CONSTRAINT bounce_reports_kind_check
    CHECK (kind IN ('hard', 'soft', 'delayed', 'delivered', 'complaint', 'ignored'));
CREATE INDEX bounce_reports_outbox ON bounce_reports (outbox_id);
CREATE INDEX outbox_subscriber ON outbox (subscriber_id);
