//! Small blocks kept in the metadata database (`blocks.data`), as Garage
//! keeps small objects inline in its metadata: a client sends the bytes of a
//! small file's block with its commit (`CommitRequest::inline`), and the
//! block lands with the file in one write transaction, one fsync for a whole
//! batch, instead of a request, a file, two fsyncs and a proof each. A row
//! with `data` has no object in the blob store; every reader of a block's
//! bytes asks here first ([`read`], [`read_many`]).

use std::collections::{BTreeMap, HashMap};

use drive_wire::{BlockHash, MAX_INLINE_BLOCK};

use super::metadata::{placeholders, value_rows, Pool, Tx, ROWS_PER_STATEMENT};

/// Stores verified `blocks` (hash -> bytes) inside `tx`, touched at `now`.
/// A block the store already holds keeps its object (only its bytes were
/// needed, as proof); one `--check` found damaged takes these bytes and is
/// whole again. A block the garbage collector is deleting is left alone: it
/// reads as missing, and the client sends it the usual way.
pub async fn store(tx: &mut Tx, blocks: &BTreeMap<BlockHash, Vec<u8>>, now: i64) -> Result<(), sqlx::Error> {
    let blocks: Vec<_> = blocks.iter().collect();
    for chunk in blocks.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO blocks (hash, size, created_at, touched_at, data) VALUES {} \
             ON CONFLICT (hash) DO UPDATE SET touched_at = excluded.touched_at, \
             data = CASE WHEN blocks.damaged_at IS NULL THEN blocks.data ELSE excluded.data END, \
             damaged_at = NULL \
             WHERE blocks.deleting_at IS NULL",
            value_rows(1, chunk.len(), 5)
        );
        let mut query = sqlx::query(&sql);
        for (hash, bytes) in chunk {
            query = query
                .bind(hash.to_string())
                .bind(bytes.len() as i64)
                .bind(now)
                .bind(now)
                .bind(bytes.to_vec());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The bytes of `hash` if the database holds them.
pub async fn read(db: &Pool, hash: BlockHash) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar("SELECT data FROM blocks WHERE hash = $1 AND data IS NOT NULL")
        .bind(hash.to_string())
        .fetch_optional(db)
        .await
}

/// The bytes the database holds of `blocks` (hash, size); only blocks small
/// enough to be inline are asked for.
pub async fn read_many(db: &Pool, blocks: &[(BlockHash, u64)]) -> Result<HashMap<BlockHash, Vec<u8>>, sqlx::Error> {
    let mut small: Vec<String> = blocks
        .iter()
        .filter(|(_, size)| *size <= MAX_INLINE_BLOCK)
        .map(|(hash, _)| hash.to_string())
        .collect();
    small.sort();
    small.dedup();
    let mut found = HashMap::new();
    for chunk in small.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT hash, data FROM blocks WHERE data IS NOT NULL AND hash IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query_as::<_, (String, Vec<u8>)>(&sql);
        for hash in chunk {
            query = query.bind(hash);
        }
        for (hash, data) in query.fetch_all(db).await? {
            if let Ok(hash) = hash.parse() {
                found.insert(hash, data);
            }
        }
    }
    Ok(found)
}
