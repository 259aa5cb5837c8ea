//! Conflicts of interest a co-producer declares, one per organisation. The matcher never
//! suggests them for that organisation's elements.

use actix_web::{HttpResponse, delete, get, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::db::queries::partnership as queries;
use crate::domain::non_blank;
use crate::domain::role::Role;
use crate::error::{AppError, FieldError, Problem};
use crate::routes::extract::{FieldErrors, ValidJson, Validate};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConflictInput {
    /// Optional: what the connection is (kept private to coordinators).
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

impl Validate for ConflictInput {
    type Valid = Self;

    fn validate(self) -> Result<Self, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        errors.optional_text("note", self.note.as_deref(), 1000);
        errors.finish(self)
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Conflict {
    pub organisation_id: String,
    pub note: Option<String>,
    pub declared_at: DateTime<Utc>,
}

/// Your declared conflicts of interest.
#[utoipa::path(tag = "me", security(("bearer" = [])), responses(
    (status = 200, body = Vec<Conflict>),
    (status = 403, description = "Only co-producers declare conflicts", body = Problem, content_type = "application/problem+json"),
))]
#[get("/conflicts")]
pub async fn list_conflicts(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<web::Json<Vec<Conflict>>, AppError> {
    user.require_any(&[Role::Coproducer])?;
    let rows = state
        .db
        .read(move |conn| Ok(queries::conflicts_of(conn, &user.id)?))
        .await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|(organisation_id, note, at)| Conflict {
                organisation_id,
                note,
                declared_at: at.and_utc(),
            })
            .collect(),
    ))
}

/// Declare (or update) a conflict of interest with an organisation.
#[utoipa::path(tag = "me", security(("bearer" = [])), params(("organisation_id" = String, Path)), request_body = ConflictInput, responses(
    (status = 200, body = Conflict),
    (status = 403, description = "Only co-producers declare conflicts", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
))]
#[put("/conflicts/{organisation_id}")]
pub async fn declare_conflict(
    state: web::Data<AppState>,
    user: AuthUser,
    organisation_id: web::Path<String>,
    body: ValidJson<ConflictInput>,
) -> Result<web::Json<Conflict>, AppError> {
    user.require_any(&[Role::Coproducer])?;
    let note = non_blank(body.0.note);
    let conflict = state
        .db
        .write(move |conn| {
            user.still_signed_in(conn)?;
            if !queries::organisation_exists(conn, &organisation_id)? {
                return Err(AppError::NotFound);
            }
            let now = Utc::now().naive_utc();
            queries::declare_conflict(conn, &user.id, &organisation_id, note.as_deref(), now)?;
            Ok(Conflict {
                organisation_id: organisation_id.to_string(),
                note,
                declared_at: now.and_utc(),
            })
        })
        .await?;
    Ok(web::Json(conflict))
}

/// Withdraw a declaration.
#[utoipa::path(tag = "me", security(("bearer" = [])), params(("organisation_id" = String, Path)), responses(
    (status = 204),
    (status = 403, description = "Only co-producers declare conflicts", body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[delete("/conflicts/{organisation_id}")]
pub async fn withdraw_conflict(
    state: web::Data<AppState>,
    user: AuthUser,
    organisation_id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require_any(&[Role::Coproducer])?;
    let removed = state
        .db
        .write(move |conn| {
            Ok(queries::withdraw_conflict(
                conn,
                &user.id,
                &organisation_id,
            )?)
        })
        .await?;
    if removed {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(AppError::NotFound)
    }
}
