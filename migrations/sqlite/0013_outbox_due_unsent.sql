-- bantin state, version 13: the due index holds the messages not sent yet.
-- `outbox_due` (status, next attempt) kept an entry for every message ever
-- sent, which nothing asks for: the claims, the sender's wake-up, the
-- admin's due and failed views and the /metrics counts read queued,
-- sending or failed rows (sent messages are found by id or subscriber).
-- A year of 10,000 daily digests left 3.65 million entries in it, and each
-- mark sent moved its message's entry among them. Now a mark only takes the
-- entry out, and the index is the size of the queue and of the failures.
-- Statements that read it name one of these statuses, so that the database
-- can tell the index holds their rows.
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at)
    WHERE status = 'queued' OR status = 'sending' OR status = 'failed';
