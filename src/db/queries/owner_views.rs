//! The read model for an owner's `GET /applications/{id}`: their view as sent, kept by the
//! writes that produce it and removed by triggers on any other change (see the migration
//! `application_owner_views`).

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{application_owner_views, applications, rounds};
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
/// A delete and an insert rather than an upsert: diesel keeps both prepared, while SQLite would
/// parse an upsert again each time.
pub fn store(conn: &mut DbConn, view: &OwnerView<'_>) -> QueryResult<()> {
    per_backend!(conn, |c| {
        diesel::delete(application_owner_views::table.find(view.application_id)).execute(c)?;
        diesel::insert_into(application_owner_views::table)
            .values((
                application_owner_views::application_id.eq(view.application_id),
                application_owner_views::user_id.eq(view.user_id),
                application_owner_views::round_id.eq(view.round_id),
                application_owner_views::round_title.eq(view.round_title),
                application_owner_views::format.eq(view.format),
                application_owner_views::body.eq(view.body),
            ))
            .execute(c)
            .map(drop)
    })
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
