//! `Idempotency-Key` on signed-in POSTs (API.md): a retry with the same key gets the first
//! answer back instead of creating twice. Keys belong to the signed-in user; a failed first
//! attempt frees its key, so a corrected retry runs. Sign-in routes ignore it (`honoured_on`).
//! The OpenAPI document lists the header on each operation that honours it (openapi_doc.rs).

use actix_web::body::{BoxBody, MessageBody, to_bytes};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_TYPE, HeaderName};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpResponse, ResponseError, web};
use chrono::Utc;

use crate::auth::AuthUser;
use crate::db::DbConn;
use crate::db::queries::{idempotency as queries, outbox as outbox_queries, privacy};
use crate::domain::Invalid;
use crate::error::AppError;
use crate::state::AppState;

pub const HEADER: HeaderName = HeaderName::from_static("idempotency-key");
pub const MAX_KEY_LEN: usize = 255;
/// Where a key is ignored: these answers hold sign-in tokens, which must never be stored.
const IGNORED_UNDER: [&str; 2] = ["/api/v1/auth/", "/api/v1/users/invitations/accept"];

/// Whether a signed-in POST to `path` (a request path or an OpenAPI path template) honours an
/// Idempotency-Key.
pub fn honoured_on(path: &str) -> bool {
    !IGNORED_UNDER.iter().any(|prefix| path.starts_with(prefix))
}

enum Claim {
    First,
    Replay(StatusCode, String, String),
}

pub async fn idempotency(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = req
        .headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .map(str::to_string);
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let honoured = req.method() == Method::POST && honoured_on(req.path());
    let (Some(key), Some(state)) = (key.filter(|_| honoured), state) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    // Only signed-in requests: the key is the user's. Others go through untouched. The full
    // check (session still live), or a replay would outlive a logout; the handler's own check
    // then finds the token already verified.
    let user = AuthUser::from_request(req.request(), &mut Payload::None)
        .await
        .ok()
        .map(|user| user.id);
    let Some(user) = user else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        let error = AppError::invalid_field(
            "Idempotency-Key",
            Invalid::new(
                "invalid",
                "Send a key of 1 to 255 characters, for example a UUID.",
            ),
        );
        return Ok(req.into_response(error.error_response()));
    }
    let path = req.path().to_string();
    let (claim_user, claim_key, claim_path) = (user.clone(), key.clone(), path.clone());
    let claim = state
        .db
        .write(move |conn| match queries::find(conn, &claim_user, &claim_key)? {
            Some((stored_path, _, _, _)) if stored_path != claim_path => Err(AppError::invalid_field(
                "Idempotency-Key",
                Invalid::new("reused", "This key was already used for a different request. Use a new key for each new request."),
            )),
            Some((_, Some(status), content_type, body)) => Ok(Claim::Replay(
                StatusCode::from_u16(u16::try_from(status).unwrap_or(500)).unwrap_or(StatusCode::OK),
                content_type.unwrap_or_else(|| "application/json".into()),
                body.unwrap_or_default(),
            )),
            Some((_, None, _, _)) => Err(in_progress()),
            None if queries::claim(conn, &claim_user, &claim_key, &claim_path, Utc::now().naive_utc())? => Ok(Claim::First),
            None => Err(in_progress()),
        })
        .await;
    match claim {
        Err(error) => Ok(req.into_response(error.error_response())),
        Ok(Claim::Replay(status, content_type, body)) => Ok(req.into_response(
            HttpResponse::build(status)
                .insert_header((CONTENT_TYPE, content_type))
                .body(body),
        )),
        Ok(Claim::First) => {
            let response = next.call(req).await?;
            let status = response.status();
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/json")
                .to_string();
            let headers = response.headers().clone();
            let (request, response) = response.into_parts();
            let remembered = async {
                let bytes = to_bytes(response.into_body()).await.map_err(|_| {
                    AppError::Internal(anyhow::anyhow!("reading the response body"))
                })?;
                let body = String::from_utf8_lossy(&bytes).into_owned();
                let stored = body.clone();
                let stored_type = content_type.clone();
                state
                    .db
                    .write(move |conn| {
                        if !status.is_success() {
                            return Ok(queries::release(conn, &user, &key)?);
                        }
                        if answer_may_name_someone_erased(conn, &user, &key)? {
                            let withheld = answer_not_kept();
                            let body = serde_json::to_string(&withheld.problem())
                                .map_err(|e| AppError::Internal(e.into()))?;
                            let status = i32::from(withheld.status_code().as_u16());
                            let problem = "application/problem+json";
                            return Ok(queries::complete(
                                conn, &user, &key, status, problem, &body,
                            )?);
                        }
                        let status = i32::from(status.as_u16());
                        Ok(queries::complete(
                            conn,
                            &user,
                            &key,
                            status,
                            &stored_type,
                            &stored,
                        )?)
                    })
                    .await?;
                Ok::<_, AppError>(body)
            }
            .await;
            // Answered with the routed request, so the log line and metrics keep its route.
            let body = match remembered {
                Ok(body) => body,
                Err(error) => return Ok(ServiceResponse::new(request, error.error_response())),
            };
            let mut rebuilt = HttpResponse::build(status).body(body);
            *rebuilt.headers_mut() = headers;
            Ok(ServiceResponse::new(request, rebuilt))
        }
    }
}

/// Whether an erasure is under way, or one has committed since the key was claimed: it forgot
/// the stored answers naming the person, but this one was not stored yet and may name them.
/// Never waits for the erasure, so no connection is held while it runs.
fn answer_may_name_someone_erased(
    conn: &mut DbConn,
    user: &str,
    key: &str,
) -> Result<bool, AppError> {
    if !outbox_queries::no_erasure_under_way(conn)? {
        return Ok(true);
    }
    let Some(seen) = queries::erasures_seen(conn, user, key)? else {
        return Ok(false);
    };
    Ok(privacy::erasures_so_far(conn)? > seen)
}

/// What a retry is answered in place of an answer that was not kept.
fn answer_not_kept() -> AppError {
    AppError::conflict(
        "answer_not_kept",
        "Your first request with this Idempotency-Key was carried out, but its answer was not kept \
         because someone's account was deleted at the same time. Look up what it changed \
         instead of sending it again.",
    )
}

fn in_progress() -> AppError {
    AppError::conflict(
        "request_in_progress",
        "A request with this Idempotency-Key is still being handled. Wait a moment, then retry.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_routes_ignore_the_key() {
        assert!(honoured_on("/api/v1/organisations"));
        assert!(honoured_on("/api/v1/users/invitations"));
        assert!(!honoured_on("/api/v1/auth/token"));
        assert!(!honoured_on("/api/v1/users/invitations/accept"));
        for prefix in IGNORED_UNDER {
            assert!(prefix.starts_with(crate::routes::API_PREFIX));
        }
    }
}
