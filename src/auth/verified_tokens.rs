//! Access tokens this process verified in the last moment, so a client's next requests skip
//! the signature check and the session lookup (together most of a small request's cost).
//!
//! An entry lets a token in for [`RECHECK_AFTER`] at most, never past the token's expiry, and
//! not at all once this process has revoked any session or erased any account since the entry
//! was made ([`note_revocation`]). So a logout stops its token on the next request to this process,
//! and within a second on other replicas (docs/SECURITY.md). Past that, until the token
//! expires, the entry still vouches for the signature, which cannot change: only the session
//! is asked about again.
//!
//! Entries used since their last check are checked again together, in one query, every half
//! [`RECHECK_AFTER`] (`auth::session_recheck`), so a token in steady use is let in without a
//! check of its own: the same bound, one query in place of one per token a second.

use std::collections::{HashMap, HashSet};
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

/// Call once a transaction that began at epoch `before` has committed. A revocation in it
/// bumped the epoch before the commit, so a session check that read the old row meanwhile may
/// have cached its token under the new epoch; bumping again voids that entry.
pub fn note_commit(before: u64) {
    if revocation_epoch() != before {
        note_revocation();
    }
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
    /// Asked for since its session was last checked.
    used: bool,
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
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(entry) = entries
            .get_mut(token)
            .filter(|entry| now < entry.expires_at)
        else {
            return Known::Nothing;
        };
        entry.used = true;
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
                used: false,
            },
        );
    }

    /// The sessions (id, user id) of the entries used since they were last checked.
    pub fn sessions_in_use(&self) -> Vec<(String, String)> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let sessions: HashSet<(&str, &str)> = entries
            .values()
            .filter(|entry| entry.used)
            .map(|entry| (entry.user.session_id.as_str(), entry.user.id.as_str()))
            .collect();
        sessions
            .into_iter()
            .map(|(session, user)| (session.to_string(), user.to_string()))
            .collect()
    }

    /// Records what the database said of the sessions `asked` about: those in `live` were live
    /// when the question was asked (`asked_at`, with [`revocation_epoch`] read before it); the
    /// others' tokens are forgotten, so their next request is checked in full.
    pub fn confirm(
        &self,
        asked: &[(String, String)],
        live: &[(String, String)],
        asked_at: Instant,
        epoch: u64,
    ) {
        let asked: HashSet<(&str, &str)> = asked
            .iter()
            .map(|(session, user)| (session.as_str(), user.as_str()))
            .collect();
        let live: HashSet<(&str, &str)> = live
            .iter()
            .map(|(session, user)| (session.as_str(), user.as_str()))
            .collect();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|_, entry| {
            let session = (entry.user.session_id.as_str(), entry.user.id.as_str());
            if !asked.contains(&session) {
                return true;
            }
            if !live.contains(&session) {
                return false;
            }
            // A revocation here bumps the epoch before it commits, so an answer may predate it:
            // an entry made before a revocation is left to its request's own check. And an entry
            // checked on its own since the question was asked keeps that newer check.
            if entry.epoch == epoch && asked_at > entry.checked_at {
                entry.checked_at = asked_at;
                entry.used = false;
            }
            true
        });
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

    fn session() -> Vec<(String, String)> {
        vec![("s1".to_string(), "u1".to_string())]
    }

    #[test]
    fn only_sessions_of_tokens_used_since_their_check_are_rechecked() {
        let cache = VerifiedTokens::default();
        cache.insert("token", user(), 2_000, EPOCH);
        assert!(cache.sessions_in_use().is_empty());
        cache.get("token", 1_000, EPOCH);
        assert_eq!(cache.sessions_in_use(), session());
    }

    #[test]
    fn a_session_found_live_again_keeps_its_token_let_in() {
        let cache = VerifiedTokens::new(Duration::from_millis(200));
        cache.insert("token", user(), 2_000, EPOCH);
        cache.get("token", 1_000, EPOCH);
        std::thread::sleep(Duration::from_millis(250));
        let asked = session();
        cache.confirm(&asked, &asked, Instant::now(), EPOCH);
        assert!(is_live(&cache.get("token", 1_000, EPOCH)));
    }

    #[test]
    fn a_session_no_longer_live_forgets_its_tokens() {
        let cache = VerifiedTokens::default();
        cache.insert("token", user(), 2_000, EPOCH);
        cache.get("token", 1_000, EPOCH);
        cache.confirm(&session(), &[], Instant::now(), EPOCH);
        assert!(matches!(cache.get("token", 1_000, EPOCH), Known::Nothing));
    }

    #[test]
    fn an_entry_made_before_a_revocation_here_is_not_let_in_by_a_recheck() {
        let cache = VerifiedTokens::default();
        cache.insert("token", user(), 2_000, EPOCH);
        cache.get("token", 1_000, EPOCH);
        // The revocation's transaction may not have committed when the question was asked.
        let asked = session();
        cache.confirm(&asked, &asked, Instant::now(), EPOCH + 1);
        assert!(is_signed_only(&cache.get("token", 1_000, EPOCH + 1)));
    }

    #[test]
    fn a_recheck_older_than_the_entrys_own_check_changes_nothing() {
        let cache = VerifiedTokens::new(Duration::from_millis(200));
        let asked_at = Instant::now();
        std::thread::sleep(Duration::from_millis(250));
        cache.insert("token", user(), 2_000, EPOCH);
        cache.get("token", 1_000, EPOCH);
        let asked = session();
        cache.confirm(&asked, &asked, asked_at, EPOCH);
        assert!(is_live(&cache.get("token", 1_000, EPOCH)));
    }

    #[test]
    fn sessions_not_asked_about_are_left_alone() {
        let cache = VerifiedTokens::default();
        cache.insert("token", user(), 2_000, EPOCH);
        let other = vec![("s2".to_string(), "u2".to_string())];
        cache.confirm(&other, &[], Instant::now(), EPOCH);
        assert!(is_live(&cache.get("token", 1_000, EPOCH)));
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
