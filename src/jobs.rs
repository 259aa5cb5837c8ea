//! Background jobs that close the loop: reminding coordinators about applications still
//! waiting for an answer as a round's answer-by date nears, and about claims for time and
//! expenses waiting to be decided or paid, sending the daily digests of
//! routine email held for people who chose one, expiring unanswered invitations, offering free
//! seats to waiting lists, reminders to people (sessions, applications not sent, passport
//! reviews) and to coordinators (bookings to close, work short of people), telling partners
//! when their elements fill, the retention rules that remove records once they are no longer needed, and storing the
//! owner's view of applications that have none.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{Months, NaiveDateTime, Timelike, Utc};

use crate::db::DbConn;
use crate::db::models::user::UserRow;
use crate::db::queries::{
    adjustments, claims, matching, outbox as outbox_queries, owner_views, partnership, people,
    privacy, recruitment as queries, users,
};
use crate::domain::partnership::ElementStatus;
use crate::domain::recruitment::answer_by;
use crate::domain::tax_year::tax_years_before;
use crate::domain::uk_time;
use crate::email::outbox::{DIGEST_GATHERED_ELSEWHERE, DigestGathered};
use crate::email::{Email, Recipient};
use crate::error::AppError;
use crate::matching::adjustments::still_to_arrange;
use crate::routes::applications::{Loaded, OWNER_VIEW_FORMAT};
use crate::routes::matching::adjustments::{needs_of, plan_of};
use crate::routes::matching::assignments::offer_seats_still_free;
use crate::routes::matching::{load_element, spec_of};
use crate::routes::rounds::waiting;
use crate::state::AppState;

/// Emails every coordinator once a day (from `rounds.reminder_hour`) per round whose answer-by
/// date is within `rounds.reminder_days_before` days and that still has applications waiting.
/// Returns how many rounds prompted a reminder.
pub async fn send_decision_reminders(
    state: &AppState,
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    if now.hour() < state.settings.rounds.reminder_hour {
        return Ok(0);
    }
    let app = state.clone();
    let reminded = state
        .db
        .write(move |conn| {
            let lead = chrono::Duration::days(i64::from(app.settings.rounds.reminder_days_before));
            let today = now.date().to_string();
            let mut staff = None;
            let mut reminded = 0;
            for round in queries::list_rounds(conn, None)? {
                let due = answer_by(round.closes_at, round.closed_at, round.answer_by_days);
                if now + lead < due {
                    continue;
                }
                let waiting = waiting(&queries::applications_in_round(conn, &round.id)?, now);
                if waiting.applications == 0 {
                    continue;
                }
                // Read once, and only when someone is to be reminded.
                let coordinators = match &mut staff {
                    Some(coordinators) => coordinators,
                    None => staff.insert(users::staff(conn)?),
                };
                if coordinators.is_empty() {
                    tracing::warn!(
                        "applications are waiting but there is no coordinator or admin to remind"
                    );
                    return Ok(reminded);
                }
                if !queries::mark_reminded(conn, &round.id, &today)? {
                    continue;
                }
                for coordinator in coordinators.iter() {
                    let email = Email::DecisionReminder {
                        name: coordinator.display_name().to_string(),
                        round_title: round.title.clone(),
                        waiting: waiting.applications,
                        oldest_days: waiting.oldest_wait_days.unwrap_or(0),
                        answer_by: uk_time::date(due),
                        overdue: now > due,
                        link: app.settings.server.link(&format!("/rounds/{}", round.id)),
                    };
                    let to = Recipient::user(coordinator);
                    app.outbox.enqueue(conn, &to, &email)?;
                }
                reminded += 1;
            }
            Ok(reminded)
        })
        .await?;
    if reminded > 0 {
        state.outbox.wake();
    }
    Ok(reminded)
}

/// Queues today's reminder of `kind` to every coordinator and admin, once a day across replicas;
/// false when it was already sent today or there is nobody to send it to.
fn remind_staff(
    conn: &mut DbConn,
    app: &AppState,
    kind: &str,
    day: &str,
    email_for: impl Fn(&UserRow) -> Email,
) -> Result<bool, AppError> {
    let staff = users::staff(conn)?;
    if staff.is_empty() {
        tracing::warn!(
            kind,
            "a reminder is due but there is no coordinator or admin to send it to"
        );
        return Ok(false);
    }
    if !claims::mark_reminded(conn, kind, day)? {
        return Ok(false);
    }
    for coordinator in &staff {
        app.outbox
            .enqueue(conn, &Recipient::user(coordinator), &email_for(coordinator))?;
    }
    Ok(true)
}

