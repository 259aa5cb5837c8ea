use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::models::outbox::OutboxRow;
use crate::db::schema::outbox;
use crate::email::message::ACCOUNT_DELETED_TEMPLATE;
use crate::per_backend;

pub const PENDING: &str = "pending";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";
pub const DEAD: &str = "dead";
/// Routine email kept for its recipient's daily digest; the worker never claims it.
pub const HELD: &str = "held";
pub const STATUSES: [&str; 5] = [PENDING, SENT, FAILED, DEAD, HELD];
/// What stands in a row's recipient once the person it went to has been erased.
pub const ERASED_RECIPIENT: &str = "(erased)";

pub fn insert(conn: &mut DbConn, row: &OutboxRow) -> QueryResult<()> {
    per_backend!(conn, |c| diesel::insert_into(outbox::table)
        .values(row)
        .execute(c)
        .map(drop))
}

/// Leases up to `limit` due rows until `lease_until` and returns them. Call inside a write
/// transaction. On PostgreSQL `FOR UPDATE SKIP LOCKED` lets replicas claim side by side
/// without waiting for, or taking, each other's rows; SQLite's write lock serialises claims.
pub fn claim_due(
    conn: &mut DbConn,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<OutboxRow>> {
    let due = outbox::table
        .filter(outbox::status.eq_any([PENDING, FAILED]))
        .filter(outbox::next_attempt_at.le(now))
        .filter(
            outbox::locked_until
                .is_null()
                .or(outbox::locked_until.lt(now)),
        )
        .order(outbox::next_attempt_at)
        .limit(limit)
        .select(outbox::id);
    let ids: Vec<String> = per_backend!(conn,
        postgres: |pg| due.for_update().skip_locked().load(pg),
        sqlite: |lite| due.load(lite),
    )?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
        .set(outbox::locked_until.eq(lease_until))
        .execute(conn)?;
    outbox::table
        .filter(outbox::id.eq_any(&ids))
        .order(outbox::next_attempt_at)
        .select(OutboxRow::as_select())
        .load(conn)
}

/// People with held email due in their digest by `now`, in id order after `after`, up to
/// `limit` of them.
pub fn due_digests(
    conn: &mut DbConn,
    now: NaiveDateTime,
    after: &str,
    limit: i64,
) -> QueryResult<Vec<String>> {
    outbox::table
        .filter(outbox::status.eq(HELD))
        .filter(outbox::next_attempt_at.le(now))
        .filter(outbox::user_id.gt(after))
        .select(outbox::user_id.assume_not_null())
        .distinct()
        .order(outbox::user_id.assume_not_null())
        .limit(limit)
        .load(conn)
}

/// The email held for `user_id`, oldest first.
pub fn held_for(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<OutboxRow>> {
    outbox::table
        .filter(outbox::status.eq(HELD))
        .filter(outbox::user_id.eq(user_id))
        .order((outbox::created_at, outbox::id))
        .select(OutboxRow::as_select())
        .load(conn)
}

/// Deletes the held rows `ids` (gathered into a digest); returns how many were still held.
pub fn delete_held(conn: &mut DbConn, ids: &[String]) -> QueryResult<usize> {
    diesel::delete(
        outbox::table
            .filter(outbox::id.eq_any(ids))
            .filter(outbox::status.eq(HELD)),
    )
    .execute(conn)
}

/// Sends `user_id`'s held email now, each on its own (they no longer want a digest).
pub fn release_held(conn: &mut DbConn, user_id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        outbox::table
            .filter(outbox::status.eq(HELD))
            .filter(outbox::user_id.eq(user_id)),
    )
    .set((outbox::status.eq(PENDING), outbox::next_attempt_at.eq(now)))
    .execute(conn)
}

/// Sends the held rows `ids` now, each on its own.
pub fn release_these(conn: &mut DbConn, ids: &[String], now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        outbox::table
            .filter(outbox::status.eq(HELD))
            .filter(outbox::id.eq_any(ids)),
    )
    .set((outbox::status.eq(PENDING), outbox::next_attempt_at.eq(now)))
    .execute(conn)
}

