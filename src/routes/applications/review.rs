//! Scoring applications and deciding them.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApplicationResponse, Loaded, ScoreView, Viewer, json_response, viewer_of};
use crate::auth::AuthUser;
use crate::db::queries::{people, recruitment as queries, users};
use crate::domain::Invalid;
use crate::domain::recruitment::{ApplicationStatus, Outcome};
use crate::domain::role::Role;
use crate::email::{Email, Recipient};
use crate::error::{AppError, FieldError, Problem};
use crate::routes::extract::{FieldErrors, ValidJson, Validate};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreInput {
    pub question_id: String,
    #[schema(minimum = 0, maximum = 4)]
    pub score: i32,
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    pub scores: Vec<ScoreInput>,
}

impl Validate for ReviewInput {
    type Valid = Self;

    fn validate(self) -> Result<Self, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        if self.scores.is_empty() {
            errors.add(
                "scores",
                Invalid::new("required", "Score at least one question."),
            );
        }
        for (i, score) in self.scores.iter().enumerate() {
            errors.range(&format!("scores[{i}].score"), Some(score.score), 0, 4);
            errors.optional_text(&format!("scores[{i}].note"), score.note.as_deref(), 2000);
            if self.scores[..i]
                .iter()
                .any(|earlier| earlier.question_id == score.question_id)
            {
                errors.add(
                    &format!("scores[{i}].question_id"),
                    Invalid::new("duplicate", "Each question is scored once."),
                );
            }
        }
        errors.finish(self)
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReviewView {
    pub application_id: String,
    pub reviewer_id: String,
    pub scores: Vec<ScoreView>,
}

/// Score an application, question by question (0 to 4, with notes). Once per reviewer.
#[utoipa::path(tag = "applications", security(("bearer" = [])), params(("id" = String, Path)), request_body = ReviewInput, responses(
    (status = 201, body = ReviewView),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Already reviewed by you, or not open for review", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/reviews")]
