//! Assignments: booking a seat (from an accepted invitation or the waiting list), the
//! transitions `confirmed → completed | withdrawn | no_show`, and who is on an element.
//!
//! Seats are counted under the element's lock (`queries::lock_element`), here and in accept,
//! so however many accept and withdraw at once an element never has more people than seats.
//! A withdrawal frees its seat for the waiting list, in the order people accepted.

use actix_web::{get, post, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::adjustments::plan_of;
use super::invitations::session_lines;
use super::{cannot_take, load_element, spec_of};
use crate::auth::AuthUser;
use crate::crypto::Field;
use crate::db::DbConn;
use crate::db::models::matching::{AssignmentRow, InvitationRow};
use crate::db::models::partnership::ElementRow;
use crate::db::models::user::UserRow;
use crate::db::queries::{audit, matching as queries, partnership, users};
use crate::domain::assignment::{AssignmentStatus, SERVICE_ACTOR};
use crate::domain::non_blank;
use crate::domain::partnership::{CoproducerStatus, ElementSpec, ElementStatus, Mode};
use crate::domain::profile::AccessPassport;
use crate::domain::role::Role;
use crate::email::ics::{Calendar, Event};
use crate::email::{Email, Mention, Recipient};
use crate::error::{AppError, FieldError, Problem};
use crate::matching::adjustments::Adjustment;
use crate::routes::extract::{FieldErrors, Query, ValidJson, Validate};
use crate::routes::pagination::{Page, PageQuery, step_cursor};
use crate::routes::projects::visible_project;
use crate::routes::projects::what_changed::{Titles, WhatChangedView, tell_what_changed};
use crate::state::AppState;

/// Books `invitation`'s person onto `element` (the caller holds the element's lock and has
/// checked there is a seat) and records the step.
pub(super) fn book(
    conn: &mut DbConn,
    invitation: &InvitationRow,
    actor: &str,
    note: Option<&str>,
    now: NaiveDateTime,
) -> Result<AssignmentRow, AppError> {
    let assignment = AssignmentRow {
        id: uuid::Uuid::now_v7().to_string(),
        element_id: invitation.element_id.clone(),
        coproducer_id: invitation.coproducer_id.clone(),
        invitation_id: invitation.id.clone(),
        status: AssignmentStatus::Confirmed.as_str().into(),
        created_at: now,
        updated_at: now,
    };
    queries::insert_assignment(conn, &assignment)?;
    queries::record_assignment_event(
        conn,
        &assignment.id,
        None,
        &assignment.status,
        actor,
        note,
        now,
    )?;
    Ok(assignment)
}

/// `open → filled` when the last seat is taken, `filled → open` when one frees. Other
/// statuses (under way, finished) are the coordinators' to change.
pub(super) fn settle_element(
    conn: &mut DbConn,
    element: &ElementRow,
    now: NaiveDateTime,
) -> Result<i64, AppError> {
    let taken = queries::seats_taken(conn, &element.id)?;
    let full = taken >= i64::from(element.people_needed);
    let (from, to) = match ElementStatus::parse(&element.status) {
        Some(ElementStatus::Open) if full => (ElementStatus::Open, ElementStatus::Filled),
        Some(ElementStatus::Filled) if !full => (ElementStatus::Filled, ElementStatus::Open),
        _ => return Ok(taken),
    };
    partnership::move_element(conn, &element.id, from.as_str(), to.as_str(), now)?;
    Ok(taken)
}

/// The booking email: the outcome in words, and for a confirmed place the sessions as an
/// .ics attachment.
pub(super) fn booking_email(
    conn: &mut DbConn,
    state: &AppState,
    person: &UserRow,
    element: &ElementRow,
    outcome: &str,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let spec = spec_of(element)?;
    let confirmed = outcome != "waitlisted";
    let calendar = if confirmed && !spec.sessions.is_empty() {
        let project =
            partnership::find_project(conn, &element.project_id)?.ok_or(AppError::NotFound)?;
        Some(calendar_of(state, element, &spec, &project.title, now))
    } else {
        None
    };
    let email = Email::InvitationOutcome {
        name: person.display_name().to_string(),
        element_title: spec.title.clone(),
        outcome: outcome.into(),
        sessions: session_lines(&spec),
        link: state.settings.server.link("/me/assignments"),
        calendar,
    };
    state
        .outbox
        .enqueue(conn, &Recipient::user(person), &email)?;
    Ok(())
}

/// The sessions of a booking that is off, from `now` on, marked cancelled under the UIDs the
/// booking email gave them, so a calendar that imported them marks them cancelled. None when
/// no session is still to come.
pub(super) fn cancelled_calendar(
    conn: &mut DbConn,
    state: &AppState,
    element: &ElementRow,
    now: NaiveDateTime,
) -> Result<Option<Calendar>, AppError> {
    let spec = spec_of(element)?;
    let project =
        partnership::find_project(conn, &element.project_id)?.ok_or(AppError::NotFound)?;
    let mut calendar = calendar_of(state, element, &spec, &project.title, now);
    calendar
        .events
        .retain(|event| event.starts_at > now.and_utc());
    calendar.cancelled = true;
    Ok((!calendar.events.is_empty()).then_some(calendar))
}

/// One event per session. UIDs are the element and the session's place in it at the service's
/// host, so a calendar that already holds them updates them rather than adding copies.
fn calendar_of(
    state: &AppState,
    element: &ElementRow,
    spec: &ElementSpec,
    project_title: &str,
    now: NaiveDateTime,
) -> Calendar {
    let host = host_of(&state.settings.server.public_url);
    let location = match (spec.mode, spec.location.as_deref()) {
        (Mode::Remote, _) | (_, None) => "Online".to_string(),
        (Mode::Hybrid, Some(place)) => format!("{place} (or online)"),
        (Mode::InPerson, Some(place)) => place.to_string(),
    };
    let count = spec.sessions.len();
    let bookings = state.settings.server.link("/me/assignments");
    Calendar {
        cancelled: false,
        stamp: now.and_utc(),
        events: spec
            .sessions
            .iter()
            .enumerate()
            .map(|(i, session)| Event {
                uid: format!("{}-{}@{host}", element.id, i + 1),
                starts_at: session.starts_at,
                ends_at: session.ends_at,
                summary: spec.title.clone(),
                location: location.clone(),
                description: format!(
                    "{project_title}: session {} of {count}.\n\n{}\n\nIf you can no longer come, withdraw on your booking so the place can go to someone else: {bookings}",
                    i + 1,
                    spec.description
                ),
            })
            .collect(),
    }
}

/// The host of a public URL (`https://coproduce.example:8443/x` → `coproduce.example`).
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Offers a seat freed outside this module (an erased account, more places) to the waiting
/// list, under the element lock accept uses. Returns how many people were booked.
pub(crate) fn refill_freed_seat(
    conn: &mut DbConn,
    state: &AppState,
    element_id: &str,
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    queries::lock_element(conn, element_id)?;
    let Some(element) = partnership::find_element(conn, element_id)? else {
        return Ok(0);
    };
    let booked = offer_waiting_list(conn, state, &element, now)?;
    settle_element(conn, &element, now)?;
    Ok(booked.len())
}

/// The background sweep's refill (`jobs::offer_free_seats`): offers an open element's free seats
/// to its waiting list while none of its sessions has begun (checked under the element's lock),
/// and tells coordinators and admins who was booked. Returns how many people were booked.
pub(crate) fn offer_seats_still_free(
    conn: &mut DbConn,
    state: &AppState,
    element_id: &str,
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    // Accounts before the element, as `users::staff` asks.
    let staff = users::staff(conn)?;
    queries::lock_element(conn, element_id)?;
    let Some(element) = partnership::find_element(conn, element_id)? else {
        return Ok(0);
    };
    let spec = spec_of(&element)?;
    if spec.sessions.iter().any(|s| s.starts_at.naive_utc() <= now) {
        return Ok(0);
    }
    let booked = offer_waiting_list(conn, state, &element, now)?;
    let taken = settle_element(conn, &element, now)?;
    if booked.is_empty() {
        return Ok(0);
    }
    for coordinator in &staff {
        state.outbox.enqueue(
            conn,
            &Recipient::user(coordinator),
            &Email::WaitingListBooked {
                name: coordinator.display_name().to_string(),
                element_title: spec.title.clone(),
                booked: booked.iter().map(Mention::of).collect(),
                seats_left: (i64::from(element.people_needed) - taken).max(0),
                link: state
                    .settings
                    .server
                    .link(&format!("/elements/{}", element.id)),
            },
        )?;
    }
    Ok(booked.len())
}

/// Fills free seats from the waiting list, in the order people accepted, skipping people who
/// are paused, archived, no longer have an active account, or could not take the place now (a
/// clashing booking, hours or pay past their limits): they keep their place in line.
/// Each is booked (by the service, `SERVICE_ACTOR`, whoever freed the seat) and emailed their
/// sessions. Returns who was booked.
fn offer_waiting_list(
    conn: &mut DbConn,
    state: &AppState,
    element: &ElementRow,
    now: NaiveDateTime,
) -> Result<Vec<UserRow>, AppError> {
    if !matches!(
        ElementStatus::parse(&element.status),
        Some(ElementStatus::Open | ElementStatus::Filled)
    ) {
        return Ok(Vec::new());
    }
    let seats = i64::from(element.people_needed);
    let mut taken = queries::seats_taken(conn, &element.id)?;
    let offered = load_element(conn, element)?;
    let mut booked = Vec::new();
    for invitation in queries::waiting_list(conn, &element.id)? {
        if taken >= seats {
            break;
        }
        // Held before their invitation is taken, in the erasure's order (the account, then
        // the invitation): one erased meanwhile is skipped, and neither waits on the other.
        if !users::hold_if_active(conn, &invitation.coproducer_id)? {
            continue;
        }
        // Someone being booked elsewhere this moment keeps their place for the next seat:
        // waiting here, under the element's lock, could deadlock.
        if !queries::try_hold_bookings_of(conn, &invitation.coproducer_id)? {
            continue;
        }
        let in_pool = queries::coproducer_status(conn, &invitation.coproducer_id)?.is_some_and(
            |(status, paused_until)| {
                CoproducerStatus::effective(&status, paused_until, now) == CoproducerStatus::Active
            },
        );
        let Some(person) = users::find_by_id(conn, &invitation.coproducer_id)? else {
            continue;
        };
        if !in_pool || cannot_take(conn, state, &offered, &invitation.coproducer_id, now)?.is_some()
        {
            continue;
        }
        if !queries::take_off_waiting_list(conn, &invitation.id)? {
            continue;
        }
        book(
            conn,
            &invitation,
            SERVICE_ACTOR,
            Some("Booked from the waiting list when a place came up."),
            now,
        )?;
        booking_email(
            conn,
            state,
            &person,
            element,
            "confirmed_from_waiting_list",
            now,
        )?;
        taken += 1;
        booked.push(person);
    }
    Ok(booked)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawInput {
    /// Optional. From a co-producer it is never held against them; from a coordinator it is
    /// emailed to the person.
    #[schema(max_length = 2000)]
    pub reason: Option<String>,
}

impl Validate for WithdrawInput {
    type Valid = Option<String>;

    fn validate(self) -> Result<Option<String>, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        errors.optional_text("reason", self.reason.as_deref(), 2000);
        errors.finish(non_blank(self.reason))
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeInput {
    /// Optional. The person reads it, in the email telling them and in the assignment's history.
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

impl Validate for OutcomeInput {
    type Valid = Option<String>;

    fn validate(self) -> Result<Option<String>, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        errors.optional_text("note", self.note.as_deref(), 2000);
        errors.finish(non_blank(self.note))
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AssignmentState {
    pub id: String,
    pub element_id: String,
    /// `confirmed`, `completed`, `withdrawn` or `no_show`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    /// When the status last changed.
    pub updated_at: DateTime<Utc>,
    /// Coordinators only, after a withdrawal: the people booked from the waiting list into
    /// the freed seat (user ids; empty when nobody could take it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booked_from_waiting_list: Option<Vec<String>>,
}

impl From<AssignmentRow> for AssignmentState {
    fn from(row: AssignmentRow) -> Self {
        Self {
            id: row.id,
            element_id: row.element_id,
            status: row.status,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
            booked_from_waiting_list: None,
        }
    }
}

/// The assignment if the caller may act on it: their own, or any for coordinators.
pub(super) fn visible_assignment(
    conn: &mut DbConn,
    user: &AuthUser,
    id: &str,
) -> Result<AssignmentRow, AppError> {
    queries::find_assignment(conn, id)?
        .filter(|a| a.coproducer_id == user.id || user.has_role(Role::Coordinator))
        .ok_or(AppError::NotFound)
}

/// Holds the assignment's co-producer before anything of theirs changes (an erasure takes the
/// account first too, so neither waits on the other's rows): an erasure under way finishes
/// first and the change is refused, or waits for it. Nothing is written about, or sent to,
/// someone who deleted their account.
pub(super) fn hold_coproducer(
    conn: &mut DbConn,
    assignment: &AssignmentRow,
) -> Result<(), AppError> {
    if users::hold_if_active(conn, &assignment.coproducer_id)? {
        Ok(())
    } else {
        Err(AppError::conflict(
            "person_left",
            "The person on this assignment has deleted their account, so it can no longer change.",
        ))
    }
}

fn cannot_become(current: &str, next: AssignmentStatus) -> AppError {
    let words: &str = match AssignmentStatus::parse(current) {
        Some(status) => status.words(),
        None => current,
    };
    let action = match next {
        AssignmentStatus::Withdrawn => "withdrawn",
        AssignmentStatus::Completed => "marked as completed",
        AssignmentStatus::NoShow => "marked as a no-show",
        AssignmentStatus::Confirmed => "confirmed",
    };
    AppError::conflict(
        "invalid_transition",
        format!(
            "This assignment is already {words}, so it cannot be {action}. Only a confirmed assignment can change."
        ),
    )
}

/// Closes `invitation` if it still waits for an answer or is on the waiting list (`expired`):
/// whether it was `invited` or `waiting`, when it closed.
fn lapse(
    conn: &mut DbConn,
    invitation: &InvitationRow,
    now: NaiveDateTime,
) -> Result<Option<&'static str>, AppError> {
    let was = match invitation.status.as_str() {
        "invited" => "invited",
        "waitlisted" => "waiting",
        _ => return Ok(None),
    };
    let closed = queries::respond(
        conn,
        &invitation.id,
        &invitation.status,
        "expired",
        None,
        now,
    )?;
    Ok(closed.then_some(was))
}

/// Closes the element's invitations still waiting for an answer and its waiting list
/// (`expired`). Returns who each was for, and whether they were `invited` or `waiting`.
fn lapse_open_invitations(
    conn: &mut DbConn,
    element_id: &str,
    now: NaiveDateTime,
) -> Result<Vec<(String, &'static str)>, AppError> {
    let mut lapsed = Vec::new();
    for invitation in queries::invitations_of_element(conn, element_id)? {
        if let Some(was) = lapse(conn, &invitation, now)? {
            lapsed.push((invitation.coproducer_id, was));
        }
    }
    Ok(lapsed)
}

/// Someone left the pool: their invitations still waiting for an answer and their places on
/// waiting lists close (`expired`). Returns each element's title with its project's, to tell
/// them. The caller holds their bookings
/// (`queries::hold_bookings_of`): an answer of theirs at that moment goes first, or finds the
/// invitation closed.
pub(crate) fn lapse_invitations_of_person(
    conn: &mut DbConn,
    person_id: &str,
    now: NaiveDateTime,
) -> Result<Vec<String>, AppError> {
    let mut titles = Vec::new();
    for invitation in queries::invitations_of_user(conn, person_id)? {
        if lapse(conn, &invitation, now)?.is_none() {
            continue;
        }
        if let Some(element) = partnership::find_element(conn, &invitation.element_id)? {
            let project = partnership::find_project(conn, &element.project_id)?;
            titles.push(format!(
                "{} ({})",
                spec_of(&element)?.title,
                project.map(|p| p.title).unwrap_or_default()
            ));
        }
    }
    Ok(titles)
}

/// An element that started or finished takes nobody else: its open invitations and waiting
/// list close, and each person is told (`InvitationLapsed`, `why` = `under_way` or `finished`).
/// The caller holds erasures back first (`outbox::no_erasure_meanwhile`).
pub(crate) fn close_invitations_of_started_element(
    conn: &mut DbConn,
    app: &AppState,
    element: &ElementRow,
    why: &str,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let lapsed = lapse_open_invitations(conn, &element.id, now)?;
    if lapsed.is_empty() {
        return Ok(());
    }
    let title = spec_of(element)?.title;
    for (person_id, was) in lapsed {
        tell_invitation_lapsed(conn, app, &person_id, &title, was, why)?;
    }
    Ok(())
}

/// Emails `person_id` (if their account is still active and they are in the pool) that their
/// invitation or place on the waiting list for `element_title` closed.
pub(crate) fn tell_invitation_lapsed(
    conn: &mut DbConn,
    app: &AppState,
    person_id: &str,
    element_title: &str,
    was: &str,
    why: &str,
) -> Result<(), AppError> {
    let Some(person) = users::find_by_id(conn, person_id)?.filter(UserRow::is_active) else {
        return Ok(());
    };
    // Someone archived was told they left the pool; "we will keep inviting you" would be wrong.
    let archived = queries::coproducer_status(conn, person_id)?
        .is_none_or(|(status, _)| status == CoproducerStatus::Archived.as_str());
    if archived {
        return Ok(());
    }
    let email = Email::InvitationLapsed {
        name: person.display_name().to_string(),
        element_title: element_title.to_string(),
        was: was.to_string(),
        why: why.to_string(),
        link: app.settings.server.link("/me/invitations"),
    };
    app.outbox
        .enqueue(conn, &Recipient::user(&person), &email)?;
    Ok(())
}

/// Who cancelled an element, whether its sessions had begun, and the staff to tell (held by the
/// caller before the element, as `users::staff` asks).
pub(crate) struct Cancelled<'a> {
    pub under_way: bool,
    pub actor: &'a str,
    pub staff: Vec<UserRow>,
}

/// An element was cancelled: invitations still open or on the waiting list lapse (`expired`),
/// people booked are withdrawn (unless its sessions had begun: then their bookings stay, for a
/// coordinator to mark done, so they can claim for work done), and each of them is told. No
/// account is held: the caller waits for any erasure under way and keeps new ones waiting
/// (`outbox::no_erasure_meanwhile`), so an erased person is seen as gone, and one erased next
/// has what was queued to them deleted.
pub(crate) fn close_cancelled_element(
    conn: &mut DbConn,
    app: &AppState,
    element: &ElementRow,
    cancelled: Cancelled<'_>,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let Cancelled {
        under_way,
        actor,
        staff,
    } = cancelled;
    let mut to_tell = lapse_open_invitations(conn, &element.id, now)?;
    let confirmed = AssignmentStatus::Confirmed.as_str();
    for assignment in queries::assignments_of_element(conn, &element.id)? {
        if assignment.status != confirmed {
            continue;
        }
        // Under way, the booking stays; otherwise told only if this withdrew it.
        let affected = under_way
            || queries::move_assignment(
                conn,
                &assignment.id,
                confirmed,
                AssignmentStatus::Withdrawn.as_str(),
                actor,
                Some("The element was cancelled."),
                now,
            )?;
        if affected {
            to_tell.push((assignment.coproducer_id, "booked"));
        }
    }
    let title = spec_of(element)?.title;
    let project =
        partnership::find_project(conn, &element.project_id)?.ok_or(AppError::NotFound)?;
    let count = |was: &str| to_tell.iter().filter(|(_, w)| *w == was).count();
    let booked = count("booked");
    let summary = |name: &str, for_staff: bool, link: String| Email::ElementCancelledForTeam {
        name: name.to_string(),
        element_title: title.clone(),
        project_title: project.title.clone(),
        withdrawn: if under_way { 0 } else { booked },
        kept: if under_way { booked } else { 0 },
        lapsed: count("invited") + count("waiting"),
        staff: for_staff,
        link,
    };
    let element_link = app
        .settings
        .server
        .link(&format!("/elements/{}", element.id));
    for coordinator in staff.iter().filter(|s| s.id != actor) {
        let email = summary(coordinator.display_name(), true, element_link.clone());
        app.outbox
            .enqueue(conn, &Recipient::user(coordinator), &email)?;
    }
    let project_link = app
        .settings
        .server
        .link(&format!("/projects/{}", project.id));
    for contact_id in partnership::contacts_of(conn, &project.organisation_id)? {
        let Some(contact) = users::find_by_id(conn, &contact_id)?.filter(UserRow::is_active) else {
            continue;
        };
        let email = summary(contact.display_name(), false, project_link.clone());
        app.outbox
            .enqueue(conn, &Recipient::user(&contact), &email)?;
    }
    for (person_id, was) in to_tell {
        let Some(person) = users::find_by_id(conn, &person_id)? else {
            continue;
        };
        if person.status != "active" {
            continue;
        }
        let off = if was == "booked" {
            cancelled_calendar(conn, app, element, now)?
        } else {
            None
        };
        let link = match (was, under_way) {
            ("booked", true) => "/me/claims",
            ("booked", false) => "/me/assignments",
            _ => "/me/invitations",
        };
        app.outbox.enqueue(
            conn,
            &Recipient::user(&person),
            &Email::ElementCancelled {
                name: person.display_name().to_string(),
                element_title: title.clone(),
                was: was.to_string(),
                under_way,
                link: app.settings.server.link(link),
                calendar: off,
            },
        )?;
    }
    Ok(())
}

/// Withdraw from an element: the co-producer from their own assignment, or a coordinator from
/// anyone's. The seat goes to the waiting list in the order people accepted (they are booked
/// and emailed their sessions); coordinators are told, and the person gets a confirmation.
#[utoipa::path(tag = "matching", security(("bearer" = [])), params(("id" = String, Path)), request_body = WithdrawInput, responses(
    (status = 200, body = AssignmentState),
    (status = 404, description = "No such assignment, or not yours", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`invalid_transition`: only a confirmed assignment can be withdrawn; `person_left`: the person deleted their account", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/withdraw")]
pub async fn withdraw(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: ValidJson<WithdrawInput>,
) -> Result<web::Json<AssignmentState>, AppError> {
    let reason = body.0;
    let app = state.clone();
    let view = state
        .db
        .write(move |conn| {
            let found = visible_assignment(conn, &user, &id)?;
            hold_coproducer(conn, &found)?;
            // Accounts before the element, as an erasure takes them (see `users::staff`).
            let staff = users::staff(conn)?;
            let now = Utc::now().naive_utc();
            queries::lock_element(conn, &found.element_id)?;
            // Read again under the lock: it may have changed while we waited.
            let assignment =
                queries::find_assignment(conn, &found.id)?.ok_or(AppError::NotFound)?;
            let confirmed = AssignmentStatus::Confirmed.as_str();
            let withdrawn = AssignmentStatus::Withdrawn;
            if !queries::move_assignment(
                conn,
                &assignment.id,
                confirmed,
                withdrawn.as_str(),
                &user.id,
                reason.as_deref(),
                now,
            )? {
                return Err(cannot_become(&assignment.status, withdrawn));
            }
            let element = partnership::find_element(conn, &assignment.element_id)?
                .ok_or(AppError::NotFound)?;
            let booked = offer_waiting_list(conn, &app, &element, now)?;
            let taken = settle_element(conn, &element, now)?;

            let by_themselves = user.id == assignment.coproducer_id;
            let title = spec_of(&element)?.title;
            let person =
                users::find_by_id(conn, &assignment.coproducer_id)?.ok_or(AppError::NotFound)?;
            let note = reason.clone().unwrap_or_default();
            let off = cancelled_calendar(conn, &app, &element, now)?;
            app.outbox.enqueue(
                conn,
                &Recipient::user(&person),
                &Email::AssignmentWithdrawn {
                    name: person.display_name().to_string(),
                    element_title: title.clone(),
                    by_you: by_themselves,
                    note: note.clone(),
                    link: app.settings.server.link("/me/assignments"),
                    calendar: off,
                },
            )?;
            let still_taking = matches!(
                ElementStatus::parse(&element.status),
                Some(ElementStatus::Open | ElementStatus::Filled)
            );
            for coordinator in staff.iter().filter(|s| s.id != user.id) {
                app.outbox.enqueue(
                    conn,
                    &Recipient::user(coordinator),
                    &Email::SeatFreed {
                        name: coordinator.display_name().to_string(),
                        element_title: title.clone(),
                        who: Mention::of(&person),
                        by_themselves,
                        note: note.clone(),
                        replacements: booked.iter().map(Mention::of).collect(),
                        seats_left: if still_taking {
                            (i64::from(element.people_needed) - taken).max(0)
                        } else {
                            0
                        },
                        link: app
                            .settings
                            .server
                            .link(&format!("/elements/{}", element.id)),
                    },
                )?;
            }
            let mut view = AssignmentState::from(
                queries::find_assignment(conn, &assignment.id)?.ok_or(AppError::NotFound)?,
            );
            if user.has_role(Role::Coordinator) {
                view.booked_from_waiting_list = Some(booked.into_iter().map(|p| p.id).collect());
            }
            Ok(view)
        })
        .await?;
    state.outbox.wake();
    Ok(web::Json(view))
}

/// Coordinators: the work is done. The seat stays used.
#[utoipa::path(tag = "matching", security(("bearer" = [])), params(("id" = String, Path)), request_body = OutcomeInput, responses(
    (status = 200, body = AssignmentState),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`invalid_transition`: only a confirmed assignment can be completed", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/complete")]