/// Emails every coordinator and admin, once a day from `claims.remind_hour`, while claims for
/// time and expenses have waited `claims.remind_after_days` or more for a decision, or for
/// payment once approved. Returns whether a reminder was queued.
pub async fn send_claim_reminders(state: &AppState, now: NaiveDateTime) -> Result<bool, AppError> {
    if now.hour() < state.settings.claims.remind_hour {
        return Ok(false);
    }
    let app = state.clone();
    let reminded = state
        .db
        .write(move |conn| {
            let after_days = app.settings.claims.remind_after_days;
            let before = now - chrono::Duration::days(i64::from(after_days));
            let to_decide = claims::waiting_for_decision(conn, before)?;
            let to_pay = claims::waiting_for_payment(conn, before)?;
            if to_decide.claims == 0 && to_pay.claims == 0 {
                return Ok(false);
            }
            let days = |oldest: Option<NaiveDateTime>| oldest.map_or(0, |at| (now - at).num_days());
            let today = now.date().to_string();
            remind_staff(conn, &app, claims::CLAIMS_WAITING, &today, |coordinator| {
                Email::ClaimsWaiting {
                    name: coordinator.display_name().to_string(),
                    to_decide: to_decide.claims,
                    decide_oldest_days: days(to_decide.oldest),
                    to_pay: to_pay.claims,
                    pay_oldest_days: days(to_pay.oldest),
                    after_days,
                    link: app.settings.server.link("/claims"),
                }
            })
        })
        .await?;
    if reminded {
        state.outbox.wake();
    }
    Ok(reminded)
}

/// Emails every coordinator and admin, once a day from `adjustments.remind_hour`, while
/// confirmed bookings with a session in the next `adjustments.remind_days_before` days still
/// have access adjustments to arrange: each booking's element, first session in that time and
/// how many, never who or which needs. Returns whether a reminder was queued.
pub async fn send_adjustment_reminders(
    state: &AppState,
    now: NaiveDateTime,
) -> Result<bool, AppError> {
    let settings = &state.settings.adjustments;
    if now.hour() < settings.remind_hour {
        return Ok(false);
    }
    let within_days = settings.remind_days_before;
    let today = now.date().to_string();
    let app = state.clone();
    let day = today.clone();
    // Read first, outside the write lock: the plans open every upcoming booker's passport.
    let bookings = state
        .db
        .read(move |conn| {
            if claims::reminded_on(conn, claims::ADJUSTMENTS_WAITING, &day)? {
                return Ok(Vec::new());
            }
            let until = now + chrono::Duration::days(i64::from(within_days));
            let mut bookings = Vec::new();
            // Several bookings often share an element: each is loaded once.
            let mut elements = std::collections::HashMap::new();
            for booking in adjustments::confirmed_starting_between(conn, now, until)? {
                let needs = needs_of(conn, &app, &booking.coproducer_id)?;
                if needs.is_empty() {
                    continue;
                }
                if !elements.contains_key(&booking.element_id) {
                    let Some(row) = partnership::find_element(conn, &booking.element_id)? else {
                        continue;
                    };
                    // One element that cannot be read leaves out only itself.
                    let loaded = match (load_element(conn, &row), spec_of(&row)) {
                        (Ok(element), Ok(spec)) => Some((element, spec.title)),
                        _ => {
                            tracing::warn!(element_id = %row.id, "an element's details could not be read; left out of the reminder");
                            None
                        }
                    };
                    elements.insert(booking.element_id.clone(), loaded);
                }
                let Some(Some((element, title))) = elements.get(&booking.element_id) else {
                    continue;
                };
                let plan = plan_of(conn, &app, &booking.assignment_id, &needs, element)?;
                let left = still_to_arrange(&plan);
                if left > 0 {
                    bookings.push(format!(
                        "{title}, {}: {left} still to arrange",
                        uk_time::day(booking.starts_at)
                    ));
                }
            }
            Ok(bookings)
        })
        .await?;
    if bookings.is_empty() {
        return Ok(false);
    }
    remind_staff_now(
        state,
        claims::ADJUSTMENTS_WAITING,
        today,
        move |coordinator, app| Email::AdjustmentsWaiting {
            name: coordinator.display_name().to_string(),
            bookings: bookings.clone(),
            within_days,
            link: app.settings.server.link("/elements"),
        },
    )
    .await
}

/// [`remind_staff`] in a write of its own, after a read outside the write lock found something
/// to say; wakes the sender when the reminder was queued.
async fn remind_staff_now(
    state: &AppState,
    kind: &'static str,
    today: String,
    email_for: impl Fn(&UserRow, &AppState) -> Email + Send + 'static,
) -> Result<bool, AppError> {
    let app = state.clone();
    let reminded = state
        .db
        .write(move |conn| {
            remind_staff(conn, &app, kind, &today, |coordinator| {
                email_for(coordinator, &app)
            })
        })
        .await?;
    if reminded {
        state.outbox.wake();
    }
    Ok(reminded)
}

/// How many days the what-changed reminder names an element: it stops in the end (an element
/// finished long ago, or whose people have all left, is not named for ever).
const WHAT_CHANGED_REMINDED_FOR_DAYS: i64 = 60;

