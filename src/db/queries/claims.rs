//! Claims for time and expenses.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::models::claims::{ClaimRow, PaymentRunRow};
use crate::db::queries::matching::Pool;
use crate::db::schema::{claims, daily_reminders, payment_run_claims, payment_runs};
use crate::domain::claim::ClaimStatus;
use crate::per_backend;

pub fn insert(conn: &mut DbConn, claim: &ClaimRow) -> QueryResult<()> {
    diesel::insert_into(claims::table)
        .values(claim)
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<ClaimRow>> {
    claims::table
        .find(id)
        .select(ClaimRow::as_select())
        .first(conn)
        .optional()
}

/// A person's claims, oldest first (ids are time-ordered).
pub fn of_user(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<ClaimRow>> {
    claims::table
        .filter(claims::coproducer_id.eq(user_id))
        .select(ClaimRow::as_select())
        .order(claims::id)
        .load(conn)
}

/// Every claim, or those in `status`, oldest first, after the cursor `after`.
pub fn list(
    conn: &mut DbConn,
    status: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<ClaimRow>> {
    let mut query = claims::table.select(ClaimRow::as_select()).into_boxed();
    if let Some(status) = status {
        query = query.filter(claims::status.eq(status.to_string()));
    }
    if let Some(after) = after {
        query = query.filter(claims::id.gt(after.to_string()));
    }
    query.order(claims::id).limit(limit).load(conn)
}

/// Every approved claim in no payment run yet (waiting to be paid), oldest decision first.
pub fn approved_outside_runs(conn: &mut DbConn) -> QueryResult<Vec<ClaimRow>> {
    let in_a_run = payment_run_claims::table.filter(payment_run_claims::claim_id.eq(claims::id));
    claims::table
        .filter(claims::status.eq(ClaimStatus::Approved.as_str()))
        .filter(diesel::dsl::not(diesel::dsl::exists(in_a_run)))
        .order((claims::decided_at, claims::id))
        .select(ClaimRow::as_select())
        .load(conn)
}

/// Stores `run` with every approved claim in no run yet; how many it took. A claim taken by a
/// run started at the same moment elsewhere is left to that run (one run per claim: the key).
pub fn start_run(conn: &mut DbConn, run: &PaymentRunRow) -> QueryResult<usize> {
    diesel::insert_into(payment_runs::table)
        .values(run)
        .execute(conn)?;
    let mut taken = 0;
    for claim in approved_outside_runs(conn)? {
        taken += per_backend!(conn, |c| diesel::insert_into(payment_run_claims::table)
            .values((
                payment_run_claims::claim_id.eq(&claim.id),
                payment_run_claims::run_id.eq(&run.id),
            ))
            .on_conflict_do_nothing()
            .execute(c))?;
    }
    Ok(taken)
}

pub fn find_run(conn: &mut DbConn, id: &str) -> QueryResult<Option<PaymentRunRow>> {
    payment_runs::table
        .find(id)
        .select(PaymentRunRow::as_select())
        .first(conn)
        .optional()
}

/// Payment runs, newest first, older than the cursor `before`.
pub fn runs(
    conn: &mut DbConn,
    before: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<PaymentRunRow>> {
    let mut query = payment_runs::table
        .select(PaymentRunRow::as_select())
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(payment_runs::id.lt(before.to_string()));
    }
    query.order(payment_runs::id.desc()).limit(limit).load(conn)
}

/// The claims in a run, oldest decision first.
pub fn in_run(conn: &mut DbConn, run_id: &str) -> QueryResult<Vec<ClaimRow>> {
    claims::table
        .inner_join(payment_run_claims::table)
        .filter(payment_run_claims::run_id.eq(run_id))
        .order((claims::decided_at, claims::id))
        .select(ClaimRow::as_select())
        .load(conn)
}

/// The payment run a claim is in, if any.
pub fn run_of(conn: &mut DbConn, claim_id: &str) -> QueryResult<Option<String>> {
    payment_run_claims::table
        .find(claim_id)
        .select(payment_run_claims::run_id)
        .first(conn)
        .optional()
}

/// Takes claims out of a run, to wait for the next one.
pub fn leave_run(conn: &mut DbConn, run_id: &str, claim_ids: &[String]) -> QueryResult<usize> {
    diesel::delete(
        payment_run_claims::table
            .filter(payment_run_claims::run_id.eq(run_id))
            .filter(payment_run_claims::claim_id.eq_any(claim_ids)),
    )
    .execute(conn)
}

/// Records the run as paid; false when it already was.
pub fn close_run(
    conn: &mut DbConn,
    run_id: &str,
    by: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(
        payment_runs::table
            .filter(payment_runs::id.eq(run_id))
            .filter(payment_runs::paid_at.is_null()),
    )
    .set((payment_runs::paid_by.eq(by), payment_runs::paid_at.eq(now)))
    .execute(conn)
    .map(|n| n == 1)
}

/// A claim's step from `from` to `to`, made only if it is still `from`.
pub struct Move<'a> {
    pub id: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub actor: &'a str,
    pub note: Option<&'a str>,
    pub now: NaiveDateTime,
}

/// Approves or rejects; returns whether the claim moved.
pub fn decide(conn: &mut DbConn, change: &Move<'_>) -> QueryResult<bool> {
    diesel::update(
        claims::table
            .filter(claims::id.eq(change.id))
            .filter(claims::status.eq(change.from)),
    )
    .set((
        claims::status.eq(change.to),
        claims::decided_by.eq(change.actor),
        claims::decision_note.eq(change.note),
        claims::decided_at.eq(change.now),
        claims::updated_at.eq(change.now),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Records payment; returns whether the claim moved.
pub fn mark_paid(conn: &mut DbConn, change: &Move<'_>) -> QueryResult<bool> {
    diesel::update(
        claims::table
            .filter(claims::id.eq(change.id))
            .filter(claims::status.eq(change.from)),
    )
    .set((
        claims::status.eq(change.to),
        claims::paid_by.eq(change.actor),
        claims::paid_at.eq(change.now),
        claims::updated_at.eq(change.now),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Erasure keeps the amounts and clears what the person (or a coordinator about them) wrote.
pub fn clear_notes_of(conn: &mut DbConn, user_id: &str) -> QueryResult<usize> {
    diesel::update(claims::table.filter(claims::coproducer_id.eq(user_id)))
        .set((
            claims::expenses_note.eq(None::<String>),
            claims::note.eq(None::<String>),
            claims::decision_note.eq(None::<String>),
        ))
        .execute(conn)
}

/// One fee claimed (not rejected), for the earnings limit.
#[derive(Debug, Queryable)]
pub struct ClaimedFee {
    pub assignment_id: String,
    pub coproducer_id: String,
    pub fee_pence: i64,
    /// When it was paid; none while it waits.
    pub paid_at: Option<NaiveDateTime>,
}

/// Every fee claimed and not rejected.
pub fn fees_claimed(conn: &mut DbConn, pool: Pool) -> QueryResult<Vec<ClaimedFee>> {
    let mut query = claims::table
        .filter(claims::status.ne(ClaimStatus::Rejected.as_str()))
        .filter(claims::fee_pence.gt(0))
        .select((
            claims::assignment_id,
            claims::coproducer_id,
            claims::fee_pence,
            claims::paid_at,
        ))
        .into_boxed();
    if let Pool::Only(ids) = pool {
        query = query.filter(claims::coproducer_id.eq_any(ids));
    }
    query.load(conn)
}

/// Claims still waiting at one step: how many, and since when the oldest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiting {
    pub claims: i64,
    pub oldest: Option<NaiveDateTime>,
}

/// Claims submitted at or before `before` and not yet decided.
pub fn waiting_for_decision(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<Waiting> {
    let (claims, oldest) = claims::table
        .filter(claims::status.eq(ClaimStatus::Submitted.as_str()))
        .filter(claims::created_at.le(before))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(claims::created_at),
        ))
        .first::<(i64, Option<NaiveDateTime>)>(conn)?;
    Ok(Waiting { claims, oldest })
}

/// Claims approved at or before `before` and not yet paid.
pub fn waiting_for_payment(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<Waiting> {
    let (claims, oldest) = claims::table
        .filter(claims::status.eq(ClaimStatus::Approved.as_str()))
        .filter(claims::decided_at.le(before))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(claims::decided_at),
        ))
        .first::<(i64, Option<NaiveDateTime>)>(conn)?;
    Ok(Waiting { claims, oldest })
}

/// The daily reminders of a kind across replicas (`claims_waiting`, `adjustments_waiting`).
pub const CLAIMS_WAITING: &str = "claims_waiting";
pub const ADJUSTMENTS_WAITING: &str = "adjustments_waiting";
pub const WHAT_CHANGED_WAITING: &str = "what_changed_waiting";
pub const BOOKINGS_TO_CLOSE: &str = "bookings_to_close";
pub const ELEMENTS_SHORT: &str = "elements_short_of_people";

/// Whether today's reminder of `kind` has been sent.
pub fn reminded_on(conn: &mut DbConn, kind: &str, day: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        daily_reminders::table
            .filter(daily_reminders::kind.eq(kind))
            .filter(daily_reminders::sent_on.eq(day)),
    ))
    .get_result(conn)
}

/// Records today's reminder of `kind`; false when one was already sent on `day`.
pub fn mark_reminded(conn: &mut DbConn, kind: &str, day: &str) -> QueryResult<bool> {
    let inserted = per_backend!(conn, |c| diesel::insert_into(daily_reminders::table)
        .values((
            daily_reminders::kind.eq(kind),
            daily_reminders::sent_on.eq(day)
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}
