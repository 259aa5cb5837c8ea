//! Stored first answers to creating POSTs sent with an Idempotency-Key.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::idempotency_keys;
use crate::per_backend;

/// (path, status, content type, body); status is `None` while the first request runs.
pub type Stored = (String, Option<i32>, Option<String>, Option<String>);

pub fn find(conn: &mut DbConn, user_id: &str, key: &str) -> QueryResult<Option<Stored>> {
    idempotency_keys::table
        .find((user_id, key))
        .select((
            idempotency_keys::request_path,
            idempotency_keys::status,
            idempotency_keys::content_type,
            idempotency_keys::body,
        ))
        .first(conn)
        .optional()
}

/// Claims the key for a first request, noting how many erasures have committed so far (see
/// `privacy::erasures_so_far`); false when someone already holds it.
pub fn claim(
    conn: &mut DbConn,
    user_id: &str,
    key: &str,
    path: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let erasures = crate::db::queries::privacy::erasures_so_far(conn)?;
    let row = (
        idempotency_keys::user_id.eq(user_id),
        idempotency_keys::key.eq(key),
        idempotency_keys::request_path.eq(path),
        idempotency_keys::created_at.eq(now),
        idempotency_keys::erasures_seen.eq(Some(erasures)),
    );
    let inserted = per_backend!(conn, |c| diesel::insert_into(idempotency_keys::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

/// How many erasures had committed when the key was claimed (`None` for keys claimed before
/// this was noted, or no longer held).
pub fn erasures_seen(conn: &mut DbConn, user_id: &str, key: &str) -> QueryResult<Option<i64>> {
    Ok(idempotency_keys::table
        .find((user_id, key))
        .select(idempotency_keys::erasures_seen)
        .first::<Option<i64>>(conn)
        .optional()?
        .flatten())
}

pub fn complete(
    conn: &mut DbConn,
    user_id: &str,
    key: &str,
    status: i32,
    content_type: &str,
    body: &str,
) -> QueryResult<()> {
    diesel::update(idempotency_keys::table.find((user_id, key)))
        .set((
            idempotency_keys::status.eq(status),
            idempotency_keys::content_type.eq(content_type),
            idempotency_keys::body.eq(body),
        ))
        .execute(conn)
        .map(drop)
}

/// Frees the key after a failed first request, so a corrected retry can run.
pub fn release(conn: &mut DbConn, user_id: &str, key: &str) -> QueryResult<()> {
    diesel::delete(idempotency_keys::table.find((user_id, key)))
        .execute(conn)
        .map(drop)
}
