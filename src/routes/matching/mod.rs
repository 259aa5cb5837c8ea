//! Matching over HTTP: loads the pool and elements into the matcher's model (src/matching),
//! which does the ranking and planning with no IO.

use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDateTime, NaiveTime, Weekday};

use crate::crypto::Field;
use crate::db::DbConn;
use crate::db::models::partnership::ElementRow;
use crate::db::queries::matching::Pool;
use crate::db::queries::{claims, matching as queries, partnership};
use crate::domain::claim::takes_fees;
use crate::domain::partnership::{CoproducerStatus, ElementSpec, ElementStatus};
use crate::domain::profile::Day;
use crate::domain::tax_year::tax_year_start;
use crate::error::AppError;
use crate::matching::score::{Exclusion, exclusion};
use crate::matching::{Candidate, Element, MonthlyHours};
use crate::routes::me::profile::Document;
use crate::state::AppState;

pub mod adjustments;
pub mod assignments;
pub mod candidates;
pub mod invitation_details;
pub mod invitations;
pub mod plan;

fn internal(error: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("{error}"))
}

pub fn spec_of(row: &ElementRow) -> Result<ElementSpec, AppError> {
    serde_json::from_str(&row.spec).map_err(internal)
}

/// The element as the matcher sees it: its seats left and who is already on it.
pub fn load_element(conn: &mut DbConn, row: &ElementRow) -> Result<Element, AppError> {
    let spec = spec_of(row)?;
    let project = partnership::find_project(conn, &row.project_id)?.ok_or(AppError::NotFound)?;
    let taken = queries::seats_taken(conn, &row.id)?;
    // Someone whose invitation ran out (marked so or not yet) is not on it, and may be invited
    // again.
    let now = crate::db::now();
    let already_on = queries::invitations_of_element(conn, &row.id)?
        .into_iter()
        .filter(|i| i.status != "expired" && !(i.status == "invited" && i.respond_by < now))
        .map(|i| i.coproducer_id)
        .collect();
    let sessions: Vec<(NaiveDateTime, NaiveDateTime)> = spec
        .sessions
        .iter()
        .map(|s| (s.starts_at.naive_utc(), s.ends_at.naive_utc()))
        .collect();
    Ok(Element {
        id: row.id.clone(),
        organisation_id: project.organisation_id,
        mode: spec.mode,
        monthly_hours: MonthlyHours::of(spec.hours_estimate, &sessions),
        sessions,
        hours: spec.hours_estimate,
        skills_required: spec.skills_required,
        skills_desired: spec.skills_desired,
        lived_experience_wanted: spec.lived_experience_wanted,
        interests: spec.interests,
        features: spec.features,
        pay_rate_pence_per_hour: spec.pay_rate_pence_per_hour,
        seats_left: u32::try_from(i64::from(row.people_needed) - taken).unwrap_or(0),
        already_on,
    })
}

/// The hard constraint that stops `person_id`, already invited to or waiting for `element`, from
/// taking a place on it now: a booking made since that clashes, hours or pay past their limits,
/// a profile or conflict changed since. Pausing is left to the caller.
pub fn cannot_take(
    conn: &mut DbConn,
    state: &AppState,
    element: &Element,
    person_id: &str,
    now: NaiveDateTime,
) -> Result<Option<Exclusion>, AppError> {
    let person = [person_id.to_string()];
    let Some(candidate) = load_candidates(conn, state, now, Pool::Only(&person))?.pop() else {
        return Ok(None);
    };
    let mut element = element.clone();
    element.already_on.remove(person_id);
    Ok(exclusion(
        &Candidate {
            active: true,
            ..candidate
        },
        &element,
    ))
}

pub fn open(row: &ElementRow) -> bool {
    row.status == ElementStatus::Open.as_str()
}

