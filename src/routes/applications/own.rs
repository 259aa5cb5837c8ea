//! The application itself: read, edit the draft, submit, withdraw, history.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    ApplicationResponse, Consents, Loaded, OWNER_VIEW_FORMAT, Viewer, json_response, viewer_of,
};
use crate::auth::AuthUser;
use crate::db::DbConn;
use crate::db::queries::{owner_views, recruitment as queries, users};
use crate::domain::recruitment::{
    ApplicationStatus, RoundStatus, answer_by, answer_problems, submission_problems,
};
use crate::domain::uk_time;
use crate::email::{Email, Recipient};
use crate::error::{AppError, FieldError, Problem};
use crate::routes::extract::{FieldErrors, Query, ValidJson, Validate, reject_problems};
use crate::routes::pagination::{Page, PageQuery, step_cursor};
use crate::state::AppState;

const GET_ROUTE: &str = "GET /api/v1/applications/{id}";

pub const CHANGED_MEANWHILE: &str = "Someone changed this application while you were working on it. Reload it to see the latest version.";

/// An application: in full for its owner and coordinators, anonymised for the round's reviewers.
#[utoipa::path(tag = "applications", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = ApplicationResponse),
    (status = 404, description = "No such application, or not yours to see", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}")]
pub async fn get_application(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let reader = user.clone();
    let seen = state
        .db
        .read(move |conn| {
            // Nothing to audit for the owner: a plain read, which on SQLite does not queue for
            // the write lock. Most often one query, for the view stored ready to send.
            if let Some(body) =
                owner_views::find_for_owner(conn, &id, &reader.id, OWNER_VIEW_FORMAT)?
            {
                if cfg!(debug_assertions) {
                    same_as_built(conn, &id, &reader.id, &body)?;
                }
                return Ok(Seen::Owners(body));
            }
            let loaded = Loaded::load(conn, &id)?;
            let viewer = viewer_of(conn, &reader, &loaded.application)?;
            if viewer == Viewer::Owner {
                return loaded.owner_view_json().map(Seen::Owners);
            }
            Ok(Seen::Others(Box::new(loaded), viewer))
        })
        .await?;
    let (loaded, viewer) = match seen {
        Seen::Owners(body) => return Ok(json_response(StatusCode::OK, body)),
        Seen::Others(loaded, viewer) => (loaded, viewer),
    };
    // Others' reads of lived experience are audited: a write, queued with the other writers.
    let app = state.clone();
    let view = state
        .db
        .write(move |conn| loaded.view(conn, &app, viewer, &user.id, GET_ROUTE))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Debug builds (the tests) check every stored view they serve against the tables, so a write
/// that changes what the owner sees without the triggers noticing fails loudly.
fn same_as_built(conn: &mut DbConn, id: &str, owner: &str, stored: &str) -> Result<(), AppError> {
    let built = Loaded::load(conn, id)?.owner_view_json()?;
    // A write that committed since the view was read replaced or removed it: not stale.
    let still_stored = owner_views::find_for_owner(conn, id, owner, OWNER_VIEW_FORMAT)?;
    if built != stored && still_stored.as_deref() == Some(stored) {
        return Err(AppError::Internal(anyhow::anyhow!(
            "the stored owner's view of an application differs from its tables"
        )));
    }
    Ok(())
}

/// What the first, read-only look at an application found.
enum Seen {
    /// The owner's view, as JSON ready to send.
    Owners(String),
    /// Someone else's: shown from a write, which audits the read.
    Others(Box<Loaded>, Viewer),
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerInput {
    #[schema(format = "uuid")]
    pub question_id: String,
    /// Within the question's `max_words`, if it has one.
    #[schema(max_length = 20000)]
    pub text: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftChanges {
    /// Answers to save; each replaces the saved answer to that question.
    #[serde(default)]
    pub answers: Vec<AnswerInput>,
    pub consents: Option<Consents>,
}

impl Validate for DraftChanges {
    type Valid = Self;

    fn validate(self) -> Result<Self, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        for (i, answer) in self.answers.iter().enumerate() {
            errors.optional_text(&format!("answers[{i}].text"), Some(&answer.text), 20_000);
        }
        errors.finish(self)
    }
}

/// Save your draft: as often as you like, any part at a time.
#[utoipa::path(tag = "applications", security(("bearer" = [])), params(("id" = String, Path)), request_body = DraftChanges, responses(
    (status = 200, body = ApplicationResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Not a draft any more, or the round closed", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[patch("/{id}")]
pub async fn update_draft(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: ValidJson<DraftChanges>,
) -> Result<HttpResponse, AppError> {
    let changes = body.0;
    let view = state
        .db
        .write(move |conn| {
            let loaded = owned_draft_in_open_round(conn, &id, &user)?;
            let now = Utc::now().naive_utc();
            // Still a draft when we write (a submit may have landed since we read it).
            if !queries::lock_if_status(
                conn,
                &loaded.application.id,
                &[ApplicationStatus::Draft.as_str()],
                now,
            )? {
                return Err(AppError::conflict("not_a_draft", CHANGED_MEANWHILE));
            }
            let answers: Vec<(String, String)> = changes
                .answers
                .into_iter()
                .map(|a| (a.question_id, a.text))
                .collect();
            reject_problems(answer_problems(&loaded.rules(), &answers))?;
            queries::save_answers(conn, &loaded.application.id, &answers)?;
            if let Some(consents) = changes.consents {
                let json =
                    serde_json::to_string(&consents).map_err(|e| AppError::Internal(e.into()))?;
                queries::set_consents(conn, &loaded.application.id, &json, now)?;
            }
            Loaded::load(conn, &loaded.application.id)?.keep_owner_view(conn)
        })
        .await?;
    Ok(json_response(StatusCode::OK, view))
}

/// Send your application. If anything is missing, every missing piece is listed (422).
/// You get an email confirming it, saying when you will hear back.
#[utoipa::path(tag = "applications", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = ApplicationResponse),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Everything still missing, each named", body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/submit")]
pub async fn submit(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let app = state.clone();
    let view = state
        .db
        .write(move |conn| {
            // The checks and the stored view must see the answers a save just committed.
            queries::lock_application(conn, &id)?;
            let loaded = owned_draft_in_open_round(conn, &id, &user)?;
            let (person, has_profile) =
                users::find_with_profile_flag(conn, &user.id)?.ok_or(AppError::NotFound)?;
            reject_problems(submission_problems(
                &loaded.rules(),
                &loaded.answers,
                loaded.consents().privacy_notice,
                has_profile,
            ))?;
            let now = crate::db::now();
            let round = &loaded.round;
            let promised = answer_by(round.closes_at, round.closed_at, round.answer_by_days);
            if !queries::submit(conn, &loaded.application.id, &user.id, now, promised)? {
                return Err(AppError::conflict("invalid_transition", CHANGED_MEANWHILE));
            }
            let email = Email::ApplicationReceived {
                name: person.display_name().to_string(),
                round_title: round.title.clone(),
                answer_by: uk_time::date(promised),
                link: app
                    .settings
                    .server
                    .link(&format!("/applications/{}", loaded.application.id)),
            };
            let to = Recipient::user(&person);
            app.outbox.enqueue(conn, &to, &email)?;
            // The answer is what we just wrote; reading it all back would cost four queries.
            let mut submitted = loaded;
            submitted.application.status = ApplicationStatus::Submitted.as_str().into();
            submitted.application.submitted_at = Some(now);
            submitted.application.answer_by = Some(promised);
            submitted.application.updated_at = now;
            submitted.keep_owner_view(conn)
        })
        .await?;
    state.outbox.wake();
    Ok(json_response(StatusCode::OK, view))
}

/// Withdraw your application, at any time before a decision.
#[utoipa::path(tag = "applications", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = ApplicationResponse),
    (status = 409, description = "Already decided or withdrawn", body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/withdraw")]
pub async fn withdraw(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let view = state
        .db
        .write(move |conn| {
            let loaded = Loaded::load(conn, &id)?;
            if loaded.application.user_id != user.id {
                return Err(AppError::NotFound);
            }
            let from = loaded.status()?;
            let to = from
                .withdraw()
                .map_err(|why| AppError::conflict("invalid_transition", why))?;
            let now = Utc::now().naive_utc();
            if !queries::transition(
                conn,
                &loaded.application.id,
                from.as_str(),
                to.as_str(),
                &user.id,
                None,
                now,
            )? {
                return Err(AppError::conflict("invalid_transition", CHANGED_MEANWHILE));
            }
            Loaded::load(conn, &loaded.application.id)?.keep_owner_view(conn)
        })
        .await?;
    Ok(json_response(StatusCode::OK, view))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Transition {
    pub from: Option<String>,
    pub to: String,
    /// Who made the change: shown to coordinators, and to the applicant for their own steps.
    pub actor_id: Option<String>,
    pub at: DateTime<Utc>,
    pub note: Option<String>,
}

/// Every change of status: who, when and why, oldest first. For the applicant and coordinators.
#[utoipa::path(tag = "applications", security(("bearer" = [])), params(("id" = String, Path), PageQuery), responses(
    (status = 200, body = Page<Transition>),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/history")]
pub async fn history(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    page: Query<PageQuery>,
) -> Result<web::Json<Page<Transition>>, AppError> {
    let page = state
        .db
        .read(move |conn| {
            let application = queries::find_application(conn, &id)?.ok_or(AppError::NotFound)?;
            let viewer = viewer_of(conn, &user, &application)?;
            if viewer == Viewer::Reviewer {
                return Err(AppError::NotFound);
            }
            let steps = queries::history(conn, &application.id)?;
            Page::of(steps, &page, |t| step_cursor(t.at, &t.id))?.try_map(|t| {
                Ok::<_, AppError>(Transition {
                    from: t.from_status,
                    to: t.to_status,
                    actor_id: (viewer == Viewer::Coordinator || t.actor_id == user.id)
                        .then_some(t.actor_id),
                    at: t.at.and_utc(),
                    note: t.note,
                })
            })
        })
        .await?;
    Ok(web::Json(page))
}

/// The caller's own draft, in a round that is still open.
fn owned_draft_in_open_round(
    conn: &mut DbConn,
    id: &str,
    user: &AuthUser,
) -> Result<Loaded, AppError> {
    let loaded = Loaded::load(conn, id)?;
    if loaded.application.user_id != user.id {
        return Err(AppError::NotFound);
    }
    let status = loaded.status()?;
    if status != ApplicationStatus::Draft {
        return Err(AppError::conflict(
            "not_a_draft",
            format!(
                "This application is {}; only drafts can change.",
                status.describe()
            ),
        ));
    }
    let round = &loaded.round;
    let now = Utc::now().naive_utc();
    if RoundStatus::at(now, round.opens_at, round.closes_at, round.closed_at) != RoundStatus::Open {
        return Err(AppError::conflict(
            "round_closed",
            "This round has closed, so applications to it cannot change or be sent.",
        ));
    }
    Ok(loaded)
}
