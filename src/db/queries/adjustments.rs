//! What has been arranged of each booking's access adjustments: one sealed row per booking.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{adjustment_arrangements, assignments, element_sessions, elements};
use crate::domain::partnership::ElementStatus;
use crate::per_backend;

/// The sealed arrangements of a booking, if any were recorded.
pub fn sealed_of(conn: &mut DbConn, assignment_id: &str) -> QueryResult<Option<Vec<u8>>> {
    adjustment_arrangements::table
        .find(assignment_id)
        .select(adjustment_arrangements::ciphertext)
        .first(conn)
        .optional()
}

/// Stores a booking's arrangements, replacing what was there.
pub fn store(
    conn: &mut DbConn,
    assignment_id: &str,
    ciphertext: &[u8],
    now: NaiveDateTime,
) -> QueryResult<()> {
    let row = (
        adjustment_arrangements::assignment_id.eq(assignment_id),
        adjustment_arrangements::ciphertext.eq(ciphertext),
        adjustment_arrangements::updated_at.eq(now),
    );
    per_backend!(conn, |c| diesel::insert_into(
        adjustment_arrangements::table
    )
    .values(row)
    .on_conflict(adjustment_arrangements::assignment_id)
    .do_update()
    .set((
        adjustment_arrangements::ciphertext.eq(ciphertext),
        adjustment_arrangements::updated_at.eq(now),
    ))
    .execute(c)
    .map(drop))
}

/// The person's bookings with arrangements stored, sealed.
pub fn sealed_of_user(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<(String, Vec<u8>)>> {
    let theirs = assignments::table
        .filter(assignments::coproducer_id.eq(user_id))
        .select(assignments::id);
    adjustment_arrangements::table
        .filter(adjustment_arrangements::assignment_id.eq_any(theirs))
        .select((
            adjustment_arrangements::assignment_id,
            adjustment_arrangements::ciphertext,
        ))
        .load(conn)
}

/// Forgets what was arranged for one booking.
pub fn delete_of(conn: &mut DbConn, assignment_id: &str) -> QueryResult<usize> {
    diesel::delete(adjustment_arrangements::table.find(assignment_id)).execute(conn)
}

/// Forgets what was arranged for the person's bookings (their erasure).
pub fn delete_of_user(conn: &mut DbConn, user_id: &str) -> QueryResult<usize> {
    let theirs = assignments::table
        .filter(assignments::coproducer_id.eq(user_id))
        .select(assignments::id);
    diesel::delete(
        adjustment_arrangements::table
            .filter(adjustment_arrangements::assignment_id.eq_any(theirs)),
    )
    .execute(conn)
}

/// Deletes up to `limit` bookings' arrangements whose booking ended (no longer confirmed) before
/// `cutoff`; returns how many.
pub fn delete_of_ended_bookings(
    conn: &mut DbConn,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    let ended = assignments::table
        .filter(assignments::status.ne("confirmed"))
        .filter(assignments::updated_at.lt(cutoff))
        .select(assignments::id);
    let ids: Vec<String> = adjustment_arrangements::table
        .filter(adjustment_arrangements::assignment_id.eq_any(ended))
        .order(adjustment_arrangements::assignment_id)
        .limit(limit)
        .select(adjustment_arrangements::assignment_id)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(
        adjustment_arrangements::table.filter(adjustment_arrangements::assignment_id.eq_any(&ids)),
    )
    .execute(conn)
}

/// For key rotation: sealed arrangements after `after`, by booking.
pub fn sealed_page(
    conn: &mut DbConn,
    after: &str,
    limit: i64,
) -> QueryResult<Vec<(String, Vec<u8>)>> {
    adjustment_arrangements::table
        .filter(adjustment_arrangements::assignment_id.gt(after))
        .order(adjustment_arrangements::assignment_id)
        .limit(limit)
        .select((
            adjustment_arrangements::assignment_id,
            adjustment_arrangements::ciphertext,
        ))
        .load(conn)
}

/// Replaces sealed arrangements if they are still `old`; the number of rows changed.
pub fn replace_sealed(
    conn: &mut DbConn,
    assignment_id: &str,
    old: &[u8],
    new: &[u8],
) -> QueryResult<usize> {
    diesel::update(
        adjustment_arrangements::table
            .find(assignment_id)
            .filter(adjustment_arrangements::ciphertext.eq(old)),
    )
    .set(adjustment_arrangements::ciphertext.eq(new))
    .execute(conn)
}

/// A confirmed booking with a session starting soon.
#[derive(Debug, Clone, Queryable)]
pub struct Upcoming {
    pub assignment_id: String,
    pub coproducer_id: String,
    pub element_id: String,
    pub starts_at: NaiveDateTime,
}

/// Confirmed bookings on elements still going ahead with a session starting from `from` until
/// `until`, each once, with its first session in that time; soonest first.
pub fn confirmed_starting_between(
    conn: &mut DbConn,
    from: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<Vec<Upcoming>> {
    let rows: Vec<Upcoming> = assignments::table
        .inner_join(
            element_sessions::table.on(element_sessions::element_id.eq(assignments::element_id)),
        )
        .inner_join(elements::table.on(elements::id.eq(assignments::element_id)))
        .filter(assignments::status.eq("confirmed"))
        .filter(elements::status.eq_any(ElementStatus::going_ahead()))
        .filter(element_sessions::starts_at.ge(from))
        .filter(element_sessions::starts_at.lt(until))
        .order((element_sessions::starts_at, assignments::id))
        .select((
            assignments::id,
            assignments::coproducer_id,
            assignments::element_id,
            element_sessions::starts_at,
        ))
        .load(conn)?;
    let mut seen = std::collections::HashSet::new();
    Ok(rows
        .into_iter()
        .filter(|row| seen.insert(row.assignment_id.clone()))
        .collect())
}
