//! The email outbox, for coordinators: what is waiting, what failed, and retrying dead email.

use actix_web::{get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthUser;
use crate::db::models::outbox::OutboxRow;
use crate::db::queries::outbox as queries;
use crate::domain::Invalid;
use crate::domain::role::Role;
use crate::error::{AppError, Problem};
use crate::routes::extract::Query;
use crate::routes::pagination::{Page, PageQuery};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusFilter {
    /// `pending`, `sent`, `failed`, `dead`, or `held` for someone's daily digest.
    #[param(pattern = "^(pending|sent|failed|dead|held)$")]
    pub status: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OutboxItem {
    pub id: String,
    pub message_id: String,
    pub template: String,
    /// Masked: the first letter and the domain.
    pub recipient: String,
    pub user_id: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<OutboxRow> for OutboxItem {
    fn from(row: OutboxRow) -> Self {
        Self {
            recipient: mask(&row.recipient),
            id: row.id,
            message_id: row.message_id,
            template: row.template,
            user_id: row.user_id,
            status: row.status,
            attempts: row.attempts,
            next_attempt_at: row.next_attempt_at.and_utc(),
            last_error: row.last_error,
            created_at: row.created_at.and_utc(),
            sent_at: row.sent_at.map(|at| at.and_utc()),
        }
    }
}

fn mask(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => format!("{}…@{domain}", local.chars().next().unwrap_or('?')),
        None => "…".into(),
    }
}

/// Email in the outbox, oldest first.
#[utoipa::path(tag = "admin", security(("bearer" = [])), params(StatusFilter, PageQuery), responses(
    (status = 200, body = Page<OutboxItem>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[get("/outbox")]
pub async fn list_outbox(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: Query<StatusFilter>,
    page: Query<PageQuery>,
) -> Result<web::Json<Page<OutboxItem>>, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let status = filter.into_inner().status;
    if let Some(status) = &status
        && !queries::STATUSES.contains(&status.as_str())
    {
        return Err(AppError::invalid_field(
            "status",
            Invalid::new(
                "invalid_choice",
                "Choose one of: pending, sent, failed, dead, held.",
            ),
        ));
    }
    let limit = page.limit()?;
    let cursor = page.into_inner().cursor;
    let rows = state
        .db
        .read(move |conn| {
            Ok(queries::list(
                conn,
                status.as_deref(),
                cursor.as_deref(),
                limit + 1,
            )?)
        })
        .await?;
    let page = Page::from_rows(rows, limit, |row| row.id.clone());
    Ok(web::Json(Page {
        items: page.items.into_iter().map(OutboxItem::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Send a failed or dead email again, with a fresh set of attempts.
#[utoipa::path(tag = "admin", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = OutboxItem),
    (status = 403, description = "Coordinators only", body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "The email is pending or already sent", body = Problem, content_type = "application/problem+json"),
))]
#[post("/outbox/{id}/retry")]
pub async fn retry_outbox(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<web::Json<OutboxItem>, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let id = id.into_inner();
    let row = state
        .db
        .write(move |conn| {
            let row = queries::find(conn, &id)?.ok_or(AppError::NotFound)?;
            if !queries::retry(conn, &id, Utc::now().naive_utc())? {
                return Err(AppError::conflict(
                    "not_retryable",
                    format!(
                        "This email is {}; only failed or dead email can be retried.",
                        row.status
                    ),
                ));
            }
            queries::find(conn, &id)?.ok_or(AppError::NotFound)
        })
        .await?;
    state.outbox.wake();
    Ok(web::Json(row.into()))
}
