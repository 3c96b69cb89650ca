//! The background side of profile photos: a worker task that makes the
//! 400x400 version of each uploaded photo, and deletes the photo objects that
//! nothing uses any more.
//!
//! Jobs live in the database (the `photos` row is the job, see the
//! migration), so none is lost when the server stops: the worker looks for
//! work at start, whenever an upload wakes it, and every [`POLL_INTERVAL`] (for
//! retries, for leases of workers that died, and for jobs queued by another
//! server instance, which cannot wake this one). Claims are leases taken with
//! one atomic UPDATE, and a result is stored only by the worker that still
//! holds the lease, so several instances can share one database.

use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore};
use tracing::Instrument;

use super::imaging::{self, PhotoError};
use crate::{
    state::AppState,
    storage::{metadata::now_ms, Db, PhotoKey, StorageError},
};

/// How long a claimed job is its worker's alone.
const LEASE: Duration = Duration::from_secs(120);
/// How often the worker looks for work nobody woke it for.
const POLL_INTERVAL: Duration = Duration::from_secs(15);
/// Tries before a job is given up as failed.
pub const MAX_ATTEMPTS: i64 = 3;
/// Photo objects deleted per round.
const GARBAGE_BATCH: i64 = 100;

/// The worker's doorbell, and the limit on decodes running at once (uploads
/// and jobs together), since each may take [`imaging::MAX_DECODE_BYTES`].
pub struct PhotoJobs {
    wake: Notify,
    pub(super) decoding: Semaphore,
}

impl Default for PhotoJobs {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            wake: Notify::new(),
            decoding: Semaphore::new(cores.clamp(1, 4)),
        }
    }
}

impl PhotoJobs {
    /// Tells the worker there is work (a job or garbage). Remembered if the
    /// worker is busy, so no wake-up is lost.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Starts this instance's worker.
pub fn spawn_worker(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(
        async move {
            tracing::info!("photo worker started");
            loop {
                loop {
                    match claim(&state.db, now_ms()).await {
                        Ok(Some(job)) => run(&state, job).await,
                        Ok(None) => break,
                        Err(err) => {
                            tracing::warn!(error = ?err, "claiming a photo job failed");
                            break;
                        }
                    }
                }
                loop {
                    match collect_garbage(&state).await {
                        Ok(listed) if listed == GARBAGE_BATCH as usize => {}
                        Ok(_) => break,
                        Err(err) => {
                            tracing::warn!(error = ?err, "deleting unused photo objects failed");
                            break;
                        }
                    }
                }
                tokio::select! {
                    () = state.photo_jobs.wake.notified() => {}
                    () = tokio::time::sleep(POLL_INTERVAL) => {}
                }
            }
        }
        .instrument(tracing::info_span!("photo_worker")),
    )
}

/// A claimed job.
#[derive(Debug, sqlx::FromRow)]
struct Job {
    user_id: i64,
    original_key: String,
    resized_key: String,
    attempts: i64,
    lease_token: String,
}

/// Takes the job that has waited longest, if any is due: a pending one, or a
/// processing one whose worker's lease ran out.
async fn claim(db: &Db, now: i64) -> Result<Option<Job>, sqlx::Error> {
    let token = uuid::Uuid::new_v4().to_string();
    let mut tx = db.begin().await?;
    // The state and time are checked again in the outer WHERE so that the
    // statement stays a compare-and-set on databases that run the subquery
    // before taking the row's lock.
    let job: Option<Job> = sqlx::query_as(
        "UPDATE photos SET state = 'processing', lease_token = $1, due_at = $2, attempts = attempts + 1, \
             updated_at = $3 \
         WHERE user_id = (SELECT user_id FROM photos WHERE state IN ('pending', 'processing') AND due_at <= $3 \
                          ORDER BY due_at LIMIT 1) \
           AND state IN ('pending', 'processing') AND due_at <= $3 \
         RETURNING user_id, original_key, resized_key, attempts, lease_token",
    )
    .bind(&token)
    .bind(now + LEASE.as_millis() as i64)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(job)
}

/// Why a job did not make its photo.
enum Failure {
    /// Will not get better by trying again.
    Permanent(String),
    /// May (storage or database trouble).
    Transient(anyhow::Error),
}

impl From<StorageError> for Failure {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::NotFound(_) => Failure::Permanent("the uploaded photo is missing from the store".into()),
            err => Failure::Transient(err.into()),
        }
    }
}

