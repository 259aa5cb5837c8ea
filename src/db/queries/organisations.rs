use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{organisation_members, organisations};
use crate::per_backend;

/// The organisation's name, if it exists.
pub fn name_of(conn: &mut DbConn, id: &str) -> QueryResult<Option<String>> {
    organisations::table
        .find(id)
        .select(organisations::name)
        .first(conn)
        .optional()
}

/// Makes `user_id` a contact of the organisation; adding twice changes nothing.
pub fn add_member(
    conn: &mut DbConn,
    organisation_id: &str,
    user_id: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let row = (
        organisation_members::organisation_id.eq(organisation_id),
        organisation_members::user_id.eq(user_id),
        organisation_members::created_at.eq(now),
    );
    per_backend!(conn, |c| diesel::insert_into(organisation_members::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))
    .map(drop)
}
