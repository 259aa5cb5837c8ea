use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{user_roles, users};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub full_name: String,
    pub preferred_name: Option<String>,
    pub password_hash: Option<String>,
    pub status: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub email_format: String,
    pub email_digest: bool,
    pub email_verified_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = user_roles)]
pub struct UserRoleRow {
    pub user_id: String,
    pub role: String,
    pub granted_at: NaiveDateTime,
}

impl UserRow {
    /// A new active account with default notification preferences.
    pub fn new_active(email: &str, full_name: &str, preferred_name: Option<&str>) -> Self {
        let now = chrono::Utc::now().naive_utc();
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            email: email.to_string(),
            full_name: full_name.to_string(),
            preferred_name: preferred_name.map(str::to_string),
            password_hash: None,
            status: "active".into(),
            created_at: now,
            updated_at: now,
            email_format: crate::domain::email_format::EmailFormat::Standard
                .as_str()
                .into(),
            email_digest: false,
            email_verified_at: None,
        }
    }

    /// Deactivated accounts cannot sign in.
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }

    /// The name to greet the person by.
    pub fn display_name(&self) -> &str {
        self.preferred_name.as_deref().unwrap_or(&self.full_name)
    }
}
