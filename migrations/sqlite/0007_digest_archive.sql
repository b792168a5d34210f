-- bantin state, version 7: the digest archive (`digest.archive`). One row
-- per period that a run committed digests of: the period's site-wide
-- digest (`digest::seed::site_wide`), its article ids newest first as a
-- JSON array, written in the transaction of the period's first committed
-- digests. Nothing about a person: no address, no subscriber, no token.
-- (Version 6 is left to another change of issue 22.)
CREATE TABLE digest_archive (
    period_key  TEXT    PRIMARY KEY,
    frequency   TEXT    NOT NULL,
    period_end  BIGINT  NOT NULL,
    sent_at     BIGINT  NOT NULL,
    article_ids TEXT    NOT NULL
);
CREATE INDEX digest_archive_newest ON digest_archive (period_end, period_key);
