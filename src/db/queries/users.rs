use chrono::Utc;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::models::user::{UserRoleRow, UserRow};
use crate::db::schema::{profiles, user_roles, users};
use crate::domain::role::Role;
use crate::per_backend;

/// Inserts unless the email is taken (even by a concurrent insert); true when inserted.
pub fn insert_if_email_free(conn: &mut DbConn, user: &UserRow) -> QueryResult<bool> {
    let inserted = per_backend!(conn, |c| diesel::insert_into(users::table)
        .values(user)
        .on_conflict(users::email)
        .do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

pub fn insert(conn: &mut DbConn, user: &UserRow) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values(user)
        .execute(conn)
        .map(drop)
}

pub fn find_by_id(conn: &mut DbConn, id: &str) -> QueryResult<Option<UserRow>> {
    per_backend!(conn, |c| users::table
        .find(id)
        .select(UserRow::as_select())
        .first(c)
        .optional())
}

/// Whether the account is active, holding it so until the transaction ends: on PostgreSQL an
/// erasure (which takes the row [`for_erasure`]) waits for this transaction, or this one waits
/// for the erasure and sees it. SQLite has one writer at a time, so a read is enough there.
pub fn hold_if_active(conn: &mut DbConn, id: &str) -> QueryResult<bool> {
    hold_account(conn, id, false)
}

/// [`hold_if_active`] for a transaction that will write the account row itself (names,
/// preferences, the address verified): taken as a writer (`FOR NO KEY UPDATE`), since two of
/// them each holding it shared would each wait for the other to let go before writing.
pub fn hold_to_write_if_active(conn: &mut DbConn, id: &str) -> QueryResult<bool> {
    hold_account(conn, id, true)
}

fn hold_account(conn: &mut DbConn, id: &str, as_writer: bool) -> QueryResult<bool> {
    let status = users::table.find(id).select(users::status);
    let found: Option<String> = per_backend!(conn,
        postgres: |pg| if as_writer {
            status.for_no_key_update().first(pg)
        } else {
            status.for_share().first(pg)
        }
        .optional(),
        sqlite: |lite| status.first(lite).optional(),
    )?;
    Ok(found.as_deref() == Some("active"))
}

/// [`hold_if_active`] for each of `ids`, in one order so that two transactions holding some
/// of the same accounts cannot wait on each other; returns those active.
pub fn hold_those_active(
    conn: &mut DbConn,
    ids: &[String],
) -> QueryResult<std::collections::HashSet<String>> {
    let mut in_order: Vec<&String> = ids.iter().collect();
    in_order.sort();
    in_order.dedup();
    let mut active = std::collections::HashSet::new();
    for id in in_order {
        if hold_if_active(conn, id)? {
            active.insert(id.clone());
        }
    }
    Ok(active)
}

/// Takes the account row for an erasure: writes that [`hold_if_active`] finish first, and
/// those that come later see the account gone. Nothing to take on SQLite (one writer).
/// `FOR NO KEY UPDATE`, not `FOR UPDATE`: the erasure never changes the id, so a writer that
/// only points a new row at the account (a foreign key's `FOR KEY SHARE`) need not wait for it;
/// that wait, while the writer held a row the erasure needed next (a submit holds its
/// application), was a deadlock.
pub fn for_erasure(conn: &mut DbConn, id: &str) -> QueryResult<()> {
    let row = users::table.find(id).select(users::id);
    match conn {
        DbConn::Postgres(pg) => row
            .for_no_key_update()
            .first::<String>(pg)
            .optional()
            .map(drop),
        DbConn::Sqlite(_) => Ok(()),
    }
}

/// The user, and whether they have a profile: one query where a submit needs both.
pub fn find_with_profile_flag(conn: &mut DbConn, id: &str) -> QueryResult<Option<(UserRow, bool)>> {
    let found: Option<(UserRow, Option<String>)> = per_backend!(conn, |c| users::table
        .left_join(profiles::table.on(profiles::user_id.eq(users::id)))
        .filter(users::id.eq(id))
        .select((UserRow::as_select(), profiles::user_id.nullable()))
        .first(c)
        .optional())?;
    Ok(found.map(|(user, profile)| (user, profile.is_some())))
}

pub fn find_by_ids(conn: &mut DbConn, ids: &[String]) -> QueryResult<Vec<UserRow>> {
    users::table
        .filter(users::id.eq_any(ids))
        .order(users::id)
        .select(UserRow::as_select())
        .load(conn)
}

pub fn find_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::email.eq(email))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