async fn run(state: &AppState, job: Job) {
    let span = tracing::info_span!("photo_job", user_id = job.user_id, attempt = job.attempts);
    async {
        let started = Instant::now();
        let outcome = if job.attempts > MAX_ATTEMPTS {
            // Its workers died with it every time (a crash, or killed for memory).
            Err(Failure::Permanent(format!("gave up after {MAX_ATTEMPTS} attempts")))
        } else {
            process(state, &job).await
        };
        let result = match outcome {
            Ok(content_type) => finish(state, &job, content_type).await.map(|stored| {
                if stored {
                    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "profile photo ready");
                    "ready"
                } else {
                    tracing::info!("the photo was replaced or taken over meanwhile: result dropped");
                    "superseded"
                }
            }),
            Err(Failure::Permanent(reason)) => {
                tracing::warn!(%reason, "profile photo failed");
                fail(state, &job, Fail::GiveUp(&reason)).await.map(|_| "failed")
            }
            Err(Failure::Transient(err)) if job.attempts >= MAX_ATTEMPTS => {
                tracing::warn!(error = ?err, "profile photo failed, no attempts left");
                fail(state, &job, Fail::GiveUp("the photo could not be processed"))
                    .await
                    .map(|_| "failed")
            }
            Err(Failure::Transient(err)) => {
                let retry_in = Duration::from_secs(5 << job.attempts.clamp(0, 6));
                tracing::warn!(error = ?err, retry_in_s = retry_in.as_secs(), "profile photo failed, will retry");
                fail(state, &job, Fail::RetryIn(retry_in)).await.map(|_| "retry")
            }
        };
        match result {
            Ok(outcome) => metrics::counter!("drive_photo_jobs_total", "outcome" => outcome).increment(1),
            // The lease runs out and the job is claimed again.
            Err(err) => tracing::warn!(error = ?err, "recording a photo job's outcome failed"),
        }
    }
    .instrument(span)
    .await
}

/// Makes and stores the served version; returns its content type.
async fn process(state: &AppState, job: &Job) -> Result<&'static str, Failure> {
    let original_key: PhotoKey = parse_key(&job.original_key)?;
    let resized_key: PhotoKey = parse_key(&job.resized_key)?;
    let original = state.blobs.read_photo(original_key).await?;
    let resized = {
        let _permit = state
            .photo_jobs
            .decoding
            .acquire()
            .await
            .map_err(|e| Failure::Transient(e.into()))?;
        tokio::task::spawn_blocking(move || imaging::resize(&original))
            .await
            .map_err(|e| Failure::Permanent(format!("processing the photo crashed: {e}")))?
    };
    let resized = resized.map_err(|err| match err {
        PhotoError::Encode(e) => Failure::Transient(e.into()),
        other => Failure::Permanent(other.to_string()),
    })?;
    let content_type = resized.content_type;
    // The same key on every attempt: a retry overwrites, never leaves a copy.
    state.blobs.put_photo(resized_key, resized.bytes).await?;
    Ok(content_type)
}

fn parse_key(raw: &str) -> Result<PhotoKey, Failure> {
    raw.parse()
        .map_err(|_| Failure::Permanent(format!("bad photo key {raw:?}")))
}

/// Marks the photo ready if this worker still holds its lease. Otherwise the
/// resized object is this worker's alone to clean up, unless the photo is
/// still the same (another worker took over an expired lease and wrote, or
/// will write, the same object).
async fn finish(state: &AppState, job: &Job, content_type: &str) -> anyhow::Result<bool> {
    let stored = store_result(&state.db, job, content_type, now_ms()).await?;
    if !stored {
        state.photo_jobs.wake();
    }
    Ok(stored)
}

