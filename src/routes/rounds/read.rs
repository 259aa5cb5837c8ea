//! Reading rounds: the public sees open rounds; coordinators see all, with who is waiting.

use actix_web::{get, web};
use chrono::Utc;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{RoundView, round_view, sees_before_opening, status_of, waiting};
use crate::auth::MaybeSignedIn;
use crate::db::DbConn;
use crate::db::models::recruitment::RoundRow;
use crate::db::queries::recruitment as queries;
use crate::domain::Invalid;
use crate::domain::recruitment::RoundStatus;
use crate::domain::role::Role;
use crate::error::{AppError, Problem};
use crate::routes::extract::Query;
use crate::routes::pagination::{Page, PageQuery};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoundFilter {
    /// Coordinators: `scheduled`, `open` or `closed`. Everyone else sees open rounds.
    #[param(pattern = "^(scheduled|open|closed)$")]
    pub status: Option<String>,
}

/// Recruitment rounds: open ones for everyone; all of them for coordinators.
#[utoipa::path(tag = "rounds", security((), ("bearer" = [])), params(RoundFilter, PageQuery), responses(
    (status = 200, body = Page<RoundView>),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[get("")]
pub async fn list_rounds(
    state: web::Data<AppState>,
    MaybeSignedIn(user): MaybeSignedIn,
    filter: Query<RoundFilter>,
    page: Query<PageQuery>,
) -> Result<web::Json<Page<RoundView>>, AppError> {
    let coordinator = user.as_ref().is_some_and(|u| u.has_role(Role::Coordinator));
    let wanted = match filter.into_inner().status.as_deref() {
        None => None,
        Some("scheduled") => Some(RoundStatus::Scheduled),
        Some("open") => Some(RoundStatus::Open),
        Some("closed") => Some(RoundStatus::Closed),
        Some(_) => {
            return Err(AppError::invalid_field(
                "status",
                Invalid::new("invalid_choice", "Choose one of: scheduled, open, closed."),
            ));
        }
    };
    let views = state
        .db
        .read(move |conn| {
            let now = Utc::now().naive_utc();
            let mut rounds = queries::list_rounds(conn, (!coordinator).then_some(now))?;
            // Reviewers also see every round they review, open or closed.
            if let Some(reviewer) = user
                .as_ref()
                .filter(|u| !coordinator && u.has_role(Role::Reviewer))
            {
                for round in queries::rounds_reviewed_by(conn, &reviewer.id)? {
                    if !rounds.iter().any(|r| r.id == round.id) {
                        rounds.push(round);
                    }
                }
                rounds.sort_by(|a, b| a.id.cmp(&b.id));
            }
            rounds
                .iter()
                .filter(|round| wanted.is_none_or(|w| status_of(round, now) == w))
                .map(|round| view(conn, round, coordinator))
                .collect::<Result<Vec<_>, AppError>>()
        })
        .await?;
    Ok(web::Json(Page::of(views, &page, |v| v.id.clone())?))
}

/// One round. A round not yet open is shown only to coordinators and its review panel, as the
/// list shows it. Coordinators also see how many applications wait for an answer, and for how
/// long.
#[utoipa::path(tag = "rounds", security((), ("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = RoundView),
    (status = 404, description = "No such round, or it has not opened yet", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}")]
pub async fn get_round(
    state: web::Data<AppState>,
    MaybeSignedIn(user): MaybeSignedIn,
    id: web::Path<String>,
) -> Result<web::Json<RoundView>, AppError> {
    let coordinator = user.as_ref().is_some_and(|u| u.has_role(Role::Coordinator));
    let view = state
        .db
        .read(move |conn| {
            let round = queries::find_round(conn, &id)?.ok_or(AppError::NotFound)?;
            let announced = status_of(&round, Utc::now().naive_utc()) != RoundStatus::Scheduled;
            if !announced && !sees_before_opening(conn, &round, user.as_ref())? {
                return Err(AppError::NotFound);
            }
            view(conn, &round, coordinator)
        })
        .await?;
    Ok(web::Json(view))
}

fn view(conn: &mut DbConn, round: &RoundRow, coordinator: bool) -> Result<RoundView, AppError> {
    let now = Utc::now().naive_utc();
    let questions = queries::questions_of(conn, &round.id)?;
    let mut view = round_view(round, &questions, now);
    if coordinator {
        view.waiting = Some(waiting(
            &queries::applications_in_round(conn, &round.id)?,
            now,
        ));
        view.reviewers = Some(queries::reviewers_of(conn, &round.id)?);
    }
    Ok(view)
}
