//! Password hashing with argon2id (the crate's defaults follow OWASP's
//! recommendation), off the async runtime because it is deliberately slow.
//!
//! Each hash takes about 19 MiB and a CPU for tens of milliseconds, so only a
//! bounded number run at once ([`HashGate`], `--hash-concurrency`): a burst of
//! sign-ins queues instead of exhausting memory, and one that waits longer
//! than `--hash-queue-timeout` is answered 503 (see [`is_busy`]).

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use tokio::sync::Semaphore;

use crate::error::{ApiError, ApiResult};

pub const MIN_PASSWORD_CHARS: usize = 8;

/// What a request that waited too long for its turn is told.
const BUSY: &str = "too many passwords are being checked right now; try again shortly";

/// The `Retry-After` of a 503 for [`BUSY`], in seconds.
pub const BUSY_RETRY_AFTER_SECS: u64 = 2;

/// True for the error of a hash that waited too long for its turn.
pub fn is_busy(error: &ApiError) -> bool {
    matches!(error, ApiError::Unavailable(message) if message == BUSY)
}

/// At most `size` hashes at once; the others wait up to `wait` for a turn.
pub struct HashGate {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl HashGate {
    pub fn new(size: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(size.max(1))),
            wait,
        }
    }

    /// Runs `work` on a blocking thread once a turn is free. The turn is held
    /// by the work itself, so a request abandoned meanwhile (the client went
    /// away) still counts until its hash is done.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| ApiError::Unavailable(BUSY.to_owned()))?
            .map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(move || {
            let _turn = permit;
            work()
        })
        .await
        .map_err(ApiError::internal)
    }

    /// Turns free now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }
}

static GATE: OnceLock<HashGate> = OnceLock::new();

/// Sets the process's bound, once, before the first hash (later calls are
/// ignored). Without it, one turn per CPU and a 10 s wait.
pub fn configure(size: usize, wait: Duration) {
    let _ = GATE.set(HashGate::new(size, wait));
}

fn gate() -> &'static HashGate {
    GATE.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        HashGate::new(cpus, Duration::from_secs(10))
    })
}

pub async fn hash(password: String) -> ApiResult<String> {
    gate()
        .run(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| ApiError::internal(anyhow::anyhow!("hashing a password: {e}")))
        })
        .await?
}

/// Verifies against `stored`, or against a fixed dummy hash when there is no
/// such account, so that response times do not reveal which emails exist.
pub async fn verify(password: String, stored: Option<String>) -> ApiResult<bool> {
    gate()
        .run(move || {
            let known = stored.is_some();
            let stored = match stored {
                Some(stored) => stored,
                None => dummy_hash()?.to_owned(),
            };
            let parsed = PasswordHash::new(&stored)
                .map_err(|e| ApiError::internal(anyhow::anyhow!("a stored password hash is malformed: {e}")))?;
            let matches = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
            Ok(known && matches)
        })
        .await?
}

/// A hash of a random password nobody knows, made once, for unknown accounts.
fn dummy_hash() -> ApiResult<&'static str> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash);
    }
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default()
        .hash_password(salt.as_str().as_bytes(), &salt)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("hashing a password: {e}")))?
        .to_string();
    Ok(DUMMY.get_or_init(|| hash))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_burst_is_bounded_and_queues() {
        let gate = Arc::new(HashGate::new(2, Duration::from_secs(30)));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (gate, running, most) = (gate.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    gate.run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().expect("every request of the burst gets its turn");
        }
        assert_eq!(most.load(Ordering::SeqCst), 2, "never more than the bound at once");
        assert_eq!(gate.available(), 2);
    }

    #[tokio::test]
    async fn a_turn_that_does_not_come_is_busy() {
        let gate = Arc::new(HashGate::new(1, Duration::from_millis(50)));
        let (release, released) = std::sync::mpsc::channel::<()>();
        let holder = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.run(move || released.recv().ok()).await })
        };
        while gate.available() > 0 {
            tokio::task::yield_now().await;
        }
        let error = gate.run(|| ()).await.expect_err("no turn within the wait");
        assert!(is_busy(&error), "{error}");
        assert_eq!(error.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        gate.run(|| ()).await.expect("a turn once the first is done");
    }

    #[tokio::test]
    async fn hashes_verify() {
        let hashed = hash("correct horse".to_owned()).await.unwrap();
        assert!(verify("correct horse".to_owned(), Some(hashed.clone())).await.unwrap());
        assert!(!verify("wrong horse".to_owned(), Some(hashed)).await.unwrap());
        assert!(!verify("correct horse".to_owned(), None).await.unwrap());
    }
}