/// Emails every coordinator and admin, once a day from `what_changed.remind_hour`, while an
/// element completed `what_changed.remind_after_days` or more ago (and at most
/// [`WHAT_CHANGED_REMINDED_FOR_DAYS`] more), with work completed on it, has nobody told what
/// changed. Each line names the element and its project.
pub async fn send_what_changed_reminders(
    state: &AppState,
    now: NaiveDateTime,
) -> Result<bool, AppError> {
    let settings = &state.settings.what_changed;
    if now.hour() < settings.remind_hour {
        return Ok(false);
    }
    let after_days = settings.remind_after_days;
    let app = state.clone();
    let reminded = state
        .db
        .write(move |conn| {
            let before = now - chrono::Duration::days(i64::from(after_days));
            let since = before - chrono::Duration::days(WHAT_CHANGED_REMINDED_FOR_DAYS);
            let mut elements = Vec::new();
            for row in partnership::completed_without_what_changed(conn, since, before)? {
                let Ok(spec) = spec_of(&row) else {
                    tracing::warn!(element_id = %row.id, "an element's details could not be read; left out of the reminder");
                    continue;
                };
                let project = partnership::find_project(conn, &row.project_id)?;
                elements.push(format!(
                    "{} ({})",
                    spec.title,
                    project.map(|p| p.title).unwrap_or_default()
                ));
            }
            if elements.is_empty() {
                return Ok(false);
            }
            let today = now.date().to_string();
            remind_staff(
                conn,
                &app,
                claims::WHAT_CHANGED_WAITING,
                &today,
                |coordinator| Email::WhatChangedWaiting {
                    name: coordinator.display_name().to_string(),
                    elements: elements.clone(),
                    after_days,
                    link: app.settings.server.link("/elements"),
                },
            )
        })
        .await?;
    if reminded {
        state.outbox.wake();
    }
    Ok(reminded)
}

/// Emails each person booked a reminder of each session, once, `bookings.session_reminder_hours`
/// hours or fewer before it starts: when, where, and how to withdraw. Only confirmed bookings on
/// elements still going ahead, made before that time (a later booking's email was the reminder);
/// someone who deleted their account is not emailed. Returns how
/// many reminders were queued.
pub async fn send_session_reminders(
    state: &AppState,
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    let hours = state.settings.bookings.session_reminder_hours;
    if hours == 0 {
        return Ok(0);
    }
    let until = now + chrono::Duration::hours(i64::from(hours));
    let app = state.clone();
    let queued = state
        .db
        .write(move |conn| {
            // An erasure under way ends first and is seen; the next waits for this one.
            outbox_queries::no_erasure_meanwhile(conn)?;
            // Each element read once; one that cannot be read (`None`) stops nobody else's
            // reminder, and its own go once it can be.
            let mut elements = HashMap::new();
            let mut queued = 0;
            let notice = chrono::Duration::hours(i64::from(hours));
            for (assignment_id, person_id, element_id, starts_at, ends_at, booked_at) in
                matching::sessions_to_remind(conn, now, until)?
            {
                // Booked this close to it: the booking email, with its sessions, was the
                // reminder. Recorded, so it is not looked at again.
                if booked_at > starts_at - notice {
                    matching::mark_session_reminded(conn, &assignment_id, starts_at, now)?;
                    continue;
                }
                if !elements.contains_key(&element_id) {
                    let row = partnership::find_element(conn, &element_id)?;
                    let spec = row.as_ref().and_then(|row| spec_of(row).ok());
                    if spec.is_none() {
                        tracing::warn!(
                            element_id,
                            "an element's details could not be read; its session reminders wait"
                        );
                    }
                    elements.insert(element_id.clone(), spec);
                }
                let Some(Some(spec)) = elements.get(&element_id) else {
                    continue;
                };
                if !matching::mark_session_reminded(conn, &assignment_id, starts_at, now)? {
                    continue;
                }
                let Some(person) = users::find_by_id(conn, &person_id)?.filter(UserRow::is_active)
                else {
                    continue;
                };
                let email = Email::SessionReminder {
                    name: person.display_name().to_string(),
                    element_title: spec.title.clone(),
                    session: uk_time::session(starts_at, ends_at),
                    mode: spec.mode.as_str().to_string(),
                    location: spec.location.clone().unwrap_or_default(),
                    link: app.settings.server.link("/me/assignments"),
                };
                app.outbox
                    .enqueue(conn, &Recipient::user(&person), &email)?;
                queued += 1;
            }
            Ok(queued)
        })
        .await?;
    if queued > 0 {
        state.outbox.wake();
    }
    Ok(queued)
}

/// Passports one transaction reminds about at a time.
const PASSPORTS_AT_A_TIME: i64 = 100;

/// Emails, from `rounds.reminder_hour`, everyone whose access passport's review-by date has come
/// (UK date), once per date they set: to check it still says what helps them. The date is kept
/// beside the sealed passport, so no passport is opened. Someone who deleted their account has
/// no passport left. Returns how many reminders were queued.
pub async fn send_passport_review_reminders(
    state: &AppState,
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    if now.hour() < state.settings.rounds.reminder_hour {
        return Ok(0);
    }
    let today = uk_time::in_uk(now).date();
    let queued = until_a_short_batch(state, PASSPORTS_AT_A_TIME, move |conn, app, limit| {
        // An erasure under way ends first and is seen; the next waits for this one.
        outbox_queries::no_erasure_meanwhile(conn)?;
        let due = people::passports_to_review(conn, today, limit)?;
        let mut told = 0;
        for (user_id, review_by) in &due {
            if !people::mark_passport_review_reminded(conn, user_id, *review_by, now)? {
                continue;
            }
            let Some(person) = users::find_by_id(conn, user_id)?.filter(UserRow::is_active) else {
                continue;
            };
            let email = Email::PassportReview {
                name: person.display_name().to_string(),
                review_by: uk_time::calendar_day(*review_by),
                link: app.settings.server.link("/me/access-passport"),
            };
            app.outbox
                .enqueue(conn, &Recipient::user(&person), &email)?;
            told += 1;
        }
        Ok((due.len(), told))
    })
    .await?;
    if queued > 0 {
        state.outbox.wake();
    }
    Ok(queued)
}

