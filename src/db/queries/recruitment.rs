//! Rounds, their questions and review panels; applications, answers, transitions and reviews.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};

use crate::db::models::recruitment::{
    ApplicationRow, QuestionRow, RoundHead, RoundRow, TransitionRow,
};
use crate::db::schema::{
    application_answers, application_transitions, applications, review_scores, reviews,
    round_questions, round_reminders, round_reviewers, rounds,
};
use crate::db::{DbConn, prepared};
use crate::domain::recruitment::ApplicationStatus;
use crate::per_backend;

pub fn insert_round(
    conn: &mut DbConn,
    round: &RoundRow,
    questions: &[QuestionRow],
) -> QueryResult<()> {
    diesel::insert_into(rounds::table)
        .values(round)
        .execute(conn)?;
    insert_questions(conn, questions)
}

fn insert_questions(conn: &mut DbConn, questions: &[QuestionRow]) -> QueryResult<()> {
    for question in questions {
        diesel::insert_into(round_questions::table)
            .values(question)
            .execute(conn)?;
    }
    Ok(())
}

/// Replaces the round's questions with `questions` (the round must have no applications: their
/// answers would go with the old questions).
pub fn replace_questions(
    conn: &mut DbConn,
    round_id: &str,
    questions: &[QuestionRow],
) -> QueryResult<()> {
    diesel::delete(round_questions::table.filter(round_questions::round_id.eq(round_id)))
        .execute(conn)?;
    insert_questions(conn, questions)
}

/// Whether anyone has started an application to the round, in any state.
pub fn has_applications(conn: &mut DbConn, round_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        applications::table.filter(applications::round_id.eq(round_id)),
    ))
    .get_result(conn)
}

pub fn update_round(conn: &mut DbConn, round: &RoundRow) -> QueryResult<()> {
    diesel::update(rounds::table.find(&round.id))
        .set(round)
        .execute(conn)
        .map(drop)
}

pub fn find_round(conn: &mut DbConn, id: &str) -> QueryResult<Option<RoundRow>> {
    rounds::table
        .find(id)
        .select(RoundRow::as_select())
        .first(conn)
        .optional()
}

/// How `hold_round` holds the row.
#[derive(Debug, Clone, Copy)]
pub enum Hold {
    /// Alongside other sharers (applicants), but not alongside `Exclusive`.
    Shared,
    /// Alone (changing the panel).
    Exclusive,
}

/// The round, with its row held until the unit of work ends on PostgreSQL, so that who applies
/// and who reviews cannot change under each other. On SQLite the write transaction
/// (`BEGIN IMMEDIATE`) already holds every writer off.
pub fn hold_round(conn: &mut DbConn, id: &str, hold: Hold) -> QueryResult<Option<RoundRow>> {
    let DbConn::Postgres(pg) = conn else {
        return find_round(conn, id);
    };
    let round = rounds::table.find(id).select(RoundRow::as_select());
    match hold {
        Hold::Shared => round.for_share().first(pg).optional(),
        Hold::Exclusive => round.for_update().first(pg).optional(),
    }
}

pub fn find_round_head(conn: &mut DbConn, id: &str) -> QueryResult<Option<RoundHead>> {
    per_backend!(conn, |c| rounds::table
        .find(id)
        .select(RoundHead::as_select())
        .first(c)
        .optional())
}

/// Rounds in order of closing date, optionally only those open at `open_at`.
pub fn list_rounds(
    conn: &mut DbConn,
    open_at: Option<NaiveDateTime>,
) -> QueryResult<Vec<RoundRow>> {
    let mut query = rounds::table.select(RoundRow::as_select()).into_boxed();
    if let Some(now) = open_at {
        query = query
            .filter(rounds::opens_at.le(now))
            .filter(rounds::closes_at.gt(now))
            .filter(rounds::closed_at.is_null());
    }
    query.order(rounds::id).load(conn)
}

pub fn questions_of(conn: &mut DbConn, round_id: &str) -> QueryResult<Vec<QuestionRow>> {
    round_questions::table
        .filter(round_questions::round_id.eq(round_id))
        .order(round_questions::position)
        .select(QuestionRow::as_select())
        .load(conn)
}

