use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{claims, payment_runs};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = claims)]
pub struct ClaimRow {
    pub id: String,
    pub assignment_id: String,
    pub coproducer_id: String,
    pub minutes_worked: i32,
    pub fee_pence: i64,
    pub expenses_pence: i64,
    pub expenses_note: Option<String>,
    pub note: Option<String>,
    pub status: String,
    pub decided_by: Option<String>,
    pub decision_note: Option<String>,
    pub decided_at: Option<NaiveDateTime>,
    pub paid_by: Option<String>,
    pub paid_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = payment_runs)]
pub struct PaymentRunRow {
    pub id: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub paid_by: Option<String>,
    pub paid_at: Option<NaiveDateTime>,
}
