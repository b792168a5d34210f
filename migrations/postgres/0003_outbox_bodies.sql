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

-- The audit row of a message marked sent is written by the database, in
-- the statement that marks it (as in SQLite's migration 3).
CREATE FUNCTION outbox_sent_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO send_audit (outbox_id, message_id, at, outcome, detail)
    VALUES (NEW.id, NEW.message_id, NEW.sent_at, 'sent', NULL);
    RETURN NULL;
END
$$;
CREATE TRIGGER outbox_sent_audit AFTER UPDATE OF status ON outbox
FOR EACH ROW WHEN (NEW.status = 'sent' AND OLD.status <> 'sent')
EXECUTE FUNCTION outbox_sent_audit();
