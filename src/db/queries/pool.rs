//! The co-producer pool: who is in it, filtered for coordinators.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{
    conflicts_of_interest, coproducers, profile_interests, profile_skills, profiles, users,
};

#[derive(Debug, Clone, Default)]
pub struct PoolFilter {
    pub skill: Option<String>,
    pub interest: Option<String>,
    /// `remote`, `in_person`, or `hybrid` (either).
    pub mode: Option<String>,
    /// Effective status: `active` includes pauses that have ended.
    pub status: Option<String>,
    pub after: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Queryable)]
pub struct PoolRow {
    pub user_id: String,
    pub full_name: String,
    pub preferred_name: Option<String>,
    pub status: String,
    pub paused_until: Option<NaiveDateTime>,
    pub archived_reason: Option<String>,
    pub remote: Option<bool>,
    pub in_person: Option<bool>,
    pub hours_per_month: Option<i32>,
    pub lived_experience: Option<Vec<u8>>,
}

pub fn pool(
    conn: &mut DbConn,
    filter: &PoolFilter,
    now: NaiveDateTime,
) -> QueryResult<Vec<PoolRow>> {
    let mut query = coproducers::table
        .inner_join(users::table)
        .left_join(profiles::table.on(profiles::user_id.eq(coproducers::user_id)))
        .select((
            coproducers::user_id,
            users::full_name,
            users::preferred_name,
            coproducers::status,
            coproducers::paused_until,
            coproducers::archived_reason,
            profiles::remote.nullable(),
            profiles::in_person.nullable(),
            profiles::hours_per_month.nullable(),
            profiles::lived_experience.nullable(),
        ))
        .into_boxed();
    if let Some(skill) = &filter.skill {
        query = query.filter(
            coproducers::user_id.eq_any(
                profile_skills::table
                    .filter(profile_skills::code.eq(skill.clone()))
                    .select(profile_skills::user_id),
            ),
        );
    }
    if let Some(interest) = &filter.interest {
        query = query.filter(
            coproducers::user_id.eq_any(
                profile_interests::table
                    .filter(profile_interests::code.eq(interest.clone()))
                    .select(profile_interests::user_id),
            ),
        );
    }
    match filter.mode.as_deref() {
        Some("remote") => query = query.filter(profiles::remote.eq(true)),
        Some("in_person") => query = query.filter(profiles::in_person.eq(true)),
        Some("hybrid") => {
            query = query.filter(profiles::remote.eq(true).or(profiles::in_person.eq(true)))
        }
        _ => {}
    }
    match filter.status.as_deref() {
        Some("active") => {
            query = query.filter(
                coproducers::status.eq("active").or(coproducers::status
                    .eq("paused")
                    .and(coproducers::paused_until.le(now))),
            );
        }
        Some("paused") => {
            query = query.filter(
                coproducers::status.eq("paused").and(
                    coproducers::paused_until
                        .is_null()
                        .or(coproducers::paused_until.gt(now)),
                ),
            );
        }
        Some(other) => query = query.filter(coproducers::status.eq(other.to_string())),
        None => {}
    }
    if let Some(after) = &filter.after {
        query = query.filter(coproducers::user_id.gt(after.clone()));
    }
    if let Some(limit) = filter.limit {
        query = query.limit(limit);
    }
    query.order(coproducers::user_id).load(conn)
}

pub fn skills_of(
    conn: &mut DbConn,
    user_ids: &[String],
) -> QueryResult<Vec<(String, String, i32)>> {
    profile_skills::table
        .filter(profile_skills::user_id.eq_any(user_ids))
        .order((profile_skills::user_id, profile_skills::code))
        .select((
            profile_skills::user_id,
            profile_skills::code,
            profile_skills::level,
        ))
        .load(conn)
}

pub fn interests_of(conn: &mut DbConn, user_ids: &[String]) -> QueryResult<Vec<(String, String)>> {
    profile_interests::table
        .filter(profile_interests::user_id.eq_any(user_ids))
        .order((profile_interests::user_id, profile_interests::code))
        .select((profile_interests::user_id, profile_interests::code))
        .load(conn)
}

pub fn conflicts_of(conn: &mut DbConn, user_ids: &[String]) -> QueryResult<Vec<(String, String)>> {
    conflicts_of_interest::table
        .filter(conflicts_of_interest::user_id.eq_any(user_ids))
        .order((
            conflicts_of_interest::user_id,
            conflicts_of_interest::organisation_id,
        ))
        .select((
            conflicts_of_interest::user_id,
            conflicts_of_interest::organisation_id,
        ))
        .load(conn)
}

/// Stored status and pause end, if the user is a co-producer.
pub fn status_of(
    conn: &mut DbConn,
    user_id: &str,
) -> QueryResult<Option<(String, Option<NaiveDateTime>)>> {
    coproducers::table
        .find(user_id)
        .select((coproducers::status, coproducers::paused_until))
        .first(conn)
        .optional()
}

/// Sets the status unless the co-producer is archived (checked in the same statement, so a
/// concurrent archive wins); false when nothing changed.
pub fn set_status(
    conn: &mut DbConn,
    user_id: &str,
    status: &str,
    paused_until: Option<NaiveDateTime>,
    archived_reason: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    // Never over an archive: only a coordinator's reinstatement could undo that.
    let changed = diesel::update(
        coproducers::table
            .find(user_id)
            .filter(coproducers::status.ne("archived")),
    )
    .set((
        coproducers::status.eq(status),
        coproducers::paused_until.eq(paused_until),
        coproducers::archived_reason.eq(archived_reason),
        coproducers::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Brings an archived co-producer back as active, clearing the reason; false when they were not
/// archived (checked in the same statement).
pub fn reinstate(conn: &mut DbConn, user_id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(
        coproducers::table
            .find(user_id)
            .filter(coproducers::status.eq("archived")),
    )
    .set((
        coproducers::status.eq("active"),
        coproducers::paused_until.eq(None::<NaiveDateTime>),
        coproducers::archived_reason.eq(None::<String>),
        coproducers::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}