pub async fn review(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: ValidJson<ReviewInput>,
) -> Result<HttpResponse, AppError> {
    let input = body.0;
    let view = state
        .db
        .write(move |conn| {
            let loaded = Loaded::load(conn, &id)?;
            match viewer_of(conn, &user, &loaded.application)? {
                Viewer::Owner => {
                    return Err(AppError::conflict(
                        "own_application",
                        "You cannot review your own application.",
                    ));
                }
                Viewer::Coordinator | Viewer::Reviewer => {}
            }
            let from = loaded.status()?;
            let to = from
                .review()
                .map_err(|why| AppError::conflict("invalid_transition", why))?;
            let mut errors = FieldErrors::default();
            for (i, score) in input.scores.iter().enumerate() {
                if !loaded.questions.iter().any(|q| q.id == score.question_id) {
                    errors.add(
                        &format!("scores[{i}].question_id"),
                        Invalid::new(
                            "unknown_question",
                            "That question is not part of this round.",
                        ),
                    );
                }
            }
            errors.finish(()).map_err(AppError::Validation)?;
            let now = Utc::now().naive_utc();
            // Still under review when we write (a withdrawal may have landed since we read it).
            let reviewable = [
                ApplicationStatus::Submitted.as_str(),
                ApplicationStatus::InReview.as_str(),
            ];
            if !queries::lock_if_status(conn, &loaded.application.id, &reviewable, now)? {
                return Err(AppError::conflict(
                    "invalid_transition",
                    super::own::CHANGED_MEANWHILE,
                ));
            }
            let scores: Vec<(String, i32, Option<String>)> = input
                .scores
                .into_iter()
                .map(|s| (s.question_id, s.score, s.note.map(|n| n.trim().to_string())))
                .collect();
            if !queries::insert_review(conn, &loaded.application.id, &user.id, &scores, now)? {
                return Err(AppError::conflict(
                    "already_reviewed",
                    "You have already reviewed this application.",
                ));
            }
            if from != to
                && !queries::transition(
                    conn,
                    &loaded.application.id,
                    from.as_str(),
                    to.as_str(),
                    &user.id,
                    Some("first review"),
                    now,
                )?
            {
                return Err(AppError::conflict(
                    "invalid_transition",
                    super::own::CHANGED_MEANWHILE,
                ));
            }
            Ok(ReviewView {
                application_id: loaded.application.id,
                reviewer_id: user.id,
                scores: scores
                    .into_iter()
                    .map(|(question_id, score, note)| ScoreView {
                        question_id,
                        score,
                        note,
                    })
                    .collect(),
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    pub outcome: Outcome,
    /// Written feedback, emailed to the applicant whatever the outcome.
    #[schema(min_length = 1, max_length = 5000)]
    pub feedback: String,
}

impl Validate for DecisionInput {
    type Valid = Self;

    fn validate(self) -> Result<Self, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        errors.text("feedback", &self.feedback, 5000);
        errors.finish(self)
    }
}

/// Decide an application and tell the applicant, with feedback. `accepted` makes the person a
/// co-producer (active).
#[utoipa::path(tag = "applications", security(("bearer" = [])), params(("id" = String, Path)), request_body = DecisionInput, responses(
    (status = 200, body = ApplicationResponse),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Not allowed from the current status", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/decision")]
pub async fn decide(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: ValidJson<DecisionInput>,
) -> Result<HttpResponse, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let decision = body.0;
    let app = state.clone();
    let view = state
        .db
        .write(move |conn| {
            let loaded = Loaded::load(conn, &id)?;
            if loaded.application.user_id == user.id {
                return Err(AppError::conflict(
                    "own_application",
                    "You cannot decide your own application.",
                ));
            }
            // Held before the application changes: an erasure under way finishes first and is
            // seen, or waits, so an erased person is never made a co-producer again.
            if !users::hold_if_active(conn, &loaded.application.user_id)? {
                return Err(AppError::conflict(
                    "applicant_left",
                    "The person who sent this application has deleted their account, so it cannot be decided.",
                ));
            }
            let applicant = users::find_by_id(conn, &loaded.application.user_id)?
                .ok_or(AppError::NotFound)?;
            let mut from = loaded.status()?;
            let now = Utc::now().naive_utc();
            if from == ApplicationStatus::Submitted {
                // Deciding is reviewing: the history shows it went into review, by whom, first.
                let in_review = from
                    .review()
                    .map_err(|why| AppError::conflict("invalid_transition", why))?;
                if !queries::transition(
                    conn,
                    &loaded.application.id,
                    from.as_str(),
                    in_review.as_str(),
                    &user.id,
                    None,
                    now,
                )? {
                    return Err(AppError::conflict(
                        "invalid_transition",
                        super::own::CHANGED_MEANWHILE,
                    ));
                }
                from = in_review;
            }
            let to: ApplicationStatus = from
                .decide(decision.outcome)
                .map_err(|why| AppError::conflict("invalid_transition", why))?;
            let feedback = decision.feedback.trim();
            if !queries::transition(
                conn,
                &loaded.application.id,
                from.as_str(),
                to.as_str(),
                &user.id,
                Some(feedback),
                now,
            )? {
                return Err(AppError::conflict(
                    "invalid_transition",
                    super::own::CHANGED_MEANWHILE,
                ));
            }
            queries::set_decision(
                conn,
                &loaded.application.id,
                decision.outcome.as_str(),
                feedback,
                now,
            )?;
            if decision.outcome == Outcome::Accepted {
                // A grant needs no new sign-in: the next token refresh carries the role.
                users::grant_role(conn, &applicant.id, Role::Coproducer)?;
                people::make_coproducer(conn, &applicant.id, now)?;
            }
            let email = Email::ApplicationDecision {
                name: applicant.display_name().to_string(),
                round_title: loaded.round.title.clone(),
                outcome: decision.outcome.as_str().into(),
                feedback: feedback.to_string(),
                link: app
                    .settings
                    .server
                    .link(&format!("/applications/{}", loaded.application.id)),
            };
            let to = Recipient::user(&applicant);
            app.outbox.enqueue(conn, &to, &email)?;
            // The answer confirms the decision; it carries no special-category data (nobody asked to read it).
            Loaded::load(conn, &loaded.application.id)?.keep_owner_view(conn)
        })
        .await?;
    state.outbox.wake();
    Ok(json_response(StatusCode::OK, view))
}
