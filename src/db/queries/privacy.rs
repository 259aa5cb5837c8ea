//! Data rights: what is held about a person (for the export), erasure of a person, and the
//! retention rules. The decisions per table are written down in docs/SECURITY.md, "Data rights
//! and retention"; keep the two in step.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::models::auth::SessionRow;
use crate::db::queries::outbox::{DEAD, ERASED_RECIPIENT, SENT};
use crate::db::queries::{partnership, recruitment};
use crate::db::schema::{
    access_passports, application_answers, application_transitions, applications,
    assignment_events, assignments, audit_log, claims, conflicts_of_interest, coproducers,
    element_outcomes, elements, equal_opportunities, erasure_count, idempotency_keys, invitations,
    magic_links, organisation_members, outbox, partner_requests, payment_run_claims, payment_runs,
    profile_interests, profile_skills, profiles, refresh_tokens, request_events, review_scores,
    reviews, round_questions, round_reviewers, rounds, sessions, staff_invitations, user_roles,
    users,
};
use crate::domain::claim::ClaimStatus;
use crate::domain::erasure::{
    DELETED_PERSON_IN_TEXT, contains_whole, identifying_words, json_escaped, replace_whole,
};
use crate::domain::partnership::ElementStatus;
use crate::domain::recruitment::ApplicationStatus;
use crate::domain::role::Role;
use crate::email::message::ACCOUNT_DELETED_TEMPLATE;
use crate::per_backend;

/// The status of an erased account: it cannot sign in and holds nothing that names the person.
pub const ERASED: &str = "erased";
/// What stands in an erased account's name, so every view that names an actor (an element's
/// people, a coordinator's view of an application, who read someone's data) shows it plainly.
pub const ERASED_NAME: &str = "Deleted account";

// ---------------------------------------------------------------------------------------------
// The export: what is held about one person (secrets such as hashes are never selected).

