//! The audit trail of special-category reads by anyone other than the data's owner.

use std::collections::HashSet;

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::crypto::Field;
use crate::db::DbConn;
use crate::db::queries::privacy::ERASED;
use crate::db::schema::{audit_log, users};
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
///
/// A subject whose account has been erased is recorded under a tombstone of its own, as the
/// erasure does to the rows already there: the read is kept, whose data it was is not. Their
/// accounts are held meanwhile, so an erasure under way finishes first and is seen, or waits
/// and tombstones these rows itself.
pub fn record_reads(
    conn: &mut DbConn,
    actor: &str,
    subjects: &[String],
    field: Field,
    route: &str,
) -> QueryResult<()> {
    let others: Vec<String> = subjects
        .iter()
        .filter(|subject| subject.as_str() != actor)
        .cloned()
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    let erased = erased_among(conn, &others)?;
    let at = Utc::now().naive_utc();
    let rows: Vec<_> = others
        .iter()
        .map(|subject| {
            let subject_id = if erased.contains(subject) {
                format!("erased-{}", uuid::Uuid::now_v7())
            } else {
                subject.clone()
            };
            (
                audit_log::id.eq(uuid::Uuid::now_v7().to_string()),
                audit_log::actor_id.eq(actor),
                audit_log::subject_id.eq(subject_id),
                audit_log::data.eq(field.as_str()),
                audit_log::action.eq("read"),
                audit_log::route.eq(route),
                audit_log::at.eq(at),
            )
        })
        .collect();
    // MultiConnection has no multi-row insert; each backend does.
    per_backend!(conn, |c| diesel::insert_into(audit_log::table)
        .values(&rows)
        .execute(c))
    .map(drop)
}

/// Those of `ids` whose account has been erased, holding each account shared until the
/// transaction ends (in id order, as `users::hold_those_active` does; SQLite's one writer needs
/// no hold).
fn erased_among(conn: &mut DbConn, ids: &[String]) -> QueryResult<HashSet<String>> {
    let accounts = users::table
        .filter(users::id.eq_any(ids))
        .order(users::id)
        .select((users::id, users::status));
    let found: Vec<(String, String)> = per_backend!(conn,
        postgres: |pg| accounts.for_share().load(pg),
        sqlite: |lite| accounts.load(lite),
    )?;
    Ok(found
        .into_iter()
        .filter(|(_, status)| status == ERASED)
        .map(|(id, _)| id)
        .collect())
}

pub fn reads_of(conn: &mut DbConn, subject: &str) -> QueryResult<Vec<AuditRow>> {
    audit_log::table
        .filter(audit_log::subject_id.eq(subject))
        .order(audit_log::at)
        .select(AuditRow::as_select())
        .load(conn)
}
