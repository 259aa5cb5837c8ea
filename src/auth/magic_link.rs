//! Emailed sign-in links: 256-bit, stored hashed, single use, short-lived. The link opens a
//! page; only the POST to `/auth/token` spends it, because mail scanners follow links.

use chrono::{Duration, Utc};
use diesel::QueryResult;

use super::secret_token;
use crate::db::DbConn;
use crate::db::models::auth::MagicLinkRow;
use crate::db::queries::auth as queries;

/// Stores a new link for `user_id` and returns the plain token for the email.
pub fn create(conn: &mut DbConn, user_id: &str, ttl_secs: u64) -> QueryResult<String> {
    let now = Utc::now().naive_utc();
    let secret = secret_token::generate();
    let ttl = i64::try_from(ttl_secs).unwrap_or(i64::MAX).min(86_400);
    queries::insert_magic_link(
        conn,
        &MagicLinkRow {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: user_id.to_string(),
            token_hash: secret.hash,
            expires_at: now + Duration::seconds(ttl),
            used_at: None,
            created_at: now,
        },
    )?;
    Ok(secret.plain)
}

/// What spending a link found.
pub enum Spent {
    /// Valid, unused and unexpired: now used, for this user.
    By(String),
    /// Unknown, used or expired.
    Nothing,
    /// Its account is no longer active (the link was left unused).
    AccountGone,
}

/// Spends a link. Its account is held first, as in every write about a person, so an erasure
/// under way finishes first (and the link is gone with it) or waits; neither waits on a row
/// the other holds.
pub fn spend(conn: &mut DbConn, presented: &str) -> QueryResult<Spent> {
    let hash = secret_token::hash(presented);
    let now = Utc::now().naive_utc();
    let Some(owner) = queries::magic_link_owner(conn, &hash, now)? else {
        return Ok(Spent::Nothing);
    };
    // As a writer: signing in marks the address verified.
    if !crate::db::queries::users::hold_to_write_if_active(conn, &owner)? {
        return Ok(Spent::AccountGone);
    }
    Ok(match queries::spend_magic_link(conn, &hash, now)? {
        Some(user_id) => Spent::By(user_id),
        None => Spent::Nothing,
    })
}

/// The address the person opens: `{public_url}/sign-in?token=…`.
pub fn url(server: &crate::settings::ServerSettings, token: &str) -> String {
    server.link(&format!("/sign-in?token={token}"))
}