/// Records the delivery of `row` (id, template), if this worker still holds the lease it
/// claimed it with. The body, what it was rendered from, and any attached file are cleared:
/// they may hold a live sign-in link or someone's booked sessions, and a sent email is never
/// sent again. The file's name and type stay as a record. Returns false when the lease was
/// lost (another worker may have the row now).
pub fn mark_sent(
    conn: &mut DbConn,
    row: (&str, &str),
    lease: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let (id, template) = row;
    let leased = outbox::table
        .find(id)
        .filter(outbox::locked_until.eq(lease));
    let sent = (
        outbox::status.eq(SENT),
        outbox::sent_at.eq(now),
        outbox::attempts.eq(outbox::attempts + 1),
        outbox::locked_until.eq(None::<NaiveDateTime>),
        outbox::body_text.eq(""),
        outbox::body_html.eq(None::<String>),
        outbox::attachment_body.eq(None::<Vec<u8>>),
        outbox::mentions.eq(None::<String>),
        outbox::sealed_body.eq(None::<Vec<u8>>),
    );
    // One statement per email, on the concrete connection (no MultiConnection SQL rewriting).
    let changed = if template == ACCOUNT_DELETED_TEMPLATE {
        // The farewell to an erased account is the one row still holding its address.
        let forgotten = (
            outbox::recipient.eq(ERASED_RECIPIENT),
            outbox::last_error.eq(None::<String>),
        );
        per_backend!(conn, |c| diesel::update(leased)
            .set((sent, forgotten))
            .execute(c))?
    } else {
        per_backend!(conn, |c| diesel::update(leased).set(sent).execute(c))?
    };
    Ok(changed == 1)
}

/// Records a failed attempt under the same lease rule: `failed` with the next try time, or
/// `dead` when out of attempts.
pub fn mark_failed(
    conn: &mut DbConn,
    id: &str,
    lease: NaiveDateTime,
    status: &str,
    next_attempt_at: NaiveDateTime,
    error: &str,
) -> QueryResult<bool> {
    let failed = diesel::update(
        outbox::table
            .find(id)
            .filter(outbox::locked_until.eq(lease)),
    )
    .set((
        outbox::status.eq(status),
        outbox::attempts.eq(outbox::attempts + 1),
        outbox::next_attempt_at.eq(next_attempt_at),
        outbox::last_error.eq(error),
        outbox::locked_until.eq(None::<NaiveDateTime>),
    ));
    let changed = per_backend!(conn, |c| failed.execute(c))?;
    Ok(changed == 1)
}

