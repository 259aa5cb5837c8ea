use std::sync::LazyLock;

use actix_web::{HttpRequest, post, web};
use chrono::Utc;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{TokenResponse, client_ip, token_response};
use crate::auth::magic_link::{self, Spent};
use crate::auth::password;
use crate::auth::session::{self, Rotation};
use crate::db::queries::users;
use crate::domain::password::NewPassword;
use crate::error::{AppError, FieldError, Problem};
use crate::routes::extract::{ValidJson, Validate};
use crate::state::AppState;

/// One of three ways to get tokens, chosen by `grant_type`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "grant_type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TokenRequest {
    /// The token from an emailed sign-in link.
    MagicLink {
        token: String,
    },
    Password {
        email: String,
        password: String,
    },
    /// Rotates: the refresh token is spent and a new one returned.
    RefreshToken {
        refresh_token: String,
    },
}

impl Validate for TokenRequest {
    type Valid = Self;

    fn validate(self) -> Result<Self, Vec<FieldError>> {
        Ok(self)
    }
}

/// Verified against when the address has no password, so the answer takes as long either way.
static DUMMY_HASH: LazyLock<Option<String>> = LazyLock::new(|| {
    NewPassword::parse("timing equaliser, never a real password")
        .ok()
        .and_then(|p| password::hash(&p).ok())
});

/// Sign in: exchange a magic link token, a password, or a refresh token for tokens.
#[utoipa::path(tag = "auth", request_body = TokenRequest, responses(
    (status = 200, body = TokenResponse),
    (status = 401, description = "invalid_grant: wrong, used or expired credentials", body = Problem, content_type = "application/problem+json"),
    (status = 429, body = Problem, content_type = "application/problem+json"),
))]
#[post("/token")]
pub async fn token(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ValidJson<TokenRequest>,
) -> Result<web::Json<TokenResponse>, AppError> {
    let refresh_days = state.settings.auth.refresh_token_ttl_days;
    let app = state.clone();
    let response = match body.0 {
        TokenRequest::MagicLink { token } => {
            state
                .sign_in_limits
                .check(client_ip(&req, &state.trusted_proxies), None)?;
            state
                .db
                .write(move |conn| {
                    let user_id = match magic_link::spend(conn, &token)? {
                        Spent::By(user_id) => user_id,
                        Spent::Nothing => {
                            return Err(AppError::InvalidGrant(
                                "magic link unknown, used or expired".into(),
                            ));
                        }
                        Spent::AccountGone => {
                            return Err(AppError::InvalidGrant("account not active".into()));
                        }
                    };
                    users::mark_email_verified(conn, &user_id, Utc::now().naive_utc())?;
                    let signed_in = session::start(conn, &user_id, refresh_days)?;
                    token_response(conn, &app.jwt, signed_in)
                })
                .await?
        }
        TokenRequest::Password { email, password } => {
            let email = email.trim().to_lowercase();
            state
                .sign_in_limits
                .check(client_ip(&req, &state.trusted_proxies), Some(&email))?;
            let user = state
                .db
                .read(move |conn| Ok(users::find_by_email(conn, &email)?))
                .await?;
            let stored = user.as_ref().and_then(|u| u.password_hash.clone());
            let matches = tokio::task::spawn_blocking(move || {
                let hash = stored
                    .as_deref()
                    .or(DUMMY_HASH.as_deref())
                    .unwrap_or_default();
                password::verify(&password, hash)
            })
            .await?;
            let user = match user {
                Some(user) if matches && user.password_hash.is_some() && user.is_active() => user,
                _ => return Err(AppError::InvalidGrant("wrong email or password".into())),
            };
            state
                .db
                .write(move |conn| {
                    // Held: an erasure since the password was checked is seen, or waits.
                    if !users::hold_if_active(conn, &user.id)? {
                        return Err(AppError::InvalidGrant("wrong email or password".into()));
                    }
                    let signed_in = session::start(conn, &user.id, refresh_days)?;
                    token_response(conn, &app.jwt, signed_in)
                })
                .await?
        }
        TokenRequest::RefreshToken { refresh_token } => {
            state
                .sign_in_limits
                .check(client_ip(&req, &state.trusted_proxies), None)?;
            // The revocation after a reuse must commit, so the failure is raised after the write.
            let outcome = state
                .db
                .write(
                    move |conn| match session::rotate(conn, &refresh_token, refresh_days)? {
                        Rotation::Rotated(signed_in) => {
                            token_response(conn, &app.jwt, signed_in).map(Some)
                        }
                        Rotation::Refused => Ok(None),
                        Rotation::ReuseDetected => {
                            tracing::warn!("refresh token reused; session revoked");
                            Ok(None)
                        }
                    },
                )
                .await?;
            outcome.ok_or_else(|| {
                AppError::InvalidGrant("refresh token unknown, used or expired".into())
            })?
        }
    };
    Ok(web::Json(response))
}
