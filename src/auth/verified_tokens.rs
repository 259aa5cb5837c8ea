//! Access tokens this process verified in the last moment, so a client's next requests skip
//! the signature check and the session lookup (together most of a small request's cost).
//!
//! An entry holds for [`RECHECK_AFTER`] at most, never past the token's expiry, and not at all
//! once this process has revoked any session or erased any account since the entry was made
//! ([`note_revocation`]). So a logout stops its token on the next request to this process,
//! and within a second on other replicas (docs/SECURITY.md).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::AuthUser;

/// How long a session check stands before the database is asked again.
pub const RECHECK_AFTER: Duration = Duration::from_secs(1);

/// Bounds memory: past this, entries older than [`RECHECK_AFTER`] go, then all if need be.
const CAPACITY: usize = 10_000;

/// Bumped whenever this process revokes a session or ends an account.
static REVOCATIONS: AtomicU64 = AtomicU64::new(0);

/// Call after revoking a session or ending an account: every cached token is checked again.
pub fn note_revocation() {
    REVOCATIONS.fetch_add(1, Ordering::SeqCst);
}

/// Read before asking the database, so a revocation that lands meanwhile voids the entry.
pub fn revocation_epoch() -> u64 {
    REVOCATIONS.load(Ordering::SeqCst)
}

struct Entry {
    user: AuthUser,
    expires_at: i64,
    checked_at: Instant,
    epoch: u64,
}

pub struct VerifiedTokens {
    entries: Mutex<HashMap<String, Entry>>,
    recheck_after: Duration,
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self::new(RECHECK_AFTER)
    }
}

impl VerifiedTokens {
    pub fn new(recheck_after: Duration) -> Self {
        Self {
            entries: Mutex::default(),
            recheck_after,
        }
    }

    /// The user of `token` if it was verified and its session found live within the last
    /// [`RECHECK_AFTER`], with no revocation since (`epoch` is [`revocation_epoch`] now).
    /// `now` is in Unix seconds.
    pub fn get(&self, token: &str, now: i64, epoch: u64) -> Option<AuthUser> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get(token)?;
        let fresh = entry.checked_at.elapsed() < self.recheck_after
            && now < entry.expires_at
            && entry.epoch == epoch;
        fresh.then(|| entry.user.clone())
    }

    /// Remembers a token whose signature verified and whose session was live at `epoch`.
    pub fn insert(&self, token: &str, user: AuthUser, expires_at: i64, epoch: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CAPACITY {
            let recheck_after = self.recheck_after;
            entries.retain(|_, entry| entry.checked_at.elapsed() < recheck_after);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            token.to_string(),
            Entry {
                user,
                expires_at,
                checked_at: Instant::now(),
                epoch,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::role::Role;

    const EPOCH: u64 = 7;

    fn user() -> AuthUser {
        AuthUser {
            id: "u1".into(),
            roles: vec![Role::Applicant],
            session_id: "s1".into(),
        }
    }

    #[test]
    fn a_verified_token_is_found_again() {
        let cache = VerifiedTokens::default();
        cache.insert("token", user(), 2_000, EPOCH);
        assert_eq!(
            cache.get("token", 1_000, EPOCH).map(|u| u.id),
            Some("u1".into())
        );
    }

    #[test]
    fn another_token_is_not_found() {
        let cache = VerifiedTokens::default();
        cache.insert("token", user(), 2_000, EPOCH);
        assert!(cache.get("token2", 1_000, EPOCH).is_none());
        assert!(cache.get("toke", 1_000, EPOCH).is_none());
    }

    #[test]
    fn an_expired_token_is_not_found() {
        let cache = VerifiedTokens::default();
        cache.insert("token", user(), 2_000, EPOCH);
        assert!(cache.get("token", 2_000, EPOCH).is_none());
    }

    #[test]
    fn an_entry_older_than_the_recheck_interval_is_not_found() {
        let cache = VerifiedTokens::new(Duration::ZERO);
        cache.insert("token", user(), 2_000, EPOCH);
        assert!(cache.get("token", 1_000, EPOCH).is_none());
    }

    #[test]
    fn an_entry_made_before_a_revocation_is_void() {
        let cache = VerifiedTokens::default();
        cache.insert("token", user(), 2_000, EPOCH);
        assert!(cache.get("token", 1_000, EPOCH + 1).is_none());
    }

    #[test]
    fn noting_a_revocation_moves_the_epoch() {
        let before = revocation_epoch();
        note_revocation();
        assert!(revocation_epoch() > before);
    }

    #[test]
    fn a_full_cache_makes_room() {
        let cache = VerifiedTokens::default();
        for i in 0..=CAPACITY {
            cache.insert(&format!("token{i}"), user(), 2_000, EPOCH);
        }
        let held = cache.entries.lock().map(|e| e.len()).unwrap_or_default();
        assert!(held <= CAPACITY, "{held} entries held");
        assert!(
            cache
                .get(&format!("token{CAPACITY}"), 1_000, EPOCH)
                .is_some()
        );
    }
}
