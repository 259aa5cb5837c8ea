//! A co-producer's place in the pool, changed by a coordinator: archived with a reason, or
//! reinstated. The person is told either way.

use actix_web::{post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::db::DbConn;
use crate::db::models::user::UserRow;
use crate::db::queries::{matching, pool, users};
use crate::domain::partnership::CoproducerStatus;
use crate::domain::role::Role;
use crate::email::{Email, Recipient};
use crate::error::{AppError, FieldError, Problem};
use crate::routes::extract::{FieldErrors, ValidJson, Validate};
use crate::routes::matching::assignments::lapse_invitations_of_person;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchiveInput {
    /// Why, in words the person could read: it is emailed to them.
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

impl Validate for ArchiveInput {
    type Valid = Self;

    fn validate(self) -> Result<Self, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        errors.text("reason", &self.reason, 2000);
        errors.finish(self)
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StatusView {
    pub user_id: String,
    pub status: CoproducerStatus,
    pub paused_until: Option<DateTime<Utc>>,
    pub archived_reason: Option<String>,
    /// On archiving: how many of their unanswered invitations and waiting-list places closed,
    /// so that coordinators can offer those places to others. 0 on reinstating.
    pub invitations_closed: usize,
}

/// Take someone out of the pool, with a reason. They are no longer matched, their unanswered
/// invitations and waiting-list places close, and they are emailed the reason. Their bookings
/// stay.
#[utoipa::path(tag = "coproducers", security(("bearer" = [])), params(("id" = String, Path)), request_body = ArchiveInput, responses(
    (status = 200, body = StatusView),
    (status = 403, description = "Coordinators only", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "Not a co-producer", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`already_archived`", body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/archive")]
pub async fn archive(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: ValidJson<ArchiveInput>,
) -> Result<web::Json<StatusView>, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let reason = body.0.reason.trim().to_string();
    let app = state.clone();
    let view = state
        .db
        .write(move |conn| {
            let person = pool_member(conn, &id)?;
            // An answer of theirs at this moment goes first, or finds its invitation closed.
            matching::hold_bookings_of(conn, &id)?;
            let now = Utc::now().naive_utc();
            let archived = CoproducerStatus::Archived.as_str();
            if !pool::set_status(conn, &id, archived, None, Some(&reason), now)? {
                return Err(AppError::conflict(
                    "already_archived",
                    "This co-producer is already archived.",
                ));
            }
            let closed = lapse_invitations_of_person(conn, &id, now)?;
            let invitations_closed = closed.len();
            tell(conn, &app, &person, Some(&reason), closed)?;
            Ok(StatusView {
                user_id: id.to_string(),
                status: CoproducerStatus::Archived,
                paused_until: None,
                archived_reason: Some(reason),
                invitations_closed,
            })
        })
        .await?;
    state.outbox.wake();
    Ok(web::Json(view))
}

/// Bring an archived co-producer back into the pool: active again, the archive reason cleared.
/// They are emailed, and are matched and may accept invitations again.
#[utoipa::path(tag = "coproducers", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = StatusView),
    (status = 403, description = "Coordinators only", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "Not a co-producer", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`not_archived`: they are already in the pool (active or paused)", body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/reinstate")]
pub async fn reinstate(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<web::Json<StatusView>, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let app = state.clone();
    let view = state
        .db
        .write(move |conn| {
            let person = pool_member(conn, &id)?;
            if !pool::reinstate(conn, &id, Utc::now().naive_utc())? {
                return Err(AppError::conflict(
                    "not_archived",
                    "This co-producer is not archived, so they are already in the pool.",
                ));
            }
            tell(conn, &app, &person, None, Vec::new())?;
            Ok(StatusView {
                user_id: id.to_string(),
                status: CoproducerStatus::Active,
                paused_until: None,
                archived_reason: None,
                invitations_closed: 0,
            })
        })
        .await?;
    state.outbox.wake();
    Ok(web::Json(view))
}

/// The co-producer's account, held for the rest of the transaction (an erasure under way
/// finishes first and they are not found, or waits), so nothing is written about or sent to
/// someone who deleted their account.
fn pool_member(conn: &mut DbConn, id: &str) -> Result<UserRow, AppError> {
    if !users::hold_if_active(conn, id)? || pool::status_of(conn, id)?.is_none() {
        return Err(AppError::NotFound);
    }
    users::find_by_id(conn, id)?.ok_or(AppError::NotFound)
}

/// Tells the person their place was archived (with the reason, and the elements whose
/// invitations closed) or, with no reason, reinstated.
fn tell(
    conn: &mut DbConn,
    app: &AppState,
    person: &UserRow,
    archived_because: Option<&str>,
    closed: Vec<String>,
) -> Result<(), AppError> {
    app.outbox.enqueue(
        conn,
        &Recipient::user(person),
        &Email::PoolPlaceChanged {
            name: person.display_name().to_string(),
            archived: archived_because.is_some(),
            reason: archived_because.unwrap_or_default().to_string(),
            closed,
            link: app.settings.server.link("/me"),
        },
    )?;
    Ok(())
}
