-- bantin state, version 14: the console's counts by day, kept as they
-- happen (the reasons: SQLite's migration 14). The function that writes a
-- sent message's audit row also adds one to its day's count, a trigger on
-- `bounce_reports` does the same for a report.
CREATE TABLE day_counts (
    -- UTC days since the Unix epoch (a time in ms divided by 86,400,000)
    day  BIGINT NOT NULL,
    what TEXT   NOT NULL CHECK (what IN ('sent', 'report')),
    -- the message's kind, or the report's
    kind TEXT   NOT NULL,
    n    BIGINT NOT NULL,
    PRIMARY KEY (day, what, kind)
);

-- Another instance may be marking messages sent while this one upgrades:
-- its writes wait until this transaction ends, so each message is counted
-- once, either by the counts below or by the new function.
LOCK TABLE outbox, bounce_reports IN SHARE MODE;

CREATE OR REPLACE FUNCTION outbox_sent_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO send_audit (outbox_id, message_id, at, outcome, detail)
    VALUES (NEW.id, NEW.message_id, NEW.sent_at, 'sent', NULL);
    INSERT INTO day_counts (day, what, kind, n) VALUES (NEW.sent_at / 86400000, 'sent', NEW.kind, 1)
    ON CONFLICT (day, what, kind) DO UPDATE SET n = day_counts.n + 1;
    RETURN NULL;
END
$$;

CREATE FUNCTION bounce_reports_day() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO day_counts (day, what, kind, n) VALUES (NEW.received_at / 86400000, 'report', NEW.kind, 1)
    ON CONFLICT (day, what, kind) DO UPDATE SET n = day_counts.n + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER bounce_reports_day AFTER INSERT ON bounce_reports
FOR EACH ROW EXECUTE FUNCTION bounce_reports_day();

INSERT INTO day_counts (day, what, kind, n)
SELECT sent_at / 86400000, 'sent', kind, COUNT(*) FROM outbox WHERE sent_at IS NOT NULL GROUP BY sent_at / 86400000, kind;
INSERT INTO day_counts (day, what, kind, n)
SELECT received_at / 86400000, 'report', kind, COUNT(*) FROM bounce_reports GROUP BY received_at / 86400000, kind;
