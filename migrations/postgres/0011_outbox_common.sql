-- bantin state, version 11: the bytes many messages share, stored once;
-- see migrations/sqlite/0011_outbox_common.sql for why.
CREATE TABLE outbox_common (
    common_key BYTEA PRIMARY KEY,
    bytes      BYTEA NOT NULL
);
ALTER TABLE outbox_bodies ADD COLUMN common_key BYTEA REFERENCES outbox_common (common_key);
CREATE INDEX outbox_bodies_common ON outbox_bodies (common_key) WHERE common_key IS NOT NULL;
