//! Coordinators create, edit and close rounds, and choose their review panels.

use actix_web::{HttpResponse, patch, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{RoundView, round_view, status_of};
use crate::auth::AuthUser;
use crate::db::models::recruitment::{QuestionRow, RoundRow};
use crate::db::queries::recruitment::{self as queries, Hold};
use crate::db::queries::users;
use crate::domain::Invalid;
use crate::domain::recruitment::RoundStatus;
use crate::domain::role::Role;
use crate::domain::uk_time;
use crate::error::{AppError, FieldError, Problem};
use crate::routes::extract::{FieldErrors, ValidJson, Validate};
use crate::state::AppState;

const MAX_TITLE: usize = 200;
const MAX_SUMMARY: usize = 1000;
const MAX_DESCRIPTION: usize = 20_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRound {
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    #[schema(min_length = 1, max_length = 1000)]
    pub summary: String,
    #[schema(min_length = 1, max_length = 20000)]
    pub description: String,
    #[schema(max_length = 1000)]
    pub easy_read_summary: Option<String>,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    /// How many people the round hopes to take on.
    #[schema(minimum = 1, maximum = 10000)]
    pub places: Option<i32>,
    /// Days after closing by which everyone hears back (default from `rounds.default_answer_by_days`).
    #[schema(minimum = 1, maximum = 90)]
    pub answer_by_days: Option<i32>,
    pub questions: Vec<NewQuestion>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewQuestion {
    #[schema(min_length = 1, max_length = 1000)]
    pub prompt: String,
    #[schema(max_length = 2000)]
    pub guidance: Option<String>,
    pub required: bool,
    #[schema(minimum = 1, maximum = 5000)]
    pub max_words: Option<i32>,
}

impl Validate for NewRound {
    type Valid = Self;

    fn validate(self) -> Result<Self, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        errors.text("title", &self.title, MAX_TITLE);
        errors.text("summary", &self.summary, MAX_SUMMARY);
        errors.text("description", &self.description, MAX_DESCRIPTION);
        errors.optional_text(
            "easy_read_summary",
            self.easy_read_summary.as_deref(),
            MAX_SUMMARY,
        );
        if self.closes_at <= self.opens_at {
            errors.add(
                "closes_at",
                Invalid::new("before_start", "The round must close after it opens."),
            );
        }
        errors.range("places", self.places, 1, 10_000);
        errors.range("answer_by_days", self.answer_by_days, 1, 90);
        check_questions(&mut errors, &self.questions);
        errors.finish(self)
    }
}

fn check_questions(errors: &mut FieldErrors, questions: &[NewQuestion]) {
    for (i, question) in questions.iter().enumerate() {
        errors.text(&format!("questions[{i}].prompt"), &question.prompt, 1000);
        errors.optional_text(
            &format!("questions[{i}].guidance"),
            question.guidance.as_deref(),
            2000,
        );
        errors.range(
            &format!("questions[{i}].max_words"),
            question.max_words,
            1,
            5000,
        );
    }
}

/// The stored rows of a round's questions, in the order given.
fn question_rows(round_id: &str, questions: Vec<NewQuestion>) -> Vec<QuestionRow> {
    questions
        .into_iter()
        .enumerate()
        .map(|(i, q)| QuestionRow {
            id: uuid::Uuid::now_v7().to_string(),
            round_id: round_id.to_string(),
            position: i32::try_from(i).unwrap_or(i32::MAX),
            prompt: q.prompt.trim().to_string(),
            guidance: q.guidance.map(|g| g.trim().to_string()),
            required: q.required,
            max_words: q.max_words,
        })
        .collect()
}

/// Open a recruitment round with its questions.
#[utoipa::path(tag = "rounds", security(("bearer" = [])), request_body = NewRound, responses(
    (status = 201, body = RoundView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("")]
pub async fn create_round(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ValidJson<NewRound>,
) -> Result<HttpResponse, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let new = body.0;
    let now = Utc::now().naive_utc();
    let default_days = i32::try_from(state.settings.rounds.default_answer_by_days).unwrap_or(21);
    let round = RoundRow {
        id: uuid::Uuid::now_v7().to_string(),
        title: new.title.trim().to_string(),
        summary: new.summary.trim().to_string(),
        description: new.description.trim().to_string(),
        easy_read_summary: new.easy_read_summary.map(|s| s.trim().to_string()),
        opens_at: new.opens_at.naive_utc(),
        closes_at: new.closes_at.naive_utc(),
        closed_at: None,
        places: new.places,
        answer_by_days: new.answer_by_days.unwrap_or(default_days),
        created_by: user.id.clone(),
        created_at: now,
        updated_at: now,
    };
    let questions = question_rows(&round.id, new.questions);
    let view = round_view(&round, &questions, now);
    state
        .db
        .write(move |conn| Ok(queries::insert_round(conn, &round, &questions)?))
        .await?;
    Ok(HttpResponse::Created().json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoundChanges {
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    #[schema(min_length = 1, max_length = 1000)]
    pub summary: Option<String>,
    #[schema(min_length = 1, max_length = 20000)]
    pub description: Option<String>,
    #[schema(max_length = 1000)]
    pub easy_read_summary: Option<String>,
    pub opens_at: Option<DateTime<Utc>>,
    pub closes_at: Option<DateTime<Utc>>,
    #[schema(minimum = 1, maximum = 10000)]
    pub places: Option<i32>,
    #[schema(minimum = 1, maximum = 90)]
    pub answer_by_days: Option<i32>,
    /// Replaces every question, in this order, while nobody has started an application to the
    /// round (409 `questions_in_use` after that).
    pub questions: Option<Vec<NewQuestion>>,
}

impl Validate for RoundChanges {
    type Valid = Self;

    fn validate(self) -> Result<Self, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        for (field, value, max) in [
            ("title", &self.title, MAX_TITLE),
            ("summary", &self.summary, MAX_SUMMARY),
            ("description", &self.description, MAX_DESCRIPTION),
        ] {
            if let Some(value) = value {
                errors.text(field, value, max);
            }
        }
        errors.optional_text(
            "easy_read_summary",
            self.easy_read_summary.as_deref(),
            MAX_SUMMARY,
        );
        errors.range("places", self.places, 1, 10_000);
        errors.range("answer_by_days", self.answer_by_days, 1, 90);
        if let Some(questions) = &self.questions {
            check_questions(&mut errors, questions);
        }
        errors.finish(self)
    }
}

/// Change a round's details. Its questions can be replaced until someone starts an application.
#[utoipa::path(tag = "rounds", security(("bearer" = [])), params(("id" = String, Path)), request_body = RoundChanges, responses(
    (status = 200, body = RoundView),
    (status = 403, description = "Coordinators only", body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`questions_in_use`: someone has started an application, so the questions stay", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[patch("/{id}")]
pub async fn update_round(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: ValidJson<RoundChanges>,
) -> Result<web::Json<RoundView>, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let changes = body.0;
    let view = state
        .db
        .write(move |conn| {
            // Held as a panel change holds it: someone starting an application (who holds it
            // shared) waits, so no draft can begin under questions being replaced.
            let mut round =
                queries::hold_round(conn, &id, Hold::Exclusive)?.ok_or(AppError::NotFound)?;
            if let Some(v) = changes.title {
                round.title = v.trim().into()
            }
            if let Some(v) = changes.summary {
                round.summary = v.trim().into()
            }
            if let Some(v) = changes.description {
                round.description = v.trim().into()
            }
            if let Some(v) = changes.easy_read_summary {
                round.easy_read_summary = Some(v.trim().into())
            }
            if let Some(v) = changes.opens_at {
                round.opens_at = v.naive_utc()
            }
            let closes_before = round.closes_at;
            if let Some(v) = changes.closes_at {
                round.closes_at = v.naive_utc()
            }
            if let Some(v) = changes.places {
                round.places = Some(v)
            }
            if let Some(v) = changes.answer_by_days {
                round.answer_by_days = v
            }
            if round.closes_at <= round.opens_at {
                return Err(AppError::invalid_field(
                    "closes_at",
                    Invalid::new("before_start", "The round must close after it opens."),
                ));
            }
            if let Some(questions) = changes.questions {
                if queries::has_applications(conn, &round.id)? {
                    return Err(AppError::conflict(
                        "questions_in_use",
                        "People have already started applying to this round, so its questions can no longer change. Its other details still can.",
                    ));
                }
                queries::replace_questions(conn, &round.id, &question_rows(&round.id, questions))?;
            }
            let now = Utc::now().naive_utc();
            round.updated_at = now;
            queries::update_round(conn, &round)?;
            // Open (again) with a new closing date: people not sent yet hear of that date, not
            // the old one, and are told again once it has closed. A closed round changes nothing.
            let open_now = round.closed_at.is_none() && round.closes_at > now;
            if open_now && round.closes_at != closes_before {
                let date_shown_changed =
                    uk_time::moment(round.closes_at) != uk_time::moment(closes_before);
                queries::forget_unsent_notices(conn, &round.id, date_shown_changed)?;
            }
            let questions = queries::questions_of(conn, &round.id)?;
            Ok(round_view(&round, &questions, now))
        })
        .await?;
    Ok(web::Json(view))
}

/// Close a round now: no new drafts or submissions.
#[utoipa::path(tag = "rounds", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = RoundView),
    (status = 403, description = "Coordinators only", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Already closed", body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/close")]
