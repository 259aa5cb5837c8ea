//! The audit trail of special-category reads by anyone other than the data's owner.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::crypto::Field;
use crate::db::DbConn;
use crate::db::schema::audit_log;
use crate::per_backend;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: String,
    pub actor_id: String,
    pub subject_id: String,
    pub data: String,
    pub action: String,
    pub route: String,
    pub at: NaiveDateTime,
}

/// Records that `actor` read `field` of `subject` through `route`; nothing when they are the same person.
pub fn record_read(
    conn: &mut DbConn,
    actor: &str,
    subject: &str,
    field: Field,
    route: &str,
) -> QueryResult<()> {
    record_reads(conn, actor, &[subject.to_string()], field, route)
}

/// [`record_read`] of each of `subjects` at once, in one statement.
pub fn record_reads(
    conn: &mut DbConn,
    actor: &str,
    subjects: &[String],
    field: Field,
    route: &str,
) -> QueryResult<()> {
    let at = Utc::now().naive_utc();
    let rows: Vec<_> = subjects
        .iter()
        .filter(|subject| subject.as_str() != actor)
        .map(|subject| {
            (
                audit_log::id.eq(uuid::Uuid::now_v7().to_string()),
                audit_log::actor_id.eq(actor),
                audit_log::subject_id.eq(subject.as_str()),
                audit_log::data.eq(field.as_str()),
                audit_log::action.eq("read"),
                audit_log::route.eq(route),
                audit_log::at.eq(at),
            )
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    // MultiConnection has no multi-row insert; each backend does.
    per_backend!(conn, |c| diesel::insert_into(audit_log::table)
        .values(&rows)
        .execute(c))
    .map(drop)
}

pub fn reads_of(conn: &mut DbConn, subject: &str) -> QueryResult<Vec<AuditRow>> {
    audit_log::table
        .filter(audit_log::subject_id.eq(subject))
        .order(audit_log::at)
        .select(AuditRow::as_select())
        .load(conn)
}