/// Applications one transaction reminds or tells about at a time.
const UNSENT_AT_A_TIME: i64 = 100;

/// How long after its round closed an application never sent is still told about: older ones
/// (closed while the service was down for long, or before this notice existed) are left alone.
const UNSENT_TOLD_WITHIN_DAYS: i64 = 7;

/// Emails, from `rounds.reminder_hour`, everyone with an application not sent yet: once
/// `rounds.draft_reminder_days_before` days or fewer before its round closes, and once after it
/// closed (early or on its date), so nobody who started one is left without an answer. Someone
/// who deleted their account is not emailed. Returns how many emails were queued.
pub async fn send_unsent_application_notices(
    state: &AppState,
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    let rounds = &state.settings.rounds;
    if now.hour() < rounds.reminder_hour {
        return Ok(0);
    }
    let until = now + chrono::Duration::days(i64::from(rounds.draft_reminder_days_before));
    let since = now - chrono::Duration::days(UNSENT_TOLD_WITHIN_DAYS);
    let mut queued = 0;
    for closed in [false, true] {
        queued += until_a_short_batch(state, UNSENT_AT_A_TIME, move |conn, app, limit| {
            // An erasure under way ends first and is seen; the next waits for this one.
            outbox_queries::no_erasure_meanwhile(conn)?;
            let due = if closed {
                queries::drafts_of_closed_rounds(conn, since, now, limit)?
            } else {
                queries::drafts_to_remind(conn, now, until, limit)?
            };
            let mut told = 0;
            for (id, owner, round_title, closes_at, early) in &due {
                let marked = if closed {
                    queries::mark_closed_told(conn, id, now)?
                } else {
                    queries::mark_draft_reminded(conn, id, now)?
                };
                let owner = users::find_by_id(conn, owner)?.filter(UserRow::is_active);
                let (true, Some(person)) = (marked, owner) else {
                    continue;
                };
                let link = if closed {
                    app.settings.server.link("/rounds")
                } else {
                    app.settings.server.link(&format!("/applications/{id}"))
                };
                let email = Email::ApplicationNotSent {
                    name: person.display_name().to_string(),
                    round_title: round_title.clone(),
                    closes: uk_time::moment(*closes_at),
                    closed,
                    early: *early,
                    link,
                };
                app.outbox
                    .enqueue(conn, &Recipient::user(&person), &email)?;
                told += 1;
            }
            Ok((due.len(), told))
        })
        .await?;
    }
    if queued > 0 {
        state.outbox.wake();
    }
    Ok(queued)
}

/// Emails every coordinator and admin, once a day from `bookings.remind_hour`, while open
/// elements still have places free and their first session is `bookings.short_remind_days_before`
/// days away or fewer (and not begun): each with its project, how many places are free and when
/// it starts, so people can be found in time. Returns whether a reminder was queued.
pub async fn send_elements_short_reminders(
    state: &AppState,
    now: NaiveDateTime,
) -> Result<bool, AppError> {
    let settings = &state.settings.bookings;
    let within_days = settings.short_remind_days_before;
    if within_days == 0 || now.hour() < settings.remind_hour {
        return Ok(false);
    }
    let today = now.date().to_string();
    let day = today.clone();
    // Read first, outside the write lock; most runs find today's reminder already sent.
    let elements = state
        .db
        .read(move |conn| {
            if claims::reminded_on(conn, claims::ELEMENTS_SHORT, &day)? {
                return Ok(Vec::new());
            }
            let until = now + chrono::Duration::days(i64::from(within_days));
            let mut elements = Vec::new();
            for row in partnership::open_elements(conn)? {
                let Ok(spec) = spec_of(&row) else {
                    tracing::warn!(element_id = %row.id, "an element's details could not be read; left out of the reminder");
                    continue;
                };
                let Some(first) = spec.sessions.iter().map(|s| s.starts_at.naive_utc()).min()
                else {
                    continue;
                };
                if first <= now || first > until {
                    continue;
                }
                let free = i64::from(row.people_needed) - matching::seats_taken(conn, &row.id)?;
                if free <= 0 {
                    continue;
                }
                let project = partnership::find_project(conn, &row.project_id)?;
                let places = if free == 1 { "place" } else { "places" };
                let line = format!(
                    "{} ({}): {free} of {} {places} free, first session on {}",
                    spec.title,
                    project.map(|p| p.title).unwrap_or_default(),
                    row.people_needed,
                    uk_time::day(first)
                );
                elements.push((first, line));
            }
            Ok(soonest_first(elements))
        })
        .await?;
    if elements.is_empty() {
        return Ok(false);
    }
    remind_staff_now(
        state,
        claims::ELEMENTS_SHORT,
        today,
        move |coordinator, app| Email::ElementsShortOfPeople {
            name: coordinator.display_name().to_string(),
            elements: elements.clone(),
            within_days,
            link: app.settings.server.link("/elements"),
        },
    )
    .await
}

/// A reminder's lines in the order of their dates, the dates left out.
fn soonest_first(mut lines: Vec<(NaiveDateTime, String)>) -> Vec<String> {
    lines.sort();
    lines.into_iter().map(|(_, line)| line).collect()
}

/// Elements one transaction tells partners about at a time.
const FILLED_AT_A_TIME: i64 = 50;

