use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{application_transitions, applications, round_questions, rounds};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = rounds)]
pub struct RoundRow {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub description: String,
    pub easy_read_summary: Option<String>,
    pub opens_at: NaiveDateTime,
    pub closes_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
    pub places: Option<i32>,
    pub answer_by_days: i32,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// What an application's views and rules need of its round: not its texts.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = rounds)]
pub struct RoundHead {
    pub id: String,
    pub title: String,
    pub opens_at: NaiveDateTime,
    pub closes_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
    pub answer_by_days: i32,
}

impl From<&RoundRow> for RoundHead {
    fn from(round: &RoundRow) -> Self {
        Self {
            id: round.id.clone(),
            title: round.title.clone(),
            opens_at: round.opens_at,
            closes_at: round.closes_at,
            closed_at: round.closed_at,
            answer_by_days: round.answer_by_days,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = round_questions)]
pub struct QuestionRow {
    pub id: String,
    pub round_id: String,
    pub position: i32,
    pub prompt: String,
    pub guidance: Option<String>,
    pub required: bool,
    pub max_words: Option<i32>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = applications)]
pub struct ApplicationRow {
    pub id: String,
    pub round_id: String,
    pub user_id: String,
    pub status: String,
    pub consents: String,
    pub outcome: Option<String>,
    pub feedback: Option<String>,
    pub submitted_at: Option<NaiveDateTime>,
    pub decided_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Promised at submission; later changes to the round do not move it.
    pub answer_by: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = application_transitions)]
pub struct TransitionRow {
    pub id: String,
    pub application_id: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub actor_id: String,
    pub note: Option<String>,
    pub at: NaiveDateTime,
}
