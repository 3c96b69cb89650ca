//! Garbage collection of blocks: a block that no revision uses is deleted
//! from the blob store once nothing has touched it for the grace period.
//!
//! Why it is safe against uploads in flight:
//! - Asking to upload (`POST /uploads`) and committing touch every block of
//!   the request that the metadata knows (`blocks.touched_at`). A block is
//!   taken only if untouched for the grace period, so an upload has that long
//!   between being told "the server has it" and committing.
//! - The collector takes a block with one statement that checks "untouched,
//!   used by no revision" and marks the row `deleting_at`; only then does it
//!   delete the object, and the row last. Commits touch their blocks and read
//!   them again inside their transaction and treat a marked or vanished row as
//!   missing (400 `missing_blocks`: the client uploads them again), so a
//!   revision never refers to a block whose object is going.
//! - Objects that no row knows (blocks PUT but not yet committed, with S3,
//!   where uploads bypass the server) go only once their store timestamp is
//!   older than the grace period, and only after the collector inserted a
//!   marked row for them, which fails if an upload registered the block first.
//!
//! Upload reservations (see `uploads`) that expired are deleted by each pass:
//! the quota checks ignore them already, this only keeps the table small.
//!
//! One pass at a time across all instances sharing the database: the pass
//! runs under the `gc` lease (see [`Lease`]), renewed between batches; a pass
//! that lost its lease stops. Photo objects are not this module's business:
//! `photos::jobs` deletes them through the `photo_garbage` list.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use chrono::Utc;
use drive_wire::BlockHash;
use tracing::Instrument;

use crate::storage::{
    metadata::{now_ms, placeholders},
    BlobStore, Db,
};

/// Rows marked per statement, objects looked up per query.
const BATCH: usize = 500;
/// How long a claim or renewal of the lease lasts at least.
const LEASE_MIN: Duration = Duration::from_secs(600);
const LEASE_NAME: &str = "gc";

#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error("the metadata database failed")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error("another instance took over the gc lease")]
    LeaseLost,
}

/// What a pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GcReport {
    /// Blocks deleted whose rows no revision used.
    pub unused: usize,
    /// Objects deleted that no row knew (uploads never committed).
    pub unregistered: usize,
    /// Objects whose deletion failed; their rows stay marked for the next pass.
    pub failed: usize,
    /// Expired upload reservations deleted.
    pub expired_reservations: usize,
}

/// A named lease in the `leases` table, held by this process's token.
pub struct Lease {
    pub name: &'static str,
    holder: String,
}

impl Lease {
    pub fn gc() -> Self {
        Self {
            name: LEASE_NAME,
            holder: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Takes the lease until `until` (ms) if it is free (expired) or already ours.
    pub async fn claim(&self, db: &Db, now: i64, until: i64) -> Result<bool, sqlx::Error> {
        let mut tx = db.begin().await?;
        let claimed = sqlx::query_scalar::<_, String>(
            "UPDATE leases SET holder = $1, expires_at = $2 \
             WHERE name = $3 AND (expires_at <= $4 OR holder = $1) RETURNING name",
        )
        .bind(&self.holder)
        .bind(until)
        .bind(self.name)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        tx.commit().await?;
        Ok(claimed)
    }

    /// Makes sure the lease is still ours for at least `LEASE_MIN`; fails if
    /// it ran out and someone else may have it.
    async fn keep(&self, db: &Db) -> Result<(), GcError> {
        let now = now_ms();
        let until = now + LEASE_MIN.as_millis() as i64;
        let mut tx = db.begin().await?;
        let kept = sqlx::query(
            "UPDATE leases SET expires_at = CASE WHEN expires_at > $1 THEN expires_at ELSE $1 END \
             WHERE name = $2 AND holder = $3 AND expires_at > $4",
        )
        .bind(until)
        .bind(self.name)
        .bind(&self.holder)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        if kept {
            Ok(())
        } else {
            Err(GcError::LeaseLost)
        }
    }

    /// Gives the lease up at once (for a one-off pass).
    pub async fn release(&self, db: &Db) -> Result<(), sqlx::Error> {
        let mut tx = db.begin().await?;
        sqlx::query("UPDATE leases SET holder = NULL, expires_at = 0 WHERE name = $1 AND holder = $2")
            .bind(self.name)
            .bind(&self.holder)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }
}

/// Runs passes every `interval` in the background. The lease is taken for the
/// whole interval, so that with several instances one pass runs per interval.
pub fn spawn_worker(db: Db, blobs: std::sync::Arc<dyn BlobStore>, grace: Duration, interval: Duration) {
    tokio::spawn(
        async move {
            let lease = Lease::gc();
            tracing::info!(
                grace_s = grace.as_secs(),
                interval_s = interval.as_secs(),
                "gc worker started"
            );
            loop {
                tokio::time::sleep(interval).await;
                let now = now_ms();
                let until = now + interval.max(LEASE_MIN).as_millis() as i64;
                match lease.claim(&db, now, until).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::debug!("another instance holds the gc lease");
                        continue;
                    }
                    Err(err) => {
                        tracing::warn!(error = ?err, "claiming the gc lease failed");
                        continue;
                    }
                }
                if let Err(err) = run_pass(&db, blobs.as_ref(), grace, &lease).await {
                    tracing::warn!(error = ?err, "gc pass failed");
                }
            }
        }
        .instrument(tracing::info_span!("gc_worker")),
    );
}

