//! Claims for time and expenses.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::models::claims::ClaimRow;
use crate::db::schema::claims;

pub fn insert(conn: &mut DbConn, claim: &ClaimRow) -> QueryResult<()> {
    diesel::insert_into(claims::table)
        .values(claim)
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<ClaimRow>> {
    claims::table
        .find(id)
        .select(ClaimRow::as_select())
        .first(conn)
        .optional()
}

/// A person's claims, oldest first (ids are time-ordered).
pub fn of_user(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<ClaimRow>> {
    claims::table
        .filter(claims::coproducer_id.eq(user_id))
        .select(ClaimRow::as_select())
        .order(claims::id)
        .load(conn)
}

/// Every claim, or those in `status`, oldest first, after the cursor `after`.
pub fn list(
    conn: &mut DbConn,
    status: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<ClaimRow>> {
    let mut query = claims::table.select(ClaimRow::as_select()).into_boxed();
    if let Some(status) = status {
        query = query.filter(claims::status.eq(status.to_string()));
    }
    if let Some(after) = after {
        query = query.filter(claims::id.gt(after.to_string()));
    }
    query.order(claims::id).limit(limit).load(conn)
}

/// A claim's step from `from` to `to`, made only if it is still `from`.
pub struct Move<'a> {
    pub id: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub actor: &'a str,
    pub note: Option<&'a str>,
    pub now: NaiveDateTime,
}

/// Approves or rejects; returns whether the claim moved.
pub fn decide(conn: &mut DbConn, change: &Move<'_>) -> QueryResult<bool> {
    diesel::update(
        claims::table
            .filter(claims::id.eq(change.id))
            .filter(claims::status.eq(change.from)),
    )
    .set((
        claims::status.eq(change.to),
        claims::decided_by.eq(change.actor),
        claims::decision_note.eq(change.note),
        claims::decided_at.eq(change.now),
        claims::updated_at.eq(change.now),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Records payment; returns whether the claim moved.
pub fn mark_paid(conn: &mut DbConn, change: &Move<'_>) -> QueryResult<bool> {
    diesel::update(
        claims::table
            .filter(claims::id.eq(change.id))
            .filter(claims::status.eq(change.from)),
    )
    .set((
        claims::status.eq(change.to),
        claims::paid_by.eq(change.actor),
        claims::paid_at.eq(change.now),
        claims::updated_at.eq(change.now),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Erasure keeps the amounts and clears what the person (or a coordinator about them) wrote.
pub fn clear_notes_of(conn: &mut DbConn, user_id: &str) -> QueryResult<usize> {
    diesel::update(claims::table.filter(claims::coproducer_id.eq(user_id)))
        .set((
            claims::expenses_note.eq(None::<String>),
            claims::note.eq(None::<String>),
            claims::decision_note.eq(None::<String>),
        ))
        .execute(conn)
}
