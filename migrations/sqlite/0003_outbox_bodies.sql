-- bantin state, version 3: message bodies in their own table. A claim, a
-- retry and a mark sent update the outbox row (status, lease, times); with
-- the ~11 KB body inside that row every such UPDATE rewrote the body's
-- overflow pages into the WAL (and the checkpoint wrote them again). The
-- body is written once, with its row, and only read after that.
CREATE TABLE outbox_bodies (
    outbox_id INTEGER PRIMARY KEY REFERENCES outbox(id) ON DELETE CASCADE,
    body      BLOB    NOT NULL
);
INSERT INTO outbox_bodies (outbox_id, body) SELECT id, body FROM outbox;
ALTER TABLE outbox DROP COLUMN body;

-- The audit row of a message marked sent is written by the database, in
-- the statement that marks it: the mark is then one UPDATE (one round
-- trip, its own transaction), not BEGIN, UPDATE, INSERT, COMMIT.
CREATE TRIGGER outbox_sent_audit AFTER UPDATE OF status ON outbox
WHEN NEW.status = 'sent' AND OLD.status <> 'sent'
BEGIN
    INSERT INTO send_audit (outbox_id, message_id, at, outcome, detail)
    VALUES (NEW.id, NEW.message_id, NEW.sent_at, 'sent', NULL);
END;
