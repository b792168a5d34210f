-- The trigger as shipped before issue 24 (one notification per statement,
-- naming no row), kept for `bench/sql-serve.sh --old-trigger`: bantin reads
-- the whole table on each of its notifications. Install the current one,
-- docs/sql/postgres-notify-trigger.sql, instead.
--
-- bantin: tell `bantin serve` at once when the article table changes.
--
-- `bantin serve` with store.kind = "postgres" runs LISTEN bantin_articles;
-- this trigger sends NOTIFY bantin_articles after every statement that
-- inserts, updates, deletes or truncates rows, so a change reaches the feeds
-- within a second. Without it bantin still sees changes by polling the table
-- every store.poll (row count, newest `updated` column, highest key), and
-- reads the whole table every store.rescan.
--
-- Install it once, as the table's owner, in the table's schema:
--   psql -d portal -v ON_ERROR_STOP=1 -c 'SET search_path TO public' -f postgres-notify-trigger.sql
-- Replace `articles` below with your store.table if it is named otherwise.
-- Remove it with:
--   DROP TRIGGER bantin_notify ON articles; DROP FUNCTION bantin_notify_articles();

CREATE OR REPLACE FUNCTION bantin_notify_articles() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- The payload names the table; bantin reads the table again either way.
    PERFORM pg_notify('bantin_articles', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS bantin_notify ON articles;
CREATE TRIGGER bantin_notify
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON articles
    FOR EACH STATEMENT EXECUTE FUNCTION bantin_notify_articles();