pub fn set_reviewers(conn: &mut DbConn, round_id: &str, user_ids: &[String]) -> QueryResult<()> {
    diesel::delete(round_reviewers::table.filter(round_reviewers::round_id.eq(round_id)))
        .execute(conn)?;
    for user_id in user_ids {
        diesel::insert_into(round_reviewers::table)
            .values((
                round_reviewers::round_id.eq(round_id),
                round_reviewers::user_id.eq(user_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn reviewers_of(conn: &mut DbConn, round_id: &str) -> QueryResult<Vec<String>> {
    round_reviewers::table
        .filter(round_reviewers::round_id.eq(round_id))
        .order(round_reviewers::user_id)
        .select(round_reviewers::user_id)
        .load(conn)
}

pub fn is_reviewer(conn: &mut DbConn, round_id: &str, user_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        round_reviewers::table
            .filter(round_reviewers::round_id.eq(round_id))
            .filter(round_reviewers::user_id.eq(user_id)),
    ))
    .get_result(conn)
}

/// Inserts a draft unless the person already has one for the round; true when inserted.
pub fn insert_application_if_new(conn: &mut DbConn, row: &ApplicationRow) -> QueryResult<bool> {
    let inserted = per_backend!(conn, |c| diesel::insert_into(applications::table)
        .values(row)
        .on_conflict((applications::round_id, applications::user_id))
        .do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

pub fn find_application(conn: &mut DbConn, id: &str) -> QueryResult<Option<ApplicationRow>> {
    applications::table
        .find(id)
        .select(ApplicationRow::as_select())
        .first(conn)
        .optional()
}

/// An application with its round, in one query.
pub fn find_application_with_round(
    conn: &mut DbConn,
    id: &str,
) -> QueryResult<Option<(ApplicationRow, RoundHead)>> {
    per_backend!(conn, |c| applications::table
        .inner_join(rounds::table)
        .filter(applications::id.eq(id))
        .select((ApplicationRow::as_select(), RoundHead::as_select()))
        .get_result(c)
        .optional())
}

/// A round's questions in order, each with this application's answer if it has one.
pub fn questions_with_answers(
    conn: &mut DbConn,
    round_id: &str,
    application_id: &str,
) -> QueryResult<Vec<(QuestionRow, Option<String>)>> {
    per_backend!(conn, |c| round_questions::table
        .left_join(
            application_answers::table.on(application_answers::question_id
                .eq(round_questions::id)
                .and(application_answers::application_id.eq(application_id))),
        )
        .filter(round_questions::round_id.eq(round_id))
        .order(round_questions::position)
        .select((
            QuestionRow::as_select(),
            application_answers::text.nullable()
        ))
        .load(c))
}

/// A question with one answer to it: (application id, text), or none.
pub type QuestionAnswer = (QuestionRow, Option<(String, String)>);

/// A round's questions in order, each with the answers of `application_ids` to it: one row
/// per answer, or one row with none when nobody in the list answered it.
pub fn questions_with_answers_of(
    conn: &mut DbConn,
    round_id: &str,
    application_ids: &[String],
) -> QueryResult<Vec<QuestionAnswer>> {
    per_backend!(conn, |c| round_questions::table
        .left_join(
            application_answers::table.on(application_answers::question_id
                .eq(round_questions::id)
                .and(application_answers::application_id.eq_any(application_ids))),
        )
        .filter(round_questions::round_id.eq(round_id))
        .order((round_questions::position, round_questions::id))
        .select((
            QuestionRow::as_select(),
            (
                application_answers::application_id,
                application_answers::text
            )
                .nullable()
        ))
        .load(c))
}

pub fn application_of(
    conn: &mut DbConn,
    round_id: &str,
    user_id: &str,
) -> QueryResult<Option<ApplicationRow>> {
    applications::table
        .filter(applications::round_id.eq(round_id))
        .filter(applications::user_id.eq(user_id))
        .select(ApplicationRow::as_select())
        .first(conn)
        .optional()
}

pub fn applications_of_user(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<ApplicationRow>> {
    applications::table
        .filter(applications::user_id.eq(user_id))
        .order(applications::id)
        .select(ApplicationRow::as_select())
        .load(conn)
}

pub fn applications_in_round(
    conn: &mut DbConn,
    round_id: &str,
) -> QueryResult<Vec<ApplicationRow>> {
    applications::table
        .filter(applications::round_id.eq(round_id))
        .select(ApplicationRow::as_select())
        .order(applications::id)
        .load(conn)
}

/// Which of a round's applications a list shows: those after `after` in id order, at most `limit`.
pub struct ApplicationsPage<'a> {
    pub status: Option<&'a str>,
    /// Only those submitted and not withdrawn (as `is_under_consideration` says).
    pub under_consideration: bool,
    /// Whose application is left out: the viewer's own.
    pub except_user: &'a str,
    pub after: Option<&'a str>,
    pub limit: i64,
}

pub fn applications_page(
    conn: &mut DbConn,
    round_id: &str,
    page: &ApplicationsPage<'_>,
) -> QueryResult<Vec<ApplicationRow>> {
    let mut query = applications::table
        .filter(applications::round_id.eq(round_id.to_string()))
        .filter(applications::user_id.ne(page.except_user.to_string()))
        .select(ApplicationRow::as_select())
        .into_boxed();
    if let Some(status) = page.status {
        query = query.filter(applications::status.eq(status.to_string()));
    }
    if page.under_consideration {
        query = query
            .filter(applications::submitted_at.is_not_null())
            .filter(applications::status.ne(ApplicationStatus::Withdrawn.as_str()));
    }
    if let Some(after) = page.after {
        query = query.filter(applications::id.gt(after.to_string()));
    }
    query.order(applications::id).limit(page.limit).load(conn)
}

/// Moves the application from `from` to `to` and records who did it and why, atomically: if
/// someone else changed it first, nothing is written and false is returned.
pub fn transition(
    conn: &mut DbConn,
    application_id: &str,
    from: &str,
    to: &str,
    actor_id: &str,
    note: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = diesel::update(
        applications::table
            .find(application_id)
            .filter(applications::status.eq(from)),
    )
    .set((
        applications::status.eq(to),
        applications::updated_at.eq(now),
    ))
    .execute(conn)?;
    if changed != 1 {
        return Ok(false);
    }
    record_transition(conn, application_id, Some(from), to, actor_id, note, now)?;
    Ok(true)
}

pub fn record_transition(
    conn: &mut DbConn,
    application_id: &str,
    from: Option<&str>,
    to: &str,
    actor_id: &str,
    note: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let row = TransitionRow {
        id: uuid::Uuid::now_v7().to_string(),
        application_id: application_id.to_string(),
        from_status: from.map(str::to_string),
        to_status: to.to_string(),
        actor_id: actor_id.to_string(),
        note: note.map(str::to_string),
        at: now,
    };
    per_backend!(conn, |c| diesel::insert_into(
        application_transitions::table
    )
    .values(&row)
    .execute(c)
    .map(drop))
}

/// Draft → submitted with its dates, in one guarded update; false when it was no longer a draft.
pub fn submit(
    conn: &mut DbConn,
    id: &str,
    actor_id: &str,
    now: NaiveDateTime,
    answer_by: NaiveDateTime,
) -> QueryResult<bool> {
    let (from, to) = (
        ApplicationStatus::Draft.as_str(),
        ApplicationStatus::Submitted.as_str(),
    );
    // Kept prepared (see `prepared`): the most frequent write of all.
    let changed = per_backend!(conn, |c| prepared::execute(
        c,
        "UPDATE applications SET status = ?, submitted_at = ?, answer_by = ?, updated_at = ? \
         WHERE id = ? AND status = ?",
        &[
            &to.into_sql::<Text>(),
            &now.into_sql::<Timestamp>(),
            &answer_by.into_sql::<Timestamp>(),
            &now.into_sql::<Timestamp>(),
            &id.into_sql::<Text>(),
            &from.into_sql::<Text>(),
        ],
    ))?;
    if changed != 1 {
        return Ok(false);
    }
    record_transition(conn, id, Some(from), to, actor_id, None, now)?;
    Ok(true)
}

pub fn set_decision(
    conn: &mut DbConn,
    id: &str,
    outcome: &str,
    feedback: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(applications::table.find(id))
        .set((
            applications::outcome.eq(outcome),
            applications::feedback.eq(feedback),
            applications::decided_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

pub fn set_consents(
    conn: &mut DbConn,
    id: &str,
    consents: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(applications::table.find(id))
        .set((
            applications::consents.eq(consents),
            applications::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

pub fn history(conn: &mut DbConn, application_id: &str) -> QueryResult<Vec<TransitionRow>> {
    application_transitions::table
        .filter(application_transitions::application_id.eq(application_id))
        .order((application_transitions::at, application_transitions::id))
        .select(TransitionRow::as_select())
        .load(conn)
}

/// Upserts answers: each given question's text replaces the saved one.
pub fn save_answers(
    conn: &mut DbConn,
    application_id: &str,
    answers: &[(String, String)],
) -> QueryResult<()> {
    for (question_id, text) in answers {
        diesel::delete(
            application_answers::table
                .filter(application_answers::application_id.eq(application_id))
                .filter(application_answers::question_id.eq(question_id)),
        )
        .execute(conn)?;
        diesel::insert_into(application_answers::table)
            .values((
                application_answers::application_id.eq(application_id),
                application_answers::question_id.eq(question_id),
                application_answers::text.eq(text),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Stores a review with its scores; false when this reviewer already reviewed the application.
pub fn insert_review(
    conn: &mut DbConn,
    application_id: &str,
    reviewer_id: &str,
    scores: &[(String, i32, Option<String>)],
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let review_id = uuid::Uuid::now_v7().to_string();
    let row = (
        reviews::id.eq(&review_id),
        reviews::application_id.eq(application_id),
        reviews::reviewer_id.eq(reviewer_id),
        reviews::created_at.eq(now),
    );
    let inserted = per_backend!(conn, |c| diesel::insert_into(reviews::table)
        .values(row)
        .on_conflict((reviews::application_id, reviews::reviewer_id))
        .do_nothing()
        .execute(c))?;
    if inserted != 1 {
        return Ok(false);
    }
    for (question_id, score, note) in scores {
        diesel::insert_into(review_scores::table)
            .values((
                review_scores::review_id.eq(&review_id),
                review_scores::question_id.eq(question_id),
                review_scores::score.eq(score),
                review_scores::note.eq(note),
            ))
            .execute(conn)?;
    }
    Ok(true)
}

/// (reviewer, question, score, note) for every review of the application.
pub type ScoreRow = (String, String, i32, Option<String>);

/// Every review score of `application_ids`, each with its application's id.
pub fn scores_of(
    conn: &mut DbConn,
    application_ids: &[String],
) -> QueryResult<Vec<(String, ScoreRow)>> {
    reviews::table
        .inner_join(review_scores::table)
        .filter(reviews::application_id.eq_any(application_ids))
        .order((
            reviews::application_id,
            reviews::reviewer_id,
            review_scores::question_id,
        ))
        .select((
            reviews::application_id,
            (
                reviews::reviewer_id,
                review_scores::question_id,
                review_scores::score,
                review_scores::note,
            ),
        ))
        .load(conn)
}

/// Records today's reminder for a round; false when one was already sent today.
pub fn mark_reminded(conn: &mut DbConn, round_id: &str, day: &str) -> QueryResult<bool> {
    let inserted = per_backend!(conn, |c| diesel::insert_into(round_reminders::table)
        .values((
            round_reminders::round_id.eq(round_id),
            round_reminders::sent_on.eq(day)
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

/// Holds the application's row until the unit of work ends, so what it reads next is what it
/// changes. On SQLite the write transaction (`BEGIN IMMEDIATE`) already holds every writer off.
pub fn lock_application(conn: &mut DbConn, id: &str) -> QueryResult<()> {
    per_backend!(conn,
        postgres: |pg| applications::table
            .find(id)
            .select(applications::id)
            .for_update()
            .load::<String>(pg)
            .map(drop),
        sqlite: |_lite| Ok(()),
    )
}

/// Touches the application if its status is one of `statuses`, taking its row lock on
/// PostgreSQL for the rest of the transaction; false when the status is something else now.
pub fn lock_if_status(
    conn: &mut DbConn,
    id: &str,
    statuses: &[&str],
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = diesel::update(
        applications::table
            .find(id)
            .filter(applications::status.eq_any(statuses)),
    )
    .set(applications::updated_at.eq(now))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Rounds whose review panel includes `user_id`.
pub fn rounds_reviewed_by(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<RoundRow>> {
    rounds::table
        .inner_join(round_reviewers::table)
        .filter(round_reviewers::user_id.eq(user_id))
        .order((rounds::closes_at, rounds::id))
        .select(RoundRow::as_select())
        .load(conn)
}

/// An application never sent, and its round: (application id, owner, round title, when the
/// round closes or closed, whether it closed before its date).
pub type UnsentApplication = (String, String, String, NaiveDateTime, bool);

/// Up to `limit` drafts whose open round closes after `now` and by `until`, whose owner has not
/// been reminded yet.
pub fn drafts_to_remind(
    conn: &mut DbConn,
    now: NaiveDateTime,
    until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<UnsentApplication>> {
    applications::table
        .inner_join(rounds::table)
        .filter(applications::status.eq(ApplicationStatus::Draft.as_str()))
        .filter(applications::unsent_reminded_at.is_null())
        .filter(rounds::closed_at.is_null())
        .filter(rounds::opens_at.le(now))
        .filter(rounds::closes_at.gt(now))
        .filter(rounds::closes_at.le(until))
        .order(applications::id)
        .limit(limit)
        .select((
            applications::id,
            applications::user_id,
            rounds::title,
            rounds::closes_at,
        ))
        .load::<(String, String, String, NaiveDateTime)>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(|(id, owner, title, closes_at)| (id, owner, title, closes_at, false))
                .collect()
        })
}

/// Records the reminder; false when the application was sent, or reminded, meanwhile.
pub fn mark_draft_reminded(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(
        applications::table
            .find(id)
            .filter(applications::status.eq(ApplicationStatus::Draft.as_str()))
            .filter(applications::unsent_reminded_at.is_null()),
    )
    .set(applications::unsent_reminded_at.eq(now))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Up to `limit` drafts whose round closed after `since` and by `now` (on its date, or early by
/// a coordinator), whose owner has not been told. The closing moment is when it closed.
pub fn drafts_of_closed_rounds(
    conn: &mut DbConn,
    since: NaiveDateTime,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<UnsentApplication>> {
    let closed_early = rounds::closed_at.gt(since).and(rounds::closed_at.le(now));
    let closed_on_time = rounds::closed_at
        .is_null()
        .and(rounds::closes_at.gt(since))
        .and(rounds::closes_at.le(now));
    applications::table
        .inner_join(rounds::table)
        .filter(applications::status.eq(ApplicationStatus::Draft.as_str()))
        .filter(applications::unsent_closed_told_at.is_null())
        .filter(closed_early.or(closed_on_time))
        .order(applications::id)
        .limit(limit)
        .select((
            applications::id,
            applications::user_id,
            rounds::title,
            rounds::closes_at,
            rounds::closed_at,
        ))
        .load::<(String, String, String, NaiveDateTime, Option<NaiveDateTime>)>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(|(id, owner, title, closes_at, closed_at)| {
                    let early = closed_at.is_some_and(|closed| closed < closes_at);
                    (id, owner, title, closed_at.unwrap_or(closes_at), early)
                })
                .collect()
        })
}

/// Records that the owner was told their round closed; false when done meanwhile.
pub fn mark_closed_told(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(
        applications::table
            .find(id)
            .filter(applications::unsent_closed_told_at.is_null()),
    )
    .set(applications::unsent_closed_told_at.eq(now))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Forgets the notices that the round's drafts were not sent before it closed, and with
/// `reminders_too` the reminders before it closes, so they go again for its new closing date.
pub fn forget_unsent_notices(
    conn: &mut DbConn,
    round_id: &str,
    reminders_too: bool,
) -> QueryResult<()> {
    let drafts = applications::table
        .filter(applications::round_id.eq(round_id))
        .filter(applications::status.eq(ApplicationStatus::Draft.as_str()));
    diesel::update(drafts)
        .set(applications::unsent_closed_told_at.eq(None::<NaiveDateTime>))
        .execute(conn)?;
    if reminders_too {
        diesel::update(drafts)
            .set(applications::unsent_reminded_at.eq(None::<NaiveDateTime>))
            .execute(conn)?;
    }
    Ok(())
}
