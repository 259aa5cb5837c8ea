use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{element_outcomes, elements, partner_requests, projects};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = partner_requests)]
pub struct RequestRow {
    pub id: String,
    pub organisation_id: String,
    pub submitted_by: String,
    pub title: String,
    pub summary: String,
    pub engagement_level: String,
    pub budget_pence: Option<i64>,
    pub access_budget_pence: Option<i64>,
    pub elements: String,
    pub status: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = projects)]
pub struct ProjectRow {
    pub id: String,
    pub request_id: String,
    pub organisation_id: String,
    pub title: String,
    pub summary: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = elements)]
pub struct ElementRow {
    pub id: String,
    pub project_id: String,
    pub position: i32,
    pub spec: String,
    pub mode: String,
    pub people_needed: i32,
    pub status: String,
    pub created_at: NaiveDateTime,
    /// When anything about it last changed, its details included.
    pub updated_at: NaiveDateTime,
    /// When its status last changed (completed, cancelled, …); `None` for one made since
    /// migration 000026 and never moved.
    pub status_changed_at: Option<NaiveDateTime>,
}

/// What changed because of an element's work (`element_outcomes`).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = element_outcomes)]
pub struct OutcomeRow {
    pub element_id: String,
    pub summary: String,
    pub easy_read: Option<String>,
    pub written_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}
