-- bantin state, version 1, PostgreSQL: the same tables, columns and
-- constraints as migrations/sqlite/0001_subscribers_outbox.sql. Integers are
-- BIGINT throughout (SQLite's INTEGER is 64-bit, and one Rust type, i64,
-- reads both); BIGSERIAL stands for INTEGER PRIMARY KEY AUTOINCREMENT and
-- BYTEA for BLOB. Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE subscribers (
    id            BIGSERIAL PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    -- comma-separated category slugs; empty = the whole site
    topics        TEXT    NOT NULL DEFAULT '',
    frequency     TEXT    NOT NULL CHECK (frequency IN ('daily', 'weekly')),
    status        TEXT    NOT NULL CHECK (status IN ('pending', 'active', 'unsubscribed', 'bouncing')),
    created_at    BIGINT  NOT NULL,
    confirmed_at  BIGINT,
    bounce_count  BIGINT  NOT NULL DEFAULT 0,
    -- digest watermark: the last period planned for this subscriber and
    -- the instant it was planned (articles first seen after it are new)
    last_period   TEXT,
    last_digest_at BIGINT
);

-- When bantin first saw each article visible (published, not a draft).
CREATE TABLE articles_seen (
    article_id    TEXT    PRIMARY KEY,
    first_seen_at BIGINT  NOT NULL
);

-- Which articles each subscriber has already been sent (or told about).
CREATE TABLE sent_articles (
    subscriber_id BIGINT  NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    article_id    TEXT    NOT NULL,
    period_key    TEXT    NOT NULL,
    PRIMARY KEY (subscriber_id, article_id)
);

CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    message_id      TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL CHECK (kind IN ('digest', 'confirm')),
    subscriber_id   BIGINT  REFERENCES subscribers(id) ON DELETE SET NULL,
    period_key      TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    body            BYTEA   NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    last_error      TEXT,
    lease_owner     TEXT,
    lease_until     BIGINT,
    created_at      BIGINT  NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

CREATE TABLE send_audit (
    id          BIGSERIAL PRIMARY KEY,
    outbox_id   BIGINT  NOT NULL,
    message_id  TEXT    NOT NULL,
    at          BIGINT  NOT NULL,
    outcome     TEXT    NOT NULL,
    detail      TEXT
);
