//! One error type for every route, rendered as RFC 9457 `application/problem+json` with a
//! stable `code`. Internal details are logged with the request id, never sent.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::Invalid;
use crate::middleware::current_request_id;

/// Seconds a client should wait after a 503 for a busy database.
const DATABASE_BUSY_RETRY_SECS: u64 = 1;

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Path of the field in the request, e.g. `elements[0].sessions[1].ends_at`.
    pub field: String,
    /// Stable snake_case code, e.g. `required`, `invalid_email`, `unknown_field`.
    pub code: String,
    /// What is wrong and how to put it right, in plain English.
    pub message: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn from_invalid(field: impl Into<String>, invalid: Invalid) -> Self {
        Self::new(field, invalid.code, invalid.message)
    }
}

/// The problem+json body every error answers with.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Extra members some conflicts carry, e.g. `existing_id`.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub extra: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("malformed request: {0}")]
    BadRequest(String),
    #[error("not signed in")]
    Unauthorized,
    #[error("sign-in failed: {0}")]
    InvalidGrant(String),
    #[error("role not allowed")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("conflict {code}: {detail}")]
    Conflict {
        code: &'static str,
        detail: String,
        extra: Option<serde_json::Map<String, serde_json::Value>>,
    },
    #[error("request body too large")]
    PayloadTooLarge { limit_bytes: usize },
    #[error("request body too slow")]
    BodyTimeout { seconds: u64 },
    #[error("invalid fields")]
    Validation(Vec<FieldError>),
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("database busy")]
    DatabaseBusy,
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            detail: detail.into(),
            extra: None,
        }
    }

    pub fn invalid_field(field: impl Into<String>, invalid: Invalid) -> Self {
        Self::Validation(vec![FieldError::from_invalid(field, invalid)])
    }

    /// Stable code, title and plain-English detail.
    fn describe(&self) -> (&'static str, &'static str, String) {
        match self {
            Self::BadRequest(why) => (
                "malformed_request",
                "Malformed request",
                format!("We could not read the request: {why}"),
            ),
            Self::Unauthorized => (
                "unauthorized",
                "Not signed in",
                "Sign in to do this. Your session may have ended; sign in again.".into(),
            ),
            Self::InvalidGrant(_) => (
                "invalid_grant",
                "Sign-in failed",
                "Those sign-in details did not work. Links and codes work once and expire; ask for a new one.".into(),
            ),
            Self::Forbidden => (
                "forbidden",
                "Not allowed",
                "Your account does not have permission to do this.".into(),
            ),
            Self::NotFound => (
                "not_found",
                "Not found",
                "We could not find that. It may have been removed, or it is not shared with you.".into(),
            ),
            Self::Conflict { code, detail, .. } => (code, "Conflict", detail.clone()),
            Self::PayloadTooLarge { limit_bytes } => (
                "payload_too_large",
                "Request too large",
                format!("The request body is larger than the {limit_bytes} bytes we accept."),
            ),
            Self::BodyTimeout { seconds } => (
                "request_timeout",
                "Request too slow",
                format!(
                    "The request did not arrive in full within {seconds} seconds. Check your connection and send it again."
                ),
            ),
            Self::Validation(errors) => (
                "validation_failed",
                "Some answers need changing",
                format!(
                    "{} {} to be changed. Each one is listed in `errors`.",
                    errors.len(),
                    if errors.len() == 1 { "answer needs" } else { "answers need" }
                ),
            ),
            Self::RateLimited { retry_after_secs } => (
                "rate_limited",
                "Too many requests",
                format!("Too many attempts. Please wait {retry_after_secs} seconds and try again."),
            ),
            Self::DatabaseBusy => (
                "database_busy",
                "Busy",
                "The service is busy. Please try again in a moment.".into(),
            ),
            Self::Unavailable(_) => (
                "service_unavailable",
                "Unavailable",
                "The service cannot answer right now. Please try again shortly.".into(),
            ),
            Self::Internal(_) => (
                "internal_error",
                "Something went wrong",
                "Something went wrong on our side. If it keeps happening, tell us the request id.".into(),
            ),
        }
    }

    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            Self::DatabaseBusy | Self::Unavailable(_) => Some(DATABASE_BUSY_RETRY_SECS),
            _ => None,
        }
    }

    pub fn problem(&self) -> Problem {
        let (code, title, detail) = self.describe();
        let status = self.status_code();
        Problem {
            problem_type: format!("https://coproduce.example/problems/{code}"),
            title: title.into(),
            status: status.as_u16(),
            detail,
            code: code.into(),
            errors: match self {
                Self::Validation(errors) => errors.clone(),
                _ => Vec::new(),
            },
            request_id: status.is_server_error().then(current_request_id).flatten(),
            extra: match self {
                Self::Conflict { extra, .. } => extra.clone(),
                _ => None,
            },
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::InvalidGrant(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::DatabaseBusy | Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(error) => {
                tracing::error!(error = %format!("{error:#}"), "request failed")
            }
            Self::Unavailable(why) => tracing::warn!(reason = %why, "service unavailable"),
            Self::DatabaseBusy => tracing::warn!("database busy"),
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        if let Some(seconds) = self.retry_after_secs() {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if matches!(self, Self::Unauthorized | Self::InvalidGrant(_)) {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        response.json(self.problem())
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as Kind, Error as D};
        match error {
            D::NotFound => Self::NotFound,
            D::DatabaseError(_, ref info) if is_lock_contention(info.message()) => {
                Self::DatabaseBusy
            }
            // PostgreSQL gave up on a conflicting transaction: trying again will work.
            D::DatabaseError(Kind::SerializationFailure, _) => Self::DatabaseBusy,
            D::DatabaseError(Kind::UniqueViolation, _) => Self::conflict(
                "already_exists",
                "That already exists. Refresh and try again.",
            ),
            other => Self::Internal(other.into()),
        }
    }
}

/// SQLite reports a lock it waited `busy_timeout` for as "database is locked" (or "busy");
/// PostgreSQL reports a deadlock it broke by cancelling this transaction.
fn is_lock_contention(message: &str) -> bool {
    message.contains("database is locked")
        || message.contains("database table is locked")
        || message.contains("database is busy")
        || message.contains("deadlock detected")
}

impl From<diesel::r2d2::PoolError> for AppError {
    /// The pool fails by timing out: every connection is busy, or none can be opened.
    fn from(error: diesel::r2d2::PoolError) -> Self {
        tracing::warn!(error = %error, "no database connection available");
        Self::DatabaseBusy
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(error: tokio::task::JoinError) -> Self {
        Self::Internal(anyhow::anyhow!("blocking task failed: {error}"))
    }
}

impl From<validator::ValidationErrors> for AppError {
    fn from(errors: validator::ValidationErrors) -> Self {
        Self::Validation(field_errors(&errors, ""))
    }
}

/// Flattens validator's nested errors into `path.to[0].field` entries, all at once.
fn field_errors(errors: &validator::ValidationErrors, prefix: &str) -> Vec<FieldError> {
    use validator::ValidationErrorsKind as Kind;
    let mut out = Vec::new();
    let mut fields: Vec<_> = errors.errors().iter().collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    for (name, kind) in fields {
        let path = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        };
        match kind {
            Kind::Field(list) => out.extend(list.iter().map(|e| {
                let message = e
                    .message
                    .as_ref()
                    .map_or_else(|| format!("{path} is not valid."), ToString::to_string);
                FieldError::new(path.clone(), e.code.to_string(), message)
            })),
            Kind::Struct(inner) => out.extend(field_errors(inner, &path)),
            Kind::List(items) => {
                for (index, inner) in items {
                    out.extend(field_errors(inner, &format!("{path}[{index}]")));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    async fn render(
        error: AppError,
    ) -> (
        StatusCode,
        actix_web::http::header::HeaderMap,
        serde_json::Value,
    ) {
        let response = error.error_response();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = to_bytes(response.into_body()).await.unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or_default();
        (status, headers, body)
    }

    #[actix_web::test]
    async fn each_error_has_its_status_and_stable_code() {
        let cases = [
            (AppError::BadRequest("eof".into()), 400, "malformed_request"),
            (AppError::Unauthorized, 401, "unauthorized"),
            (
                AppError::InvalidGrant("expired".into()),
                401,
                "invalid_grant",
            ),
            (AppError::Forbidden, 403, "forbidden"),
            (AppError::NotFound, 404, "not_found"),
            (
                AppError::conflict("round_closed", "This round closed on 1 May."),
                409,
                "round_closed",
            ),
            (
                AppError::PayloadTooLarge { limit_bytes: 10 },
                413,
                "payload_too_large",
            ),
            (
                AppError::BodyTimeout { seconds: 15 },
                408,
                "request_timeout",
            ),
            (AppError::Validation(vec![]), 422, "validation_failed"),
            (
                AppError::RateLimited {
                    retry_after_secs: 30,
                },
                429,
                "rate_limited",
            ),
            (AppError::DatabaseBusy, 503, "database_busy"),
            (
                AppError::Internal(anyhow::anyhow!("boom")),
                500,
                "internal_error",
            ),
        ];
        for (error, status, code) in cases {
            let (actual, headers, body) = render(error).await;
            assert_eq!(actual.as_u16(), status, "{code}");
            assert_eq!(body["code"], code);
            assert_eq!(body["status"], status);
            assert_eq!(
                headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok()),
                Some("application/problem+json")
            );
        }
    }

    #[actix_web::test]
    async fn rate_limited_and_busy_answers_say_when_to_retry() {
        let (_, headers, _) = render(AppError::RateLimited {
            retry_after_secs: 30,
        })
        .await;
        assert_eq!(
            headers
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("30")
        );
        let (_, headers, _) = render(AppError::DatabaseBusy).await;
        assert!(headers.contains_key(header::RETRY_AFTER));
    }

    #[actix_web::test]
    async fn internal_error_shows_no_internals() {
        let (_, _, body) = render(AppError::Internal(anyhow::anyhow!(
            "password=hunter2 at db.rs:12"
        )))
        .await;
        let text = body.to_string();
        assert!(!text.contains("hunter2"));
        assert!(!text.contains("db.rs"));
    }

    #[actix_web::test]
    async fn conflict_carries_its_extra_members() {
        let mut extra = serde_json::Map::new();
        extra.insert("existing_id".into(), "0190".into());
        let error = AppError::Conflict {
            code: "already_applied",
            detail: "You already have a draft.".into(),
            extra: Some(extra),
        };
        let (_, _, body) = render(error).await;
        assert_eq!(body["existing_id"], "0190");
    }

    fn database_error(kind: diesel::result::DatabaseErrorKind, message: &str) -> AppError {
        AppError::from(diesel::result::Error::DatabaseError(
            kind,
            Box::new(message.to_string()),
        ))
    }

    #[test]
    fn unique_violation_is_a_conflict_not_a_500() {
        let error = database_error(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            "duplicate key",
        );
        assert_eq!(error.status_code(), StatusCode::CONFLICT);
    }

    #[test]
    fn serialization_failure_and_deadlock_are_busy() {
        use diesel::result::DatabaseErrorKind as Kind;
        assert!(matches!(
            database_error(Kind::SerializationFailure, "could not serialize"),
            AppError::DatabaseBusy
        ));
        assert!(matches!(
            database_error(Kind::Unknown, "deadlock detected"),
            AppError::DatabaseBusy
        ));
        assert!(matches!(
            database_error(Kind::Unknown, "database is locked"),
            AppError::DatabaseBusy
        ));
    }

    #[test]
    fn locked_sqlite_database_maps_to_busy() {
        assert!(is_lock_contention("database is locked"));
        assert!(!is_lock_contention("UNIQUE constraint failed: users.email"));
    }

    #[test]
    fn validator_errors_are_flattened_with_paths() {
        use validator::Validate;
        #[derive(Validate)]
        struct Inner {
            #[validate(length(min = 1, message = "Enter a title."))]
            title: String,
        }
        #[derive(Validate)]
        struct Outer {
            #[validate(range(min = 1))]
            people_needed: u32,
            #[validate(nested)]
            elements: Vec<Inner>,
        }
        let outer = Outer {
            people_needed: 0,
            elements: vec![
                Inner { title: "ok".into() },
                Inner {
                    title: String::new(),
                },
            ],
        };
        let Err(errors) = outer.validate() else {
            panic!("should be invalid")
        };
        let AppError::Validation(fields) = AppError::from(errors) else {
            panic!("422 expected")
        };
        let paths: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(paths, ["elements[1].title", "people_needed"]);
        assert_eq!(fields[0].message, "Enter a title.");
    }
}