/// One pass; the caller holds `lease`.
pub async fn run_pass(db: &Db, blobs: &dyn BlobStore, grace: Duration, lease: &Lease) -> Result<GcReport, GcError> {
    let span = tracing::info_span!("gc_pass");
    async {
        let started = Instant::now();
        let mut report = GcReport::default();
        let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        let cutoff = now_ms().saturating_sub(grace_ms);

        // Rows a pass marked before it stopped midway: their objects may be gone already.
        let leftovers: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT hash, {INLINE} FROM blocks WHERE deleting_at IS NOT NULL"
        ))
        .fetch_all(db.reader())
        .await?;
        report.unused += finish(db, blobs, &parse(leftovers), &mut report.failed).await?;

        loop {
            lease.keep(db).await?;
            let marked = mark_unused(db, cutoff, now_ms()).await?;
            report.unused += finish(db, blobs, &marked, &mut report.failed).await?;
            if marked.len() < BATCH {
                break;
            }
        }

        let old: Vec<_> = match chrono::Duration::from_std(grace)
            .ok()
            .and_then(|grace| Utc::now().checked_sub_signed(grace))
        {
            Some(cutoff_time) => blobs
                .list()
                .await?
                .into_iter()
                .filter(|object| object.modified < cutoff_time)
                .collect(),
            // A grace period longer than history: nothing is that old.
            None => Vec::new(),
        };
        for chunk in old.chunks(BATCH) {
            lease.keep(db).await?;
            let claimed = claim_unregistered(db, chunk.iter().map(|o| (o.hash, o.size))).await?;
            report.unregistered += finish(db, blobs, &claimed, &mut report.failed).await?;
        }

        report.expired_reservations = delete_expired_reservations(db, now_ms()).await?;

        let deleted = report.unused + report.unregistered;
        metrics::counter!("drive_gc_blocks_deleted_total").increment(deleted as u64);
        tracing::info!(
            unused = report.unused,
            unregistered = report.unregistered,
            failed = report.failed,
            expired_reservations = report.expired_reservations,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "gc pass done"
        );
        Ok(report)
    }
    .instrument(span)
    .await
}

/// Deletes the upload reservations expired at `now`; returns how many.
pub async fn delete_expired_reservations(db: &Db, now: i64) -> Result<usize, sqlx::Error> {
    let mut tx = db.begin().await?;
    let deleted = sqlx::query("DELETE FROM upload_reservations WHERE expires_at <= $1")
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(deleted as usize)
}

/// A block row marked for deletion.
struct Marked {
    hash: BlockHash,
    /// Its bytes are in the row (see `storage::inline`): there is no object
    /// to delete. (An object put for it by a race is no row's, and goes
    /// with the unregistered ones.)
    inline: bool,
}

/// Selects whether a block row holds its bytes, as 0 or 1 on both databases.
const INLINE: &str = "CAST(CASE WHEN data IS NULL THEN 0 ELSE 1 END AS BIGINT)";

fn parse(rows: Vec<(String, i64)>) -> Vec<Marked> {
    rows.into_iter()
        .filter_map(|(hash, inline)| {
            Some(Marked {
                hash: hash.parse().ok()?,
                inline: inline != 0,
            })
        })
        .collect()
}

/// Marks a batch of blocks untouched since `cutoff` and used by no revision.
/// The conditions are checked again on the rows themselves (not only in the
/// subquery), so the statement stays a compare-and-set on databases that
/// evaluate the subquery before locking the rows.
async fn mark_unused(db: &Db, cutoff: i64, now: i64) -> Result<Vec<Marked>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let marked: Vec<(String, i64)> = sqlx::query_as(&format!(
        "UPDATE blocks SET deleting_at = $1 \
         WHERE hash IN (SELECT b.hash FROM blocks b WHERE b.deleting_at IS NULL AND b.touched_at < $2 \
                          AND NOT EXISTS (SELECT 1 FROM revision_blocks rb WHERE rb.hash = b.hash) \
                        ORDER BY b.touched_at LIMIT $3) \
           AND deleting_at IS NULL AND touched_at < $2 \
           AND NOT EXISTS (SELECT 1 FROM revision_blocks rb WHERE rb.hash = blocks.hash) \
         RETURNING hash, {INLINE}"
    ))
    .bind(now)
    .bind(cutoff)
    .bind(BATCH as i64)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(parse(marked))
}

