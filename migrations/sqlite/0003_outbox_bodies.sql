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