/// Tells each partner organisation's contacts, once per filling, that every place on one of
/// their elements is taken (`ElementFilled`), so they can plan for the people coming. Returns how
/// many elements were told about.
pub async fn tell_partners_of_filled_elements(
    state: &AppState,
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    let told = until_a_short_batch(state, FILLED_AT_A_TIME, move |conn, app, limit| {
        // An erasure under way ends first and is seen; the next waits for this one.
        outbox_queries::no_erasure_meanwhile(conn)?;
        let filled = partnership::filled_untold(conn, limit)?;
        let mut marked = 0;
        for listed in &filled {
            if partnership::mark_partner_told_filled(conn, &listed.id, now)? {
                marked += 1;
                tell_partner_filled(conn, app, &listed.id)?;
            }
        }
        Ok((filled.len(), marked))
    })
    .await?;
    if told > 0 {
        state.outbox.wake();
    }
    Ok(told)
}

/// Emails the element's partner contacts that every place is taken, read again now (it may
/// have changed since it was listed). One moved to `filled` by hand with places still free
/// announces nothing.
fn tell_partner_filled(
    conn: &mut DbConn,
    app: &AppState,
    element_id: &str,
) -> Result<(), AppError> {
    let Some(row) = partnership::find_element(conn, element_id)? else {
        return Ok(());
    };
    let booked = matching::seats_taken(conn, &row.id)?;
    if booked < i64::from(row.people_needed) {
        return Ok(());
    }
    let (Ok(spec), Some(project)) = (
        spec_of(&row),
        partnership::find_project(conn, &row.project_id)?,
    ) else {
        tracing::warn!(
            element_id,
            "an element's details or project could not be read; its partner was not told it filled"
        );
        return Ok(());
    };
    let link = app.settings.server.link(&format!("/elements/{}", row.id));
    for contact_id in partnership::contacts_of(conn, &project.organisation_id)? {
        let Some(contact) = users::find_by_id(conn, &contact_id)?.filter(UserRow::is_active) else {
            continue;
        };
        let email = Email::ElementFilled {
            name: contact.display_name().to_string(),
            element_title: spec.title.clone(),
            project_title: project.title.clone(),
            places: i32::try_from(booked).unwrap_or(row.people_needed),
            link: link.clone(),
        };
        app.outbox
            .enqueue(conn, &Recipient::user(&contact), &email)?;
    }
    Ok(())
}

/// How many days the bookings-to-close reminder names an element after its last session: it
/// stops in the end.
const BOOKINGS_REMINDED_FOR_DAYS: i64 = 60;

/// Emails every coordinator and admin, once a day from `bookings.remind_hour`, while bookings
/// are still `confirmed` `bookings.remind_after_days` or more (and at most
/// [`BOOKINGS_REMINDED_FOR_DAYS`] more) after their element's last session ended: nobody is
/// thanked or told what changed until each is marked completed or missed. Each line names the
/// element, its project, how many and the last session's day, never who. Returns whether a
/// reminder was queued.
pub async fn send_bookings_to_close_reminders(
    state: &AppState,
    now: NaiveDateTime,
) -> Result<bool, AppError> {
    let settings = &state.settings.bookings;
    if now.hour() < settings.remind_hour {
        return Ok(false);
    }
    let after_days = settings.remind_after_days;
    let today = now.date().to_string();
    let day = today.clone();
    // Read first, outside the write lock; most runs find today's reminder already sent.
    let elements = state
        .db
        .read(move |conn| {
            if claims::reminded_on(conn, claims::BOOKINGS_TO_CLOSE, &day)? {
                return Ok(Vec::new());
            }
            let before = now - chrono::Duration::days(i64::from(after_days));
            let since = before - chrono::Duration::days(BOOKINGS_REMINDED_FOR_DAYS);
            let open = matching::confirmed_per_element(conn)?;
            let ids: Vec<String> = open.iter().map(|(id, _)| id.clone()).collect();
            let mut last_ended: HashMap<String, NaiveDateTime> = HashMap::new();
            for chunk in ids.chunks(500) {
                for (id, _, ends_at) in matching::sessions_of(conn, chunk)? {
                    let last = last_ended.entry(id).or_insert(ends_at);
                    *last = (*last).max(ends_at);
                }
            }
            let mut elements = Vec::new();
            for (id, count) in open {
                let Some(last_session) = last_ended.get(&id).copied() else {
                    continue;
                };
                let Some(row) = partnership::find_element(conn, &id)? else {
                    continue;
                };
                // Work cancelled under way ended when it was cancelled, or its last session if
                // that came first.
                let cancelled_at = (row.status == ElementStatus::Cancelled.as_str())
                    .then(|| row.status_changed_at.unwrap_or(row.updated_at));
                let ended = cancelled_at.map_or(last_session, |at| last_session.min(at));
                if ended > before || ended < since {
                    continue;
                }
                let Ok(spec) = spec_of(&row) else {
                    tracing::warn!(element_id = %id, "an element's details could not be read; left out of the reminder");
                    continue;
                };
                let project = partnership::find_project(conn, &row.project_id)?;
                let project = project.map(|p| p.title).unwrap_or_default();
                let bookings = if count == 1 { "booking" } else { "bookings" };
                let line = if let Some(cancelled_at) = cancelled_at {
                    format!(
                        "{} ({project}): cancelled on {} after it had started, {count} {bookings} kept for claims",
                        spec.title,
                        uk_time::day(cancelled_at)
                    )
                } else {
                    format!(
                        "{} ({project}): {count} {bookings}, last session on {}",
                        spec.title,
                        uk_time::day(ended)
                    )
                };
                elements.push((ended, line));
            }
            Ok(soonest_first(elements))
        })
        .await?;
    if elements.is_empty() {
        return Ok(false);
    }
    remind_staff_now(
        state,
        claims::BOOKINGS_TO_CLOSE,
        today,
        move |coordinator, app| Email::BookingsToClose {
            name: coordinator.display_name().to_string(),
            elements: elements.clone(),
            after_days,
            link: app.settings.server.link("/elements"),
        },
    )
    .await
}