/// The co-producers in `pool`, with what the hard constraints and the score need, in id order.
/// Decrypts lived experience and access needs in memory; the caller audits what it shows.
pub fn load_candidates(
    conn: &mut DbConn,
    state: &AppState,
    now: NaiveDateTime,
    pool: Pool,
) -> Result<Vec<Candidate>, AppError> {
    let mut by_id: HashMap<String, Candidate> = HashMap::new();
    for (id, full_name, preferred_name, status, paused_until) in queries::coproducers(conn, pool)? {
        let active =
            CoproducerStatus::effective(&status, paused_until, now) == CoproducerStatus::Active;
        by_id.insert(
            id.clone(),
            Candidate {
                id,
                display_name: preferred_name.unwrap_or(full_name),
                active,
                ..Candidate::default()
            },
        );
    }
    for (id, document, lived) in queries::profiles(conn, pool)? {
        let Some(candidate) = by_id.get_mut(&id) else {
            continue;
        };
        let document: Document = serde_json::from_str(&document).map_err(internal)?;
        let availability = document.availability;
        candidate.remote = availability.remote;
        candidate.in_person = availability.in_person;
        candidate.hours_per_month = i32::try_from(availability.hours_per_month).unwrap_or(i32::MAX);
        candidate.weekly = availability
            .weekly
            .iter()
            .filter_map(|slot| {
                let from = NaiveTime::parse_from_str(&slot.from, "%H:%M").ok()?;
                let to = NaiveTime::parse_from_str(&slot.to, "%H:%M").ok()?;
                Some((weekday(slot.day), from, to))
            })
            .collect();
        // No fee can take someone who takes no fees past their limit.
        candidate.earnings_limit_pence = document
            .payment
            .earnings_limit_pence
            .filter(|_| takes_fees(&document.payment.method));
        candidate.lived_experience = state
            .cipher
            .decrypt_json::<Vec<String>>(&id, Field::LivedExperience, &lived)
            .map_err(internal)?
            .into_iter()
            .collect();
    }
    for (id, code, level) in queries::skills(conn, pool)? {
        if let Some(candidate) = by_id.get_mut(&id) {
            candidate
                .skills
                .insert(code, u8::try_from(level).unwrap_or(1));
        }
    }
    for (id, code) in queries::interests(conn, pool)? {
        if let Some(candidate) = by_id.get_mut(&id) {
            candidate.interests.insert(code);
        }
    }
    for (id, ciphertext, _share) in queries::passports(conn, pool)? {
        if let Some(candidate) = by_id.get_mut(&id) {
            let passport: crate::domain::profile::AccessPassport = state
                .cipher
                .decrypt_json(&id, Field::AccessPassport, &ciphertext)
                .map_err(internal)?;
            candidate.needs = passport.needs.into_iter().map(|n| n.code).collect();
        }
    }
    for (id, organisation) in queries::conflicts(conn, pool)? {
        if let Some(candidate) = by_id.get_mut(&id) {
            candidate.conflicts.insert(organisation);
        }
    }
    let tax_year_start = tax_year_start(now);
    let recent = now - Duration::days(90);
    let assignments = queries::assignments_in(conn, pool)?;
    let confirmed_elements: Vec<String> = assignments
        .iter()
        .filter(|a| a.status == "confirmed")
        .map(|a| a.element_id.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut sessions: HashMap<String, Vec<(NaiveDateTime, NaiveDateTime)>> = HashMap::new();
    for (element, start, end) in queries::sessions_of(conn, &confirmed_elements)? {
        sessions.entry(element).or_default().push((start, end));
    }
    // Earned this tax year: every fee paid in it or still to be paid (paid later, it will be
    // paid in it), and the estimated pay still to come on bookings that stand.
    let mut claimed_on: HashMap<String, i64> = HashMap::new();
    for fee in claims::fees_claimed(conn, pool)? {
        let on = claimed_on.entry(fee.assignment_id).or_default();
        *on = on.saturating_add(fee.fee_pence);
        if fee.paid_at.is_none_or(|paid| paid >= tax_year_start)
            && let Some(candidate) = by_id.get_mut(&fee.coproducer_id)
        {
            candidate.earned_pence = candidate.earned_pence.saturating_add(fee.fee_pence);
        }
    }
    for assignment in assignments {
        let Some(candidate) = by_id.get_mut(&assignment.coproducer_id) else {
            continue;
        };
        let spec: ElementSpec = serde_json::from_str(&assignment.spec).map_err(internal)?;
        let standing = assignment.status == "confirmed";
        let completed = assignment.status == "completed";
        if !standing && !completed {
            continue;
        }
        candidate.ever_placed = true;
        // Kept after its element was cancelled under way (for claims): no more sessions to
        // hold, and no more pay to come than was claimed.
        let confirmed = standing && assignment.element_status != ElementStatus::Cancelled.as_str();
        if confirmed {
            let booked = sessions
                .get(&assignment.element_id)
                .map_or(&[][..], Vec::as_slice);
            candidate
                .committed
                .add(&MonthlyHours::of(spec.hours_estimate, booked));
            candidate.busy.extend(booked.iter().copied());
        }
        // Work finished in an earlier tax year was paid then.
        if confirmed || (completed && assignment.updated_at >= tax_year_start) {
            let estimated = spec
                .pay_rate_pence_per_hour
                .saturating_mul(i64::from(spec.hours_estimate));
            let claimed = claimed_on.get(&assignment.id).copied().unwrap_or(0);
            let still_to_come = estimated.saturating_sub(claimed).max(0);
            candidate.earned_pence = candidate.earned_pence.saturating_add(still_to_come);
        }
        if assignment.created_at >= recent {
            candidate.paid_hours_90d += spec.hours_estimate;
        }
    }
    for id in queries::offers_since(conn, recent, pool)? {
        if let Some(candidate) = by_id.get_mut(&id) {
            candidate.offers_90d += 1;
        }
    }
    let mut candidates: Vec<Candidate> = by_id.into_values().collect();
    candidates.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(candidates)
}

fn weekday(day: Day) -> Weekday {
    match day {
        Day::Mon => Weekday::Mon,
        Day::Tue => Weekday::Tue,
        Day::Wed => Weekday::Wed,
        Day::Thu => Weekday::Thu,
        Day::Fri => Weekday::Fri,
        Day::Sat => Weekday::Sat,
        Day::Sun => Weekday::Sun,
    }
}
