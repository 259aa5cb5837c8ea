//! Recruitment rounds: coordinators run them; anyone can read them.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use diesel::QueryResult;

use crate::auth::AuthUser;
use crate::db::DbConn;
use crate::db::models::recruitment::{ApplicationRow, QuestionRow, RoundRow};
use crate::db::queries::recruitment as queries;
use crate::domain::recruitment::{ApplicationStatus, RoundStatus, answer_by};
use crate::domain::role::Role;

pub mod applications;
pub mod manage;
pub mod read;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QuestionView {
    pub id: String,
    pub prompt: String,
    pub guidance: Option<String>,
    pub required: bool,
    pub max_words: Option<i32>,
}

impl From<&QuestionRow> for QuestionView {
    fn from(q: &QuestionRow) -> Self {
        Self {
            id: q.id.clone(),
            prompt: q.prompt.clone(),
            guidance: q.guidance.clone(),
            required: q.required,
            max_words: q.max_words,
        }
    }
}

/// Applications still waiting for an answer: the loop a coordinator must close.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Waiting {
    pub applications: usize,
    pub oldest_submitted_at: Option<DateTime<Utc>>,
    pub oldest_wait_days: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoundView {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub description: String,
    pub easy_read_summary: Option<String>,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub status: RoundStatus,
    pub places: Option<i32>,
    pub answer_by_days: i32,
    /// Everyone who applies hears back by this time.
    pub answer_by: DateTime<Utc>,
    pub questions: Vec<QuestionView>,
    /// Coordinators only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting: Option<Waiting>,
    /// Coordinators only: user ids of the review panel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewers: Option<Vec<String>>,
}

pub fn round_view(round: &RoundRow, questions: &[QuestionRow], now: NaiveDateTime) -> RoundView {
    RoundView {
        id: round.id.clone(),
        title: round.title.clone(),
        summary: round.summary.clone(),
        description: round.description.clone(),
        easy_read_summary: round.easy_read_summary.clone(),
        opens_at: round.opens_at.and_utc(),
        closes_at: round.closes_at.and_utc(),
        closed_at: round.closed_at.map(|at| at.and_utc()),
        status: status_of(round, now),
        places: round.places,
        answer_by_days: round.answer_by_days,
        answer_by: answer_by(round.closes_at, round.closed_at, round.answer_by_days).and_utc(),
        questions: questions.iter().map(QuestionView::from).collect(),
        waiting: None,
        reviewers: None,
    }
}

pub fn status_of(round: &RoundRow, now: NaiveDateTime) -> RoundStatus {
    RoundStatus::at(now, round.opens_at, round.closes_at, round.closed_at)
}

/// Whether `user` may know of a round before it opens: coordinators, and its review panel while
/// they hold the reviewer role. Everyone else is answered 404, as if it did not exist.
pub fn sees_before_opening(
    conn: &mut DbConn,
    round: &RoundRow,
    user: Option<&AuthUser>,
) -> QueryResult<bool> {
    match user {
        Some(user) if user.has_role(Role::Coordinator) => Ok(true),
        Some(user) if user.has_role(Role::Reviewer) => {
            queries::is_reviewer(conn, &round.id, &user.id)
        }
        _ => Ok(false),
    }
}

pub fn waiting(applications: &[ApplicationRow], now: NaiveDateTime) -> Waiting {
    let waiting: Vec<&ApplicationRow> = applications
        .iter()
        .filter(|a| {
            ApplicationStatus::parse(&a.status).is_some_and(ApplicationStatus::awaits_decision)
        })
        .collect();
    let oldest = waiting.iter().filter_map(|a| a.submitted_at).min();
    Waiting {
        applications: waiting.len(),
        oldest_submitted_at: oldest.map(|at| at.and_utc()),
        oldest_wait_days: oldest.map(|at| (now - at).num_days()),
    }
}
