//! Digest bookkeeping: when each article was first seen visible (the
//! measure of "new") and who gets digests. The planner (`digest::plan`,
//! pure) reads these; the digest commit that moves watermarks with their
//! outbox row is `outbox.rs`.

use super::{from_ms, get, q, subscriber_from_row, subscriber_sql, to_ms, Backend, Result, StateStore, Subscriber};
use bantin_core::article::Article;
use bantin_core::digest::seen::FirstSeen;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::any::AnyRow;
use std::sync::Arc;

/// The statuses that get digests, as an SQL list: the statuses of
/// [`super::Status::gets_digests`] (a test holds the two together). A macro, so
/// the digest queries are `concat!`ed constants.
macro_rules! digest_statuses {
    () => {
        "('active', 'bouncing')"
    };
}

/// [`digest_statuses!`] as a value.
pub const DIGEST_STATUSES: &str = digest_statuses!();

impl StateStore {
    /// Records `now` as the first-seen time of every id not seen before:
    /// `ROWS_PER_STATEMENT` rows a statement (a first start records every
    /// article of the store, and 100k single-row statements took seconds), in
    /// transactions of 2,048 rows, after each of which an SQLite connection
    /// gives back its page cache. Those pages are only written, and held
    /// until commit: one transaction for a 100k-article store held ~16 MB
    /// at the moment of `serve`'s start-up peak. Rows are independent (a
    /// repeat is ignored), so a failure half-way loses nothing.
    pub async fn note_articles_seen(&self, ids: &[&str], now: DateTime<Utc>) -> Result<()> {
        use super::statements::{sql, values, ROWS_PER_STATEMENT};
        use sqlx::Connection as _;
        const ROWS_PER_COMMIT: usize = 2048;
        // In id order: each transaction then adds to one end of the id
        // index instead of to a page of it per row, so SQLite's page
        // cache (`connect::CACHE_SIZE` a connection) does not fill with
        // the whole index between two shrinks (~8 MB of `serve`'s first
        // start at 100k, with 16 MiB caches).
        // `unseen` gives them sorted already: no copy then.
        let ids: std::borrow::Cow<[&str]> = if ids.is_sorted() {
            ids.into()
        } else {
            let mut sorted = ids.to_vec();
            sorted.sort_unstable();
            sorted.into()
        };
        let mut conn = self.pool.acquire().await.map_err(q("noting articles"))?;
        for batch in ids.chunks(ROWS_PER_COMMIT) {
            let mut tx = conn.begin().await.map_err(q("noting articles"))?;
            for chunk in batch.chunks(ROWS_PER_STATEMENT) {
                let text = format!(
                    "INSERT INTO articles_seen (article_id, first_seen_at) VALUES {} ON CONFLICT (article_id) DO NOTHING",
                    values(self.backend, chunk.len(), 2)
                );
                let mut query = sqlx::query(sql(text));
                for id in chunk {
                    query = query.bind(*id).bind(to_ms(now));
                }
                query.execute(&mut *tx).await.map_err(q("noting articles"))?;
            }
            tx.commit().await.map_err(q("noting articles"))?;
            if ids.len() > ROWS_PER_COMMIT {
                self.release_cache(&mut conn).await;
            }
        }
        Ok(())
    }

    /// Readies an SQLite connection for a pass over a whole table (read
    /// once, page by page): a page cache of 256 KiB, not the 2 MiB
    /// (`connect::CACHE_SIZE`) the pass would fill. The table of
    /// first-seen times is ~9 MB at 100k articles, read whole at every
    /// start and every planning: at a restart those pages were 3-4 MB over
    /// `serve`'s fresh-start peak. [`release_cache`](Self::release_cache)
    /// gives the cache back. Only about memory: a failure changes nothing.
    async fn scan_cache(&self, conn: &mut sqlx::AnyConnection) {
        /// 256 KiB: 64 pages, many times a B-tree's depth.
        const SCAN_CACHE: &str = "PRAGMA cache_size = -256";
        if self.backend == Backend::Sqlite {
            let _ = sqlx::query(SCAN_CACHE).execute(conn).await;
        }
    }