/// Puts a failed or dead row back in the queue with a fresh attempt budget.
/// Returns false when the row is not failed or dead, or is being sent right now.
pub fn retry(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(
        outbox::table
            .find(id)
            .filter(outbox::status.eq_any([FAILED, DEAD]))
            // Not while a worker is sending it: that would let a second worker send it too.
            .filter(
                outbox::locked_until
                    .is_null()
                    .or(outbox::locked_until.lt(now)),
            ),
    )
    .set((
        outbox::status.eq(PENDING),
        outbox::attempts.eq(0),
        outbox::next_attempt_at.eq(now),
        outbox::locked_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<OutboxRow>> {
    outbox::table
        .find(id)
        .select(OutboxRow::as_select())
        .first(conn)
        .optional()
}

/// A page in id order (ids are UUIDv7, so this is creation order), after `cursor`.
pub fn list(
    conn: &mut DbConn,
    status: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<OutboxRow>> {
    let mut query = outbox::table.select(OutboxRow::as_select()).into_boxed();
    if let Some(status) = status {
        query = query.filter(outbox::status.eq(status.to_string()));
    }
    if let Some(after) = after {
        query = query.filter(outbox::id.gt(after.to_string()));
    }
    query.order(outbox::id).limit(limit).load(conn)
}

/// Rows per status, for the metrics page.
pub fn count_by_status(conn: &mut DbConn) -> QueryResult<Vec<(String, i64)>> {
    outbox::table
        .group_by(outbox::status)
        .select((outbox::status, diesel::dsl::count_star()))
        .load(conn)
}

/// What an unsent row says, as stored: sealed, or in the plain columns of rows queued before
/// bodies were sealed.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct StoredBody {
    pub id: String,
    pub template: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub mentions: Option<String>,
    pub sealed_body: Option<Vec<u8>>,
}

/// Up to `limit` unsent rows' words after `after`, in id order (for an erasure, which must
/// look inside each of them).
pub fn unsent_bodies(
    conn: &mut DbConn,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<StoredBody>> {
    outbox::table
        .filter(outbox::status.ne(SENT))
        .filter(outbox::id.gt(after.unwrap_or("")))
        .order(outbox::id)
        .limit(limit)
        .select(StoredBody::as_select())
        .load(conn)
}

/// Replaces what an unsent row says with `sealed` (the plain columns are emptied).
pub fn rewrite(conn: &mut DbConn, id: &str, subject: &str, sealed: &[u8]) -> QueryResult<()> {
    diesel::update(outbox::table.find(id).filter(outbox::status.ne(SENT)))
        .set((
            outbox::subject.eq(subject),
            outbox::body_text.eq(""),
            outbox::body_html.eq(None::<String>),
            outbox::mentions.eq(None::<String>),
            outbox::sealed_body.eq(sealed),
        ))
        .execute(conn)
        .map(drop)
}

/// Up to `limit` unsent rows queued before bodies were sealed, with their plain words, in id
/// order after `after`.
pub fn unsent_plain_bodies(
    conn: &mut DbConn,
    after: &str,
    limit: i64,
) -> QueryResult<Vec<StoredBody>> {
    outbox::table
        .filter(outbox::status.ne(SENT))
        .filter(outbox::sealed_body.is_null())
        .filter(outbox::id.gt(after))
        .order(outbox::id)
        .limit(limit)
        .select(StoredBody::as_select())
        .load(conn)
}

/// Puts `sealed` in place of a plain body still unsent; the number of rows changed.
pub fn seal_plain_body(conn: &mut DbConn, id: &str, sealed: &[u8]) -> QueryResult<usize> {
    diesel::update(
        outbox::table
            .find(id)
            .filter(outbox::status.ne(SENT))
            .filter(outbox::sealed_body.is_null()),
    )
    .set((
        outbox::body_text.eq(""),
        outbox::body_html.eq(None::<String>),
        outbox::mentions.eq(None::<String>),
        outbox::sealed_body.eq(sealed),
    ))
    .execute(conn)
}

/// Waits for any other erasure's transaction to end, and keeps the next one waiting until this
/// one's does (PostgreSQL; SQLite runs one writer at a time anyway).
pub fn one_erasure_at_a_time(conn: &mut DbConn) -> QueryResult<()> {
    match conn {
        DbConn::Postgres(pg) => {
            diesel::sql_query(format!("SELECT pg_advisory_xact_lock({ERASURE_LOCK_KEY})"))
                .execute(pg)
                .map(drop)
        }
        DbConn::Sqlite(_) => Ok(()),
    }
}

/// Waits for an erasure under way to end, and keeps the next one waiting until this transaction
/// ends (PostgreSQL; SQLite runs one writer at a time anyway). For a change that writes to many
/// people at once and cannot hold each account first (cancelling an element).
pub fn no_erasure_meanwhile(conn: &mut DbConn) -> QueryResult<()> {
    match conn {
        DbConn::Postgres(pg) => diesel::sql_query(format!(
            "SELECT pg_advisory_xact_lock_shared({ERASURE_LOCK_KEY})"
        ))
        .execute(pg)
        .map(drop),
        DbConn::Sqlite(_) => Ok(()),
    }
}

/// Whether no erasure's transaction is under way now (PostgreSQL; on SQLite a writer never
/// overlaps one). When none is, one that starts waits for this transaction to end. Never waits.
pub fn no_erasure_under_way(conn: &mut DbConn) -> QueryResult<bool> {
    match conn {
        DbConn::Postgres(pg) => diesel::sql_query(format!(
            "SELECT pg_try_advisory_xact_lock_shared({ERASURE_LOCK_KEY}) AS taken"
        ))
        .get_result::<super::LockTaken>(pg)
        .map(|t| t.taken),
        DbConn::Sqlite(_) => Ok(true),
    }
}

/// "coperase" in ASCII: the advisory lock `one_erasure_at_a_time` takes.
const ERASURE_LOCK_KEY: i64 = 0x636f_7065_7261_7365;

/// (id, sealed body) of up to `limit` rows holding one, in id order after `after`, for a key
/// rotation.
pub fn sealed_bodies(
    conn: &mut DbConn,
    after: &str,
    limit: i64,
) -> QueryResult<Vec<(String, Vec<u8>)>> {
    outbox::table
        .filter(outbox::sealed_body.is_not_null())
        .filter(outbox::id.gt(after))
        .order(outbox::id)
        .limit(limit)
        .select((outbox::id, outbox::sealed_body.assume_not_null()))
        .load(conn)
}

/// Replaces a sealed body if it is still `old`; the number of rows changed.
pub fn replace_sealed_body(
    conn: &mut DbConn,
    id: &str,
    old: &[u8],
    new: &[u8],
) -> QueryResult<usize> {
    diesel::update(outbox::table.find(id).filter(outbox::sealed_body.eq(old)))
        .set(outbox::sealed_body.eq(new))
        .execute(conn)
}

/// Deletes the row unless it has been sent meanwhile (a sent row is kept for counts).
pub fn delete_unsent(conn: &mut DbConn, id: &str) -> QueryResult<()> {
    diesel::delete(outbox::table.find(id).filter(outbox::status.ne(SENT)))
        .execute(conn)
        .map(drop)
}
