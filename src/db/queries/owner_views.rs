//! The read model for an owner's `GET /applications/{id}`: their view as sent, kept by the
//! writes that produce it and removed by triggers on any other change (see the migration
//! `application_owner_views`).

use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};

use crate::db::schema::{application_owner_views, applications, rounds};
use crate::db::{DbConn, prepared};
use crate::per_backend;

/// What an owner's view was built from besides the tables the triggers watch.
pub struct OwnerView<'a> {
    pub application_id: &'a str,
    pub user_id: &'a str,
    pub round_id: &'a str,
    pub round_title: &'a str,
    /// The shape of `body`; only rows of the current shape are served.
    pub format: i32,
    pub body: &'a str,
}

/// Stores `view`, replacing any earlier one. Call it from the unit of work that wrote the
/// application, after its last change, so the row lock it holds orders it with other writers.
/// One statement (a round trip fewer on PostgreSQL than a delete and an insert), kept prepared:
/// diesel would build an upsert afresh, and SQLite parse it, every time.
pub fn store(conn: &mut DbConn, view: &OwnerView<'_>) -> QueryResult<()> {
    per_backend!(conn, |c| prepared::execute(
        c,
        "INSERT INTO application_owner_views \
         (application_id, user_id, round_id, round_title, format, body) \
         VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT (application_id) DO UPDATE SET user_id = excluded.user_id, \
         round_id = excluded.round_id, round_title = excluded.round_title, \
         format = excluded.format, body = excluded.body",
        &[
            &view.application_id.into_sql::<Text>(),
            &view.user_id.into_sql::<Text>(),
            &view.round_id.into_sql::<Text>(),
            &view.round_title.into_sql::<Text>(),
            &view.format.into_sql::<Integer>(),
            &view.body.into_sql::<Text>(),
        ],
    )
    .map(drop))
}

/// The stored view of `application_id` if `user_id` owns it, it has the `format` asked for and
/// its round's title is still the one it shows; `None` means "build it from the tables", never
/// "not found".
pub fn find_for_owner(
    conn: &mut DbConn,
    application_id: &str,
    user_id: &str,
    format: i32,
) -> QueryResult<Option<String>> {
    per_backend!(conn, |c| application_owner_views::table
        .inner_join(rounds::table)
        .filter(application_owner_views::application_id.eq(application_id))
        .filter(application_owner_views::user_id.eq(user_id))
        .filter(application_owner_views::format.eq(format))
        .filter(rounds::title.eq(application_owner_views::round_title))
        .select(application_owner_views::body)
        .first(c)
        .optional())
}

/// Up to `limit` applications after `after` (by id) whose owner's view is not stored in a form
/// the read would serve: none stored, stored in another `format`, or showing an old round title.
/// Applications whose content was removed (erasure, retention) are left out.
pub fn applications_without_view(
    conn: &mut DbConn,
    after: &str,
    limit: i64,
    format: i32,
) -> QueryResult<Vec<String>> {
    applications::table
        .inner_join(rounds::table)
        .left_join(
            application_owner_views::table
                .on(application_owner_views::application_id.eq(applications::id)),
        )
        .filter(applications::content_removed_at.is_null())
        .filter(applications::id.gt(after))
        .filter(
            application_owner_views::application_id
                .is_null()
                .or(application_owner_views::format.nullable().ne(format))
                .or(application_owner_views::round_title
                    .nullable()
                    .ne(rounds::title.nullable())),
        )
        .order(applications::id)
        .limit(limit)
        .select(applications::id)
        .load(conn)
}
