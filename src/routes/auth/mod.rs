//! Sign-up and sign-in: register, magic links, token grants, logout.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header::X_FORWARDED_FOR;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::client_ip::TrustedProxies;
use crate::auth::jwt::JwtKeys;
use crate::auth::magic_link;
use crate::auth::session::SignedIn;
use crate::db::DbConn;
use crate::db::models::user::UserRow;
use crate::db::queries::users;
use crate::domain::role::Role;
use crate::email::{Email, Outbox, Recipient};
use crate::error::AppError;
use crate::settings::Settings;

pub mod logout;
pub mod magic_link_request;
pub mod register;
pub mod token;

/// The same words whatever happened, so answers reveal nothing about who has an account.
pub const CHECK_YOUR_EMAIL: &str = "Check your email. If an account can use that address, we have sent it a link to sign in. The link works once, for 15 minutes.";

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Message {
    pub message: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenUser {
    pub id: String,
    pub email: String,
    #[schema(value_type = Vec<String>)]
    pub roles: Vec<Role>,
}

/// A signed-in session: a 15-minute access token and a refresh token to get the next one.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub refresh_token: String,
    pub user: TokenUser,
}

/// Builds the answer for a session just started or rotated.
pub fn token_response(
    conn: &mut DbConn,
    jwt: &JwtKeys,
    signed_in: SignedIn,
) -> Result<TokenResponse, AppError> {
    let user = users::find_by_id(conn, &signed_in.user_id)?
        .ok_or(AppError::InvalidGrant("account gone".into()))?;
    let roles = users::roles_of(conn, &user.id)?;
    let access = jwt.issue_access_token(&user.id, &roles, &signed_in.session_id)?;
    Ok(TokenResponse {
        access_token: access.token,
        token_type: "Bearer".into(),
        expires_in: access.expires_in,
        refresh_token: signed_in.refresh_token,
        user: TokenUser {
            id: user.id,
            email: user.email,
            roles,
        },
    })
}

/// Creates a sign-in link for `user` and queues `make(name, link, minutes)` to them; nothing
/// for an account erased meanwhile (held first, so an erasure under way is seen or waits).
pub fn queue_sign_in_email(
    conn: &mut DbConn,
    settings: &Settings,
    outbox: &Outbox,
    user: &UserRow,
    make: fn(String, String, u64) -> Email,
) -> Result<(), AppError> {
    if !users::hold_if_active(conn, &user.id)? {
        return Ok(());
    }
    let token = magic_link::create(conn, &user.id, settings.auth.magic_link_ttl_secs)?;
    let link = magic_link::url(&settings.server, &token);
    let email = make(
        user.display_name().to_string(),
        link,
        settings.auth.magic_link_ttl_secs / 60,
    );
    outbox.enqueue(conn, &Recipient::user(user), &email)?;
    Ok(())
}

/// The client's address for the per-IP limits: the peer, or behind a trusted proxy the address
/// it forwarded (see [`TrustedProxies::client_ip`]).
pub fn client_ip(req: &HttpRequest, proxies: &TrustedProxies) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    // A value that is not text cannot be read as an address; "" makes the walk stop there.
    let forwarded_for: Vec<&str> = req
        .headers()
        .get_all(X_FORWARDED_FOR)
        .map(|value| value.to_str().unwrap_or_default())
        .collect();
    Some(proxies.client_ip(peer, &forwarded_for))
}
