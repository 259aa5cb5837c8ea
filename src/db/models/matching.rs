use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{assignments, invitations};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = invitations)]
pub struct InvitationRow {
    pub id: String,
    pub element_id: String,
    pub coproducer_id: String,
    pub status: String,
    pub respond_by: NaiveDateTime,
    pub message: Option<String>,
    pub score_hundredths: i32,
    /// Only on invitations made before reasons were sealed (see `sealed_breakdown`); `[]` otherwise.
    pub breakdown: String,
    pub invited_by: String,
    pub decline_reason: Option<String>,
    pub created_at: NaiveDateTime,
    pub responded_at: Option<NaiveDateTime>,
    /// Why they were suggested (the score's factors, JSON) encrypted under
    /// `crypto::Field::InvitationReasons`, bound to the invitation's id: it tells how much of the
    /// lived experience asked for they share.
    pub sealed_breakdown: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = assignments)]
pub struct AssignmentRow {
    pub id: String,
    pub element_id: String,
    pub coproducer_id: String,
    pub invitation_id: String,
    pub status: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}