/// (role, granted at) for each role held.
pub fn role_grants(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<(String, NaiveDateTime)>> {
    user_roles::table
        .filter(user_roles::user_id.eq(user_id))
        .order(user_roles::granted_at)
        .select((user_roles::role, user_roles::granted_at))
        .load(conn)
}

pub fn sessions_of(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<SessionRow>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .order(sessions::created_at)
        .select(SessionRow::as_select())
        .load(conn)
}

/// (sent, expires, used) for each sign-in link.
pub type LinkFacts = (NaiveDateTime, NaiveDateTime, Option<NaiveDateTime>);

pub fn sign_in_links_of(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<LinkFacts>> {
    magic_links::table
        .filter(magic_links::user_id.eq(user_id))
        .order(magic_links::created_at)
        .select((
            magic_links::created_at,
            magic_links::expires_at,
            magic_links::used_at,
        ))
        .load(conn)
}

/// (role, organisation id, sent, expires, accepted) for invitations sent to `email`.
pub type StaffInvitationFacts = (
    String,
    Option<String>,
    NaiveDateTime,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

pub fn staff_invitations_to(
    conn: &mut DbConn,
    email: &str,
) -> QueryResult<Vec<StaffInvitationFacts>> {
    staff_invitations::table
        .filter(staff_invitations::email.eq(email))
        .order(staff_invitations::created_at)
        .select((
            staff_invitations::role,
            staff_invitations::organisation_id,
            staff_invitations::created_at,
            staff_invitations::expires_at,
            staff_invitations::accepted_at,
        ))
        .load(conn)
}

/// (template, subject, status, queued, sent) for email to the person; bodies are left out
/// (an unsent one may hold a live sign-in link).
pub type EmailFacts = (String, String, String, NaiveDateTime, Option<NaiveDateTime>);

pub fn emails_to(conn: &mut DbConn, user_id: &str, email: &str) -> QueryResult<Vec<EmailFacts>> {
    outbox::table
        .filter(outbox::user_id.eq(user_id).or(outbox::recipient.eq(email)))
        .order(outbox::created_at)
        .select((
            outbox::template,
            outbox::subject,
            outbox::status,
            outbox::created_at,
            outbox::sent_at,
        ))
        .load(conn)
}

/// (key, request path, stored at) for the person's Idempotency-Keys.
pub fn idempotency_keys_of(
    conn: &mut DbConn,
    user_id: &str,
) -> QueryResult<Vec<(String, String, NaiveDateTime)>> {
    idempotency_keys::table
        .filter(idempotency_keys::user_id.eq(user_id))
        .order(idempotency_keys::created_at)
        .select((
            idempotency_keys::key,
            idempotency_keys::request_path,
            idempotency_keys::created_at,
        ))
        .load(conn)
}

/// (status, paused until, archived reason, joined) when the person is a co-producer.
pub type CoproducerFacts = (String, Option<NaiveDateTime>, Option<String>, NaiveDateTime);

pub fn coproducer_of(conn: &mut DbConn, user_id: &str) -> QueryResult<Option<CoproducerFacts>> {
    coproducers::table
        .find(user_id)
        .select((
            coproducers::status,
            coproducers::paused_until,
            coproducers::archived_reason,
            coproducers::joined_at,
        ))
        .first(conn)
        .optional()
}

/// (round title, written at, [(question prompt, score)]) for each review the person wrote.
/// Their notes are left out: they describe someone else's application.
pub type ReviewWritten = (String, NaiveDateTime, Vec<(String, i32)>);

pub fn reviews_written_by(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<ReviewWritten>> {
    let written: Vec<(String, String, NaiveDateTime)> = reviews::table
        .inner_join(applications::table.inner_join(rounds::table))
        .filter(reviews::reviewer_id.eq(user_id))
        .order(reviews::created_at)
        .select((reviews::id, rounds::title, reviews::created_at))
        .load(conn)?;
    let mut out = Vec::with_capacity(written.len());
    for (review_id, round, at) in written {
        let scores = review_scores::table
            .inner_join(round_questions::table)
            .filter(review_scores::review_id.eq(&review_id))
            .order(round_questions::position)
            .select((round_questions::prompt, review_scores::score))
            .load(conn)?;
        out.push((round, at, scores));
    }
    Ok(out)
}

/// (question prompt, score, note) of every review of an application; who reviewed is left out.
pub fn reviews_of_application(
    conn: &mut DbConn,
    application_id: &str,
) -> QueryResult<Vec<(String, i32, Option<String>)>> {
    reviews::table
        .inner_join(review_scores::table.inner_join(round_questions::table))
        .filter(reviews::application_id.eq(application_id))
        .order((reviews::created_at, round_questions::position))
        .select((
            round_questions::prompt,
            review_scores::score,
            review_scores::note,
        ))
        .load(conn)
}

/// (question prompt, answer) of an application, in the round's order.
pub fn answers_with_prompts(
    conn: &mut DbConn,
    application_id: &str,
) -> QueryResult<Vec<(String, String)>> {
    application_answers::table
        .inner_join(round_questions::table)
        .filter(application_answers::application_id.eq(application_id))
        .order(round_questions::position)
        .select((round_questions::prompt, application_answers::text))
        .load(conn)
}

/// (title, status, sent at) of partner requests the person sent.
/// (id, title, status, sent) of the partner requests the person sent.
pub fn requests_sent_by(
    conn: &mut DbConn,
    user_id: &str,
) -> QueryResult<Vec<(String, String, String, NaiveDateTime)>> {
    partner_requests::table
        .filter(partner_requests::submitted_by.eq(user_id))
        .order(partner_requests::created_at)
        .select((
            partner_requests::id,
            partner_requests::title,
            partner_requests::status,
            partner_requests::created_at,
        ))
        .load(conn)
}

/// (data, route, at) of special-category reads the person made of other people's data; whose
/// data it was is left out.
pub fn reads_made_by(
    conn: &mut DbConn,
    user_id: &str,
) -> QueryResult<Vec<(String, String, NaiveDateTime)>> {
    audit_log::table
        .filter(audit_log::actor_id.eq(user_id))
        .order(audit_log::at)
        .select((audit_log::data, audit_log::route, audit_log::at))
        .load(conn)
}

// ---------------------------------------------------------------------------------------------
// Erasure.

/// What an erasure changed that others may need to act on.
#[derive(Debug, Default)]
pub struct Erasure {
    /// Elements where a confirmed seat was freed.
    pub freed_elements: Vec<String>,
    /// Organisations whose contact address was the person's.
    pub contact_changes: Vec<ContactChange>,
}

/// An organisation whose contact address was the erased person's.
#[derive(Debug)]
pub struct ContactChange {
    pub organisation_id: String,
    pub organisation: String,
    /// Another contact's address, now the organisation's; `None` when nobody could take over
    /// and the address became `partnership::NO_CONTACT_EMAIL`.
    pub new_contact: Option<String>,
}

/// Active administrators other than `user_id`, counted with their role rows locked on
/// PostgreSQL so two administrators erasing themselves at once cannot both pass the check
/// (SQLite's write transaction already serialises them).
pub fn other_active_admins(conn: &mut DbConn, user_id: &str) -> QueryResult<i64> {
    let admin_rows = user_roles::table
        .filter(user_roles::role.eq(Role::Admin.as_str()))
        .select(user_roles::user_id);
    let holders: Vec<String> = per_backend!(conn,
        postgres: |pg| admin_rows.for_update().load(pg),
        sqlite: |lite| admin_rows.load(lite),
    )?;
    users::table
        .filter(users::id.eq_any(holders))
        .filter(users::id.ne(user_id))
        .filter(users::status.eq("active"))
        .count()
        .get_result(conn)
}

/// Erases `user_id` in the caller's transaction: deletes what is only about them, keeps what
/// aggregate statistics need with nothing that names them, and anonymises the account row.
/// `email` is the account's address (outbox rows and invitations are found by it too);
/// it and `full_name` are taken out of notes other people wrote.
pub fn erase_person(
    conn: &mut DbConn,
    user_id: &str,
    email: &str,
    full_name: &str,
    now: NaiveDateTime,
) -> QueryResult<Erasure> {
    // First, so that writes to the person's data still running finish before anything goes.
    crate::db::queries::users::for_erasure(conn, user_id)?;
    // Applications: drafts go (answers, history and reviews cascade); the rest stay for counts.
    diesel::delete(
        applications::table
            .filter(applications::user_id.eq(user_id))
            .filter(applications::status.eq("draft")),
    )
    .execute(conn)?;
    // Nobody is left to answer: those still awaiting a decision are withdrawn, so none is
    // decided (which would write about the person again) and the round's counts stay true.
    let awaiting: Vec<&str> = ApplicationStatus::ALL
        .into_iter()
        .filter(|status| status.awaits_decision())
        .map(ApplicationStatus::as_str)
        .collect();
    let undecided: Vec<(String, String)> = applications::table
        .filter(applications::user_id.eq(user_id))
        .filter(applications::status.eq_any(awaiting))
        .select((applications::id, applications::status))
        .load(conn)?;
    for (id, status) in &undecided {
        let withdrawn = ApplicationStatus::Withdrawn.as_str();
        recruitment::transition(conn, id, status, withdrawn, user_id, None, now)?;
    }
    let kept: Vec<String> = applications::table
        .filter(applications::user_id.eq(user_id))
        .select(applications::id)
        .load(conn)?;
    remove_application_content(conn, &kept, now)?;

    // Matching: open invitations are declined; what the person or a coordinator wrote goes.
    diesel::update(
        invitations::table
            .filter(invitations::coproducer_id.eq(user_id))
            .filter(invitations::status.eq_any(["invited", "waitlisted"])),
    )
    .set((
        invitations::status.eq("declined"),
        invitations::responded_at.eq(now),
    ))
    .execute(conn)?;
    diesel::update(invitations::table.filter(invitations::coproducer_id.eq(user_id)))
        .set((
            invitations::message.eq(None::<String>),
            invitations::decline_reason.eq(None::<String>),
            invitations::breakdown.eq("[]"),
            invitations::sealed_breakdown.eq(None::<Vec<u8>>),
        ))
        .execute(conn)?;
    let freed = withdraw_unfinished_assignments(conn, user_id, now)?;
    // Their assignments' history stays for counts; its notes (their reasons for leaving, or a
    // coordinator's about them) go.
    let their_assignments = assignments::table
        .filter(assignments::coproducer_id.eq(user_id))
        .select(assignments::id);
    diesel::update(
        assignment_events::table.filter(assignment_events::assignment_id.eq_any(their_assignments)),
    )
    .set(assignment_events::note.eq(None::<String>))
    .execute(conn)?;
    // Their claims' amounts stay for the accounts; what they or coordinators wrote goes.
    super::claims::clear_notes_of(conn, user_id)?;
    // What was arranged for their access needs says what the needs were.
    super::adjustments::delete_of_user(conn, user_id)?;

    // Other people's records keep their notes, without the person's name or address.
    scrub_notes(conn, &identifying_words(email, full_name))?;

    // Everything that is only about the person.
    let session_ids = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .select(sessions::id);
    diesel::delete(refresh_tokens::table.filter(refresh_tokens::session_id.eq_any(session_ids)))
        .execute(conn)?;
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?;
    diesel::delete(magic_links::table.filter(magic_links::user_id.eq(user_id))).execute(conn)?;
    diesel::delete(
        staff_invitations::table.filter(
            staff_invitations::email
                .eq(email)
                .or(staff_invitations::accepted_by.eq(user_id)),
        ),
    )
    .execute(conn)?;
    let contact_changes = replace_contact_address(conn, user_id, email)?;
    diesel::delete(user_roles::table.filter(user_roles::user_id.eq(user_id))).execute(conn)?;
    diesel::delete(organisation_members::table.filter(organisation_members::user_id.eq(user_id)))
        .execute(conn)?;
    diesel::delete(profile_skills::table.filter(profile_skills::user_id.eq(user_id)))
        .execute(conn)?;
    diesel::delete(profile_interests::table.filter(profile_interests::user_id.eq(user_id)))
        .execute(conn)?;
    diesel::delete(profiles::table.filter(profiles::user_id.eq(user_id))).execute(conn)?;
    diesel::delete(access_passports::table.filter(access_passports::user_id.eq(user_id)))
        .execute(conn)?;
    diesel::delete(equal_opportunities::table.filter(equal_opportunities::user_id.eq(user_id)))
        .execute(conn)?;
    diesel::delete(coproducers::table.filter(coproducers::user_id.eq(user_id))).execute(conn)?;
    diesel::delete(conflicts_of_interest::table.filter(conflicts_of_interest::user_id.eq(user_id)))
        .execute(conn)?;
    diesel::delete(round_reviewers::table.filter(round_reviewers::user_id.eq(user_id)))
        .execute(conn)?;
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::user_id.eq(user_id)))
        .execute(conn)?;
    // Answers stored for other people's requests can show the person too: by name, address or
    // id, or by an application's id next to what they wrote in it (a decision).
    let mut mentions = identifying_words(email, full_name);
    mentions.push(user_id);
    mentions.extend(kept.iter().map(String::as_str));
    forget_stored_answers_naming(conn, &mentions)?;

    // Email: unsent rows go; sent rows keep their kind and dates for counts.
    let theirs = outbox::user_id.eq(user_id).or(outbox::recipient.eq(email));
    diesel::delete(outbox::table.filter(theirs).filter(outbox::status.ne(SENT))).execute(conn)?;
    diesel::update(
        outbox::table
            .filter(outbox::user_id.eq(user_id).or(outbox::recipient.eq(email)))
            .filter(outbox::status.eq(SENT)),
    )
    .set((
        outbox::user_id.eq(None::<String>),
        outbox::recipient.eq(ERASED_RECIPIENT),
        outbox::subject.eq(""),
        outbox::body_text.eq(""),
        outbox::body_html.eq(None::<String>),
        outbox::sealed_body.eq(None::<Vec<u8>>),
        outbox::last_error.eq(None::<String>),
    ))
    .execute(conn)?;

    count_erasure(conn)?;

    // The audit trail keeps who read and when; whose data it was becomes a tombstone.
    let tombstone = format!("erased-{}", uuid::Uuid::now_v7());
    diesel::update(audit_log::table.filter(audit_log::subject_id.eq(user_id)))
        .set(audit_log::subject_id.eq(&tombstone))
        .execute(conn)?;

    // The account row stays (kept rows point at it) with nothing that names the person.
    diesel::update(users::table.find(user_id))
        .set((
            users::email.eq(format!("{tombstone}@erased.invalid")),
            users::full_name.eq(ERASED_NAME),
            users::preferred_name.eq(None::<String>),
            users::password_hash.eq(None::<String>),
            users::status.eq(ERASED),
            users::email_verified_at.eq(None::<NaiveDateTime>),
            users::email_format.eq(crate::domain::email_format::EmailFormat::Standard.as_str()),
            users::email_digest.eq(false),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    crate::auth::verified_tokens::note_revocation();
    Ok(Erasure {
        freed_elements: freed,
        contact_changes,
    })
}

/// How many erasures have committed (one row, counted by every erasure in its transaction).
pub fn erasures_so_far(conn: &mut DbConn) -> QueryResult<i64> {
    Ok(erasure_count::table
        .select(erasure_count::erasures)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

fn count_erasure(conn: &mut DbConn) -> QueryResult<()> {
    diesel::update(erasure_count::table)
        .set(erasure_count::erasures.eq(erasure_count::erasures + 1))
        .execute(conn)
        .map(drop)
}

/// Replaces each of `needles` written as a whole word in `$table.$column` (text) by
/// `DELETED_PERSON_IN_TEXT`. LIKE only narrows the search (it ignores case on SQLite, and
/// finds parts of words); `replace_whole` decides. Rows are updated by their old text, so
/// tables with any key are handled alike.
macro_rules! scrub_column {
    ($conn:expr, $needle:expr, $table:ident . $column:ident) => {{
        let pattern = format!("%{}%", super::like_escaped($needle));
        let texts: Vec<Option<String>> = $table::table
            .filter($table::$column.like(&pattern).escape('\\'))
            .select($table::$column.nullable())
            .distinct()
            .load($conn)?;
        for old in texts.into_iter().flatten() {
            if let Some(new) = replace_whole(&old, $needle, DELETED_PERSON_IN_TEXT) {
                diesel::update($table::table.filter($table::$column.eq(old.as_str())))
                    .set($table::$column.eq(new))
                    .execute($conn)?;
            }
        }
    }};
}

/// Takes `needles` (an erased person's address and name) out of every free-text note, message
/// and reason people write about others. Their own records' notes are removed outright
/// elsewhere; these are the ones on other people's records.
fn scrub_notes(conn: &mut DbConn, needles: &[&str]) -> QueryResult<()> {
    for &needle in needles {
        scrub_column!(conn, needle, request_events.note);
        scrub_column!(conn, needle, application_transitions.note);
        scrub_column!(conn, needle, applications.feedback);
        scrub_column!(conn, needle, review_scores.note);
        scrub_column!(conn, needle, invitations.message);
        scrub_column!(conn, needle, invitations.decline_reason);
        scrub_column!(conn, needle, assignment_events.note);
        scrub_column!(conn, needle, conflicts_of_interest.note);
        scrub_column!(conn, needle, coproducers.archived_reason);
        scrub_column!(conn, needle, claims.note);
        scrub_column!(conn, needle, claims.expenses_note);
        scrub_column!(conn, needle, claims.decision_note);
        scrub_column!(conn, needle, element_outcomes.summary);
        scrub_column!(conn, needle, element_outcomes.easy_read);
    }
    Ok(())
}

/// Deletes every stored Idempotency-Key answer, whoever's key it is, holding one of `needles` as
/// a whole word, as written or as escaped in JSON. Deleted, not rewritten: a retry with the key
/// then runs the request again, as one with a key never seen does. LIKE only narrows the search
/// (as in `scrub_column!`); `replace_whole` decides.
fn forget_stored_answers_naming(conn: &mut DbConn, needles: &[&str]) -> QueryResult<()> {
    let mut written: Vec<String> = Vec::new();
    for &needle in needles {
        written.push(needle.to_string());
        // A `"` or `\` in a name is stored escaped in a JSON answer.
        let escaped = json_escaped(needle);
        if escaped != needle {
            written.push(escaped);
        }
    }
    for needle in &written {
        let pattern = format!("%{}%", super::like_escaped(needle));
        let stored: Vec<(String, String, Option<String>)> = idempotency_keys::table
            .filter(idempotency_keys::body.like(&pattern).escape('\\'))
            .select((
                idempotency_keys::user_id,
                idempotency_keys::key,
                idempotency_keys::body,
            ))
            .load(conn)?;
        for (owner, key, body) in stored {
            if body.is_some_and(|body| contains_whole(&body, needle)) {
                diesel::delete(idempotency_keys::table.find((owner, key))).execute(conn)?;
            }
        }
    }
    Ok(())
}

/// Organisations whose contact address is the person's (a partner contact who gave their own)
/// take the address of their longest-standing other contact with an active account, or the
/// non-deliverable `NO_CONTACT_EMAIL` that marks them as needing one.
fn replace_contact_address(
    conn: &mut DbConn,
    user_id: &str,
    email: &str,
) -> QueryResult<Vec<ContactChange>> {
    let email = email.to_lowercase(); // as addresses are stored
    let mut changes = Vec::new();
    for (organisation_id, organisation) in partnership::organisations_with_contact(conn, &email)? {
        let new_contact = partnership::other_contact_address(conn, &organisation_id, user_id)?;
        let address = new_contact
            .as_deref()
            .unwrap_or(partnership::NO_CONTACT_EMAIL);
        // Guarded: an address a coordinator set after the read above stands.
        if !partnership::replace_contact_email(conn, &organisation_id, &email, address)? {
            continue;
        }
        changes.push(ContactChange {
            organisation_id,
            organisation,
            new_contact,
        });
    }
    Ok(changes)
}

/// Withdraws the person's confirmed assignments on elements not yet finished; returns the
/// elements with a freed seat, for the caller to offer to the waiting list and settle.
fn withdraw_unfinished_assignments(
    conn: &mut DbConn,
    user_id: &str,
    now: NaiveDateTime,
) -> QueryResult<Vec<String>> {
    let unfinished = [
        ElementStatus::Open.as_str(),
        ElementStatus::Filled.as_str(),
        ElementStatus::InProgress.as_str(),
    ];
    let element_ids: Vec<String> = assignments::table
        .inner_join(elements::table)
        .filter(assignments::coproducer_id.eq(user_id))
        .filter(assignments::status.eq("confirmed"))
        .filter(elements::status.eq_any(unfinished))
        .select(assignments::element_id)
        .load(conn)?;
    if element_ids.is_empty() {
        return Ok(element_ids);
    }
    diesel::update(
        assignments::table
            .filter(assignments::coproducer_id.eq(user_id))
            .filter(assignments::status.eq("confirmed"))
            .filter(assignments::element_id.eq_any(&element_ids)),
    )
    .set((
        assignments::status.eq("withdrawn"),
        assignments::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(element_ids)
}

/// Removes what was written in and about applications (answers, feedback, consents, history
/// notes, review notes), keeping round, status, dates and scores for counts.
pub fn remove_application_content(
    conn: &mut DbConn,
    ids: &[String],
    now: NaiveDateTime,
) -> QueryResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::delete(
        application_answers::table.filter(application_answers::application_id.eq_any(ids)),
    )
    .execute(conn)?;
    diesel::update(
        application_transitions::table.filter(application_transitions::application_id.eq_any(ids)),
    )
    .set(application_transitions::note.eq(None::<String>))
    .execute(conn)?;
    let review_ids = reviews::table
        .filter(reviews::application_id.eq_any(ids))
        .select(reviews::id);
    diesel::update(review_scores::table.filter(review_scores::review_id.eq_any(review_ids)))
        .set(review_scores::note.eq(None::<String>))
        .execute(conn)?;
    diesel::update(applications::table.filter(applications::id.eq_any(ids)))
        .set((
            applications::consents.eq("{}"),
            applications::feedback.eq(None::<String>),
            applications::content_removed_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Retention: each rule handles at most `limit` rows per call and returns how many it handled,
// so the job can run them in short transactions until one comes back short.

/// Removes the content of unsuccessful applications (not this time, withdrawn) decided or
/// withdrawn before `cutoff`.
pub fn strip_unsuccessful_applications(
    conn: &mut DbConn,
    cutoff: NaiveDateTime,
    limit: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let ids: Vec<String> = applications::table
        .filter(applications::content_removed_at.is_null())
        .filter(
            applications::status
                .eq("not_this_time")
                .and(applications::decided_at.lt(cutoff))
                .or(applications::status
                    .eq("withdrawn")
                    .and(applications::updated_at.lt(cutoff))),
        )
        .order(applications::id)
        .limit(limit)
        .select(applications::id)
        .load(conn)?;
    remove_application_content(conn, &ids, now)?;
    Ok(ids.len())
}

/// Deletes drafts nobody has changed since `cutoff`.
pub fn delete_stale_drafts(
    conn: &mut DbConn,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    let ids: Vec<String> = applications::table
        .filter(applications::status.eq("draft"))
        .filter(applications::updated_at.lt(cutoff))
        .order(applications::id)
        .limit(limit)
        .select(applications::id)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    // Again in the delete: a draft saved since it was picked is no longer stale.
    diesel::delete(
        applications::table
            .filter(applications::id.eq_any(&ids))
            .filter(applications::status.eq("draft"))
            .filter(applications::updated_at.lt(cutoff)),
    )
    .execute(conn)
}

/// Deletes Idempotency-Keys stored before `cutoff`.
pub fn delete_idempotency_keys(
    conn: &mut DbConn,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    let keys: Vec<(String, String)> = idempotency_keys::table
        .filter(idempotency_keys::created_at.lt(cutoff))
        .order(idempotency_keys::created_at)
        .limit(limit)
        .select((idempotency_keys::user_id, idempotency_keys::key))
        .load(conn)?;
    for (user_id, key) in &keys {
        diesel::delete(idempotency_keys::table.find((user_id, key))).execute(conn)?;
    }
    Ok(keys.len())
}

/// Deletes rows of email sent before `cutoff`.
pub fn delete_sent_email(
    conn: &mut DbConn,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    let ids: Vec<String> = outbox::table
        .filter(outbox::status.eq(SENT))
        .filter(outbox::sent_at.lt(cutoff))
        .order(outbox::id)
        .limit(limit)
        .select(outbox::id)
        .load(conn)?;
    delete_outbox_rows(conn, &ids)
}

/// Deletes dead email queued before `cutoff`, and at once any dead farewell to an erased
/// account (nobody will retry it, and it is the last place its address was kept).
pub fn delete_dead_email(
    conn: &mut DbConn,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    let ids: Vec<String> = outbox::table
        .filter(outbox::status.eq(DEAD))
        .filter(
            outbox::created_at
                .lt(cutoff)
                .or(outbox::template.eq(ACCOUNT_DELETED_TEMPLATE)),
        )
        .order(outbox::id)
        .limit(limit)
        .select(outbox::id)
        .load(conn)?;
    delete_outbox_rows(conn, &ids)
}

fn delete_outbox_rows(conn: &mut DbConn, ids: &[String]) -> QueryResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(outbox::table.filter(outbox::id.eq_any(ids))).execute(conn)
}

/// Deletes sign-in links that expired before `cutoff`.
pub fn delete_expired_sign_in_links(
    conn: &mut DbConn,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    let ids: Vec<String> = magic_links::table
        .filter(magic_links::expires_at.lt(cutoff))
        .order(magic_links::id)
        .limit(limit)
        .select(magic_links::id)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(magic_links::table.filter(magic_links::id.eq_any(&ids))).execute(conn)
}

/// Deletes refresh tokens that expired before `cutoff`.
pub fn delete_expired_refresh_tokens(
    conn: &mut DbConn,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    let ids: Vec<String> = refresh_tokens::table
        .filter(refresh_tokens::expires_at.lt(cutoff))
        .order(refresh_tokens::id)
        .limit(limit)
        .select(refresh_tokens::id)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(refresh_tokens::table.filter(refresh_tokens::id.eq_any(&ids))).execute(conn)
}

/// Deletes sessions ended before `cutoff`: revoked then, or started then with every refresh
/// token since deleted as expired. Their remaining refresh tokens go with them.
pub fn delete_ended_sessions(
    conn: &mut DbConn,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    let has_tokens = diesel::dsl::exists(
        refresh_tokens::table.filter(refresh_tokens::session_id.eq(sessions::id)),
    );
    let ids: Vec<String> = sessions::table
        .filter(
            sessions::revoked_at.lt(cutoff).or(sessions::created_at
                .lt(cutoff)
                .and(diesel::dsl::not(has_tokens))),
        )
        .order(sessions::id)
        .limit(limit)
        .select(sessions::id)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(refresh_tokens::table.filter(refresh_tokens::session_id.eq_any(&ids)))
        .execute(conn)?;
    diesel::delete(sessions::table.filter(sessions::id.eq_any(&ids))).execute(conn)
}

/// Deletes staff invitations never accepted that expired before `cutoff`.
pub fn delete_expired_staff_invitations(
    conn: &mut DbConn,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    let ids: Vec<String> = staff_invitations::table
        .filter(staff_invitations::accepted_at.is_null())
        .filter(staff_invitations::expires_at.lt(cutoff))
        .order(staff_invitations::id)
        .limit(limit)
        .select(staff_invitations::id)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(staff_invitations::table.filter(staff_invitations::id.eq_any(&ids)))
        .execute(conn)
}

/// Deletes audit rows older than `cutoff`.
pub fn delete_old_audit_rows(
    conn: &mut DbConn,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    let ids: Vec<String> = audit_log::table
        .filter(audit_log::at.lt(cutoff))
        .order(audit_log::id)
        .limit(limit)
        .select(audit_log::id)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(audit_log::table.filter(audit_log::id.eq_any(&ids))).execute(conn)
}

/// Deletes up to `limit` claims paid, or rejected, before `cutoff`; returns how many.
pub fn delete_settled_claims(
    conn: &mut DbConn,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    let paid_long_ago = claims::status
        .eq(ClaimStatus::Paid.as_str())
        .and(claims::paid_at.lt(cutoff));
    let rejected_long_ago = claims::status
        .eq(ClaimStatus::Rejected.as_str())
        .and(claims::decided_at.lt(cutoff));
    let ids: Vec<String> = claims::table
        .filter(paid_long_ago.or(rejected_long_ago))
        .order(claims::id)
        .limit(limit)
        .select(claims::id)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(claims::table.filter(claims::id.eq_any(&ids))).execute(conn)
}

/// Deletes up to `limit` payment runs started before `cutoff` that hold no claim any more (their
/// claims deleted as settled); returns how many.
pub fn delete_empty_payment_runs(
    conn: &mut DbConn,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    let holds_a_claim =
        payment_run_claims::table.filter(payment_run_claims::run_id.eq(payment_runs::id));
    let ids: Vec<String> = payment_runs::table
        .filter(payment_runs::created_at.lt(cutoff))
        .filter(diesel::dsl::not(diesel::dsl::exists(holds_a_claim)))
        .order(payment_runs::id)
        .limit(limit)
        .select(payment_runs::id)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(payment_runs::table.filter(payment_runs::id.eq_any(&ids))).execute(conn)
}

/// When an application's content was removed, if it was.
pub fn content_removed_at(
    conn: &mut DbConn,
    application_id: &str,
) -> QueryResult<Option<NaiveDateTime>> {
    applications::table
        .find(application_id)
        .select(applications::content_removed_at)
        .first(conn)
        .optional()
        .map(Option::flatten)
}
