//! Login attempts are limited per account (against guessing one password)
//! and per client address (against spraying many accounts); registrations
//! per client address (against mass sign-ups); public-link passwords per link
//! and address, and per address.
//!
//! The limits live in the metadata database (`rate_limits`, see
//! [`crate::storage::metadata::MetadataStore::take_turn`]), so that every
//! instance sharing it enforces one limit. Each is a token bucket of `max`
//! attempts refilled over `window` (one attempt per `window / max`): a burst
//! of `max`, then a steady rate. Refused attempts cost nothing, and every
//! refusal says when the next attempt would pass (`Retry-After`). The client
//! address is [`super::ClientIp`]'s; an IPv6 one counts per /64.

use std::{net::IpAddr, time::Duration};

use sha2::{Digest, Sha256};

use crate::{
    error::{ApiError, ApiResult},
    storage::{
        metadata::{now_ms, Turn},
        Db,
    },
};

/// At most `max` attempts per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window: Duration,
}

impl Limit {
    pub fn per_minute(max: u32) -> Self {
        Self {
            max: max.max(1),
            window: Duration::from_secs(60),
        }
    }

    pub fn per_hour(max: u32) -> Self {
        Self {
            max: max.max(1),
            window: Duration::from_secs(3600),
        }
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX).max(1)
    }

    /// The cost of one attempt: the time the bucket takes to refill it.
    fn interval_ms(&self) -> i64 {
        (self.window_ms() / i64::from(self.max.max(1))).max(1)
    }

    /// `Ok` when the attempt may go on, else the seconds until the next one
    /// would pass.
    pub fn judge(&self, turn: Turn, now: i64) -> Result<(), u64> {
        if turn.allowed {
            return Ok(());
        }
        let wait_ms = (turn.tat + self.interval_ms() - self.window_ms() - now).max(0) as u64;
        Err(wait_ms.div_ceil(1000).max(1))
    }
}

/// Counts one attempt under `scope` and `subject`, for all instances.
async fn attempt(db: &Db, scope: &str, subject: &str, limit: Limit) -> ApiResult<()> {
    // Hashed: keys are of one length and keep no email in the table.
    let digest = Sha256::digest(subject.as_bytes());
    let key = format!("{scope}:{}", hex::encode(&digest[..16]));
    let now = now_ms();
    let turn = db.take_turn(&key, now, limit.interval_ms(), limit.window_ms()).await?;
    limit.judge(turn, now).map_err(|retry_after_secs| {
        tracing::info!(scope, retry_after_secs, "rate limited");
        ApiError::RateLimited { retry_after_secs }
    })
}

/// The key of a client address: an IPv4 address, or the /64 an IPv6 address
/// is in (one host often has a whole /64 to pick addresses from).
fn address_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & (u128::MAX << 64);
            format!("{}/64", std::net::Ipv6Addr::from(network))
        }
    }
}

/// Attempts at a secret (an account's password, a link's): per client
/// address, and per target (an account) or per target and address (a link).
pub struct LoginLimiter {
    db: Db,
    scope: &'static str,
    per_target: Limit,
    per_ip: Limit,
    target_with_ip: bool,
}

impl LoginLimiter {
    /// Sign-ins: per account and per address, counted per minute.
    pub fn new(db: Db, per_account_per_minute: u32, per_ip_per_minute: u32) -> Self {
        Self {
            db,
            scope: "login",
            per_target: Limit::per_minute(per_account_per_minute),
            per_ip: Limit::per_minute(per_ip_per_minute),
            target_with_ip: false,
        }
    }

    /// Public-link passwords: per link and address, and per address,
    /// counted per minute. (Not per link alone: anybody could then lock a
    /// link's rightful visitors out.)
    pub fn links(db: Db, per_link_per_minute: u32, per_ip_per_minute: u32) -> Self {
        Self {
            db,
            scope: "link",
            per_target: Limit::per_minute(per_link_per_minute),
            per_ip: Limit::per_minute(per_ip_per_minute),
            target_with_ip: true,
        }
    }

    /// Counts an attempt at `target` (an email, a link id) from `ip`; 429
    /// `rate_limited` with `Retry-After` when over a limit.
    pub async fn check(&self, target: &str, ip: IpAddr) -> ApiResult<()> {
        let address = address_key(ip);
        attempt(&self.db, &format!("{}-ip", self.scope), &address, self.per_ip).await?;
        let target = if self.target_with_ip {
            format!("{target}\n{address}")
        } else {
            target.to_owned()
        };
        attempt(&self.db, self.scope, &target, self.per_target).await
    }
}

/// Registration attempts per client address, counted per hour.
pub struct RegisterLimiter {
    db: Db,
    per_ip: Limit,
}

impl RegisterLimiter {
    pub fn new(db: Db, per_ip_per_hour: u32) -> Self {
        Self {
            db,
            per_ip: Limit::per_hour(per_ip_per_hour),
        }
    }

    pub async fn check(&self, ip: IpAddr) -> ApiResult<()> {
        attempt(&self.db, "register-ip", &address_key(ip), self.per_ip).await
    }
}

/// Deletes the limits whose bucket is full again; for the housekeeping task.
pub async fn purge(db: &Db) {
    match db.purge_turns(now_ms()).await {
        Ok(0) => {}
        Ok(purged) => tracing::debug!(purged, "spent rate limits purged"),
        Err(error) => tracing::warn!(%error, "purging spent rate limits"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_says_when_the_next_attempt_passes() {
        let limit = Limit::per_hour(3);
        assert_eq!(limit.interval_ms(), 1_200_000);
        let now = 10_000_000;
        assert_eq!(
            limit.judge(
                Turn {
                    allowed: true,
                    tat: now + 3_600_000
                },
                now
            ),
            Ok(())
        );
        // Three spent at once: the fourth passes when one has refilled.
        let full = Turn {
            allowed: false,
            tat: now + 3_600_000,
        };
        assert_eq!(limit.judge(full, now), Err(1200));
        assert_eq!(limit.judge(full, now + 1_199_001), Err(1));
        // Never 0.
        assert_eq!(limit.judge(full, now + 1_300_000), Err(1));
    }

    #[test]
    fn an_ipv6_host_is_its_64() {
        let key = |text: &str| address_key(text.parse().unwrap());
        assert_eq!(key("203.0.113.9"), "203.0.113.9");
        assert_eq!(key("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:bbbb::7"), key("2001:db8:1:2::1"));
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
    }

    #[test]
    fn zero_means_one() {
        assert_eq!(Limit::per_minute(0).max, 1);
        assert_eq!(Limit::per_minute(0).interval_ms(), 60_000);
    }
}