/// Stored roles, skipping any this build no longer knows.
pub fn roles_of(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<Role>> {
    let stored: Vec<String> = user_roles::table
        .filter(user_roles::user_id.eq(user_id))
        .select(user_roles::role)
        .order(user_roles::role)
        .load(conn)?;
    Ok(stored.iter().filter_map(|r| r.parse().ok()).collect())
}

/// Grants a role; granting one already held changes nothing.
pub fn grant_role(conn: &mut DbConn, user_id: &str, role: Role) -> QueryResult<()> {
    let row = UserRoleRow {
        user_id: user_id.to_string(),
        role: role.as_str().to_string(),
        granted_at: Utc::now().naive_utc(),
    };
    per_backend!(conn, |c| diesel::insert_into(user_roles::table)
        .values(&row)
        .on_conflict_do_nothing()
        .execute(c))
    .map(drop)
}

pub fn set_password_hash(conn: &mut DbConn, user_id: &str, hash: &str) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::password_hash.eq(hash),
            users::updated_at.eq(Utc::now().naive_utc()),
        ))
        .execute(conn)
        .map(drop)
}

pub fn update_names(
    conn: &mut DbConn,
    user_id: &str,
    full_name: &str,
    preferred_name: Option<&str>,
) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::full_name.eq(full_name),
            users::preferred_name.eq(preferred_name),
            users::updated_at.eq(Utc::now().naive_utc()),
        ))
        .execute(conn)
        .map(drop)
}

pub fn mark_email_verified(
    conn: &mut DbConn,
    user_id: &str,
    now: chrono::NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(
        users::table
            .find(user_id)
            .filter(users::email_verified_at.is_null()),
    )
    .set(users::email_verified_at.eq(now))
    .execute(conn)
    .map(drop)
}

/// How email to them is written, leaving the digest as it is.
pub fn set_email_format(conn: &mut DbConn, user_id: &str, format: &str) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::email_format.eq(format),
            users::updated_at.eq(Utc::now().naive_utc()),
        ))
        .execute(conn)
        .map(drop)
}

pub fn set_notification_preferences(
    conn: &mut DbConn,
    user_id: &str,
    format: &str,
    digest: bool,
) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::email_format.eq(format),
            users::email_digest.eq(digest),
            users::updated_at.eq(Utc::now().naive_utc()),
        ))
        .execute(conn)
        .map(drop)
}

/// Active accounts holding `role`.
pub fn with_role(conn: &mut DbConn, role: Role) -> QueryResult<Vec<UserRow>> {
    users::table
        .inner_join(user_roles::table)
        .filter(user_roles::role.eq(role.as_str()))
        .filter(users::status.eq("active"))
        .order(users::id)
        .select(UserRow::as_select())
        .load(conn)
}

/// Active coordinators and admins, each once: who hears about work waiting for a decision.
/// Each is held ([`hold_those_active`]) to the end of the caller's transaction, so one erased
/// meanwhile is left out rather than written to at the address they had. Call it before taking
/// other rows: an erasure takes the account first, then the rows about the person.
pub fn staff(conn: &mut DbConn) -> QueryResult<Vec<UserRow>> {
    let mut staff = with_role(conn, Role::Coordinator)?;
    for admin in with_role(conn, Role::Admin)? {
        if !staff.iter().any(|s| s.id == admin.id) {
            staff.push(admin);
        }
    }
    let ids: Vec<String> = staff.iter().map(|s| s.id.clone()).collect();
    let held = hold_those_active(conn, &ids)?;
    staff.retain(|s| held.contains(&s.id));
    Ok(staff)
}