    /// Gives back an SQLite connection's page cache after a pass over a
    /// whole table, and sets its size back after [`scan_cache`](Self::scan_cache):
    /// the pool keeps its connections, and each keeps the pages it read,
    /// up to its cache's size, for as long as it lives.
    async fn release_cache(&self, conn: &mut sqlx::AnyConnection) {
        if self.backend == Backend::Sqlite {
            let _ = sqlx::query("PRAGMA shrink_memory").execute(&mut *conn).await;
            let _ = sqlx::query(super::connect::CACHE_SIZE).execute(conn).await;
        }
    }

    /// When each of `articles` was first seen visible, and the newest
    /// sighting of any. Rows are streamed against the articles sorted by
    /// id once ([`FirstSeen`], 12 bytes an article): a map of every row by id was
    /// ~15 MB of `serve`'s peak at 100k articles, at each planning (and
    /// `fetch_all` had held every decoded row beside it, ~20 MB more).
    pub async fn first_seen<'a>(&self, articles: &'a [Arc<Article>]) -> Result<FirstSeen<'a>> {
        let mut seen = FirstSeen::of(articles);
        self.scan_seen("SELECT article_id, first_seen_at FROM articles_seen", |row| {
            seen.record(get::<&str>(row, "article_id")?, from_ms(get::<i64>(row, "first_seen_at")?));
            Ok(true)
        })
        .await?;
        Ok(seen)
    }

    /// Which of `ids` have no first-seen time yet, in id order, each once
    /// (the order [`note_articles_seen`](Self::note_articles_seen) writes
    /// in). Streams the table's ids against `ids`, sorted in place, and a
    /// flag each, so nothing is held per stored row: a hash set of the ids
    /// was 17 bytes a bucket at a load of at most 7/8 (36 MB for 1M
    /// articles), this is 1 byte an id beside the list, which is taken
    /// and given back filtered rather than copied (a sorted copy and the
    /// answer were 16 bytes an id each, ~3 MB of the first start's peak at
    /// 100k articles).
    pub async fn unseen<'a>(&self, mut ids: Vec<&'a str>) -> Result<Vec<&'a str>> {
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(ids);
        }
        let mut seen = vec![false; ids.len()];
        let mut left = ids.len();
        self.scan_seen("SELECT article_id FROM articles_seen", |row| {
            let id: &str = get(row, "article_id")?;
            if let Ok(i) = ids.binary_search(&id)
                && !seen[i]
            {
                seen[i] = true;
                left -= 1;
            }
            Ok(left > 0)
        })
        .await?;
        let mut flags = seen.into_iter();
        ids.retain(|_| flags.next() == Some(false));
        Ok(ids)
    }

    /// Streams the rows of `sql` (a read of the first-seen table) through
    /// `each` until it answers false, on a connection whose page cache is
    /// held small for the pass ([`scan_cache`](Self::scan_cache)) and given
    /// back after it, whatever its outcome.
    async fn scan_seen(&self, sql: &'static str, mut each: impl FnMut(&AnyRow) -> Result<bool>) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(q("reading article first-seen times"))?;
        self.scan_cache(&mut conn).await;
        let read: Result<()> = async {
            let mut rows = sqlx::query(sql).fetch(&mut *conn);
            while let Some(row) = rows.try_next().await.map_err(q("reading article first-seen times"))? {
                if !each(&row)? {
                    break;
                }
            }
            Ok(())
        }
        .await;
        self.release_cache(&mut conn).await;
        read
    }

    /// Every subscriber who gets digests (active, bouncing: see
    /// [`DIGEST_STATUSES`]), by id. Streamed: at 100k subscribers the rows
    /// held at once were several times the subscribers made of them.
    pub async fn digest_recipients(&self) -> Result<Vec<Subscriber>> {
        let sql = subscriber_sql(concat!("WHERE status IN ", digest_statuses!(), " ORDER BY id"));
        let mut rows = sqlx::query(sql).fetch(&self.pool);
        let mut out = Vec::new();
        while let Some(row) = rows.try_next().await.map_err(q("reading subscribers for the digest"))? {
            out.push(subscriber_from_row(&row)?);
        }
        Ok(out)
    }

    /// The oldest watermark of an instant subscriber who gets mail (their
    /// previous mail, else when they joined), `None` when there is none:
    /// with [`StateStore::newest_seen`], the scheduler's cheap "is any
    /// instant mail due?" at each window (`newsletter::Digests::queue_instant`).
    pub async fn instant_watermark(&self) -> Result<Option<DateTime<Utc>>> {
        let row = sqlx::query(concat!(
            "SELECT MIN(COALESCE(last_digest_at, confirmed_at, created_at)) AS oldest FROM subscribers
             WHERE frequency = 'instant' AND status IN ",
            digest_statuses!()
        ))
        .fetch_one(&self.pool)
        .await
        .map_err(q("reading instant subscribers' watermarks"))?;
        Ok(get::<Option<i64>>(&row, "oldest")?.map(from_ms))
    }

    /// When the article seen last was first seen (`None`: none yet).
    pub async fn newest_seen(&self) -> Result<Option<DateTime<Utc>>> {
        let row = sqlx::query("SELECT MAX(first_seen_at) AS newest FROM articles_seen")
            .fetch_one(&self.pool)
            .await
            .map_err(q("reading article first-seen times"))?;
        Ok(get::<Option<i64>>(&row, "newest")?.map(from_ms))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    /// `unseen` takes the list and gives it back filtered in place: new
    /// ids only, each once, in id order, whatever order and repeats came in.
    #[tokio::test]
    async fn unseen_gives_each_new_id_once_in_id_order() {
        let (_dir, state) = crate::state::temp_sqlite().await;
        state.note_articles_seen(&["b", "d"], Utc::now()).await.unwrap();
        let fresh = state.unseen(vec!["e", "d", "a", "b", "e", "c"]).await.unwrap();
        assert_eq!(fresh, ["a", "c", "e"]);
        state.note_articles_seen(&fresh, Utc::now()).await.unwrap();
        assert!(state.unseen(vec!["a", "b", "c", "d", "e"]).await.unwrap().is_empty());
        assert_eq!(state.unseen(Vec::new()).await.unwrap(), Vec::<&str>::new());
    }

    /// `first_seen` answers for the articles it is given, and its newest
    /// sighting is of any article, one gone from the catalog included.
    #[tokio::test]
    async fn first_seen_reads_the_sightings_of_the_articles_given() {
        use bantin_core::digest::seen::Sightings;
        let (_dir, state) = crate::state::temp_sqlite().await;
        let (early, late) = (Utc::now() - chrono::Duration::hours(2), Utc::now() - chrono::Duration::hours(1));
        state.note_articles_seen(&["b"], early).await.unwrap();
        state.note_articles_seen(&["gone"], late).await.unwrap();
        let ctx = crate::store::Context::new(chrono_tz::Asia::Ho_Chi_Minh, url::Url::parse("https://yenbai.gov.vn/").unwrap(), "tin-tuc/{slug}");
        let article = |id: &str| {
            let text = format!("+++\nid = \"{id}\"\ntitle = \"Tin {id}\"\ndate = \"2026-11-01T08:00:00+07:00\"\n+++\n\nNội dung.\n");
            std::sync::Arc::new(crate::store::parse_bytes(text.as_bytes(), &format!("{id}.md"), &ctx).unwrap())
        };
        let articles = vec![article("c"), article("b"), article("a")];
        let seen = state.first_seen(&articles).await.unwrap();
        let ms = |t: chrono::DateTime<Utc>| t.timestamp_millis();
        assert_eq!(seen.at("b").map(ms), Some(ms(early)));
        assert_eq!((seen.at("a"), seen.at("c"), seen.at("gone")), (None, None, None));
        assert_eq!(seen.newest().map(ms), Some(ms(late)));
    }
}
