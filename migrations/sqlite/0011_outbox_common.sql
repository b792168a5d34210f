-- bantin state, version 11: the bytes many messages share, stored once.
-- The digests of one shape (same period, topics and articles) differ only
-- in their headers and their subscriber's address and links; 10,000 of
-- them were 150 MB of bodies, and the WAL wrote each page twice. Now a
-- shape's encoded pieces are one `outbox_common` row (named by the first
-- 128 bits of their SHA-256), and a body that names one (`common_key`)
-- holds a delta against it (`bantin_core::delta`). The pieces were
-- rendered with stand-ins for the personal values: nothing about anyone.
CREATE TABLE outbox_common (
    common_key BLOB PRIMARY KEY,
    bytes      BLOB NOT NULL
);
ALTER TABLE outbox_bodies ADD COLUMN common_key BLOB REFERENCES outbox_common (common_key);
CREATE INDEX outbox_bodies_common ON outbox_bodies (common_key) WHERE common_key IS NOT NULL;
