//! `AuthUser`: the signed-in user from a bearer access token, and role guards.

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

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
}

impl FromRequest for AuthUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verified = verify(req);
        Box::pin(async move {
            let (state, user) = verified?;
            // A token outlives a logout, a revoked session, a deactivation or an erasure by up
            // to its lifetime; the session and the account's status are the word that counts.
            let (session_id, user_id) = (user.session_id.clone(), user.id.clone());
            let live = state
                .db
                .read(move |conn| Ok(auth::session_is_live(conn, &session_id, &user_id)?))
                .await?;
            if live {
                Ok(user)
            } else {
                Err(AppError::Unauthorized)
            }
        })
    }
}

/// Checks the bearer token's signature and claims (no database yet).
fn verify(req: &HttpRequest) -> Result<(web::Data<AppState>, AuthUser), AppError> {
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
    let claims = state.jwt.verify_access_token(token.trim())?;
    let user = AuthUser {
        id: claims.sub,
        roles: claims.roles,
        session_id: claims.sid,
    };
    Ok((state.clone(), user))
}