/// Inserts marked rows for objects that no row knows; returns those it
/// inserted. An object registered meanwhile by an upload keeps its row and is
/// left alone.
async fn claim_unregistered(
    db: &Db,
    objects: impl Iterator<Item = (BlockHash, u64)>,
) -> Result<Vec<Marked>, sqlx::Error> {
    let objects: Vec<(BlockHash, u64)> = objects.collect();
    let hashes: Vec<String> = objects.iter().map(|(h, _)| h.to_string()).collect();
    let sql = format!(
        "SELECT hash FROM blocks WHERE hash IN ({})",
        placeholders(1, hashes.len())
    );
    let mut query = sqlx::query_scalar::<_, String>(&sql);
    for hash in &hashes {
        query = query.bind(hash);
    }
    let known: HashSet<String> = query.fetch_all(db.reader()).await?.into_iter().collect();
    let now = now_ms();
    let mut claimed = Vec::new();
    let mut tx = db.begin().await?;
    for ((hash, size), name) in objects.into_iter().zip(hashes) {
        if known.contains(&name) {
            continue;
        }
        let inserted = sqlx::query(
            "INSERT INTO blocks (hash, size, created_at, touched_at, deleting_at) VALUES ($1, $2, $3, 0, $3) \
             ON CONFLICT (hash) DO NOTHING",
        )
        .bind(&name)
        .bind(size as i64)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            claimed.push(Marked { hash, inline: false });
        }
    }
    tx.commit().await?;
    Ok(claimed)
}

/// Deletes the objects of marked rows (inline rows have none), then the
/// rows of those deleted.
/// Returns how many went; failures are counted in `failed` and their rows
/// stay marked, to be finished by a later pass.
async fn finish(db: &Db, blobs: &dyn BlobStore, marked: &[Marked], failed: &mut usize) -> Result<usize, GcError> {
    let mut gone = Vec::with_capacity(marked.len());
    for &Marked { hash, inline } in marked {
        if inline {
            gone.push(hash.to_string());
            continue;
        }
        match blobs.delete(hash).await {
            Ok(()) => gone.push(hash.to_string()),
            Err(err) => {
                tracing::warn!(%hash, error = ?err, "deleting a block failed; left for the next pass");
                *failed += 1;
            }
        }
    }
    for chunk in gone.chunks(BATCH) {
        let sql = format!(
            "DELETE FROM blocks WHERE deleting_at IS NOT NULL AND hash IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for hash in chunk {
            query = query.bind(hash);
        }
        let mut tx = db.begin().await?;
        query.execute(&mut *tx).await?;
        tx.commit().await?;
    }
    if !gone.is_empty() {
        tracing::debug!(deleted = gone.len(), "blocks deleted");
    }
    Ok(gone.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_lease_has_one_holder_until_it_runs_out_or_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(&dir.path().join("metadata.db")).await.unwrap();
        let (a, b) = (Lease::gc(), Lease::gc());
        assert!(a.claim(&db, 1000, 2000).await.unwrap());
        assert!(!b.claim(&db, 1999, 5000).await.unwrap(), "held by a");
        assert!(a.claim(&db, 1999, 3000).await.unwrap(), "a may renew its own");
        assert!(b.claim(&db, 3000, 4000).await.unwrap(), "a's lease ran out");
        assert!(!a.claim(&db, 3500, 9000).await.unwrap());
        b.release(&db).await.unwrap();
        assert!(a.claim(&db, 3500, 9000).await.unwrap(), "released");
    }

    #[tokio::test]
    async fn expired_upload_reservations_are_deleted_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(&dir.path().join("metadata.db")).await.unwrap();
        let mut tx = db.begin().await.unwrap();
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, quota_bytes, created_at) VALUES (1, 'a@b.c', '', 0, 0)",
        )
        .execute(&mut *tx)
        .await
        .unwrap();
        for (hash, expires_at) in [("aa", 1000), ("bb", 2000), ("cc", 3000)] {
            sqlx::query(
                "INSERT INTO upload_reservations (user_id, hash, size, created_at, expires_at) VALUES (1, $1, 10, 0, $2)",
            )
            .bind(hash)
            .bind(expires_at)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        assert_eq!(delete_expired_reservations(&db, 2000).await.unwrap(), 2);
        let left: Vec<String> = sqlx::query_scalar("SELECT hash FROM upload_reservations")
            .fetch_all(db.reader())
            .await
            .unwrap();
        assert_eq!(left, ["cc"]);
    }
}
