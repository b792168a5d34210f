-- bantin state, version 7, PostgreSQL: as migrations/sqlite/0007_digest_archive.sql
-- (the site-wide digest of each period that digests were committed for).
CREATE TABLE digest_archive (
    period_key  TEXT    PRIMARY KEY,
    frequency   TEXT    NOT NULL,
    period_end  BIGINT  NOT NULL,
    sent_at     BIGINT  NOT NULL,
    article_ids TEXT    NOT NULL
);
CREATE INDEX digest_archive_newest ON digest_archive (period_end, period_key);
