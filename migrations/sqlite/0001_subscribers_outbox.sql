-- bantin state, version 1: subscribers, digest bookkeeping, outbox, audit.
-- Times are integer milliseconds since the Unix epoch (UTC): the same
-- column type (BIGINT) works on PostgreSQL, and ordering is exact.

CREATE TABLE subscribers (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT    NOT NULL UNIQUE,
    -- comma-separated category slugs; empty = the whole site
    topics        TEXT    NOT NULL DEFAULT '',
    frequency     TEXT    NOT NULL CHECK (frequency IN ('daily', 'weekly')),
    status        TEXT    NOT NULL CHECK (status IN ('pending', 'active', 'unsubscribed', 'bouncing')),
    created_at    BIGINT  NOT NULL,
    confirmed_at  BIGINT,
    bounce_count  INTEGER NOT NULL DEFAULT 0,
    -- digest watermark: the last period planned for this subscriber and
    -- the instant it was planned (articles first seen after it are new)
    last_period   TEXT,
    last_digest_at BIGINT
);

-- When bantin first saw each article visible (published, not a draft).
-- "New" for a digest is measured on this, not on the article's own date,
-- so an article that reaches the store late with an old date is still new.
CREATE TABLE articles_seen (
    article_id    TEXT    PRIMARY KEY,
    first_seen_at BIGINT  NOT NULL
);

-- Which articles each subscriber has already been sent (or told about).
CREATE TABLE sent_articles (
    subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    article_id    TEXT    NOT NULL,
    period_key    TEXT    NOT NULL,
    PRIMARY KEY (subscriber_id, article_id)
);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id      TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL CHECK (kind IN ('digest', 'confirm')),
    subscriber_id   INTEGER REFERENCES subscribers(id) ON DELETE SET NULL,
    period_key      TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    body            BLOB    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    last_error      TEXT,
    lease_owner     TEXT,
    lease_until     BIGINT,
    created_at      BIGINT  NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

CREATE TABLE send_audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id   INTEGER NOT NULL,
    message_id  TEXT    NOT NULL,
    at          BIGINT  NOT NULL,
    outcome     TEXT    NOT NULL,
    detail      TEXT
);
