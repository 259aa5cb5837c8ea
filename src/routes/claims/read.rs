use actix_web::{get, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{ClaimView, view_of};
use crate::auth::AuthUser;
use crate::db::queries::claims;
use crate::domain::Invalid;
use crate::domain::claim::ClaimStatus;
use crate::domain::role::Role;
use crate::error::{AppError, Problem};
use crate::routes::extract::Query;
use crate::routes::pagination::{Page, PageQuery};
use crate::state::AppState;

/// Your claims for time and expenses, every status, oldest first.
#[utoipa::path(tag = "me", security(("bearer" = [])), params(PageQuery), responses((status = 200, body = Page<ClaimView>)))]
#[get("/claims")]
pub async fn my_claims(
    state: web::Data<AppState>,
    user: AuthUser,
    page: Query<PageQuery>,
) -> Result<web::Json<Page<ClaimView>>, AppError> {
    let page = state
        .db
        .read(move |conn| {
            let rows = claims::of_user(conn, &user.id)?;
            Page::of(rows, &page, |c| c.id.clone())?.try_map(|claim| view_of(conn, claim))
        })
        .await?;
    Ok(web::Json(page))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClaimFilter {
    /// `submitted`, `approved`, `rejected` or `paid`.
    #[param(pattern = "^(submitted|approved|rejected|paid)$")]
    pub status: Option<String>,
}

/// Coordinators: claims, oldest first; `status=submitted` for those waiting for a decision,
/// `status=approved` for those waiting to be paid.
#[utoipa::path(tag = "claims", security(("bearer" = [])), params(ClaimFilter, PageQuery), responses(
    (status = 200, body = Page<ClaimView>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[get("")]
pub async fn list_claims(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: Query<ClaimFilter>,
    page: Query<PageQuery>,
) -> Result<web::Json<Page<ClaimView>>, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let status = filter.into_inner().status;
    if let Some(status) = &status
        && ClaimStatus::parse(status).is_none()
    {
        return Err(AppError::invalid_field(
            "status",
            Invalid::new(
                "invalid_choice",
                "Choose one of: submitted, approved, rejected, paid.",
            ),
        ));
    }
    let limit = page.limit()?;
    let cursor = page.into_inner().cursor;
    let page = state
        .db
        .read(move |conn| {
            let rows = claims::list(conn, status.as_deref(), cursor.as_deref(), limit + 1)?;
            let page = Page::from_rows(rows, limit, |claim| claim.id.clone());
            page.try_map(|claim| view_of(conn, claim))
        })
        .await?;
    Ok(web::Json(page))
}
