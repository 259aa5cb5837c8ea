//! Applying to a round, and a round's applications for its coordinator and review panel.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{sees_before_opening, status_of};
use crate::auth::AuthUser;
use crate::db::models::recruitment::ApplicationRow;
use crate::db::queries::recruitment::{self as queries, ApplicationsPage, Hold};
use crate::domain::Invalid;
use crate::domain::recruitment::{ApplicationStatus, RoundStatus};
use crate::domain::role::Role;
use crate::error::{AppError, Problem};
use crate::routes::applications::{ApplicationResponse, Loaded, Viewer, json_response};
use crate::routes::extract::Query;
use crate::routes::pagination::{Page, PageQuery};
use crate::state::AppState;

const LIST_ROUTE: &str = "GET /api/v1/rounds/{id}/applications";

/// Start your application to an open round. One per person per round.
#[utoipa::path(tag = "applications", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 201, body = ApplicationResponse),
    (status = 404, description = "No such round, or it has not opened yet (coordinators and its panel are told `round_not_open`)", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`already_applied` (with `existing_id`), `round_closed`, `round_not_open`, or `on_review_panel`", body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/applications")]
pub async fn start_application(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let view = state
        .db
        .write(move |conn| {
            user.still_signed_in(conn)?;
            let round = queries::hold_round(conn, &id, Hold::Shared)?.ok_or(AppError::NotFound)?;
            let now = crate::db::now();
            match status_of(&round, now) {
                RoundStatus::Open => {}
                // Hidden until it opens, as `GET /rounds/{id}` hides it, from all but those
                // who may already see it.
                RoundStatus::Scheduled if !sees_before_opening(conn, &round, Some(&user))? => {
                    return Err(AppError::NotFound);
                }
                RoundStatus::Scheduled => {
                    return Err(AppError::conflict(
                        "round_not_open",
                        "This round has not opened yet.",
                    ));
                }
                RoundStatus::Closed => {
                    return Err(AppError::conflict(
                        "round_closed",
                        "This round has closed, so it takes no new applications.",
                    ));
                }
            }
            if queries::is_reviewer(conn, &round.id, &user.id)? {
                return Err(AppError::conflict(
                    "on_review_panel",
                    "You are on this round's review panel, so you cannot apply to it. Ask a coordinator to take you off the panel first.",
                ));
            }
            let row = ApplicationRow {
                id: uuid::Uuid::now_v7().to_string(),
                round_id: round.id.clone(),
                user_id: user.id.clone(),
                status: ApplicationStatus::Draft.as_str().into(),
                consents: "{}".into(),
                outcome: None,
                feedback: None,
                submitted_at: None,
                decided_at: None,
                created_at: now,
                updated_at: now,
                answer_by: None,
            };
            if !queries::insert_application_if_new(conn, &row)? {
                let existing = queries::application_of(conn, &round.id, &user.id)?
                    .ok_or(AppError::DatabaseBusy)?;
                let mut extra = serde_json::Map::new();
                extra.insert("existing_id".into(), existing.id.into());
                return Err(AppError::Conflict {
                    code: "already_applied",
                    detail:
                        "You already have an application for this round; carry on with that one."
                            .into(),
                    extra: Some(extra),
                });
            }
            queries::record_transition(conn, &row.id, None, &row.status, &user.id, None, now)?;
            Loaded::with(conn, row)?.keep_owner_view(conn)
        })
        .await?;
    Ok(json_response(StatusCode::CREATED, view))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApplicationFilter {
    /// An application status, e.g. `submitted`.
    #[param(
        pattern = "^(draft|submitted|in_review|invited_to_conversation|accepted|waitlisted|not_this_time|withdrawn)$"
    )]
    pub status: Option<String>,
    /// `anonymised` hides who applied (reviewers must ask for it).
    #[param(pattern = "^anonymised$")]
    pub view: Option<String>,
}

/// A round's applications: coordinators see them in full or anonymised; the round's reviewers
/// see submitted ones, anonymised only.
#[utoipa::path(tag = "applications", security(("bearer" = [])), params(("id" = String, Path), ApplicationFilter, PageQuery), responses(
    (status = 200, body = Page<ApplicationResponse>),
    (status = 403, description = "Only coordinators and reviewers list applications; reviewers must ask for view=anonymised", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such round, or you are not on its panel", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/applications")]
pub async fn list_applications(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    filter: Query<ApplicationFilter>,
    page: Query<PageQuery>,
) -> Result<web::Json<Page<ApplicationResponse>>, AppError> {
    user.require_any(&[Role::Coordinator, Role::Reviewer])?;
    let filter = filter.into_inner();
    if let Some(status) = &filter.status
        && ApplicationStatus::parse(status).is_none()
    {
        return Err(AppError::invalid_field(
            "status",
            Invalid::new("invalid_choice", "That is not an application status."),
        ));
    }
    let anonymised = match filter.view.as_deref() {
        None => false,
        Some("anonymised") => true,
        Some(_) => {
            return Err(AppError::invalid_field(
                "view",
                Invalid::new("invalid_choice", "The only view is `anonymised`."),
            ));
        }
    };
    let limit = page.limit()?;
    let cursor = page.into_inner().cursor;
    let app = state.clone();
    // A write: the views audit their reads of lived experience (with the other writers on SQLite).
    let page = state
        .db
        .write(move |conn| {
            let round = queries::find_round(conn, &id)?.ok_or(AppError::NotFound)?;
            let viewer = if user.has_role(Role::Coordinator) {
                if anonymised {
                    Viewer::Reviewer
                } else {
                    Viewer::Coordinator
                }
            } else if user.has_role(Role::Reviewer)
                && queries::is_reviewer(conn, &round.id, &user.id)?
            {
                if !anonymised {
                    return Err(AppError::Forbidden);
                }
                Viewer::Reviewer
            } else {
                return Err(AppError::NotFound);
            };
            let rows = queries::applications_page(
                conn,
                &round.id,
                &ApplicationsPage {
                    status: filter.status.as_deref(),
                    under_consideration: viewer != Viewer::Coordinator,
                    except_user: &user.id,
                    after: cursor.as_deref(),
                    limit: limit + 1,
                },
            )?;
            let page = Page::from_rows(rows, limit, |a| a.id.clone());
            let loaded = Loaded::all_in(conn, &round, page.items)?;
            let items = Loaded::views(&loaded, conn, &app, viewer, &user.id, LIST_ROUTE)?;
            Ok(Page {
                items,
                next_cursor: page.next_cursor,
            })
        })
        .await?;
    Ok(web::Json(page))
}
