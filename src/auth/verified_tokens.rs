//! Access tokens this process verified in the last moment, so a client's next requests skip
//! the signature check and the session lookup (together most of a small request's cost).
//!
//! An entry lets a token in for [`RECHECK_AFTER`] at most, never past the token's expiry, and
//! not at all once this process has revoked any session or erased any account since the entry
//! was made ([`note_revocation`]). So a logout stops its token on the next request to this process,
//! and within a second on other replicas (docs/SECURITY.md). Past that, until the token
//! expires, the entry still vouches for the signature, which cannot change: only the session
//! is asked about again.

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

/// What the cache knows of a token.
#[derive(Debug)]
pub enum Known {
    /// Verified, and its session was live a moment ago: let it in.
    Live(AuthUser),
    /// Its signature verified (for this user, until this expiry); its session needs asking.
    Signed(AuthUser, i64),
    /// Never verified here, or expired.
    Nothing,
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

    /// What is known of `token`: its session found live within the last [`RECHECK_AFTER`]
    /// with no revocation since (`epoch` is [`revocation_epoch`] now), or only its signature.
    /// `now` is in Unix seconds.
    pub fn get(&self, token: &str, now: i64, epoch: u64) -> Known {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(entry) = entries.get(token).filter(|entry| now < entry.expires_at) else {
            return Known::Nothing;
        };
        if entry.checked_at.elapsed() < self.recheck_after && entry.epoch == epoch {
            Known::Live(entry.user.clone())
        } else {
            Known::Signed(entry.user.clone(), entry.expires_at)
        }
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

    fn is_live(known: &Known) -> bool {
        matches!(known, Known::Live(user) if user.id == "u1")
    }

    fn is_signed_only(known: &Known) -> bool {
        matches!(known, Known::Signed(user, 2_000) if user.id == "u1")
    }

    #[test]
    fn a_verified_token_is_found_again() {
        let cache = VerifiedTokens::default();
        cache.insert("token", user(), 2_000, EPOCH);
        assert!(is_live(&cache.get("token", 1_000, EPOCH)));
    }

    #[test]
    fn another_token_is_not_found() {
        let cache = VerifiedTokens::default();
        cache.insert("token", user(), 2_000, EPOCH);
        assert!(matches!(cache.get("token2", 1_000, EPOCH), Known::Nothing));
        assert!(matches!(cache.get("toke", 1_000, EPOCH), Known::Nothing));
    }

    #[test]
    fn an_expired_token_is_not_found() {
        let cache = VerifiedTokens::default();
        cache.insert("token", user(), 2_000, EPOCH);
        assert!(matches!(cache.get("token", 2_000, EPOCH), Known::Nothing));
    }

    #[test]
    fn after_the_recheck_interval_only_the_signature_is_vouched_for() {
        let cache = VerifiedTokens::new(Duration::ZERO);
        cache.insert("token", user(), 2_000, EPOCH);
        assert!(is_signed_only(&cache.get("token", 1_000, EPOCH)));
    }

    #[test]
    fn after_a_revocation_only_the_signature_is_vouched_for() {
        let cache = VerifiedTokens::default();
        cache.insert("token", user(), 2_000, EPOCH);
        assert!(is_signed_only(&cache.get("token", 1_000, EPOCH + 1)));
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
        assert!(is_live(&cache.get(
            &format!("token{CAPACITY}"),
            1_000,
            EPOCH
        )));
    }
}
