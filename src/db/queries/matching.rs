//! Invitations and assignments, and the bulk reads that give the matcher its candidates.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::models::matching::{AssignmentRow, InvitationRow};
use crate::db::schema::{
    access_passports, assignment_events, assignments, conflicts_of_interest, coproducers,
    element_sessions, elements, invitation_offers, invitations, profile_interests, profile_skills,
    profiles, session_reminders, users,
};
use crate::domain::assignment::{AssignmentStatus, seat_holding};
use crate::domain::partnership::ElementStatus;
use crate::per_backend;

/// Inserts unless the person was already invited to the element; true when inserted (and the
/// offer recorded).
pub fn insert_invitation(conn: &mut DbConn, row: &InvitationRow) -> QueryResult<bool> {
    let inserted = per_backend!(conn, |c| diesel::insert_into(invitations::table)
        .values(row)
        .on_conflict((invitations::element_id, invitations::coproducer_id))
        .do_nothing()
        .execute(c))?;
    if inserted == 1 {
        record_offer(conn, row)?;
    }
    Ok(inserted == 1)
}

/// One sending of `row`, who sent it and when, for counting offers.
fn record_offer(conn: &mut DbConn, row: &InvitationRow) -> QueryResult<()> {
    diesel::insert_into(invitation_offers::table)
        .values((
            invitation_offers::invitation_id.eq(&row.id),
            invitation_offers::coproducer_id.eq(&row.coproducer_id),
            invitation_offers::sent_by.eq(&row.invited_by),
            invitation_offers::sent_at.eq(row.created_at),
        ))
        .execute(conn)
        .map(drop)
}

