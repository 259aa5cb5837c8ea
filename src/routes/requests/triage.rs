use actix_web::{post, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{elements_of, tell_partner};
use crate::auth::AuthUser;
use crate::db::models::partnership::{ElementRow, ProjectRow};
use crate::db::queries::partnership as queries;
use crate::domain::partnership::{ElementSpec, ElementStatus, RequestStatus, TriageDecision};
use crate::domain::role::Role;
use crate::error::{AppError, FieldError, Problem};
use crate::routes::extract::{FieldErrors, ValidJson, Validate};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriageInput {
    pub decision: TriageDecision,
    /// Sent to the partner: what is needed, why not, or what happens next.
    #[schema(min_length = 1, max_length = 5000)]
    pub note: String,
}

impl Validate for TriageInput {
    type Valid = Self;

    fn validate(self) -> Result<Self, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        errors.text("note", &self.note, 5000);
        errors.finish(self)
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TriageResult {
    pub status: RequestStatus,
    /// Set when the request was accepted.
    pub project_id: Option<String>,
}

/// Triage a request: accept it (creating a project with its elements), ask for more
/// information, or decline it with a reason. The partner is emailed either way.
#[utoipa::path(tag = "partners", security(("bearer" = [])), params(("id" = String, Path)), request_body = TriageInput, responses(
    (status = 200, body = TriageResult),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Not allowed from the request's current status", body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/triage")]
pub async fn triage(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: ValidJson<TriageInput>,
) -> Result<web::Json<TriageResult>, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let input = body.0;
    let app = state.clone();
    let result = state
        .db
        .write(move |conn| {
            let row = queries::find_request(conn, &id)?.ok_or(AppError::NotFound)?;
            let from = RequestStatus::parse(&row.status)
                .ok_or_else(|| AppError::Internal(anyhow::anyhow!("unknown request status")))?;
            let to = from
                .triage(input.decision)
                .map_err(|why| AppError::conflict("invalid_transition", why))?;
            let now = Utc::now().naive_utc();
            let note = input.note.trim();
            if !queries::move_request(
                conn,
                &row.id,
                from.as_str(),
                to.as_str(),
                &user.id,
                Some(note),
                now,
            )? {
                return Err(AppError::conflict(
                    "invalid_transition",
                    "Someone changed this request meanwhile. Reload it to see the latest version.",
                ));
            }
            // Build from the request as it stands now that we hold it (it may have been resubmitted).
            let row = queries::find_request(conn, &row.id)?.ok_or(AppError::NotFound)?;
            let project_id = if to == RequestStatus::Accepted {
                Some(create_project(conn, &row, now)?)
            } else {
                None
            };
            let (step, link) = match (&project_id, to) {
                (Some(project), _) => (
                    "accepted",
                    app.settings.server.link(&format!("/projects/{project}")),
                ),
                (None, RequestStatus::NeedsInfo) => (
                    "needs_info",
                    app.settings.server.link(&format!("/requests/{}", row.id)),
                ),
                _ => (
                    "declined",
                    app.settings.server.link(&format!("/requests/{}", row.id)),
                ),
            };
            tell_partner(conn, &app, &row, step, note, link)?;
            Ok(TriageResult {
                status: to,
                project_id,
            })
        })
        .await?;
    state.outbox.wake();
    Ok(web::Json(result))
}

/// The project and its elements, each open, from an accepted request.
fn create_project(
    conn: &mut crate::db::DbConn,
    row: &crate::db::models::partnership::RequestRow,
    now: chrono::NaiveDateTime,
) -> Result<String, AppError> {
    let project = ProjectRow {
        id: uuid::Uuid::now_v7().to_string(),
        request_id: row.id.clone(),
        organisation_id: row.organisation_id.clone(),
        title: row.title.clone(),
        summary: row.summary.clone(),
        created_at: now,
    };
    queries::insert_project(conn, &project)?;
    for (position, spec) in elements_of(row)?.into_iter().enumerate() {
        insert_element(
            conn,
            &project.id,
            i32::try_from(position).unwrap_or(i32::MAX),
            &spec,
            now,
        )?;
    }
    Ok(project.id)
}

pub fn insert_element(
    conn: &mut crate::db::DbConn,
    project_id: &str,
    position: i32,
    spec: &ElementSpec,
    now: chrono::NaiveDateTime,
) -> Result<ElementRow, AppError> {
    let element = ElementRow {
        id: uuid::Uuid::now_v7().to_string(),
        project_id: project_id.to_string(),
        position,
        spec: serde_json::to_string(spec).map_err(|e| AppError::Internal(e.into()))?,
        mode: spec.mode.as_str().into(),
        people_needed: spec.people_needed,
        status: ElementStatus::Open.as_str().into(),
        created_at: now,
        updated_at: now,
        status_changed_at: None,
    };
    let sessions: Vec<_> = spec
        .sessions
        .iter()
        .map(|s| (s.starts_at.naive_utc(), s.ends_at.naive_utc()))
        .collect();
    queries::insert_element(conn, &element, &sessions)?;
    Ok(element)
}
