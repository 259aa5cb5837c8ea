//! `AuthUser`: the signed-in user from a bearer access token, and role guards.

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use chrono::Utc;
use futures_util::future::LocalBoxFuture;

use crate::auth::verified_tokens::{self, Known};
use crate::db::queries::auth;
use crate::domain::role::Role;
use crate::error::AppError;
use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: String,
    pub roles: Vec<Role>,
    pub session_id: String,
}

impl AuthUser {
    /// Holds `role`, directly or through a role that includes it (admin includes coordinator).
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.iter().any(|held| held.includes(role))
    }

    /// 403 unless the user holds at least one of `roles`.
    pub fn require_any(&self, roles: &[Role]) -> Result<(), AppError> {
        if roles.iter().any(|role| self.has_role(*role)) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// First thing in a write of the user's own data: 401 if the account was erased since the
    /// token was checked, and no erasure can slip in before this transaction ends
    /// (`users::hold_if_active`), so nothing about them is written after their erasure.
    pub fn still_signed_in(&self, conn: &mut crate::db::DbConn) -> Result<(), AppError> {
        signed_in_if(crate::db::queries::users::hold_if_active(conn, &self.id)?)
    }

    /// [`Self::still_signed_in`] for a write that changes the account row itself (names,
    /// preferences): held as a writer (`users::hold_to_write_if_active`).
    pub fn still_signed_in_to_change_account(
        &self,
        conn: &mut crate::db::DbConn,
    ) -> Result<(), AppError> {
        signed_in_if(crate::db::queries::users::hold_to_write_if_active(
            conn, &self.id,
        )?)
    }
}

fn signed_in_if(account_active: bool) -> Result<(), AppError> {
    if account_active {
        Ok(())
    } else {
        Err(AppError::Unauthorized)
    }
}

impl FromRequest for AuthUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let presented = bearer_token(req).map(|(state, token)| (state, token.to_string()));
        Box::pin(async move {
            let (state, token) = presented?;
            // Read first: a revocation that lands while we ask the database voids our entry.
            let epoch = verified_tokens::revocation_epoch();
            let now = Utc::now().timestamp();
            let (user, expires_at) = match state.verified_tokens.get(&token, now, epoch) {
                Known::Live(user) => return Ok(user),
                Known::Signed(user, expires_at) => (user, expires_at),
                Known::Nothing => {
                    let claims = state.jwt.verify_access_token(&token)?;
                    let user = AuthUser {
                        id: claims.sub,
                        roles: claims.roles,
                        session_id: claims.sid,
                    };
                    (user, claims.exp)
                }
            };
            // A token outlives a logout, a revoked session, a deactivation or an erasure by up
            // to its lifetime; the session and the account's status are the word that counts.
            let (session_id, user_id) = (user.session_id.clone(), user.id.clone());
            let live = state
                .db
                .read(move |conn| Ok(auth::session_is_live(conn, &session_id, &user_id)?))
                .await?;
            if !live {
                return Err(AppError::Unauthorized);
            }
            state
                .verified_tokens
                .insert(&token, user.clone(), expires_at, epoch);
            Ok(user)
        })
    }
}

/// For routes open to everyone that show more to some: `None` without an `Authorization`
/// header; a token that is sent must be good (401 otherwise, API.md), so an expired one is
/// never mistaken for someone signed out.
pub struct MaybeSignedIn(pub Option<AuthUser>);

impl FromRequest for MaybeSignedIn {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if req.headers().get(AUTHORIZATION).is_none() {
            return Box::pin(async { Ok(MaybeSignedIn(None)) });
        }
        let user = AuthUser::from_request(req, payload);
        Box::pin(async move { user.await.map(|user| MaybeSignedIn(Some(user))) })
    }
}

/// The application state and the bearer token of the request (not yet checked).
fn bearer_token(req: &HttpRequest) -> Result<(web::Data<AppState>, &str), AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("application state missing")))?;
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or(AppError::Unauthorized)?;
    let (scheme, token) = header.split_once(' ').ok_or(AppError::Unauthorized)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AppError::Unauthorized);
    }
    Ok((state.clone(), token.trim()))
}
