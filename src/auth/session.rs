//! Sign-in sessions. A session is one sign-in; its refresh tokens rotate on every use, and a
//! refresh token used twice means it leaked, so the whole session is revoked.

use chrono::{Duration, NaiveDateTime, Utc};
use diesel::QueryResult;

use super::secret_token;
use crate::db::DbConn;
use crate::db::models::auth::{RefreshTokenRow, SessionRow};
use crate::db::queries::{auth as queries, users};

pub const REUSE_REASON: &str = "refresh token reused";

pub struct SignedIn {
    pub user_id: String,
    pub session_id: String,
    /// Given to the client once; only its hash is stored.
    pub refresh_token: String,
}

pub enum Rotation {
    Rotated(SignedIn),
    /// Unknown, expired, revoked, or the account is no longer active.
    Refused,
    /// An already-used token came back: the session has been revoked.
    ReuseDetected,
}

/// Starts a session for `user_id` with its first refresh token.
pub fn start(conn: &mut DbConn, user_id: &str, refresh_ttl_days: u64) -> QueryResult<SignedIn> {
    let now = Utc::now().naive_utc();
    let session = SessionRow {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user_id.to_string(),
        created_at: now,
        revoked_at: None,
        revoked_reason: None,
    };
    queries::insert_session(conn, &session)?;
    let refresh_token = issue_refresh_token(conn, &session.id, now, refresh_ttl_days)?;
    Ok(SignedIn {
        user_id: session.user_id,
        session_id: session.id,
        refresh_token,
    })
}

/// Spends `presented` and returns a new refresh token in the same session. Returns
/// `ReuseDetected` (with the session revoked) when the token was spent before; the caller
/// must commit that revocation even though sign-in fails.
pub fn rotate(conn: &mut DbConn, presented: &str, refresh_ttl_days: u64) -> QueryResult<Rotation> {
    let now = Utc::now().naive_utc();
    let Some(token) = queries::find_refresh_token(conn, &secret_token::hash(presented))? else {
        return Ok(Rotation::Refused);
    };
    let Some(session) = queries::find_session(conn, &token.session_id)? else {
        return Ok(Rotation::Refused);
    };
    if session.revoked_at.is_some() {
        return Ok(Rotation::Refused);
    }
    if token.used_at.is_some() || !queries::use_refresh_token(conn, &token.id, now)? {
        queries::revoke_session(conn, &session.id, REUSE_REASON, now)?;
        return Ok(Rotation::ReuseDetected);
    }
    if token.expires_at <= now {
        return Ok(Rotation::Refused);
    }
    let active = users::find_by_id(conn, &session.user_id)?.is_some_and(|u| u.is_active());
    if !active {
        return Ok(Rotation::Refused);
    }
    let refresh_token = issue_refresh_token(conn, &session.id, now, refresh_ttl_days)?;
    Ok(Rotation::Rotated(SignedIn {
        user_id: session.user_id,
        session_id: session.id,
        refresh_token,
    }))
}

/// Ends the session `presented` belongs to. Unknown tokens are ignored (logout always succeeds).
pub fn end(conn: &mut DbConn, presented: &str) -> QueryResult<()> {
    if let Some(token) = queries::find_refresh_token(conn, &secret_token::hash(presented))? {
        queries::revoke_session(
            conn,
            &token.session_id,
            "signed out",
            Utc::now().naive_utc(),
        )?;
    }
    Ok(())
}

fn issue_refresh_token(
    conn: &mut DbConn,
    session_id: &str,
    now: NaiveDateTime,
    ttl_days: u64,
) -> QueryResult<String> {
    let secret = secret_token::generate();
    let days = i64::try_from(ttl_days).unwrap_or(i64::MAX).min(3650);
    queries::insert_refresh_token(
        conn,
        &RefreshTokenRow {
            id: uuid::Uuid::now_v7().to_string(),
            session_id: session_id.to_string(),
            token_hash: secret.hash,
            expires_at: now + Duration::days(days),
            used_at: None,
            created_at: now,
        },
    )?;
    Ok(secret.plain)
}
