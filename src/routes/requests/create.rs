use actix_web::{HttpResponse, post, put, web};
use chrono::Utc;

use super::{RequestInput, RequestView, check_request, tell_partner, view, visible_request};
use crate::auth::AuthUser;
use crate::db::models::partnership::RequestRow;
use crate::db::queries::partnership as queries;
use crate::domain::Invalid;
use crate::domain::partnership::RequestStatus;
use crate::domain::role::Role;
use crate::error::{AppError, Problem};
use crate::routes::extract::{ValidJson, with_problems_of};
use crate::state::AppState;

/// Ask for co-producers: a request with at least one element. The answer lists plain-English
/// quality hints (they never stop a request); the partner is emailed a confirmation.
#[utoipa::path(tag = "partners", security(("bearer" = [])), request_body = RequestInput, responses(
    (status = 201, body = RequestView),
    (status = 403, description = "Not a partner contact", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Every bad field, named", body = Problem, content_type = "application/problem+json"),
))]
#[post("")]
pub async fn create_request(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ValidJson<RequestInput>,
) -> Result<HttpResponse, AppError> {
    user.require_any(&[Role::Partner])?;
    let input = body.0;
    let app = state.clone();
    let created = state
        .db
        .write(move |conn| {
            user.still_signed_in(conn)?;
            let (organisation_id, ()) = with_problems_of(
                organisation_for(conn, &user, input.organisation_id.as_deref()),
                check_request(&app, &input),
            )?;
            let now = Utc::now().naive_utc();
            let row = RequestRow {
                id: uuid::Uuid::now_v7().to_string(),
                organisation_id,
                submitted_by: user.id.clone(),
                title: input.title.trim().to_string(),
                summary: input.summary.trim().to_string(),
                engagement_level: engagement_code(&input)?,
                budget_pence: input.budget_pence,
                access_budget_pence: input.access_budget_pence,
                elements: serde_json::to_string(&input.elements)
                    .map_err(|e| AppError::Internal(e.into()))?,
                status: RequestStatus::Submitted.as_str().into(),
                created_at: now,
                updated_at: now,
            };
            queries::insert_request(conn, &row)?;
            queries::record_request_event(conn, &row.id, &row.status, &user.id, None, now)?;
            tell_partner(
                conn,
                &app,
                &row,
                "received",
                "",
                app.settings.server.link(&format!("/requests/{}", row.id)),
            )?;
            view(conn, &app, row)
        })
        .await?;
    state.outbox.wake();
    Ok(HttpResponse::Created().json(created))
}

/// After coordinators ask for more information: replace the request's content and send it again.
#[utoipa::path(tag = "partners", security(("bearer" = [])), params(("id" = String, Path)), request_body = RequestInput, responses(
    (status = 200, body = RequestView),
    (status = 403, description = "Not a partner contact", body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Only a request waiting for more information can change", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[put("/{id}")]
pub async fn resubmit_request(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: ValidJson<RequestInput>,
) -> Result<web::Json<RequestView>, AppError> {
    user.require_any(&[Role::Partner])?;
    let input = body.0;
    check_request(&state, &input)?;
    let app = state.clone();
    let updated = state
        .db
        .write(move |conn| {
            user.still_signed_in(conn)?;
            let mut row = visible_request(conn, &user, &id)?;
            if !queries::memberships(conn, &user.id)?.contains(&row.organisation_id) {
                return Err(AppError::NotFound);
            }
            let from = RequestStatus::parse(&row.status)
                .ok_or_else(|| AppError::Internal(anyhow::anyhow!("unknown request status")))?;
            let to = from
                .resubmit()
                .map_err(|why| AppError::conflict("invalid_transition", why))?;
            let now = Utc::now().naive_utc();
            if !queries::move_request(
                conn,
                &row.id,
                from.as_str(),
                to.as_str(),
                &user.id,
                None,
                now,
            )? {
                return Err(AppError::conflict(
                    "invalid_transition",
                    "Someone changed this request meanwhile. Reload it to see the latest version.",
                ));
            }
            row.title = input.title.trim().to_string();
            row.summary = input.summary.trim().to_string();
            row.engagement_level = engagement_code(&input)?;
            row.budget_pence = input.budget_pence;
            row.access_budget_pence = input.access_budget_pence;
            row.elements =
                serde_json::to_string(&input.elements).map_err(|e| AppError::Internal(e.into()))?;
            row.updated_at = now;
            row.status = to.as_str().into();
            queries::update_request_content(conn, &row)?;
            tell_partner(
                conn,
                &app,
                &row,
                "received",
                "",
                app.settings.server.link(&format!("/requests/{}", row.id)),
            )?;
            view(conn, &app, row)
        })
        .await?;
    state.outbox.wake();
    Ok(web::Json(updated))
}

/// The organisation the request is for: the one named (which must be the caller's), or the
/// caller's only one.
fn organisation_for(
    conn: &mut crate::db::DbConn,
    user: &AuthUser,
    named: Option<&str>,
) -> Result<String, AppError> {
    let mine = queries::memberships(conn, &user.id)?;
    match (named, mine.as_slice()) {
        (Some(id), _) if mine.iter().any(|m| m == id) => Ok(id.to_string()),
        (Some(_), _) => Err(AppError::invalid_field(
            "organisation_id",
            Invalid::new("not_found", "You are not a contact of that organisation."),
        )),
        (None, [only]) => Ok(only.clone()),
        (None, []) => Err(AppError::Forbidden),
        (None, _) => Err(AppError::invalid_field(
            "organisation_id",
            Invalid::new(
                "required",
                "You are a contact of more than one organisation: say which one this request is for.",
            ),
        )),
    }
}

fn engagement_code(input: &RequestInput) -> Result<String, AppError> {
    match serde_json::to_value(input.engagement_level) {
        Ok(serde_json::Value::String(code)) => Ok(code),
        _ => Err(AppError::Internal(anyhow::anyhow!(
            "engagement level did not serialise to a code"
        ))),
    }
}
