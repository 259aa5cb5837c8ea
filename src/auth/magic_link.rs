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

/// Spends a link; returns its user when it was valid, unused and unexpired.
pub fn spend(conn: &mut DbConn, presented: &str) -> QueryResult<Option<String>> {
    queries::spend_magic_link(conn, &secret_token::hash(presented), Utc::now().naive_utc())
}

/// The address the person opens: `{public_url}/sign-in?token=…`.
pub fn url(server: &crate::settings::ServerSettings, token: &str) -> String {
    server.link(&format!("/sign-in?token={token}"))
}
