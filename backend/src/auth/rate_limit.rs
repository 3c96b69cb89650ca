//! Login attempts are limited per account (against guessing one password)
//! and per client address (against spraying many accounts); registrations
//! per client address (against mass sign-ups).

use std::{net::IpAddr, num::NonZeroU32};

use governor::{clock::Clock, clock::DefaultClock, DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::{ApiError, ApiResult};

pub struct LoginLimiter {
    per_account: DefaultKeyedRateLimiter<String>,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
}

impl LoginLimiter {
    pub fn new(per_account_per_minute: u32, per_ip_per_minute: u32) -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self {
            per_account: RateLimiter::keyed(quota(per_account_per_minute)),
            per_ip: RateLimiter::keyed(quota(per_ip_per_minute)),
        }
    }

    pub fn check(&self, email: &str, ip: IpAddr) -> ApiResult<()> {
        let limited = |not_until: governor::NotUntil<_>| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::RateLimited {
                retry_after_secs: wait.as_secs() + 1,
            }
        };
        self.per_ip.check_key(&ip).map_err(limited)?;
        self.per_account.check_key(&email.to_owned()).map_err(limited)?;
        Ok(())
    }

    /// Forgets keys whose limit has fully replenished, so memory stays bounded.
    pub fn shrink(&self) {
        self.per_account.retain_recent();
        self.per_ip.retain_recent();
    }
}

/// Registration attempts per client address, counted per hour.
pub struct RegisterLimiter {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
}

impl RegisterLimiter {
    pub fn new(per_ip_per_hour: u32) -> Self {
        let quota = Quota::per_hour(NonZeroU32::new(per_ip_per_hour).unwrap_or(NonZeroU32::MIN));
        Self {
            per_ip: RateLimiter::keyed(quota),
        }
    }

    pub fn check(&self, ip: IpAddr) -> ApiResult<()> {
        self.per_ip.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::RateLimited {
                retry_after_secs: wait.as_secs() + 1,
            }
        })
    }

    /// Forgets addresses whose limit has fully replenished.
    pub fn shrink(&self) {
        self.per_ip.retain_recent();
    }
}