async fn store_result(db: &Db, job: &Job, content_type: &str, now: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let stored = sqlx::query(
        "UPDATE photos SET state = 'ready', resized_type = $1, due_at = NULL, lease_token = NULL, error = NULL, \
             updated_at = $2 \
         WHERE user_id = $3 AND state = 'processing' AND lease_token = $4",
    )
    .bind(content_type)
    .bind(now)
    .bind(job.user_id)
    .bind(&job.lease_token)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !stored {
        sqlx::query(
            "INSERT INTO photo_garbage (key, due_at) SELECT $1, $2 \
             WHERE NOT EXISTS (SELECT 1 FROM photos WHERE resized_key = $1) \
             ON CONFLICT (key) DO UPDATE SET due_at = excluded.due_at",
        )
        .bind(&job.resized_key)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(stored)
}

enum Fail<'a> {
    /// For good, saying why.
    GiveUp(&'a str),
    /// Back to wait for another attempt.
    RetryIn(Duration),
}

/// Gives the job up or puts it back to wait for a retry, if this worker
/// still holds its lease.
async fn fail(state: &AppState, job: &Job, how: Fail<'_>) -> anyhow::Result<()> {
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    match how {
        Fail::GiveUp(reason) => sqlx::query(
            "UPDATE photos SET state = 'failed', error = $1, due_at = NULL, lease_token = NULL, updated_at = $2 \
             WHERE user_id = $3 AND state = 'processing' AND lease_token = $4",
        )
        .bind(reason),
        Fail::RetryIn(delay) => sqlx::query(
            "UPDATE photos SET state = 'pending', due_at = $1, lease_token = NULL, updated_at = $2 \
             WHERE user_id = $3 AND state = 'processing' AND lease_token = $4",
        )
        .bind(now + delay.as_millis() as i64),
    }
    .bind(now)
    .bind(job.user_id)
    .bind(&job.lease_token)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes the photo objects whose time has come (a batch of them); returns
/// how many were listed. An object still used by a photo is never deleted,
/// whatever the list says.
pub async fn collect_garbage(state: &AppState) -> anyhow::Result<usize> {
    let now = now_ms();
    let due: Vec<String> =
        sqlx::query_scalar("SELECT key FROM photo_garbage WHERE due_at <= $1 ORDER BY due_at LIMIT $2")
            .bind(now)
            .bind(GARBAGE_BATCH)
            .fetch_all(state.db.reader())
            .await?;
    let listed = due.len();
    let mut deleted = 0;
    for raw in due {
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM photos WHERE original_key = $1 OR resized_key = $1")
            .bind(&raw)
            .fetch_one(state.db.reader())
            .await?;
        if users > 0 {
            tracing::error!(key = %raw, "a photo object in use was listed as garbage: kept");
        } else if let Ok(key) = raw.parse::<PhotoKey>() {
            state.blobs.delete_photo(key).await?;
            deleted += 1;
        }
        let mut tx = state.db.begin().await?;
        sqlx::query("DELETE FROM photo_garbage WHERE key = $1 AND due_at <= $2")
            .bind(&raw)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    if deleted > 0 {
        tracing::debug!(deleted, "unused photo objects deleted");
    }
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn db_with_photo(dir: &std::path::Path) -> Db {
        let db = Db::open_sqlite(&dir.join("metadata.db")).await.unwrap();
        let mut tx = db.begin().await.unwrap();
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, quota_bytes, created_at) VALUES (1, 'a@b.c', '', 0, 0)",
        )
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO photos (user_id, original_key, original_format, original_width, original_height, \
                 original_size, original_sha256, resized_key, state, due_at, uploaded_at, updated_at) \
             VALUES (1, 'o', 'png', 1, 1, 1, '', 'r', 'pending', 1000, 0, 0)",
        )
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        db
    }

    async fn state_of(db: &Db) -> (String, Option<String>) {
        sqlx::query_as("SELECT state, resized_type FROM photos WHERE user_id = 1")
            .fetch_one(db.reader())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_job_is_claimed_once_until_its_lease_runs_out_and_stored_only_by_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let db = db_with_photo(dir.path()).await;
        assert!(claim(&db, 999).await.unwrap().is_none(), "not due yet");

        let first = claim(&db, 1000).await.unwrap().expect("due");
        assert_eq!((first.user_id, first.attempts), (1, 1));
        assert!(claim(&db, 1001).await.unwrap().is_none(), "leased");

        // The first worker stalls past its lease; a second one takes over.
        let lease_end = 1000 + LEASE.as_millis() as i64;
        assert!(claim(&db, lease_end - 1).await.unwrap().is_none());
        let second = claim(&db, lease_end).await.unwrap().expect("lease ran out");
        assert_eq!(second.attempts, 2);
        assert_ne!(second.lease_token, first.lease_token);

        // The stalled worker's result is dropped, without marking the object
        // (still the photo's) as garbage; the holder's is stored, once.
        assert!(!store_result(&db, &first, "image/jpeg", lease_end + 1).await.unwrap());
        assert_eq!(state_of(&db).await, ("processing".into(), None));
        assert!(store_result(&db, &second, "image/png", lease_end + 2).await.unwrap());
        assert!(!store_result(&db, &second, "image/jpeg", lease_end + 3).await.unwrap());
        assert_eq!(state_of(&db).await, ("ready".into(), Some("image/png".into())));
        let garbage: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM photo_garbage")
            .fetch_one(db.reader())
            .await
            .unwrap();
        assert_eq!(garbage, 0);
        assert!(claim(&db, i64::MAX / 2).await.unwrap().is_none(), "done");
    }

    #[tokio::test]
    async fn the_result_of_a_replaced_photo_becomes_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let db = db_with_photo(dir.path()).await;
        let job = claim(&db, 1000).await.unwrap().unwrap();
        // Replaced meanwhile (as an upload does: the row goes, a new one comes).
        let mut tx = db.begin().await.unwrap();
        sqlx::query("UPDATE photos SET original_key = 'o2', resized_key = 'r2', state = 'pending', lease_token = NULL")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(!store_result(&db, &job, "image/jpeg", 2000).await.unwrap());
        let garbage: Vec<String> = sqlx::query_scalar("SELECT key FROM photo_garbage")
            .fetch_all(db.reader())
            .await
            .unwrap();
        assert_eq!(garbage, vec!["r".to_owned()]);
        assert_eq!(state_of(&db).await.0, "pending");
    }
}