pub async fn complete(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: ValidJson<OutcomeInput>,
) -> Result<web::Json<AssignmentState>, AppError> {
    close(state, user, &id, AssignmentStatus::Completed, body.0).await
}

/// Coordinators: the person did not come. The seat stays used (it is not re-offered); to free
/// it for the waiting list, withdraw them instead.
#[utoipa::path(tag = "matching", security(("bearer" = [])), params(("id" = String, Path)), request_body = OutcomeInput, responses(
    (status = 200, body = AssignmentState),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`invalid_transition`: only a confirmed assignment can be marked", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/no-show")]
pub async fn no_show(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: ValidJson<OutcomeInput>,
) -> Result<web::Json<AssignmentState>, AppError> {
    close(state, user, &id, AssignmentStatus::NoShow, body.0).await
}

async fn close(
    state: web::Data<AppState>,
    user: AuthUser,
    id: &str,
    next: AssignmentStatus,
    note: Option<String>,
) -> Result<web::Json<AssignmentState>, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let id = id.to_string();
    let app = state.clone();
    let view = state
        .db
        .write(move |conn| {
            let assignment = visible_assignment(conn, &user, &id)?;
            // Finished work is still recorded for someone who has since deleted their account
            // (the counts need it), without a note about them or an email.
            let still_here = users::hold_if_active(conn, &assignment.coproducer_id)?;
            let note = note.filter(|_| still_here);
            if !queries::move_assignment(
                conn,
                &assignment.id,
                AssignmentStatus::Confirmed.as_str(),
                next.as_str(),
                &user.id,
                note.as_deref(),
                Utc::now().naive_utc(),
            )? {
                let current = queries::find_assignment(conn, &assignment.id)?
                    .map_or(assignment.status, |a| a.status);
                return Err(cannot_become(&current, next));
            }
            if still_here {
                tell_closed(conn, &app, &assignment, next, note.unwrap_or_default())?;
            }
            Ok(AssignmentState::from(
                queries::find_assignment(conn, &assignment.id)?.ok_or(AppError::NotFound)?,
            ))
        })
        .await?;
    state.outbox.wake();
    Ok(web::Json(view))
}

