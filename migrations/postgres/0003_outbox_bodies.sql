-- bantin state, version 3: message bodies in their own table, as
-- migrations/sqlite/0003_outbox_bodies.sql (there the reason is SQLite's
-- WAL; here an UPDATE of the outbox row wrote a new row version with its
-- TOASTed body pointer kept, but the claim and the mark still touch
-- smaller tuples, and both backends keep the same tables).
CREATE TABLE outbox_bodies (
    outbox_id BIGINT PRIMARY KEY REFERENCES outbox(id) ON DELETE CASCADE,
    body      BYTEA  NOT NULL
);
INSERT INTO outbox_bodies (outbox_id, body) SELECT id, body FROM outbox;
ALTER TABLE outbox DROP COLUMN body;
