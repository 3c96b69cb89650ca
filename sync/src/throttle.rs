//! Upload and download speed limits: a token bucket per direction (governor),
//! one cell per KiB, holding at most one second's worth, that every block
//! waits on before it moves. Limits change at run time; a block already
//! waiting finishes under the limit it started with.

use std::{
    num::NonZeroU32,
    sync::{Arc, RwLock},
};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::progress::Direction;

const CELL: u64 = 1024;

/// Limits in KiB/s; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    pub up_kib: Option<NonZeroU32>,
    pub down_kib: Option<NonZeroU32>,
}

/// Both directions' buckets. Cheap to share; `Remote` holds one.
#[derive(Default)]
pub struct Throttle {
    limits: RwLock<Limits>,
    up: RwLock<Option<Bucket>>,
    down: RwLock<Option<Bucket>>,
}

/// A limiter and its capacity (one second's worth of cells), which governor
/// does not tell but enforces.
#[derive(Clone)]
struct Bucket {
    limiter: Arc<DefaultDirectRateLimiter>,
    capacity: NonZeroU32,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle").field("limits", &self.limits()).finish()
    }
}

fn bucket(limit: Option<NonZeroU32>) -> Option<Bucket> {
    limit.map(|kib| Bucket {
        limiter: Arc::new(RateLimiter::direct(Quota::per_second(kib))),
        capacity: kib,
    })
}

impl Throttle {
    pub fn new(limits: Limits) -> Self {
        let throttle = Self::default();
        throttle.set(limits);
        throttle
    }

    pub fn limits(&self) -> Limits {
        *self.limits.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set(&self, limits: Limits) {
        *self.limits.write().unwrap_or_else(|p| p.into_inner()) = limits;
        *self.up.write().unwrap_or_else(|p| p.into_inner()) = bucket(limits.up_kib);
        *self.down.write().unwrap_or_else(|p| p.into_inner()) = bucket(limits.down_kib);
    }

    /// Waits until `bytes` may move in `direction`.
    pub async fn wait(&self, direction: Direction, bytes: u64) {
        let slot = match direction {
            Direction::Up => &self.up,
            Direction::Down => &self.down,
        };
        let Some(bucket) = slot.read().unwrap_or_else(|p| p.into_inner()).clone() else {
            return;
        };
        // A block is bigger than the bucket (one second's worth): take it in
        // bucket-sized bites so any block passes, at the limit's pace.
        let mut cells = bytes.div_ceil(CELL);
        while cells > 0 {
            let bite = cells.min(u64::from(bucket.capacity.get()));
            cells -= bite;
            let bite = NonZeroU32::new(bite as u32).unwrap_or(NonZeroU32::MIN);
            // Cannot fail: a bite never exceeds the bucket's capacity.
            let _ = bucket.limiter.until_n_ready(bite).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn kib(n: u32) -> Option<NonZeroU32> {
        NonZeroU32::new(n)
    }

    #[tokio::test]
    async fn unlimited_does_not_wait() {
        let throttle = Throttle::default();
        let started = Instant::now();
        throttle.wait(Direction::Up, 100 << 20).await;
        assert!(started.elapsed() < Duration::from_millis(50));
    }

    #[tokio::test]
    async fn a_limit_holds_transfers_to_its_rate() {
        // 200 KiB/s: the first second's worth passes at once, the next 200
        // KiB take about one second.
        let throttle = Throttle::new(Limits {
            up_kib: kib(200),
            down_kib: None,
        });
        let started = Instant::now();
        throttle.wait(Direction::Up, 400 * 1024).await;
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(900), "took {elapsed:?}");
        assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
        // The other direction is not limited.
        let started = Instant::now();
        throttle.wait(Direction::Down, 10 << 20).await;
        assert!(started.elapsed() < Duration::from_millis(50));
    }

    #[tokio::test]
    async fn limits_change_at_run_time() {
        let throttle = Throttle::new(Limits {
            up_kib: None,
            down_kib: kib(100),
        });
        throttle.set(Limits::default());
        assert_eq!(throttle.limits(), Limits::default());
        let started = Instant::now();
        throttle.wait(Direction::Down, 1 << 20).await;
        assert!(started.elapsed() < Duration::from_millis(50));
    }
}