/// People whose due digests one read lists at a time (each is gathered in a transaction of its
/// own).
const DIGESTS_AT_A_TIME: i64 = 50;

/// Sends each person whose held email is due their daily digest, one transaction each (an
/// account being erased is left to its erasure, which deletes what is held for it). Returns
/// how many digests were queued; a person whose digest fails is logged and tried next run.
pub async fn send_digests(state: &AppState, now: NaiveDateTime) -> Result<usize, AppError> {
    let mut queued = 0;
    let mut released = false;
    let mut after = String::new();
    loop {
        let from = after.clone();
        let due = state
            .db
            .read(move |conn| {
                Ok(outbox_queries::due_digests(
                    conn,
                    now,
                    &from,
                    DIGESTS_AT_A_TIME,
                )?)
            })
            .await?;
        let Some(last) = due.last() else { break };
        after = last.clone();
        for user_id in due {
            let app = state.clone();
            let gathered = state
                .db
                .write(move |conn| {
                    if !users::hold_if_active(conn, &user_id)? {
                        return Ok(DigestGathered::Nothing);
                    }
                    let Some(person) = users::find_by_id(conn, &user_id)? else {
                        return Ok(DigestGathered::Nothing);
                    };
                    let link = app.settings.server.link("/me/notification-preferences");
                    app.outbox.gather_digest(conn, &person, link)
                })
                .await;
            match gathered {
                Ok(DigestGathered::Queued) => queued += 1,
                Ok(DigestGathered::Released) => released = true,
                Ok(DigestGathered::Nothing) => {}
                Err(AppError::Conflict {
                    code: DIGEST_GATHERED_ELSEWHERE,
                    ..
                }) => {}
                Err(error) => tracing::warn!(error = %error, "a digest failed; will try again"),
            }
        }
    }
    if queued > 0 || released {
        state.outbox.wake();
    }
    Ok(queued)
}

/// Offers open elements' free seats to their waiting lists, in order, so someone passed over
/// when a seat freed (paused then, unable to take it then, or being booked elsewhere at that
/// moment) gets it once they can. Elements whose sessions have begun are left alone, and
/// coordinators are told who was booked. Each element is its own transaction, and one that
/// fails is logged and skipped. Returns how many people were booked.
pub async fn offer_free_seats(state: &AppState, now: NaiveDateTime) -> Result<usize, AppError> {
    let elements = state
        .db
        .read(move |conn| Ok(partnership::open_with_people_waiting(conn, now)?))
        .await?;
    let mut booked = 0;
    for element_id in elements {
        let app = state.clone();
        let id = element_id.clone();
        let offered = state
            .db
            .write(move |conn| offer_seats_still_free(conn, &app, &id, now))
            .await;
        match offered {
            Ok(count) => booked += count,
            Err(error) => {
                tracing::warn!(error = %error, element_id, "offering a free seat failed; will try again");
            }
        }
    }
    if booked > 0 {
        state.outbox.wake();
    }
    Ok(booked)
}

/// Expires unanswered invitations and tells coordinators; returns how many expired.
pub async fn expire_invitations(state: &AppState, now: NaiveDateTime) -> Result<usize, AppError> {
    let app = state.clone();
    let expired = state
        .db
        .write(move |conn| {
            crate::routes::matching::invitations::expire_invitations(conn, &app, now)
        })
        .await?;
    if expired > 0 {
        state.outbox.wake();
    }
    Ok(expired)
}

/// How many rows each retention rule handled in one run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RetentionReport {
    pub unsuccessful_applications_stripped: usize,
    pub draft_applications_deleted: usize,
    pub idempotency_keys_deleted: usize,
    pub sent_emails_deleted: usize,
    pub dead_emails_deleted: usize,
    pub sign_in_links_deleted: usize,
    pub refresh_tokens_deleted: usize,
    pub sessions_deleted: usize,
    pub staff_invitations_deleted: usize,
    pub audit_rows_deleted: usize,
    pub settled_claims_deleted: usize,
    pub empty_payment_runs_deleted: usize,
    pub ended_booking_arrangements_deleted: usize,
}

impl RetentionReport {
    pub fn total(&self) -> usize {
        self.unsuccessful_applications_stripped
            + self.draft_applications_deleted
            + self.idempotency_keys_deleted
            + self.sent_emails_deleted
            + self.dead_emails_deleted
            + self.sign_in_links_deleted
            + self.refresh_tokens_deleted
            + self.sessions_deleted
            + self.staff_invitations_deleted
            + self.audit_rows_deleted
            + self.settled_claims_deleted
            + self.empty_payment_runs_deleted
            + self.ended_booking_arrangements_deleted
    }
}

