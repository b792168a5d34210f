-- bantin state, version 14: the console's counts by day, kept as they
-- happen. The admin dashboard and `GET /admin/api/stats` show the mail sent
-- and the reports received each UTC day of the last 14 or 30 days; counting
-- them read every outbox row and every report (no index on `sent_at` or
-- `received_at`: 0.5 s with a year of 10,000 daily digests, at each load of
-- the console). Now the trigger that writes a sent message's audit row also
-- adds one to its day's count, a trigger on `bounce_reports` does the same
-- for a report, and the console reads a row a day and kind. An index on the
-- times would have cost every mark an entry; this costs it a row that the
-- day's marks all update. The counts are of what happened: an erasure
-- leaves them, as it leaves the audit's outcomes (nothing in them is about
-- anyone).
CREATE TABLE day_counts (
    -- UTC days since the Unix epoch (a time in ms divided by 86,400,000)
    day  BIGINT NOT NULL,
    what TEXT   NOT NULL CHECK (what IN ('sent', 'report')),
    -- the message's kind, or the report's
    kind TEXT   NOT NULL,
    n    BIGINT NOT NULL,
    PRIMARY KEY (day, what, kind)
) WITHOUT ROWID;

DROP TRIGGER outbox_sent_audit;
CREATE TRIGGER outbox_sent_audit AFTER UPDATE OF status ON outbox
WHEN NEW.status = 'sent' AND OLD.status <> 'sent'
BEGIN
    INSERT INTO send_audit (outbox_id, message_id, at, outcome, detail)
    VALUES (NEW.id, NEW.message_id, NEW.sent_at, 'sent', NULL);
    INSERT INTO day_counts (day, what, kind, n) VALUES (NEW.sent_at / 86400000, 'sent', NEW.kind, 1)
    ON CONFLICT (day, what, kind) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER bounce_reports_day AFTER INSERT ON bounce_reports
BEGIN
    INSERT INTO day_counts (day, what, kind, n) VALUES (NEW.received_at / 86400000, 'report', NEW.kind, 1)
    ON CONFLICT (day, what, kind) DO UPDATE SET n = n + 1;
END;

-- What was counted by reading the tables until now (this migration's
-- transaction holds SQLite's only writer: nothing is marked meanwhile).
INSERT INTO day_counts (day, what, kind, n)
SELECT sent_at / 86400000, 'sent', kind, COUNT(*) FROM outbox WHERE sent_at IS NOT NULL GROUP BY sent_at / 86400000, kind;
INSERT INTO day_counts (day, what, kind, n)
SELECT received_at / 86400000, 'report', kind, COUNT(*) FROM bounce_reports GROUP BY received_at / 86400000, kind;
