//! Bytes that many outbox messages share (`outbox_common`, migration 11):
//! written once with the first batch that needs them, read back with the
//! messages that name them (kept a while in memory: [`Recent`]), dropped
//! once no body names them. What a body holds then is a delta against them
//! (`delta`); this room turns it back into the message.

use super::statements::{list, sql, values, ROWS_PER_STATEMENT};
use super::{get, q, Backend, Result, StateError};
use crate::delta::{self, Common};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The most bytes [`Recent`] keeps: a day's shapes (tens of ~30 KB pieces)
/// fit many times over.
const RECENT_BYTES: usize = 8 << 20;

/// Shared bytes read before, by key, so the sender's claims (one every 64
/// messages, all naming the same few shapes) read each from the database
/// once. A key names one content (the first bytes of its SHA-256), so what
/// was read under it stays right even after the row is dropped. Past
/// [`RECENT_BYTES`] it starts over.
#[derive(Debug, Default)]
pub(super) struct Recent(Mutex<HashMap<Vec<u8>, Arc<[u8]>>>);

impl Recent {
    fn get(&self, key: &[u8]) -> Option<Arc<[u8]>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).get(key).cloned()
    }

    fn keep(&self, key: Vec<u8>, bytes: Arc<[u8]>) {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let size: usize = kept.values().map(|b| b.len()).sum();
        if size + bytes.len() > RECENT_BYTES {
            kept.clear();
        }
        kept.insert(key, bytes);
    }
}

/// A stored body: the message itself, or a delta against the common bytes
/// its key names.
pub(super) struct StoredBody {
    pub bytes: Vec<u8>,
    pub common_key: Option<Vec<u8>>,
}

/// Writes each of `commons` not stored yet (a key names one content, so a
/// key that is there already holds these bytes).
pub(super) async fn write(tx: &mut sqlx::Transaction<'_, sqlx::Any>, backend: Backend, commons: &[&Common]) -> Result<()> {
    let mut distinct = commons.to_vec();
    distinct.sort_unstable_by_key(|c| c.key());
    distinct.dedup_by_key(|c| c.key());
    for chunk in distinct.chunks(ROWS_PER_STATEMENT) {
        let text = format!(
            "INSERT INTO outbox_common (common_key, bytes) VALUES {} ON CONFLICT (common_key) DO NOTHING",
            values(backend, chunk.len(), 2)
        );
        let mut query = sqlx::query(sql(text));
        for c in chunk {
            query = query.bind(c.key().as_slice()).bind(c.bytes());
        }
        query.execute(&mut **tx).await.map_err(q("writing shared message bytes"))?;
    }
    Ok(())
}

/// The messages of `bodies` (by outbox id), each whole: deltas read back
/// against the common bytes they name (from `recent`, or read once per key
/// and kept there); an error names the outbox row.
pub(super) async fn open_all<'e, E>(executor: E, recent: &Recent, bodies: Vec<(i64, StoredBody)>) -> Result<HashMap<i64, Vec<u8>>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any> + Copy,
{
    let mut keys: Vec<&[u8]> = bodies.iter().filter_map(|(_, b)| b.common_key.as_deref()).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut commons: HashMap<Vec<u8>, Arc<[u8]>> = HashMap::with_capacity(keys.len());
    keys.retain(|key| match recent.get(key) {
        Some(bytes) => {
            commons.insert(key.to_vec(), bytes);
            false
        }
        None => true,
    });
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        let text = format!("SELECT common_key, bytes FROM outbox_common WHERE common_key IN ({})", list(chunk.len(), 1));
        let mut query = sqlx::query(sql(text));
        for key in chunk {
            query = query.bind(*key);
        }
        for r in query.fetch_all(executor).await.map_err(q("reading shared message bytes"))? {
            let (key, bytes): (Vec<u8>, Arc<[u8]>) = (get(&r, "common_key")?, get::<Vec<u8>>(&r, "bytes")?.into());
            recent.keep(key.clone(), Arc::clone(&bytes));
            commons.insert(key, bytes);
        }
    }
    bodies
        .into_iter()
        .map(|(id, body)| Ok((id, open(id, body, &commons)?)))
        .collect()
}

/// One stored body as the message it stands for.
fn open(id: i64, body: StoredBody, commons: &HashMap<Vec<u8>, Arc<[u8]>>) -> Result<Vec<u8>> {
    let Some(key) = body.common_key else { return Ok(body.bytes) };
    let shared = commons.get(&key).ok_or_else(|| {
        StateError::Corrupt(format!("outbox message {id}: its shared bytes are missing from outbox_common"))
    })?;
    delta::decode(&body.bytes, shared)
        .map_err(|e| StateError::Corrupt(format!("outbox message {id}: its stored body cannot be read back: {e}")))
}

/// Deletes the common bytes no body names any more (after bodies were
/// dropped or a person erased); how many.
pub(super) async fn drop_unused(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM outbox_common WHERE NOT EXISTS (
            SELECT 1 FROM outbox_bodies b WHERE b.common_key = outbox_common.common_key)",
    )
    .execute(&mut **tx)
    .await
    .map_err(q("dropping unused shared message bytes"))?
    .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Review of stop 30: each claim of 64 rows read its shapes' shared
    /// bytes again (~160 reads of the same rows in a 10k run).
    #[tokio::test]
    async fn shared_bytes_are_read_once_then_come_from_recent() {
        let (_dir, state) = crate::state::temp_sqlite().await;
        let piece = "Tin nổi bật của tuần: ".repeat(8);
        let common = Common::new([piece.as_bytes()]);
        let message = format!("To: <a@example.org>\r\n\r\n{piece}\r\n").into_bytes();
        let delta = common.delta(&message).unwrap();
        let mut tx = state.pool.begin().await.unwrap();
        write(&mut tx, state.backend, &[&common, &common]).await.unwrap();
        tx.commit().await.unwrap();
        let body = || vec![(7, StoredBody { bytes: delta.clone(), common_key: Some(common.key().to_vec()) })];

        let recent = Recent::default();
        assert_eq!(open_all(&state.pool, &recent, body()).await.unwrap()[&7], message);
        sqlx::query("DELETE FROM outbox_common").execute(&state.pool).await.unwrap();
        // The row is gone, the bytes it held are not: read from `recent`.
        assert_eq!(open_all(&state.pool, &recent, body()).await.unwrap()[&7], message);
        // Without them, a missing row is an error that names the message.
        let err = open_all(&state.pool, &Recent::default(), body()).await.unwrap_err();
        assert!(err.to_string().contains("outbox message 7"), "{err}");
    }

    #[test]
    fn recent_starts_over_past_its_bound() {
        let recent = Recent::default();
        let half: Arc<[u8]> = vec![0; RECENT_BYTES / 2].into();
        recent.keep(b"a".to_vec(), Arc::clone(&half));
        recent.keep(b"b".to_vec(), Arc::clone(&half));
        assert!(recent.get(b"a").is_some() && recent.get(b"b").is_some());
        recent.keep(b"c".to_vec(), vec![1].into());
        assert!(recent.get(b"a").is_none() && recent.get(b"b").is_none());
        assert_eq!(recent.get(b"c").as_deref(), Some(&[1u8][..]));
    }
}
