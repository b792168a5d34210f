-- bantin: tell `bantin serve` at once which article rows changed.
--
-- `bantin serve` with store.kind = "postgres" runs LISTEN bantin_articles;
-- this trigger sends NOTIFY bantin_articles for every row inserted,
-- updated or deleted, with a payload naming the row: `U:<key>` (inserted
-- or updated) or `D:<key>` (deleted; also the old key of an update that
-- changed the key), where <key> is the row's key column as text. bantin
-- then reads just those rows (WHERE key = ANY(...)), so a change costs
-- what changed, not the table, and reaches the feeds within tens of
-- milliseconds however large the table is. A TRUNCATE, or a key too long
-- for a notification (PostgreSQL's payload limit is 8000 bytes), sends an
-- empty payload, and bantin reads the whole table.
--
-- Notifications are sent at commit, once per distinct payload: a
-- transaction that changes a row twice names it once. Changing many rows
-- in one statement sends one notification per row (more than 500 at once
-- are read as a whole table). The trigger adds a little work to every
-- write (the row turned to JSON to find its key).
--
-- The previous version of this file (one notification per statement, with
-- the table's name as payload) still works: every notification then reads
-- the whole table (about 1.5 s at 100,000 rows), as bantin did before.
-- Without any trigger bantin sees changes by polling the table every
-- store.poll; every store.rescan it reads the whole table whatever it
-- was told.
--
-- Install (or upgrade) it once, as the table's owner, in the table's schema:
--   psql -d portal -v ON_ERROR_STOP=1 -c 'SET search_path TO public' -f postgres-notify-trigger.sql
-- Replace `articles` below with your store.table, and 'id' in the first
-- CREATE TRIGGER with your store.columns.id, if they are named otherwise.
-- Remove it with:
--   DROP TRIGGER bantin_notify ON articles; DROP TRIGGER bantin_notify_truncate ON articles;
--   DROP FUNCTION bantin_notify_articles();

CREATE OR REPLACE FUNCTION bantin_notify_articles() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    -- The key column, the trigger's argument.
    key_column text := coalesce(TG_ARGV[0], 'id');
    old_key text;
    new_key text;
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        -- TRUNCATE: no rows to name; bantin reads the whole table.
        PERFORM pg_notify('bantin_articles', '');
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        old_key := to_jsonb(OLD) ->> key_column;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_key := to_jsonb(NEW) ->> key_column;
    END IF;
    -- A key too long for a payload (or none): '' makes bantin read the table.
    IF TG_OP <> 'INSERT' AND old_key IS DISTINCT FROM new_key THEN
        PERFORM pg_notify('bantin_articles', CASE WHEN octet_length(old_key) < 7990 THEN 'D:' || old_key ELSE '' END);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM pg_notify('bantin_articles', CASE WHEN octet_length(new_key) < 7990 THEN 'U:' || new_key ELSE '' END);
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS bantin_notify ON articles;
DROP TRIGGER IF EXISTS bantin_notify_truncate ON articles;
CREATE TRIGGER bantin_notify
    AFTER INSERT OR UPDATE OR DELETE ON articles
    FOR EACH ROW EXECUTE FUNCTION bantin_notify_articles('id');
CREATE TRIGGER bantin_notify_truncate
    AFTER TRUNCATE ON articles
    FOR EACH STATEMENT EXECUTE FUNCTION bantin_notify_articles();