/// Applies every `[retention]` rule as of `now`. Each rule runs in batches of
/// `retention.batch_size` rows, one short transaction each, until a batch comes back short;
/// running it again changes nothing more. Logs counts only.
pub async fn apply_retention(
    state: &AppState,
    now: NaiveDateTime,
) -> Result<RetentionReport, AppError> {
    let rules = &state.settings.retention;
    // Too far back to write means keep everything, never delete everything.
    let months_ago = |n: u32| {
        now.checked_sub_months(Months::new(n))
            .unwrap_or(NaiveDateTime::MIN)
    };
    let days_ago = |n: u32| now - chrono::Duration::days(i64::from(n));
    let unsuccessful = months_ago(rules.unsuccessful_application_months);
    let drafts = months_ago(rules.draft_application_months);
    let idempotency = now - chrono::Duration::hours(i64::from(rules.idempotency_key_hours));
    let sent = days_ago(rules.sent_email_days);
    let dead = days_ago(rules.dead_email_days);
    let sign_in = days_ago(rules.expired_sign_in_days);
    let audit = months_ago(rules.audit_log_years.saturating_mul(12));
    let settled_claims = tax_years_before(now, rules.settled_claim_years);
    let ended_bookings = days_ago(rules.ended_booking_arrangement_days);
    let report = RetentionReport {
        unsuccessful_applications_stripped: in_batches(state, move |conn, limit| {
            privacy::strip_unsuccessful_applications(conn, unsuccessful, limit, now)
        })
        .await?,
        draft_applications_deleted: in_batches(state, move |conn, limit| {
            privacy::delete_stale_drafts(conn, drafts, limit)
        })
        .await?,
        idempotency_keys_deleted: in_batches(state, move |conn, limit| {
            privacy::delete_idempotency_keys(conn, idempotency, limit)
        })
        .await?,
        sent_emails_deleted: in_batches(state, move |conn, limit| {
            privacy::delete_sent_email(conn, sent, limit)
        })
        .await?,
        dead_emails_deleted: in_batches(state, move |conn, limit| {
            privacy::delete_dead_email(conn, dead, limit)
        })
        .await?,
        sign_in_links_deleted: in_batches(state, move |conn, limit| {
            privacy::delete_expired_sign_in_links(conn, sign_in, limit)
        })
        .await?,
        refresh_tokens_deleted: in_batches(state, move |conn, limit| {
            privacy::delete_expired_refresh_tokens(conn, sign_in, limit)
        })
        .await?,
        sessions_deleted: in_batches(state, move |conn, limit| {
            privacy::delete_ended_sessions(conn, sign_in, limit)
        })
        .await?,
        staff_invitations_deleted: in_batches(state, move |conn, limit| {
            privacy::delete_expired_staff_invitations(conn, sign_in, limit)
        })
        .await?,
        audit_rows_deleted: in_batches(state, move |conn, limit| {
            privacy::delete_old_audit_rows(conn, audit, limit)
        })
        .await?,
        settled_claims_deleted: in_batches(state, move |conn, limit| {
            privacy::delete_settled_claims(conn, settled_claims, limit)
        })
        .await?,
        // After the claims: a run goes with the last of its claims.
        empty_payment_runs_deleted: in_batches(state, move |conn, limit| {
            privacy::delete_empty_payment_runs(conn, settled_claims, limit)
        })
        .await?,
        ended_booking_arrangements_deleted: in_batches(state, move |conn, limit| {
            adjustments::delete_of_ended_bookings(conn, ended_bookings, limit)
        })
        .await?,
    };
    if report.total() > 0 {
        tracing::info!(
            unsuccessful_applications_stripped = report.unsuccessful_applications_stripped,
            draft_applications_deleted = report.draft_applications_deleted,
            idempotency_keys_deleted = report.idempotency_keys_deleted,
            sent_emails_deleted = report.sent_emails_deleted,
            dead_emails_deleted = report.dead_emails_deleted,
            sign_in_links_deleted = report.sign_in_links_deleted,
            refresh_tokens_deleted = report.refresh_tokens_deleted,
            sessions_deleted = report.sessions_deleted,
            staff_invitations_deleted = report.staff_invitations_deleted,
            audit_rows_deleted = report.audit_rows_deleted,
            settled_claims_deleted = report.settled_claims_deleted,
            empty_payment_runs_deleted = report.empty_payment_runs_deleted,
            ended_booking_arrangements_deleted = report.ended_booking_arrangements_deleted,
            "retention rules applied"
        );
    }
    Ok(report)
}

/// Runs `rule` in write transactions of at most `retention.batch_size` rows until a batch
/// handles fewer; returns the total handled.
async fn in_batches<F>(state: &AppState, rule: F) -> Result<usize, AppError>
where
    F: Fn(&mut DbConn, i64) -> diesel::QueryResult<usize> + Clone + Send + 'static,
{
    let limit = i64::from(state.settings.retention.batch_size.max(1));
    until_a_short_batch(state, limit, move |conn, _, limit| {
        let handled = rule(conn, limit)?;
        Ok((handled, handled))
    })
    .await
}

