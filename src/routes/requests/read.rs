use actix_web::{get, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{RequestView, view, visible_request};
use crate::auth::AuthUser;
use crate::db::queries::partnership as queries;
use crate::domain::Invalid;
use crate::domain::partnership::RequestStatus;
use crate::domain::role::Role;
use crate::error::{AppError, Problem};
use crate::routes::extract::Query;
use crate::routes::pagination::{Page, PageQuery};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestFilter {
    /// `submitted`, `needs_info`, `accepted` or `declined`.
    #[param(pattern = "^(submitted|needs_info|accepted|declined)$")]
    pub status: Option<String>,
}

/// Requests: your organisation's if you are a partner contact; all of them for coordinators.
#[utoipa::path(tag = "partners", security(("bearer" = [])), params(RequestFilter, PageQuery), responses(
    (status = 200, body = Page<RequestView>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("")]
pub async fn list_requests(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: Query<RequestFilter>,
    page: Query<PageQuery>,
) -> Result<web::Json<Page<RequestView>>, AppError> {
    user.require_any(&[Role::Coordinator, Role::Partner])?;
    let status = filter.into_inner().status;
    if status
        .as_deref()
        .is_some_and(|s| RequestStatus::parse(s).is_none())
    {
        return Err(AppError::invalid_field(
            "status",
            Invalid::new(
                "invalid_choice",
                "Choose one of: submitted, needs_info, accepted, declined.",
            ),
        ));
    }
    let app = state.clone();
    let views = state
        .db
        .read(move |conn| {
            let rows = if user.has_role(Role::Coordinator) {
                queries::list_requests(conn, None, status.as_deref())?
            } else {
                let mine = queries::memberships(conn, &user.id)?;
                queries::list_requests(conn, Some(&mine), status.as_deref())?
            };
            let rows = Page::of(rows, &page, |r| r.id.clone())?;
            let items = rows
                .items
                .into_iter()
                .map(|row| view(conn, &app, row))
                .collect::<Result<_, AppError>>()?;
            Ok(Page {
                items,
                next_cursor: rows.next_cursor,
            })
        })
        .await?;
    Ok(web::Json(views))
}

/// One request, with its steps so far.
#[utoipa::path(tag = "partners", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = RequestView),
    (status = 404, description = "No such request, or not your organisation's", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}")]
pub async fn get_request(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<web::Json<RequestView>, AppError> {
    let app = state.clone();
    let found = state
        .db
        .read(move |conn| {
            let row = visible_request(conn, &user, &id)?;
            view(conn, &app, row)
        })
        .await?;
    Ok(web::Json(found))
}
