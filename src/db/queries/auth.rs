//! Magic links, sessions and refresh tokens, staff invitations.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::auth::verified_tokens::note_revocation;
use crate::db::DbConn;
use crate::db::models::auth::{MagicLinkRow, RefreshTokenRow, SessionRow, StaffInvitationRow};
use crate::db::schema::{magic_links, refresh_tokens, sessions, staff_invitations, users};
use crate::per_backend;

pub fn insert_magic_link(conn: &mut DbConn, row: &MagicLinkRow) -> QueryResult<()> {
    diesel::insert_into(magic_links::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// The link with this hash, while it is unused and unexpired.
#[diesel::dsl::auto_type(no_type_alias)]
fn unspent_link<'a>(token_hash: &'a str, now: NaiveDateTime) -> _ {
    magic_links::table
        .filter(magic_links::token_hash.eq(token_hash))
        .filter(magic_links::used_at.is_null())
        .filter(magic_links::expires_at.gt(now))
}

/// Whose the link is, while it is unused and unexpired.
pub fn magic_link_owner(
    conn: &mut DbConn,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<String>> {
    unspent_link(token_hash, now)
        .select(magic_links::user_id)
        .first(conn)
        .optional()
}

/// Spends a magic link: marks it used if it is unused and unexpired, atomically, and returns
/// its user. A second spend (even a concurrent one) finds nothing.
pub fn spend_magic_link(
    conn: &mut DbConn,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<String>> {
    let spent = diesel::update(unspent_link(token_hash, now))
        .set(magic_links::used_at.eq(now))
        .execute(conn)?;
    if spent != 1 {
        return Ok(None);
    }
    magic_links::table
        .filter(magic_links::token_hash.eq(token_hash))
        .select(magic_links::user_id)
        .first(conn)
        .optional()
}

pub fn insert_session(conn: &mut DbConn, row: &SessionRow) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// True while the session is not revoked and its account is active: what an access token
/// needs to keep working.
pub fn session_is_live(conn: &mut DbConn, session_id: &str, user_id: &str) -> QueryResult<bool> {
    let live: i64 = per_backend!(conn, |c| sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(session_id))
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .filter(users::status.eq("active"))
        .count()
        .get_result(c))?;
    Ok(live > 0)
}

/// Of the sessions `ids`, those still live (not revoked, of an active account), with their
/// user's id: [`session_is_live`]'s rule, one query for many.
pub fn live_sessions(conn: &mut DbConn, ids: &[String]) -> QueryResult<Vec<(String, String)>> {
    let mut live = Vec::new();
    // Well under every backend's limit on bound values.
    for chunk in ids.chunks(500) {
        let found: Vec<(String, String)> = per_backend!(conn, |c| sessions::table
            .inner_join(users::table)
            .filter(sessions::id.eq_any(chunk))
            .filter(sessions::revoked_at.is_null())
            .filter(users::status.eq("active"))
            .select((sessions::id, sessions::user_id))
            .load(c))?;
        live.extend(found);
    }
    Ok(live)
}

pub fn find_session(conn: &mut DbConn, id: &str) -> QueryResult<Option<SessionRow>> {
    sessions::table
        .find(id)
        .select(SessionRow::as_select())
        .first(conn)
        .optional()
}

pub fn revoke_session(
    conn: &mut DbConn,
    id: &str,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(
        sessions::table
            .find(id)
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(now),
        sessions::revoked_reason.eq(reason),
    ))
    .execute(conn)?;
    note_revocation();
    Ok(())
}

pub fn revoke_sessions_of_user(
    conn: &mut DbConn,
    user_id: &str,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(now),
        sessions::revoked_reason.eq(reason),
    ))
    .execute(conn)
    .inspect(|_| note_revocation())
}

pub fn insert_refresh_token(conn: &mut DbConn, row: &RefreshTokenRow) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

pub fn find_refresh_token(
    conn: &mut DbConn,
    token_hash: &str,
) -> QueryResult<Option<RefreshTokenRow>> {
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(RefreshTokenRow::as_select())
        .first(conn)
        .optional()
}

/// Marks a refresh token used; false if it already was (a reuse, or a concurrent rotation).
pub fn use_refresh_token(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(
        refresh_tokens::table
            .find(id)
            .filter(refresh_tokens::used_at.is_null()),
    )
    .set(refresh_tokens::used_at.eq(now))
    .execute(conn)?;
    Ok(changed == 1)
}

pub fn insert_invitation(conn: &mut DbConn, row: &StaffInvitationRow) -> QueryResult<()> {
    diesel::insert_into(staff_invitations::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// The invitation with this hash, while it is unaccepted and unexpired.
#[diesel::dsl::auto_type(no_type_alias)]
fn open_invitation<'a>(token_hash: &'a str, now: NaiveDateTime) -> _ {
    staff_invitations::table
        .filter(staff_invitations::token_hash.eq(token_hash))
        .filter(staff_invitations::accepted_at.is_null())
        .filter(staff_invitations::expires_at.gt(now))
}

/// The address an open invitation was sent to.
pub fn open_invitation_email(
    conn: &mut DbConn,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<String>> {
    open_invitation(token_hash, now)
        .select(staff_invitations::email)
        .first(conn)
        .optional()
}

/// Marks an invitation accepted if it is open and unexpired; returns it, or `None`.
pub fn accept_invitation(
    conn: &mut DbConn,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<StaffInvitationRow>> {
    let changed = diesel::update(open_invitation(token_hash, now))
        .set(staff_invitations::accepted_at.eq(now))
        .execute(conn)?;
    if changed != 1 {
        return Ok(None);
    }
    staff_invitations::table
        .filter(staff_invitations::token_hash.eq(token_hash))
        .select(StaffInvitationRow::as_select())
        .first(conn)
        .optional()
}

pub fn set_invitation_accepted_by(conn: &mut DbConn, id: &str, user_id: &str) -> QueryResult<()> {
    diesel::update(staff_invitations::table.find(id))
        .set(staff_invitations::accepted_by.eq(user_id))
        .execute(conn)
        .map(drop)
}