/// Runs `batch` in write transactions until one sees fewer than `limit` items. `batch` gets the
/// limit and returns how many items it saw and how many it handled; it must leave each item it
/// saw so that the next batch does not see it again. Returns the total handled.
async fn until_a_short_batch<F>(state: &AppState, limit: i64, batch: F) -> Result<usize, AppError>
where
    F: Fn(&mut DbConn, &AppState, i64) -> Result<(usize, usize), AppError> + Clone + Send + 'static,
{
    let mut total = 0;
    loop {
        let (batch, app) = (batch.clone(), state.clone());
        let (seen, handled) = state.db.write(move |conn| batch(conn, &app, limit)).await?;
        total += handled;
        if i64::try_from(seen).unwrap_or(i64::MAX) < limit {
            return Ok(total);
        }
    }
}

/// Applications listed at a time; each is then stored in a write transaction of its own, so
/// writers for requests take turns with the job and no transaction holds more than one row.
const OWNER_VIEWS_PER_BATCH: i64 = 100;

/// Stores the owner's view of every application that has none the read would serve: written
/// before views were stored, changed since by something other than its owner's writes (a
/// review, a job), stored in an older format or showing an old round title. Their owners'
/// reads then take the one-query path. One application that fails is logged and left for the
/// next run. Returns how many views it stored.
pub async fn store_missing_owner_views(state: &AppState) -> Result<usize, AppError> {
    let mut after = String::new();
    let mut total = 0;
    loop {
        let from = after.clone();
        let ids = state
            .db
            .read(move |conn| {
                Ok(owner_views::applications_without_view(
                    conn,
                    &from,
                    OWNER_VIEWS_PER_BATCH,
                    OWNER_VIEW_FORMAT,
                )?)
            })
            .await?;
        let Some(last) = ids.last().cloned() else {
            return Ok(total);
        };
        for id in ids {
            let stored = state
                .db
                .write(move |conn| {
                    // Read under the row lock, as the owner's writes do.
                    queries::lock_application(conn, &id)?;
                    match Loaded::load(conn, &id) {
                        Ok(loaded) => loaded.keep_owner_view(conn).map(|_| true),
                        // Deleted since it was listed.
                        Err(AppError::NotFound) => Ok(false),
                        Err(other) => Err(other),
                    }
                })
                .await;
            match stored {
                Ok(true) => total += 1,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(error = %error, "storing an owner's view failed; the next run tries again");
                }
            }
        }
        after = last;
    }
}

/// Runs every job above (reminders, digests, invitation expiry, the free-seat sweep, partner
/// news, retention, the owner's views missing) every `rounds.reminder_check_secs`.
pub async fn run(state: AppState) {
    let every = Duration::from_secs(state.settings.rounds.reminder_check_secs.max(60));
    loop {
        if let Err(error) = send_decision_reminders(&state, Utc::now().naive_utc()).await {
            tracing::warn!(error = %error, "decision reminders failed; will try again");
        }
        if let Err(error) = send_claim_reminders(&state, Utc::now().naive_utc()).await {
            tracing::warn!(error = %error, "claim reminders failed; will try again");
        }
        if let Err(error) = send_adjustment_reminders(&state, Utc::now().naive_utc()).await {
            tracing::warn!(error = %error, "adjustment reminders failed; will try again");
        }
        if let Err(error) = send_what_changed_reminders(&state, Utc::now().naive_utc()).await {
            tracing::warn!(error = %error, "what-changed reminders failed; will try again");
        }
        if let Err(error) = send_passport_review_reminders(&state, Utc::now().naive_utc()).await {
            tracing::warn!(error = %error, "passport review reminders failed; will try again");
        }
        if let Err(error) = send_session_reminders(&state, Utc::now().naive_utc()).await {
            tracing::warn!(error = %error, "session reminders failed; will try again");
        }
        if let Err(error) = send_unsent_application_notices(&state, Utc::now().naive_utc()).await {
            tracing::warn!(error = %error, "reminders of applications not sent failed; will try again");
        }
        if let Err(error) = send_bookings_to_close_reminders(&state, Utc::now().naive_utc()).await {
            tracing::warn!(error = %error, "bookings-to-close reminders failed; will try again");
        }
        if let Err(error) = send_digests(&state, Utc::now().naive_utc()).await {
            tracing::warn!(error = %error, "sending digests failed; will try again");
        }
        if let Err(error) = expire_invitations(&state, Utc::now().naive_utc()).await {
            tracing::warn!(error = %error, "expiring invitations failed; will try again");
        }
        if let Err(error) = offer_free_seats(&state, Utc::now().naive_utc()).await {
            tracing::warn!(error = %error, "offering free seats failed; will try again");
        }
        // After the sweep, which may fill an element.
        if let Err(error) = tell_partners_of_filled_elements(&state, Utc::now().naive_utc()).await {
            tracing::warn!(error = %error, "telling partners of filled elements failed; will try again");
        }
        if let Err(error) = send_elements_short_reminders(&state, Utc::now().naive_utc()).await {
            tracing::warn!(error = %error, "reminders of elements short of people failed; will try again");
        }
        if let Err(error) = apply_retention(&state, Utc::now().naive_utc()).await {
            tracing::warn!(error = %error, "applying the retention rules failed; will try again");
        }
        match store_missing_owner_views(&state).await {
            Ok(0) => {}
            Ok(stored) => tracing::info!(stored, "owner's views stored"),
            Err(error) => {
                tracing::warn!(error = %error, "storing owner's views failed; will try again");
            }
        }
        tokio::time::sleep(every).await;
    }
}
