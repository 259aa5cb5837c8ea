use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{magic_links, refresh_tokens, sessions, staff_invitations};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = magic_links)]
pub struct MagicLinkRow {
    pub id: String,
    pub user_id: String,
    pub token_hash: String,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoked_reason: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshTokenRow {
    pub id: String,
    pub session_id: String,
    pub token_hash: String,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = staff_invitations)]
pub struct StaffInvitationRow {
    pub id: String,
    pub email: String,
    pub role: String,
    pub organisation_id: Option<String>,
    pub invited_by: String,
    pub token_hash: String,
    pub expires_at: NaiveDateTime,
    pub accepted_at: Option<NaiveDateTime>,
    pub accepted_by: Option<String>,
    pub created_at: NaiveDateTime,
}