/// Sends an invitation that ran out (`expired`) again, as `row` says; true when it had (and the
/// offer recorded: the invitation row shows only the latest sending).
pub fn reopen_invitation(conn: &mut DbConn, row: &InvitationRow) -> QueryResult<bool> {
    let changed = diesel::update(
        invitations::table
            .find(&row.id)
            .filter(invitations::status.eq("expired")),
    )
    .set((
        invitations::status.eq(&row.status),
        invitations::respond_by.eq(row.respond_by),
        invitations::message.eq(&row.message),
        invitations::score_hundredths.eq(row.score_hundredths),
        invitations::breakdown.eq(&row.breakdown),
        invitations::sealed_breakdown.eq(&row.sealed_breakdown),
        invitations::invited_by.eq(&row.invited_by),
        invitations::decline_reason.eq(None::<String>),
        invitations::created_at.eq(row.created_at),
        invitations::responded_at.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    if changed == 1 {
        record_offer(conn, row)?;
    }
    Ok(changed == 1)
}

pub fn find_invitation(conn: &mut DbConn, id: &str) -> QueryResult<Option<InvitationRow>> {
    invitations::table
        .find(id)
        .select(InvitationRow::as_select())
        .first(conn)
        .optional()
}

pub fn invitations_of_element(
    conn: &mut DbConn,
    element_id: &str,
) -> QueryResult<Vec<InvitationRow>> {
    invitations::table
        .filter(invitations::element_id.eq(element_id))
        .order(invitations::id)
        .select(InvitationRow::as_select())
        .load(conn)
}

pub fn invitations_of_user(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<InvitationRow>> {
    invitations::table
        .filter(invitations::coproducer_id.eq(user_id))
        .order(invitations::id)
        .select(InvitationRow::as_select())
        .load(conn)
}

/// Moves an invitation out of `from`; false when its status is something else now.
pub fn respond(
    conn: &mut DbConn,
    id: &str,
    from: &str,
    to: &str,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = diesel::update(
        invitations::table
            .find(id)
            .filter(invitations::status.eq(from)),
    )
    .set((
        invitations::status.eq(to),
        invitations::decline_reason.eq(reason),
        invitations::responded_at.eq(now),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// The advisory lock class of a person's bookings ("book" in ASCII); the person's id is hashed
/// into the second key.
const BOOKINGS_LOCK_CLASS: i32 = 0x626f_6f6b;

/// Waits for, then holds until the transaction ends, the right to book `person_id` (PostgreSQL;
/// SQLite runs one writer at a time anyway): two bookings of one person, each checked against
/// their other bookings (`cannot_take`), take turns. Accept, invite and archive take it after the
/// person's account and before any element, so no order of them waits in a circle.
pub fn hold_bookings_of(conn: &mut DbConn, person_id: &str) -> QueryResult<()> {
    match conn {
        DbConn::Postgres(pg) => diesel::sql_query(format!(
            "SELECT pg_advisory_xact_lock({BOOKINGS_LOCK_CLASS}, hashtext($1))"
        ))
        .bind::<diesel::sql_types::Text, _>(person_id)
        .execute(pg)
        .map(drop),
        DbConn::Sqlite(_) => Ok(()),
    }
}

/// [`hold_bookings_of`] without waiting: false when another transaction is booking them now.
/// For a booking made under an element's lock, which must not wait on anything more.
pub fn try_hold_bookings_of(conn: &mut DbConn, person_id: &str) -> QueryResult<bool> {
    match conn {
        DbConn::Postgres(pg) => diesel::sql_query(format!(
            "SELECT pg_try_advisory_xact_lock({BOOKINGS_LOCK_CLASS}, hashtext($1)) AS taken"
        ))
        .bind::<diesel::sql_types::Text, _>(person_id)
        .get_result::<super::LockTaken>(pg)
        .map(|row| row.taken),
        DbConn::Sqlite(_) => Ok(true),
    }
}

/// Takes the element's row lock for the rest of the transaction (PostgreSQL), so seat counts
/// and the assignment that follows them cannot interleave with another accept. An update that
/// changes nothing: `updated_at` keeps saying when the element itself last changed.
pub fn lock_element(conn: &mut DbConn, element_id: &str) -> QueryResult<bool> {
    let changed = diesel::update(elements::table.find(element_id))
        .set(elements::updated_at.eq(elements::updated_at))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Takes the assignment's row until the transaction ends (an update that changes nothing), so
/// its status read next stays true meanwhile; false when there is no such assignment.
pub fn lock_assignment(conn: &mut DbConn, id: &str) -> QueryResult<bool> {
    let changed = diesel::update(assignments::table.find(id))
        .set(assignments::updated_at.eq(assignments::updated_at))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Seats used on the element: every assignment but the withdrawn ones.
pub fn seats_taken(conn: &mut DbConn, element_id: &str) -> QueryResult<i64> {
    assignments::table
        .filter(assignments::element_id.eq(element_id))
        .filter(assignments::status.eq_any(seat_holding()))
        .count()
        .get_result(conn)
}

pub fn insert_assignment(conn: &mut DbConn, row: &AssignmentRow) -> QueryResult<()> {
    diesel::insert_into(assignments::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

pub fn find_assignment(conn: &mut DbConn, id: &str) -> QueryResult<Option<AssignmentRow>> {
    assignments::table
        .find(id)
        .select(AssignmentRow::as_select())
        .first(conn)
        .optional()
}

/// [`find_assignment`], holding the row shared until the transaction ends (PostgreSQL), so its
/// status cannot change under what is written about it; a change committed first is seen.
/// SQLite has one writer at a time, so a read is enough there.
pub fn hold_assignment(conn: &mut DbConn, id: &str) -> QueryResult<Option<AssignmentRow>> {
    let row = || assignments::table.find(id);
    per_backend!(conn,
        postgres: |pg| row().select(AssignmentRow::as_select()).for_share().first(pg).optional(),
        sqlite: |lite| row().select(AssignmentRow::as_select()).first(lite).optional(),
    )
}

/// Moves an assignment from `from` to `to` and records who did it; false (and nothing
/// recorded) when its status is something else now.
pub fn move_assignment(
    conn: &mut DbConn,
    id: &str,
    from: &str,
    to: &str,
    actor: &str,
    note: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = diesel::update(
        assignments::table
            .find(id)
            .filter(assignments::status.eq(from)),
    )
    .set((assignments::status.eq(to), assignments::updated_at.eq(now)))
    .execute(conn)?;
    if changed != 1 {
        return Ok(false);
    }
    record_assignment_event(conn, id, Some(from), to, actor, note, now)?;
    Ok(true)
}

pub fn record_assignment_event(
    conn: &mut DbConn,
    assignment_id: &str,
    from: Option<&str>,
    to: &str,
    actor: &str,
    note: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(assignment_events::table)
        .values((
            assignment_events::id.eq(uuid::Uuid::now_v7().to_string()),
            assignment_events::assignment_id.eq(assignment_id),
            assignment_events::from_status.eq(from),
            assignment_events::to_status.eq(to),
            assignment_events::actor_id.eq(actor),
            assignment_events::note.eq(note),
            assignment_events::at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// (id, from, to, actor, note, at): one step of an assignment.
pub type AssignmentEvent = (
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    NaiveDateTime,
);

pub fn assignment_events(conn: &mut DbConn, id: &str) -> QueryResult<Vec<AssignmentEvent>> {
    assignment_events::table
        .filter(assignment_events::assignment_id.eq(id))
        .order((assignment_events::at, assignment_events::id))
        .select((
            assignment_events::id,
            assignment_events::from_status,
            assignment_events::to_status,
            assignment_events::actor_id,
            assignment_events::note,
            assignment_events::at,
        ))
        .load(conn)
}

/// The element's waiting list, in the order people accepted.
pub fn waiting_list(conn: &mut DbConn, element_id: &str) -> QueryResult<Vec<InvitationRow>> {
    invitations::table
        .filter(invitations::element_id.eq(element_id))
        .filter(invitations::status.eq("waitlisted"))
        .order((invitations::responded_at, invitations::id))
        .select(InvitationRow::as_select())
        .load(conn)
}

/// Gives a waitlisted invitation its seat (`waitlisted → accepted`), keeping the time they
/// answered; false when it is no longer waitlisted.
pub fn take_off_waiting_list(conn: &mut DbConn, id: &str) -> QueryResult<bool> {
    let changed = diesel::update(
        invitations::table
            .find(id)
            .filter(invitations::status.eq("waitlisted")),
    )
    .set(invitations::status.eq("accepted"))
    .execute(conn)?;
    Ok(changed == 1)
}

/// (stored status, paused until) of one co-producer.
pub fn coproducer_status(
    conn: &mut DbConn,
    user_id: &str,
) -> QueryResult<Option<(String, Option<NaiveDateTime>)>> {
    coproducers::table
        .find(user_id)
        .select((coproducers::status, coproducers::paused_until))
        .first(conn)
        .optional()
}

pub fn assignments_of_element(
    conn: &mut DbConn,
    element_id: &str,
) -> QueryResult<Vec<AssignmentRow>> {
    assignments::table
        .filter(assignments::element_id.eq(element_id))
        .order(assignments::id)
        .select(AssignmentRow::as_select())
        .load(conn)
}

/// How many bookings each element still has `confirmed`, by element.
pub fn confirmed_per_element(conn: &mut DbConn) -> QueryResult<Vec<(String, i64)>> {
    assignments::table
        .filter(assignments::status.eq(AssignmentStatus::Confirmed.as_str()))
        .group_by(assignments::element_id)
        .select((assignments::element_id, diesel::dsl::count_star()))
        .order(assignments::element_id)
        .load(conn)
}

pub fn assignments_of_user(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<AssignmentRow>> {
    assignments::table
        .filter(assignments::coproducer_id.eq(user_id))
        .order(assignments::id)
        .select(AssignmentRow::as_select())
        .load(conn)
}

/// Marks invitations still unanswered after their respond-by time as expired; returns them.
pub fn expire_due(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Vec<InvitationRow>> {
    // In id order, as a cancellation closes an element's invitations: never each waiting on
    // the other.
    let due: Vec<InvitationRow> = invitations::table
        .filter(invitations::status.eq("invited"))
        .filter(invitations::respond_by.lt(now))
        .order(invitations::id)
        .select(InvitationRow::as_select())
        .load(conn)?;
    let mut expired = Vec::new();
    for invitation in due {
        if expire_if_due(conn, &invitation.id, now)? {
            expired.push(invitation);
        }
    }
    Ok(expired)
}

/// Marks the invitation `expired` if it is still waiting for an answer past its time (checked
/// in the update, so one sent again meanwhile stays open); true when it did.
pub fn expire_if_due(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(
        invitations::table
            .find(id)
            .filter(invitations::status.eq("invited"))
            .filter(invitations::respond_by.lt(now)),
    )
    .set((
        invitations::status.eq("expired"),
        invitations::responded_at.eq(now),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// (user id, full name, preferred name, status, paused until) of every co-producer.
pub type CoproducerRow = (
    String,
    String,
    Option<String>,
    String,
    Option<NaiveDateTime>,
);

/// Whose facts the matcher loads: the whole pool (to rank it) or a few people (to check them).
#[derive(Debug, Clone, Copy)]
pub enum Pool<'a> {
    Everyone,
    Only(&'a [String]),
}

pub fn coproducers(conn: &mut DbConn, pool: Pool) -> QueryResult<Vec<CoproducerRow>> {
    let mut query = coproducers::table
        .inner_join(users::table)
        .order(coproducers::user_id)
        .select((
            coproducers::user_id,
            users::full_name,
            users::preferred_name,
            coproducers::status,
            coproducers::paused_until,
        ))
        .into_boxed();
    if let Pool::Only(ids) = pool {
        query = query.filter(coproducers::user_id.eq_any(ids));
    }
    query.load(conn)
}

/// (user id, profile document, encrypted lived experience) of every profile.
pub fn profiles(conn: &mut DbConn, pool: Pool) -> QueryResult<Vec<(String, String, Vec<u8>)>> {
    let mut query = profiles::table
        .select((
            profiles::user_id,
            profiles::document,
            profiles::lived_experience,
        ))
        .into_boxed();
    if let Pool::Only(ids) = pool {
        query = query.filter(profiles::user_id.eq_any(ids));
    }
    query.load(conn)
}

pub fn skills(conn: &mut DbConn, pool: Pool) -> QueryResult<Vec<(String, String, i32)>> {
    let mut query = profile_skills::table
        .select((
            profile_skills::user_id,
            profile_skills::code,
            profile_skills::level,
        ))
        .into_boxed();
    if let Pool::Only(ids) = pool {
        query = query.filter(profile_skills::user_id.eq_any(ids));
    }
    query.load(conn)
}

pub fn interests(conn: &mut DbConn, pool: Pool) -> QueryResult<Vec<(String, String)>> {
    let mut query = profile_interests::table
        .select((profile_interests::user_id, profile_interests::code))
        .into_boxed();
    if let Pool::Only(ids) = pool {
        query = query.filter(profile_interests::user_id.eq_any(ids));
    }
    query.load(conn)
}

pub fn passports(conn: &mut DbConn, pool: Pool) -> QueryResult<Vec<(String, Vec<u8>, bool)>> {
    match pool {
        Pool::Everyone => access_passports::table
            .select((
                access_passports::user_id,
                access_passports::ciphertext,
                access_passports::share_with_project_teams,
            ))
            .load(conn),
        Pool::Only(ids) => passports_of(conn, ids),
    }
}

/// The passports of `user_ids` (owner, ciphertext, shared with project teams).
pub fn passports_of(
    conn: &mut DbConn,
    user_ids: &[String],
) -> QueryResult<Vec<(String, Vec<u8>, bool)>> {
    access_passports::table
        .filter(access_passports::user_id.eq_any(user_ids))
        .select((
            access_passports::user_id,
            access_passports::ciphertext,
            access_passports::share_with_project_teams,
        ))
        .load(conn)
}

pub fn conflicts(conn: &mut DbConn, pool: Pool) -> QueryResult<Vec<(String, String)>> {
    let mut query = conflicts_of_interest::table
        .select((
            conflicts_of_interest::user_id,
            conflicts_of_interest::organisation_id,
        ))
        .into_boxed();
    if let Pool::Only(ids) = pool {
        query = query.filter(conflicts_of_interest::user_id.eq_any(ids));
    }
    query.load(conn)
}

/// What the matcher needs of one assignment.
#[derive(Debug, Queryable)]
pub struct AssignmentFacts {
    pub id: String,
    pub coproducer_id: String,
    pub element_id: String,
    /// The element's spec, as JSON.
    pub spec: String,
    pub status: String,
    pub created_at: NaiveDateTime,
    /// When its status last changed (for a completed one, when it was completed).
    pub updated_at: NaiveDateTime,
    /// The element's status (a booking on a cancelled element holds no more time).
    pub element_status: String,
}

pub fn assignments_in(conn: &mut DbConn, pool: Pool) -> QueryResult<Vec<AssignmentFacts>> {
    let mut query = assignments::table
        .inner_join(elements::table)
        .select((
            assignments::id,
            assignments::coproducer_id,
            assignments::element_id,
            elements::spec,
            assignments::status,
            assignments::created_at,
            assignments::updated_at,
            elements::status,
        ))
        .into_boxed();
    if let Pool::Only(ids) = pool {
        query = query.filter(assignments::coproducer_id.eq_any(ids));
    }
    query.load(conn)
}

/// When the invitation was sent, each time, oldest first.
pub fn sendings_of(conn: &mut DbConn, invitation_id: &str) -> QueryResult<Vec<NaiveDateTime>> {
    invitation_offers::table
        .filter(invitation_offers::invitation_id.eq(invitation_id))
        .order(invitation_offers::sent_at)
        .select(invitation_offers::sent_at)
        .load(conn)
}

/// The co-producer of each invitation sent since `since`, once per sending.
pub fn offers_since(
    conn: &mut DbConn,
    since: NaiveDateTime,
    pool: Pool,
) -> QueryResult<Vec<String>> {
    let mut query = invitation_offers::table
        .filter(invitation_offers::sent_at.ge(since))
        .select(invitation_offers::coproducer_id)
        .into_boxed();
    if let Pool::Only(ids) = pool {
        query = query.filter(invitation_offers::coproducer_id.eq_any(ids));
    }
    query.load(conn)
}

pub fn sessions_of(
    conn: &mut DbConn,
    element_ids: &[String],
) -> QueryResult<Vec<(String, NaiveDateTime, NaiveDateTime)>> {
    element_sessions::table
        .filter(element_sessions::element_id.eq_any(element_ids))
        .select((
            element_sessions::element_id,
            element_sessions::starts_at,
            element_sessions::ends_at,
        ))
        .load(conn)
}

/// (id, plain reasons) of up to `limit` invitations made before reasons were sealed, in id
/// order after `after`, for `coproduce reencrypt`.
pub fn plain_breakdowns(
    conn: &mut DbConn,
    after: &str,
    limit: i64,
) -> QueryResult<Vec<(String, String)>> {
    invitations::table
        .filter(invitations::sealed_breakdown.is_null())
        .filter(invitations::breakdown.ne("[]"))
        .filter(invitations::id.gt(after))
        .order(invitations::id)
        .limit(limit)
        .select((invitations::id, invitations::breakdown))
        .load(conn)
}

/// Puts `sealed` in place of the plain reasons `plain`, if they are still there; rows changed.
pub fn seal_breakdown(
    conn: &mut DbConn,
    id: &str,
    plain: &str,
    sealed: &[u8],
) -> QueryResult<usize> {
    diesel::update(
        invitations::table
            .find(id)
            .filter(invitations::sealed_breakdown.is_null())
            .filter(invitations::breakdown.eq(plain)),
    )
    .set((
        invitations::breakdown.eq("[]"),
        invitations::sealed_breakdown.eq(sealed),
    ))
    .execute(conn)
}

/// (id, sealed reasons) of up to `limit` invitations holding them, in id order after `after`,
/// for a key rotation.
pub fn sealed_breakdowns(
    conn: &mut DbConn,
    after: &str,
    limit: i64,
) -> QueryResult<Vec<(String, Vec<u8>)>> {
    invitations::table
        .filter(invitations::sealed_breakdown.is_not_null())
        .filter(invitations::id.gt(after))
        .order(invitations::id)
        .limit(limit)
        .select((
            invitations::id,
            invitations::sealed_breakdown.assume_not_null(),
        ))
        .load(conn)
}

/// Replaces sealed reasons if they are still `old`; the number of rows changed.
pub fn replace_sealed_breakdown(
    conn: &mut DbConn,
    id: &str,
    old: &[u8],
    new: &[u8],
) -> QueryResult<usize> {
    diesel::update(
        invitations::table
            .find(id)
            .filter(invitations::sealed_breakdown.eq(old)),
    )
    .set(invitations::sealed_breakdown.eq(new))
    .execute(conn)
}

/// A session of a confirmed booking to remind its person of: (assignment id, person, element
/// id, starts at, ends at, when they were booked).
pub type SessionDue = (
    String,
    String,
    String,
    NaiveDateTime,
    NaiveDateTime,
    NaiveDateTime,
);

/// Sessions of confirmed bookings starting after `now` and by `until`, on elements still going
/// ahead (open, filled or under way), whose person has not been reminded of them; soonest first.
pub fn sessions_to_remind(
    conn: &mut DbConn,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<Vec<SessionDue>> {
    let reminded = session_reminders::table
        .filter(session_reminders::assignment_id.eq(assignments::id))
        .filter(session_reminders::session_starts_at.eq(element_sessions::starts_at));
    let going_ahead = [
        ElementStatus::Open.as_str(),
        ElementStatus::Filled.as_str(),
        ElementStatus::InProgress.as_str(),
    ];
    assignments::table
        .inner_join(
            element_sessions::table.on(element_sessions::element_id.eq(assignments::element_id)),
        )
        .inner_join(elements::table.on(elements::id.eq(assignments::element_id)))
        .filter(assignments::status.eq(AssignmentStatus::Confirmed.as_str()))
        .filter(elements::status.eq_any(going_ahead))
        .filter(element_sessions::starts_at.gt(now))
        .filter(element_sessions::starts_at.le(until))
        .filter(diesel::dsl::not(diesel::dsl::exists(reminded)))
        .order((element_sessions::starts_at, assignments::id))
        .select((
            assignments::id,
            assignments::coproducer_id,
            assignments::element_id,
            element_sessions::starts_at,
            element_sessions::ends_at,
            assignments::created_at,
        ))
        .load(conn)
}

/// Records that the session starting at `starts_at` was reminded of; false when it already was.
pub fn mark_session_reminded(
    conn: &mut DbConn,
    assignment_id: &str,
    starts_at: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let row = (
        session_reminders::assignment_id.eq(assignment_id),
        session_reminders::session_starts_at.eq(starts_at),
        session_reminders::sent_at.eq(now),
    );
    let inserted = per_backend!(conn, |c| diesel::insert_into(session_reminders::table)
        .values(row)
        .on_conflict((
            session_reminders::assignment_id,
            session_reminders::session_starts_at,
        ))
        .do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}
