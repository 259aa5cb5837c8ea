use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::outbox;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: String,
    pub message_id: String,
    pub template: String,
    pub user_id: Option<String>,
    pub recipient: String,
    pub subject: String,
    /// Only on rows queued before bodies were sealed (see `sealed_body`); empty otherwise.
    pub body_text: String,
    pub body_html: Option<String>,
    pub attachment_filename: Option<String>,
    pub attachment_content_type: Option<String>,
    pub attachment_body: Option<Vec<u8>>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
    /// For email naming people other than its recipient: what it was rendered from, as JSON
    /// (`email::outbox::Rerender`), so erasing one of them can render it again; cleared once
    /// sent. Only on rows queued before bodies were sealed: it is now inside `sealed_body`.
    pub mentions: Option<String>,
    /// The body (`email::outbox::Body`) encrypted under `crypto::Field::EmailBody`, bound to the
    /// row's id; `body_text`, `body_html` and `mentions` are then empty. Cleared once sent.
    pub sealed_body: Option<Vec<u8>>,
}