pub async fn close_round(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<web::Json<RoundView>, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let view = state
        .db
        .write(move |conn| {
            // Held, as a change of details holds it: the whole row is written back, so a change
            // committed meanwhile must not be undone.
            let mut round =
                queries::hold_round(conn, &id, Hold::Exclusive)?.ok_or(AppError::NotFound)?;
            let now = Utc::now().naive_utc();
            if status_of(&round, now) == RoundStatus::Closed {
                return Err(AppError::conflict(
                    "round_closed",
                    "This round is already closed.",
                ));
            }
            round.closed_at = Some(now);
            round.updated_at = now;
            queries::update_round(conn, &round)?;
            let questions = queries::questions_of(conn, &round.id)?;
            Ok(round_view(&round, &questions, now))
        })
        .await?;
    Ok(web::Json(view))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Panel {
    /// Users holding the reviewer role; replaces the panel.
    pub user_ids: Vec<String>,
}

crate::checked_in_handler!(Panel);

/// Choose who reviews a round's applications. Reviewers see only rounds they are on.
#[utoipa::path(tag = "rounds", security(("bearer" = [])), params(("id" = String, Path)), request_body = Panel, responses(
    (status = 200, body = Panel),
    (status = 403, description = "Coordinators only", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Someone on the list is not a reviewer, or has applied to the round", body = Problem, content_type = "application/problem+json"),
))]
#[put("/{id}/reviewers")]
pub async fn set_reviewers(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: ValidJson<Panel>,
) -> Result<web::Json<Panel>, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let panel = body.0;
    let saved = state
        .db
        .write(move |conn| {
            queries::hold_round(conn, &id, Hold::Exclusive)?.ok_or(AppError::NotFound)?;
            // Each account is held before its panel row is touched: an erasure running now
            // finishes first and is seen, or waits for this one; neither waits on the other's rows.
            let active = users::hold_those_active(conn, &panel.user_ids)?;
            let mut errors = FieldErrors::default();
            for (i, reviewer) in panel.user_ids.iter().enumerate() {
                if !active.contains(reviewer)
                    || !users::roles_of(conn, reviewer)?.contains(&Role::Reviewer)
                {
                    errors.add(
                        &format!("user_ids[{i}]"),
                        Invalid::new(
                            "not_a_reviewer",
                            "This person does not hold the reviewer role.",
                        ),
                    );
                } else if queries::application_of(conn, &id, reviewer)?.is_some() {
                    errors.add(
                        &format!("user_ids[{i}]"),
                        Invalid::new(
                            "applied_to_round",
                            "This person has applied to this round, so they cannot review its applications.",
                        ),
                    );
                }
            }
            let mut ids = errors
                .finish(panel.user_ids)
                .map_err(AppError::Validation)?;
            ids.sort();
            ids.dedup();
            queries::set_reviewers(conn, &id, &ids)?;
            Ok(Panel { user_ids: ids })
        })
        .await?;
    Ok(web::Json(saved))
}
