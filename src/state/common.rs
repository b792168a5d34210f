//! Bytes that many outbox messages share (`outbox_common`, migration 11):
//! written once with the first batch that needs them, read back with the
//! messages that name them, dropped once no body names them. What a body
//! holds then is a delta against them (`delta`); this
//! room turns it back into the message.

use super::statements::{list, sql, values, ROWS_PER_STATEMENT};
use super::{get, q, Result, StateError};
use crate::delta::{self, Common};
use std::collections::HashMap;

/// A stored body: the message itself, or a delta against the common bytes
/// its key names.
pub(super) struct StoredBody {
    pub bytes: Vec<u8>,
    pub common_key: Option<Vec<u8>>,
}

/// Writes each of `commons` not stored yet (a key names one content, so a
/// key that is there already holds these bytes).
pub(super) async fn write(tx: &mut sqlx::Transaction<'_, sqlx::Any>, commons: &[&Common]) -> Result<()> {
    let mut seen: Vec<&[u8; 16]> = Vec::with_capacity(commons.len());
    let distinct: Vec<&Common> = commons
        .iter()
        .filter(|c| {
            let new = !seen.contains(&c.key());
            seen.push(c.key());
            new
        })
        .copied()
        .collect();
    for chunk in distinct.chunks(ROWS_PER_STATEMENT) {
        let text = format!(
            "INSERT INTO outbox_common (common_key, bytes) VALUES {} ON CONFLICT (common_key) DO NOTHING",
            values(chunk.len(), 2, 1)
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
/// against the common bytes they name, read once per key; an error names
/// the outbox row.
pub(super) async fn open_all<'e, E>(executor: E, bodies: Vec<(i64, StoredBody)>) -> Result<HashMap<i64, Vec<u8>>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any> + Copy,
{
    let mut keys: Vec<&[u8]> = bodies.iter().filter_map(|(_, b)| b.common_key.as_deref()).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut commons: HashMap<Vec<u8>, Vec<u8>> = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        let text = format!("SELECT common_key, bytes FROM outbox_common WHERE common_key IN ({})", list(chunk.len(), 1));
        let mut query = sqlx::query(sql(text));
        for key in chunk {
            query = query.bind(*key);
        }
        for r in query.fetch_all(executor).await.map_err(q("reading shared message bytes"))? {
            commons.insert(get(&r, "common_key")?, get(&r, "bytes")?);
        }
    }
    bodies
        .into_iter()
        .map(|(id, body)| Ok((id, open(id, body, &commons)?)))
        .collect()
}

/// One stored body as the message it stands for.
fn open(id: i64, body: StoredBody, commons: &HashMap<Vec<u8>, Vec<u8>>) -> Result<Vec<u8>> {
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