/// Thanks the person for work marked done, or checks in with them after a missed booking.
fn tell_closed(
    conn: &mut DbConn,
    app: &AppState,
    assignment: &AssignmentRow,
    outcome: AssignmentStatus,
    note: String,
) -> Result<(), AppError> {
    let person = users::find_by_id(conn, &assignment.coproducer_id)?.ok_or(AppError::NotFound)?;
    let element =
        partnership::find_element(conn, &assignment.element_id)?.ok_or(AppError::NotFound)?;
    app.outbox.enqueue(
        conn,
        &Recipient::user(&person),
        &Email::AssignmentClosed {
            name: person.display_name().to_string(),
            element_title: spec_of(&element)?.title,
            outcome: outcome.as_str().to_string(),
            note,
            link: app.settings.server.link("/me/assignments"),
        },
    )?;
    // Completed after what changed was written: they hear it too.
    if outcome == AssignmentStatus::Completed
        && let Some(written) = partnership::outcome_of(conn, &element.id)?
    {
        let titles = Titles::of(conn, &element)?;
        tell_what_changed(conn, app, &person.id, &titles, &written)?;
    }
    Ok(())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AssignmentStep {
    /// Absent for the booking itself.
    pub from: Option<String>,
    pub to: String,
    /// Who made the change: shown to coordinators, and to the co-producer for their own steps
    /// and the service's (`service`: a booking from the waiting list).
    pub actor_id: Option<String>,
    pub at: DateTime<Utc>,
    pub note: Option<String>,
}

/// Every change of an assignment: who, when and why, oldest first. For the co-producer and
/// coordinators.
#[utoipa::path(tag = "matching", security(("bearer" = [])), params(("id" = String, Path), PageQuery), responses(
    (status = 200, body = Page<AssignmentStep>),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/history")]
pub async fn history(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    page: Query<PageQuery>,
) -> Result<web::Json<Page<AssignmentStep>>, AppError> {
    let page = state
        .db
        .read(move |conn| {
            let assignment = visible_assignment(conn, &user, &id)?;
            let coordinator = user.has_role(Role::Coordinator);
            let steps = queries::assignment_events(conn, &assignment.id)?;
            Page::of(steps, &page, |(id, .., at)| step_cursor(*at, id))?.try_map(
                |(_, from, to, actor, note, at)| {
                    Ok::<_, AppError>(AssignmentStep {
                        from,
                        to,
                        actor_id: (coordinator || actor == user.id || actor == SERVICE_ACTOR)
                            .then_some(actor),
                        at: at.and_utc(),
                        note,
                    })
                },
            )
        })
        .await?;
    Ok(web::Json(page))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MyAssignment {
    pub id: String,
    pub element_id: String,
    pub element_title: String,
    /// `confirmed`, `completed`, `withdrawn` or `no_show`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    /// When the status last changed.
    pub updated_at: DateTime<Utc>,
    /// For work you completed: what changed because of it, once it is written.
    pub what_changed: Option<WhatChangedView>,
}

/// Your assignments, every status, oldest first.
#[utoipa::path(tag = "me", security(("bearer" = [])), params(PageQuery), responses((status = 200, body = Page<MyAssignment>)))]
#[get("/assignments")]
pub async fn my_assignments(
    state: web::Data<AppState>,
    user: AuthUser,
    page: Query<PageQuery>,
) -> Result<web::Json<Page<MyAssignment>>, AppError> {
    let page = state
        .db
        .read(move |conn| {
            let rows = queries::assignments_of_user(conn, &user.id)?;
            Page::of(rows, &page, |a| a.id.clone())?.try_map(|a| {
                let element =
                    partnership::find_element(conn, &a.element_id)?.ok_or(AppError::NotFound)?;
                let what_changed = if a.status == AssignmentStatus::Completed.as_str() {
                    partnership::outcome_of(conn, &a.element_id)?.map(WhatChangedView::from)
                } else {
                    None
                };
                Ok(MyAssignment {
                    id: a.id,
                    element_id: a.element_id,
                    element_title: spec_of(&element)?.title,
                    status: a.status,
                    created_at: a.created_at.and_utc(),
                    updated_at: a.updated_at.and_utc(),
                    what_changed,
                })
            })
        })
        .await?;
    Ok(web::Json(page))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssignmentView {
    pub id: String,
    /// Coordinators only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coproducer_id: Option<String>,
    pub display_name: String,
    pub status: String,
    /// For confirmed people, with what has been arranged (partners see when, not the note).
    /// Partners see them only when the person agreed to share their access needs with project
    /// teams.
    pub adjustments: Option<Vec<Adjustment>>,
}

const ASSIGNMENTS_ROUTE: &str = "GET /api/v1/elements/{id}/assignments";

/// Who is on an element. Coordinators see every assignment with its status (confirmed,
/// completed, withdrawn, no show); the project's partners see the people who are booked or
/// did the work (confirmed and completed), by display name, with the access adjustments of
/// confirmed people who agreed to share them.
#[utoipa::path(tag = "matching", security(("bearer" = [])), params(("id" = String, Path), PageQuery), responses(
    (status = 200, body = Page<AssignmentView>),
    (status = 403, description = "Coordinators and the project's partners only", body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/assignments")]
pub async fn element_assignments(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    page: Query<PageQuery>,
) -> Result<web::Json<Page<AssignmentView>>, AppError> {
    user.require_any(&[Role::Coordinator, Role::Partner])?;
    let app = state.clone();
    let page = state
        .db
        .write(move |conn| {
            let row = partnership::find_element(conn, &id)?.ok_or(AppError::NotFound)?;
            visible_project(conn, &user, &row.project_id)?;
            let coordinator = user.has_role(Role::Coordinator);
            let element = load_element(conn, &row)?;
            let shown: Vec<_> = queries::assignments_of_element(conn, &row.id)?
                .into_iter()
                .filter(|assignment| {
                    coordinator
                        || matches!(
                            AssignmentStatus::parse(&assignment.status),
                            Some(AssignmentStatus::Confirmed | AssignmentStatus::Completed)
                        )
                })
                .collect();
            let page = Page::of(shown, &page, |a| a.id.clone())?;
            let people: Vec<String> = page.items.iter().map(|a| a.coproducer_id.clone()).collect();
            let passports = queries::passports_of(conn, &people)?;
            page.try_map(|assignment| {
                let status = AssignmentStatus::parse(&assignment.status);
                let person = users::find_by_id(conn, &assignment.coproducer_id)?
                    .ok_or(AppError::NotFound)?;
                // Adjustments are for people still coming; nobody else's needs are decrypted.
                let going_ahead = ElementStatus::going_ahead().contains(&row.status.as_str());
                let adjustments = if status == Some(AssignmentStatus::Confirmed) && going_ahead {
                    let passport = passports.iter().find(|(owner, ..)| *owner == person.id);
                    match passport.filter(|(_, _, share)| coordinator || *share) {
                        Some((owner, ciphertext, _)) => {
                            audit::record_read(
                                conn,
                                &user.id,
                                owner,
                                Field::AccessPassport,
                                ASSIGNMENTS_ROUTE,
                            )?;
                            let passport: AccessPassport = app
                                .cipher
                                .decrypt_json(owner, Field::AccessPassport, ciphertext)
                                .map_err(|e| AppError::Internal(e.into()))?;
                            let needs: Vec<String> =
                                passport.needs.into_iter().map(|n| n.code).collect();
                            let mut plan = plan_of(conn, &app, &assignment.id, &needs, &element)?;
                            // The note is written for the person; partners see that it is done.
                            if !coordinator {
                                for arranged in plan.iter_mut().filter_map(|a| a.arranged.as_mut())
                                {
                                    arranged.note = None;
                                }
                            }
                            Some(plan)
                        }
                        None if coordinator => Some(Vec::new()),
                        None => None,
                    }
                } else {
                    None
                };
                Ok(AssignmentView {
                    id: assignment.id,
                    coproducer_id: coordinator.then_some(person.id.clone()),
                    display_name: person.display_name().to_string(),
                    status: assignment.status,
                    adjustments,
                })
            })
        })
        .await?;
    Ok(web::Json(page))
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn the_host_comes_from_the_public_url() {
        assert_eq!(host_of("https://coproduce.example"), "coproduce.example");
        assert_eq!(
            host_of("http://127.0.0.1:8080/base?x=1"),
            "127.0.0.1",
            "port and path dropped"
        );
        assert_eq!(
            host_of("https://user@coproduce.example:8443/"),
            "coproduce.example"
        );
    }
}
