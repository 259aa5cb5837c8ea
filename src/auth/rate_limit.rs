//! Limits on sign-up and sign-in: per client IP and per email address, GCRA via governor.
//! Kept in memory per replica: N replicas allow up to N times the configured rate.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::AppError;
use crate::settings::RateLimitSettings;

/// Above this many tracked keys, forget the ones whose budget has fully refilled.
const HOUSEKEEPING_THRESHOLD: usize = 50_000;

pub struct SignInLimits {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_email: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl SignInLimits {
    pub fn new(settings: &RateLimitSettings) -> Self {
        let per_minute = NonZeroU32::new(settings.per_ip_per_minute).unwrap_or(NonZeroU32::MIN);
        let per_hour = NonZeroU32::new(settings.per_email_per_hour).unwrap_or(NonZeroU32::MIN);
        Self {
            per_ip: RateLimiter::keyed(Quota::per_minute(per_minute)),
            per_email: RateLimiter::keyed(Quota::per_hour(per_hour)),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one attempt from `ip` for `email`; 429 with the wait when either is over its limit.
    pub fn check(&self, ip: Option<IpAddr>, email: Option<&str>) -> Result<(), AppError> {
        if self.per_ip.len() > HOUSEKEEPING_THRESHOLD {
            self.per_ip.retain_recent();
        }
        if self.per_email.len() > HOUSEKEEPING_THRESHOLD {
            self.per_email.retain_recent();
        }
        if let Some(ip) = ip {
            self.per_ip
                .check_key(&ip)
                .map_err(|wait| self.limited(&wait))?;
        }
        if let Some(email) = email {
            let key = email.trim().to_lowercase();
            self.per_email
                .check_key(&key)
                .map_err(|wait| self.limited(&wait))?;
        }
        Ok(())
    }

    fn limited(&self, wait: &governor::NotUntil<<DefaultClock as Clock>::Instant>) -> AppError {
        let seconds = wait.wait_time_from(self.clock.now()).as_secs_f64().ceil();
        AppError::RateLimited {
            retry_after_secs: (seconds as u64).max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_ip: u32, per_email: u32) -> SignInLimits {
        SignInLimits::new(&RateLimitSettings {
            per_ip_per_minute: per_ip,
            per_email_per_hour: per_email,
        })
    }

    #[test]
    fn requests_within_the_limit_pass_and_the_next_is_refused_with_a_wait() {
        let limits = limits(2, 100);
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        assert!(limits.check(ip, None).is_ok());
        assert!(limits.check(ip, None).is_ok());
        match limits.check(ip, None) {
            Err(AppError::RateLimited { retry_after_secs }) => {
                assert!((1..=60).contains(&retry_after_secs))
            }
            other => panic!("expected 429, got {other:?}"),
        }
    }

    #[test]
    fn one_address_is_limited_whatever_the_ip() {
        let limits = limits(100, 1);
        assert!(
            limits
                .check(Some(IpAddr::from([10, 0, 0, 1])), Some("sam@example.org"))
                .is_ok()
        );
        assert!(
            limits
                .check(Some(IpAddr::from([10, 0, 0, 2])), Some("SAM@example.org "))
                .is_err()
        );
        assert!(
            limits
                .check(Some(IpAddr::from([10, 0, 0, 2])), Some("alex@example.org"))
                .is_ok()
        );
    }
}
