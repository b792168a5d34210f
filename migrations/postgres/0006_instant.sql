-- bantin state, version 6, PostgreSQL: as migrations/sqlite/0006_instant.sql
-- (frequency 'instant'; an index for "anything first seen since?").
ALTER TABLE subscribers DROP CONSTRAINT IF EXISTS subscribers_frequency_check;
ALTER TABLE subscribers ADD CONSTRAINT subscribers_frequency_check
    CHECK (frequency IN ('daily', 'weekly', 'instant'));
CREATE INDEX articles_seen_at ON articles_seen (first_seen_at);
