//! A person's profile, access passport, equal-opportunities answers and co-producer record.
//! Special-category values arrive here already encrypted; this layer never sees plaintext.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{
    access_passports, coproducers, equal_opportunities, profile_interests, profile_skills, profiles,
};
use crate::per_backend;

pub struct StoredProfile {
    pub document: String,
    pub lived_experience: Vec<u8>,
    pub skills: Vec<(String, i32)>,
    pub interests: Vec<String>,
}

pub struct ProfileWrite<'a> {
    pub user_id: &'a str,
    pub document: &'a str,
    pub lived_experience: &'a [u8],
    pub remote: bool,
    pub in_person: bool,
    pub hours_per_month: i32,
    pub skills: &'a [(String, i32)],
    pub interests: &'a [String],
    pub now: NaiveDateTime,
}

/// Replaces the profile and its searchable skills and interests. Call inside a write transaction.
pub fn save_profile(conn: &mut DbConn, p: &ProfileWrite<'_>) -> QueryResult<()> {
    let row = (
        profiles::user_id.eq(p.user_id),
        profiles::document.eq(p.document),
        profiles::lived_experience.eq(p.lived_experience),
        profiles::remote.eq(p.remote),
        profiles::in_person.eq(p.in_person),
        profiles::hours_per_month.eq(p.hours_per_month),
        profiles::updated_at.eq(p.now),
    );
    diesel::delete(profiles::table.find(p.user_id)).execute(conn)?;
    diesel::insert_into(profiles::table)
        .values(row)
        .execute(conn)?;
    diesel::delete(profile_skills::table.filter(profile_skills::user_id.eq(p.user_id)))
        .execute(conn)?;
    for (code, level) in p.skills {
        diesel::insert_into(profile_skills::table)
            .values((
                profile_skills::user_id.eq(p.user_id),
                profile_skills::code.eq(code),
                profile_skills::level.eq(level),
            ))
            .execute(conn)?;
    }
    diesel::delete(profile_interests::table.filter(profile_interests::user_id.eq(p.user_id)))
        .execute(conn)?;
    for code in p.interests {
        diesel::insert_into(profile_interests::table)
            .values((
                profile_interests::user_id.eq(p.user_id),
                profile_interests::code.eq(code),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Only the plain profile document (JSON), for what needs no skills or lived experience.
pub fn profile_document(conn: &mut DbConn, user_id: &str) -> QueryResult<Option<String>> {
    profiles::table
        .find(user_id)
        .select(profiles::document)
        .first(conn)
        .optional()
}

pub fn load_profile(conn: &mut DbConn, user_id: &str) -> QueryResult<Option<StoredProfile>> {
    let Some((document, lived_experience)) = profiles::table
        .find(user_id)
        .select((profiles::document, profiles::lived_experience))
        .first::<(String, Vec<u8>)>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let skills = profile_skills::table
        .filter(profile_skills::user_id.eq(user_id))
        .order(profile_skills::code)
        .select((profile_skills::code, profile_skills::level))
        .load(conn)?;
    let interests = profile_interests::table
        .filter(profile_interests::user_id.eq(user_id))
        .order(profile_interests::code)
        .select(profile_interests::code)
        .load(conn)?;
    Ok(Some(StoredProfile {
        document,
        lived_experience,
        skills,
        interests,
    }))
}

/// Only the encrypted lived experience (for review views), of those of `user_ids` with a
/// profile: (user id, ciphertext).
pub fn lived_experience_of(
    conn: &mut DbConn,
    user_ids: &[String],
) -> QueryResult<Vec<(String, Vec<u8>)>> {
    profiles::table
        .filter(profiles::user_id.eq_any(user_ids))
        .order(profiles::user_id)
        .select((profiles::user_id, profiles::lived_experience))
        .load(conn)
}

/// The passport's review-by date and when its person was reminded of it, if they have a
/// passport; held until the transaction ends (PostgreSQL), so a reminder sent meanwhile waits
/// for the save that read it.
pub fn passport_review(
    conn: &mut DbConn,
    user_id: &str,
) -> QueryResult<Option<(Option<NaiveDate>, Option<NaiveDateTime>)>> {
    let query = access_passports::table.find(user_id).select((
        access_passports::review_by,
        access_passports::review_reminded_at,
    ));
    match conn {
        DbConn::Postgres(pg) => query.for_update().first(pg).optional(),
        DbConn::Sqlite(lite) => query.first(lite).optional(),
    }
}

/// Saves the sealed passport, its sharing choice, its review-by date and when its person was
/// reminded of that date (`None`: the reminder is still to go).
pub fn save_access_passport(
    conn: &mut DbConn,
    user_id: &str,
    ciphertext: &[u8],
    share: bool,
    review: (Option<NaiveDate>, Option<NaiveDateTime>),
    now: NaiveDateTime,
) -> QueryResult<()> {
    let (review_by, reminded_at) = review;
    let row = (
        access_passports::user_id.eq(user_id),
        access_passports::ciphertext.eq(ciphertext),
        access_passports::share_with_project_teams.eq(share),
        access_passports::updated_at.eq(now),
        access_passports::review_by.eq(review_by),
        access_passports::review_reminded_at.eq(reminded_at),
    );
    per_backend!(conn, |c| diesel::insert_into(access_passports::table)
        .values(row)
        .on_conflict(access_passports::user_id)
        .do_update()
        .set((
            access_passports::ciphertext.eq(ciphertext),
            access_passports::share_with_project_teams.eq(share),
            access_passports::updated_at.eq(now),
            access_passports::review_by.eq(review_by),
            access_passports::review_reminded_at.eq(reminded_at),
        ))
        .execute(c))
    .map(drop)
}

/// (user id, review-by date) of up to `limit` passports whose review-by date is `today` or
/// earlier and whose person has not been reminded of it.
pub fn passports_to_review(
    conn: &mut DbConn,
    today: NaiveDate,
    limit: i64,
) -> QueryResult<Vec<(String, NaiveDate)>> {
    access_passports::table
        .filter(access_passports::review_by.le(today))
        .filter(access_passports::review_reminded_at.is_null())
        .order(access_passports::user_id)
        .limit(limit)
        .select((
            access_passports::user_id,
            access_passports::review_by.assume_not_null(),
        ))
        .load(conn)
}

/// Records the reminder; false when it was sent, or the passport saved, meanwhile.
pub fn mark_passport_review_reminded(
    conn: &mut DbConn,
    user_id: &str,
    review_by: NaiveDate,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = diesel::update(
        access_passports::table
            .find(user_id)
            .filter(access_passports::review_by.eq(review_by))
            .filter(access_passports::review_reminded_at.is_null()),
    )
    .set(access_passports::review_reminded_at.eq(now))
    .execute(conn)?;
    Ok(changed == 1)
}

pub fn access_passport_of(conn: &mut DbConn, user_id: &str) -> QueryResult<Option<Vec<u8>>> {
    access_passports::table
        .find(user_id)
        .select(access_passports::ciphertext)
        .first(conn)
        .optional()
}

pub fn save_equal_opportunities(
    conn: &mut DbConn,
    user_id: &str,
    ciphertext: &[u8],
    now: NaiveDateTime,
) -> QueryResult<()> {
    let row = (
        equal_opportunities::user_id.eq(user_id),
        equal_opportunities::ciphertext.eq(ciphertext),
        equal_opportunities::updated_at.eq(now),
    );
    per_backend!(conn, |c| diesel::insert_into(equal_opportunities::table)
        .values(row)
        .on_conflict(equal_opportunities::user_id)
        .do_update()
        .set((
            equal_opportunities::ciphertext.eq(ciphertext),
            equal_opportunities::updated_at.eq(now)
        ))
        .execute(c))
    .map(drop)
}

pub fn equal_opportunities_of(conn: &mut DbConn, user_id: &str) -> QueryResult<Option<Vec<u8>>> {
    equal_opportunities::table
        .find(user_id)
        .select(equal_opportunities::ciphertext)
        .first(conn)
        .optional()
}

/// Makes the person an active co-producer (keeps the record if they already are one).
pub fn make_coproducer(conn: &mut DbConn, user_id: &str, now: NaiveDateTime) -> QueryResult<()> {
    let row = (
        coproducers::user_id.eq(user_id),
        coproducers::status.eq("active"),
        coproducers::joined_at.eq(now),
        coproducers::updated_at.eq(now),
    );
    per_backend!(conn, |c| diesel::insert_into(coproducers::table)
        .values(row)
        .on_conflict(coproducers::user_id)
        .do_update()
        .set((
            coproducers::status.eq("active"),
            coproducers::updated_at.eq(now)
        ))
        .execute(c))
    .map(drop)
}

/// One page of a sealed field's stored values for key rotation: (owner, ciphertext) of up to
/// `limit` rows in owner order after `after`.
pub fn ciphertexts(
    conn: &mut DbConn,
    field: crate::crypto::Field,
    after: &str,
    limit: i64,
) -> QueryResult<Vec<(String, Vec<u8>)>> {
    use crate::crypto::Field;
    match field {
        Field::LivedExperience => profiles::table
            .filter(profiles::user_id.gt(after))
            .order(profiles::user_id)
            .limit(limit)
            .select((profiles::user_id, profiles::lived_experience))
            .load(conn),
        Field::AccessPassport => access_passports::table
            .filter(access_passports::user_id.gt(after))
            .order(access_passports::user_id)
            .limit(limit)
            .select((access_passports::user_id, access_passports::ciphertext))
            .load(conn),
        Field::EqualOpportunities => equal_opportunities::table
            .filter(equal_opportunities::user_id.gt(after))
            .order(equal_opportunities::user_id)
            .limit(limit)
            .select((
                equal_opportunities::user_id,
                equal_opportunities::ciphertext,
            ))
            .load(conn),
        Field::EmailBody => super::outbox::sealed_bodies(conn, after, limit),
        Field::InvitationReasons => super::matching::sealed_breakdowns(conn, after, limit),
        Field::AdjustmentArrangements => super::adjustments::sealed_page(conn, after, limit),
    }
}

/// Replaces one stored ciphertext if it is still `old` (key rotation must not overwrite a value
/// saved since it was read); false when it changed.
pub fn replace_ciphertext(
    conn: &mut DbConn,
    field: crate::crypto::Field,
    user_id: &str,
    old: &[u8],
    new: &[u8],
) -> QueryResult<bool> {
    use crate::crypto::Field;
    let changed = match field {
        Field::LivedExperience => diesel::update(
            profiles::table
                .find(user_id)
                .filter(profiles::lived_experience.eq(old)),
        )
        .set(profiles::lived_experience.eq(new))
        .execute(conn),
        Field::AccessPassport => diesel::update(
            access_passports::table
                .find(user_id)
                .filter(access_passports::ciphertext.eq(old)),
        )
        .set(access_passports::ciphertext.eq(new))
        .execute(conn),
        Field::EqualOpportunities => diesel::update(
            equal_opportunities::table
                .find(user_id)
                .filter(equal_opportunities::ciphertext.eq(old)),
        )
        .set(equal_opportunities::ciphertext.eq(new))
        .execute(conn),
        Field::EmailBody => super::outbox::replace_sealed_body(conn, user_id, old, new),
        Field::InvitationReasons => {
            super::matching::replace_sealed_breakdown(conn, user_id, old, new)
        }
        Field::AdjustmentArrangements => {
            super::adjustments::replace_sealed(conn, user_id, old, new)
        }
    }?;
    Ok(changed == 1)
}
