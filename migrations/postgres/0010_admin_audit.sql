-- Every change made through the admin API: who (the token's name), what,
-- to whom (a subscriber's id, never their address: `subscribers forget`
-- must leave nothing of a person behind), and when.
CREATE TABLE admin_audit (
    id         BIGSERIAL PRIMARY KEY,
    at         BIGINT  NOT NULL,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    subscriber_id BIGINT,
    detail     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX admin_audit_at ON admin_audit (at);
