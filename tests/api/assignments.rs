//! Assignments after booking: the calendar attached to the booking email, withdrawing (which
//! offers the seat to the waiting list in order), completing, no-shows, and who sees what.

use base64::Engine;
use chrono::{Datelike, Duration, Utc};
use coproduce::domain::role::Role;
use coproduce::settings::EmailTransport;
use diesel::RunQueryDsl;
use diesel::sql_types::{Nullable, Text};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::matching::{accept, first_element, fitting_profile, invitation_id, invite};
use crate::partners::{coproducer, patch_element, project};
use crate::recruitment::noon_in;
use crate::smtp_sink::{Mode, SmtpSink};

/// An element with three seats, `booked` people confirmed on it, `waiting` more on its
/// waiting list (in that order of accepting), and `pending` invited who have not answered.
pub struct Scene {
    pub coordinator: TestUser,
    pub partner: TestUser,
    pub element: String,
    /// (person, assignment id)
    pub booked: Vec<(TestUser, String)>,
    /// (person, invitation id)
    pub waiting: Vec<(TestUser, String)>,
    /// (person, invitation id)
    pub pending: Vec<(TestUser, String)>,
}

pub async fn scene(app: &TestApp, booked: usize, waiting: usize, pending: usize) -> Scene {
    let (coordinator, partner, project) = project(app).await;
    let element = first_element(&project);
    let mut people = Vec::new();
    for _ in 0..booked + waiting + pending {
        people.push(coproducer(app, fitting_profile()).await);
    }
    let ids: Vec<&str> = people.iter().map(|p| p.id.as_str()).collect();
    let invitations: Vec<Value> = invite(app, &coordinator, &element, &ids)
        .await
        .json()
        .await
        .unwrap();
    let mut scene = Scene {
        coordinator,
        partner,
        element,
        booked: Vec::new(),
        waiting: Vec::new(),
        pending: Vec::new(),
    };
    for (i, (person, invitation)) in people.into_iter().zip(&invitations).enumerate() {
        let invitation_id = invitation["id"].as_str().unwrap().to_string();
        if i >= booked + waiting {
            scene.pending.push((person, invitation_id));
            continue;
        }
        let result: Value = accept(app, &person, &invitation_id)
            .await
            .json()
            .await
            .unwrap();
        if i < booked {
            assert_eq!(result["status"], "accepted", "{result}");
            let assignment = result["assignment"]["id"].as_str().unwrap().to_string();
            scene.booked.push((person, assignment));
        } else {
            assert_eq!(result["status"], "waitlisted", "{result}");
            scene.waiting.push((person, invitation_id));
        }
    }
    scene
}

pub async fn act(
    app: &TestApp,
    who: &TestUser,
    assignment: &str,
    action: &str,
    body: Value,
) -> reqwest::Response {
    app.post_as(who, &format!("/api/v1/assignments/{assignment}/{action}"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub async fn get(app: &TestApp, who: &TestUser, path: &str) -> Value {
    let response = app.get_as(who, path).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// When the test element's one session starts (`partners::element`).
fn session_start() -> chrono::NaiveDateTime {
    (Utc::now() + Duration::days(40))
        .date_naive()
        .and_hms_opt(10, 0, 0)
        .unwrap()
}

async fn element_status(app: &TestApp, scene: &Scene) -> String {
    let assignments = format!("/api/v1/elements/{}/assignments", scene.element);
    get(app, &scene.coordinator, &assignments).await;
    let id = scene.element.clone();
    app.state
        .db
        .read(move |conn| {
            Ok(
                coproduce::db::queries::partnership::find_element(conn, &id)?
                    .unwrap()
                    .status,
            )
        })
        .await
        .unwrap()
}

/// (DTSTART, DTEND) of each VEVENT, after unfolding.
fn event_times(ics: &str) -> Vec<(String, String)> {
    let unfolded = ics.replace("\r\n ", "");
    let mut events = Vec::new();
    let mut start = None;
    for line in unfolded.split("\r\n") {
        if let Some(value) = line.strip_prefix("DTSTART:") {
            start = Some(value.to_string());
        }
        if let Some(value) = line.strip_prefix("DTEND:") {
            events.push((start.take().unwrap(), value.to_string()));
        }
    }
    events
}

/// A scene whose `booked` people (all its places) completed their bookings, and whose element is
/// completed.
async fn finished(app: &TestApp, people: usize) -> Scene {
    let scene = scene(app, people, 0, 0).await;
    let change = |body: Value| patch_element(app, &scene.coordinator, &scene.element, body);
    assert_eq!(change(json!({"people_needed": people})).await.status(), 200);
    assert_eq!(change(json!({"status": "in_progress"})).await.status(), 200);
    for (_, assignment) in &scene.booked {
        let completed = act(app, &scene.coordinator, assignment, "complete", json!({})).await;
        assert_eq!(completed.status(), 200);
    }
    assert_eq!(change(json!({"status": "completed"})).await.status(), 200);
    scene
}

async fn write_what_changed(
    app: &TestApp,
    who: &TestUser,
    element: &str,
    body: &Value,
) -> reqwest::Response {
    crate::people::put(
        app,
        who,
        &format!("/api/v1/elements/{element}/what-changed"),
        body,
    )
    .await
}

/// Two one-place elements at different times: A booked on the first and waiting for the second,
/// B the other way round. Returns (A, B, A's booking, B's booking).
async fn crossed_waiting_lists(app: &TestApp) -> (TestUser, TestUser, String, String) {
    let (coordinator, _, first) = project(app).await;
    let (_, _, second) = project(app).await;
    let (first, second) = (first_element(&first), first_element(&second));
    let later = (Utc::now() + Duration::days(41))
        .date_naive()
        .and_hms_opt(10, 0, 0)
        .unwrap()
        .and_utc();
    let sessions = json!([{"starts_at": later.to_rfc3339(), "ends_at": (later + Duration::hours(2)).to_rfc3339()}]);
    assert_eq!(
        patch_element(app, &coordinator, &first, json!({"people_needed": 1}))
            .await
            .status(),
        200
    );
    assert_eq!(
        patch_element(
            app,
            &coordinator,
            &second,
            json!({"people_needed": 1, "sessions": sessions})
        )
        .await
        .status(),
        200
    );
    let a = coproducer(app, fitting_profile()).await;
    let b = coproducer(app, fitting_profile()).await;
    let a_first = invitation_id(invite(app, &coordinator, &first, &[&a.id]).await).await;
    let b_second = invitation_id(invite(app, &coordinator, &second, &[&b.id]).await).await;
    let b_first = invitation_id(invite(app, &coordinator, &first, &[&b.id]).await).await;
    let a_second = invitation_id(invite(app, &coordinator, &second, &[&a.id]).await).await;
    let booked = |result: Value| result["assignment"]["id"].as_str().unwrap().to_string();
    let a_booked = booked(accept(app, &a, &a_first).await.json().await.unwrap());
    let b_booked = booked(accept(app, &b, &b_second).await.json().await.unwrap());
    for (who, invitation) in [(&b, &b_first), (&a, &a_second)] {
        let waiting: Value = accept(app, who, invitation).await.json().await.unwrap();
        assert_eq!(waiting["status"], "waitlisted", "{waiting}");
    }
    (a, b, a_booked, b_booked)
}

fn ics_time(at: chrono::DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

both_backends! {
    async fn a_booking_email_carries_a_calendar_with_one_event_per_session(app) {
        let (coordinator, _, project) = project(&app).await;
        let element = first_element(&project);
        let day = (Utc::now() + Duration::days(40)).date_naive();
        let first = day.and_hms_opt(10, 0, 0).unwrap().and_utc();
        let second = first + Duration::days(7);
        let sessions = json!([
            {"starts_at": first.to_rfc3339(), "ends_at": (first + Duration::hours(2)).to_rfc3339()},
            {"starts_at": second.to_rfc3339(), "ends_at": (second + Duration::minutes(90)).to_rfc3339()},
        ]);
        let response = app.patch_as(&coordinator, &format!("/api/v1/elements/{element}")).json(&json!({"sessions": sessions})).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let person = coproducer(&app, fitting_profile()).await;
        let invitations: Vec<Value> = invite(&app, &coordinator, &element, &[&person.id]).await.json().await.unwrap();
        accept(&app, &person, invitations[0]["id"].as_str().unwrap()).await;
        app.drain_outbox().await;

        let email = app.emails_to(&person.email).pop().unwrap();
        assert_eq!(email.subject, "You are booked: Peer interviews");
        assert!(email.text.contains("calendar file"), "{}", email.text);
        let attachment = email.attachment.expect("the booking has a calendar");
        assert_eq!(attachment.filename, "peer-interviews.ics");
        assert_eq!(attachment.content_type, "text/calendar; charset=utf-8; method=PUBLISH");
        let ics = String::from_utf8(attachment.bytes).unwrap();
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:"), "{ics}");
        assert!(ics.contains("METHOD:PUBLISH\r\n"));
        assert_eq!(ics.matches("BEGIN:VEVENT\r\n").count(), 2);
        assert_eq!(event_times(&ics), [
            (ics_time(first), ics_time(first + Duration::hours(2))),
            (ics_time(second), ics_time(second + Duration::minutes(90))),
        ]);
        assert!(ics.contains(&format!("UID:{element}-1@127.0.0.1\r\n")), "{ics}");
        assert!(ics.contains("SUMMARY:Peer interviews\r\n"));
        assert!(ics.contains("LOCATION:Leeds Central Library (or online)\r\n"), "hybrid: {ics}");
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "{line}");
        }
    }

    async fn a_summer_session_is_written_in_uk_time_and_its_calendar_event_in_utc(app) {
        let (coordinator, _, project) = project(&app).await;
        let element = first_element(&project);
        let july = chrono::NaiveDate::from_ymd_opt(Utc::now().year() + 1, 7, 6).unwrap();
        let start = july.and_hms_opt(9, 0, 0).unwrap().and_utc();
        let sessions = json!([{"starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(2)).to_rfc3339()}]);
        assert_eq!(app.patch_as(&coordinator, &format!("/api/v1/elements/{element}")).json(&json!({"sessions": sessions})).send().await.unwrap().status(), 200);
        let person = coproducer(&app, fitting_profile()).await;
        let invitations: Vec<Value> = invite(&app, &coordinator, &element, &[&person.id]).await.json().await.unwrap();
        accept(&app, &person, invitations[0]["id"].as_str().unwrap()).await;
        app.drain_outbox().await;
        let emails = app.emails_to(&person.email);
        for email in &emails {
            assert!(email.text.contains("10:00 to 12:00 UK time"), "{}: {}", email.subject, email.text);
        }
        let ics = String::from_utf8(emails.into_iter().last().unwrap().attachment.expect("a calendar").bytes).unwrap();
        assert_eq!(event_times(&ics), [(ics_time(start), ics_time(start + Duration::hours(2)))]);
    }

    async fn a_waiting_list_email_has_no_calendar(app) {
        let scene = scene(&app, 3, 1, 0).await;
        app.drain_outbox().await;
        let email = app.emails_to(&scene.waiting[0].0.email).pop().unwrap();
        assert_eq!(email.subject, "You are on the waiting list: Peer interviews");
        assert_eq!(email.attachment, None);
    }

    async fn a_withdrawal_books_the_first_person_waiting_and_the_second_still_waits(app) {
        let scene = scene(&app, 3, 2, 0).await;
        app.drain_outbox().await;
        let (leaving, assignment) = &scene.booked[1];
        let response = act(&app, leaving, assignment, "withdraw", json!({"reason": "I have a hospital appointment that week."})).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "withdrawn");
        assert!(body.get("booked_from_waiting_list").is_none(), "co-producers are not told who");

        let (first, _) = &scene.waiting[0];
        let mine: Vec<Value> = get(&app, first, "/api/v1/me/assignments").await["items"].as_array().unwrap().clone();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0]["status"], "confirmed");
        assert_eq!(mine[0]["element_title"], "Peer interviews");
        let (second, _) = &scene.waiting[1];
        let theirs: Vec<Value> = get(&app, second, "/api/v1/me/invitations").await["items"].as_array().unwrap().clone();
        assert_eq!(theirs[0]["status"], "waitlisted");
        assert!(get(&app, second, "/api/v1/me/assignments").await["items"].as_array().unwrap().is_empty());
        assert_eq!(element_status(&app, &scene).await, "filled");

        app.drain_outbox().await;
        let booked = app.emails_to(&first.email).pop().unwrap();
        assert_eq!(booked.subject, "A place came up and you are booked: Peer interviews");
        assert!(booked.text.contains("Withdraw"), "how to withdraw: {}", booked.text);
        let calendar = String::from_utf8(booked.attachment.unwrap().bytes).unwrap();
        assert_eq!(calendar.matches("BEGIN:VEVENT").count(), 1);
        let to_coordinator = app.emails_to(&scene.coordinator.email).pop().unwrap();
        assert_eq!(to_coordinator.subject, "A place changed hands: Peer interviews");
        assert!(to_coordinator.text.contains("hospital appointment"), "{}", to_coordinator.text);
        let to_leaver = app.emails_to(&leaving.email).pop().unwrap();
        assert_eq!(to_leaver.subject, "You have withdrawn from Peer interviews");
        assert_eq!(app.emails_to(&second.email).len(), 2, "invitation and waiting list only");
    }

    async fn a_freed_place_passes_over_someone_waiting_who_has_since_booked_clashing_work(app) {
        let scene = scene(&app, 3, 2, 0).await;
        let (busy, busy_invitation) = &scene.waiting[0];
        let (coordinator, _, elsewhere) = project(&app).await;
        let invited = invite(&app, &coordinator, &first_element(&elsewhere), &[&busy.id]).await;
        let other: Vec<Value> = invited.json().await.unwrap();
        assert_eq!(accept(&app, busy, other[0]["id"].as_str().unwrap()).await.status(), 200, "the same session time, booked elsewhere");

        let (leaving, assignment) = &scene.booked[0];
        assert_eq!(act(&app, leaving, assignment, "withdraw", json!({})).await.status(), 200);
        let (next, _) = &scene.waiting[1];
        let theirs: Vec<Value> = get(&app, next, "/api/v1/me/assignments").await["items"].as_array().unwrap().clone();
        assert_eq!(theirs.len(), 1, "the next person waiting who can take it");
        let invitations = get(&app, busy, "/api/v1/me/invitations").await;
        let waiting = invitations["items"].as_array().unwrap().iter().find(|i| i["id"] == busy_invitation.as_str()).unwrap();
        assert_eq!(waiting["status"], "waitlisted", "keeps their place in line");
        assert_eq!(get(&app, busy, "/api/v1/me/assignments").await["items"].as_array().unwrap().len(), 1, "only the work they booked");
    }

    async fn starting_an_element_closes_its_waiting_list_and_open_invitations_and_tells_each_person(app) {
        let scene = scene(&app, 3, 1, 1).await;
        app.drain_outbox().await;
        assert_eq!(patch_element(&app, &scene.coordinator, &scene.element, json!({"status": "in_progress"})).await.status(), 200);
        app.drain_outbox().await;
        for (person, invitation) in scene.waiting.iter().chain(&scene.pending) {
            let theirs = get(&app, person, "/api/v1/me/invitations").await;
            let closed = theirs["items"].as_array().unwrap().iter().find(|i| i["id"] == invitation.as_str()).unwrap();
            assert_eq!(closed["status"], "expired");
            let told = app.emails_to(&person.email).pop().unwrap();
            assert_eq!(told.subject, "An update on Peer interviews");
            assert!(told.text.contains("has started, so it is not taking anyone else"), "{}", told.text);
        }
        let waiting = app.emails_to(&scene.waiting[0].0.email).pop().unwrap();
        assert!(waiting.text.contains("You are not on its waiting list any more"), "{}", waiting.text);
        let pending = app.emails_to(&scene.pending[0].0.email).pop().unwrap();
        assert!(pending.text.contains("you do not need to answer it"), "{}", pending.text);
        for (person, _) in &scene.booked {
            assert!(app.emails_to(&person.email).iter().all(|e| e.subject != "An update on Peer interviews"), "the people booked carry on");
        }
    }

    async fn accepting_an_invitation_closed_because_the_element_started_says_so(app) {
        let scene = scene(&app, 3, 0, 1).await;
        assert_eq!(patch_element(&app, &scene.coordinator, &scene.element, json!({"status": "in_progress"})).await.status(), 200);
        let (person, invitation) = &scene.pending[0];
        let body = problem(accept(&app, person, invitation).await).await;
        assert_eq!(body["code"], "element_closed");
        assert!(body["detail"].as_str().unwrap().contains("has started"), "{body}");
        assert!(get(&app, person, "/api/v1/me/assignments").await["items"].as_array().unwrap().is_empty());
    }

    async fn crossing_withdrawals_with_crossing_waiting_lists_both_go_through(app) {
        for _ in 0..6 {
            let (a, b, a_booked, b_booked) = crossed_waiting_lists(&app).await;
            let (x, y) = tokio::join!(
                act(&app, &a, &a_booked, "withdraw", json!({})),
                act(&app, &b, &b_booked, "withdraw", json!({})),
            );
            assert_eq!((x.status().as_u16(), y.status().as_u16()), (200, 200));
        }
    }

    async fn a_deletion_crossing_a_withdrawal_with_crossing_waiting_lists_both_go_through(app) {
        for _ in 0..6 {
            let (a, b, _, b_booked) = crossed_waiting_lists(&app).await;
            let (x, y) = tokio::join!(
                app.delete_as(&a, "/api/v1/me").send(),
                act(&app, &b, &b_booked, "withdraw", json!({})),
            );
            let deleted = x.unwrap().status().as_u16();
            assert!(deleted < 300, "{deleted}");
            assert_eq!(y.status(), 200);
        }
    }

    async fn the_people_who_did_the_work_hear_what_changed_once_the_element_is_completed(app) {
        let scene = finished(&app, 2).await;
        let (easy_reader, _) = &scene.booked[1];
        let chosen = crate::people::put(&app, easy_reader, "/api/v1/me/notification-preferences", &json!({"format": "easy_read", "digest": false})).await;
        assert_eq!(chosen.status(), 200);
        app.drain_outbox().await;
        let body = json!({"summary": "The council now answers every call within two days.", "easy_read": "The council now calls back in 2 days."});
        let written = write_what_changed(&app, &scene.partner, &scene.element, &body).await;
        assert_eq!(written.status(), 201);
        app.drain_outbox().await;
        let (standard_reader, _) = &scene.booked[0];
        let told = app.emails_to(&standard_reader.email).pop().unwrap();
        assert_eq!(told.subject, "What your work on Peer interviews changed");
        assert!(told.text.contains("answers every call within two days"), "{}", told.text);
        let easy = app.emails_to(&easy_reader.email).pop().unwrap();
        assert!(easy.text.contains("calls back in 2 days"), "the easy-read words: {}", easy.text);
        let mine = get(&app, standard_reader, "/api/v1/me/assignments").await;
        assert_eq!(mine["items"][0]["what_changed"]["summary"], "The council now answers every call within two days.");
    }

    async fn someone_whose_work_is_marked_done_after_what_changed_was_written_hears_it_too(app) {
        let scene = scene(&app, 2, 0, 0).await;
        let change = |body: Value| patch_element(&app, &scene.coordinator, &scene.element, body);
        assert_eq!(change(json!({"people_needed": 2})).await.status(), 200);
        assert_eq!(change(json!({"status": "in_progress"})).await.status(), 200);
        let ((first, first_booking), (later, later_booking)) = (&scene.booked[0], &scene.booked[1]);
        assert_eq!(act(&app, &scene.coordinator, first_booking, "complete", json!({})).await.status(), 200);
        assert_eq!(change(json!({"status": "completed"})).await.status(), 200);
        let body = json!({"summary": "The council changed its call times."});
        assert_eq!(write_what_changed(&app, &scene.partner, &scene.element, &body).await.status(), 201);
        app.drain_outbox().await;
        let heard = |who: &TestUser| app.emails_to(&who.email).iter().filter(|e| e.subject.starts_with("What your work")).count();
        assert_eq!((heard(first), heard(later)), (1, 0));
        assert_eq!(act(&app, &scene.coordinator, later_booking, "complete", json!({})).await.status(), 200);
        app.drain_outbox().await;
        assert_eq!((heard(first), heard(later)), (1, 1));
    }

    async fn correcting_what_changed_tells_nobody_again(app) {
        let scene = finished(&app, 1).await;
        let first = json!({"summary": "The council changed its call times."});
        assert_eq!(write_what_changed(&app, &scene.coordinator, &scene.element, &first).await.status(), 201);
        app.drain_outbox().await;
        let (person, _) = &scene.booked[0];
        let emails = app.emails_to(&person.email).len();
        let corrected = json!({"summary": "The council changed its opening hours."});
        let response = write_what_changed(&app, &scene.coordinator, &scene.element, &corrected).await;
        assert_eq!(response.status(), 200);
        app.drain_outbox().await;
        assert_eq!(app.emails_to(&person.email).len(), emails);
        let read: Value = app.get_as(&scene.partner, &format!("/api/v1/elements/{}/what-changed", scene.element)).send().await.unwrap().json().await.unwrap();
        assert_eq!(read["summary"], "The council changed its opening hours.");
    }

    async fn coordinators_are_reminded_to_tell_people_what_changed_once_a_day_until_someone_does(app) {
        let scene = finished(&app, 1).await;
        let other_coordinator = app.signed_in(Role::Coordinator).await;
        let remind = |days: i64| coproduce::jobs::send_what_changed_reminders(&app.state, noon_in(days));
        assert!(!remind(13).await.unwrap(), "not before 14 days");
        assert!(remind(15).await.unwrap());
        assert!(!remind(15).await.unwrap(), "once a day");
        app.drain_outbox().await;
        let reminder = app.emails_to(&other_coordinator.email).pop().unwrap();
        assert_eq!(reminder.subject, "Tell the people who did the work what changed");
        assert!(reminder.text.contains("- Peer interviews ("), "{}", reminder.text);
        assert_eq!(write_what_changed(&app, &scene.partner, &scene.element, &json!({"summary": "The council changed its call times."})).await.status(), 201);
        assert!(!remind(16).await.unwrap(), "nothing left to tell");
    }

    async fn the_what_changed_reminder_stops_after_sixty_days(app) {
        finished(&app, 1).await;
        let remind = |days: i64| coproduce::jobs::send_what_changed_reminders(&app.state, noon_in(days));
        assert!(remind(14 + 59).await.unwrap());
        assert!(!remind(14 + 61).await.unwrap(), "not named for ever");
    }

    async fn coordinators_are_reminded_of_bookings_left_open_after_the_last_session(app) {
        // The element's one session ends at 12:00 UTC, 40 days ahead.
        let scene = scene(&app, 2, 0, 0).await;
        let other_coordinator = app.signed_in(Role::Coordinator).await;
        let remind = |days: i64| coproduce::jobs::send_bookings_to_close_reminders(&app.state, noon_in(days));
        assert!(!remind(41).await.unwrap(), "not before two days");
        assert!(remind(43).await.unwrap());
        assert!(!remind(43).await.unwrap(), "once a day");
        app.drain_outbox().await;
        let reminder = app.emails_to(&other_coordinator.email).pop().unwrap();
        assert_eq!(reminder.subject, "Bookings to mark as done or missed");
        assert!(reminder.text.contains("- Peer interviews (Housing support review): 2 bookings, last session on "), "{}", reminder.text);
        let (_, first) = &scene.booked[0];
        let (_, second) = &scene.booked[1];
        assert_eq!(act(&app, &scene.coordinator, first, "complete", json!({})).await.status(), 200);
        assert_eq!(act(&app, &scene.coordinator, second, "no-show", json!({})).await.status(), 200);
        assert!(!remind(44).await.unwrap(), "nothing left open");
    }

    async fn coordinators_are_reminded_of_work_starting_soon_that_still_needs_people(app) {
        // Three places, one booked; the one session starts 40 days ahead.
        scene(&app, 1, 0, 0).await;
        let other_coordinator = app.signed_in(Role::Coordinator).await;
        let remind = |days: i64| coproduce::jobs::send_elements_short_reminders(&app.state, noon_in(days));
        assert!(!remind(30).await.unwrap(), "ten days away");
        assert!(remind(34).await.unwrap());
        assert!(!remind(34).await.unwrap(), "once a day");
        app.drain_outbox().await;
        let reminder = app.emails_to(&other_coordinator.email).pop().unwrap();
        assert_eq!(reminder.subject, "Work starting soon still needs people");
        assert!(reminder.text.contains("- Peer interviews (Housing support review): 2 of 3 places free, first session on "), "{}", reminder.text);
        assert!(!remind(41).await.unwrap(), "begun");
    }

    async fn partners_hear_once_when_every_place_on_their_element_is_taken(app) {
        let scene = scene(&app, 3, 0, 0).await;
        let tell = || coproduce::jobs::tell_partners_of_filled_elements(&app.state, Utc::now().naive_utc());
        assert_eq!(tell().await.unwrap(), 1);
        assert_eq!(tell().await.unwrap(), 0, "once");
        app.drain_outbox().await;
        let told = app.emails_to(&scene.partner.email).pop().unwrap();
        assert_eq!(told.subject, "Every place is taken: Peer interviews");
        assert!(told.text.contains("3 co-producers are booked."), "{}", told.text);

        // A place frees and is taken again: they hear again.
        let (leaving, assignment) = &scene.booked[0];
        assert_eq!(act(&app, leaving, assignment, "withdraw", json!({})).await.status(), 200);
        assert_eq!(tell().await.unwrap(), 0, "not full now");
        assert_eq!(patch_element(&app, &scene.coordinator, &scene.element, json!({"people_needed": 2})).await.status(), 200);
        assert_eq!(tell().await.unwrap(), 1, "full again");
    }

    async fn partners_hear_of_an_element_that_filled_and_started_between_two_runs(app) {
        let scene = scene(&app, 3, 0, 0).await;
        assert_eq!(patch_element(&app, &scene.coordinator, &scene.element, json!({"status": "in_progress"})).await.status(), 200);
        assert_eq!(coproduce::jobs::tell_partners_of_filled_elements(&app.state, Utc::now().naive_utc()).await.unwrap(), 1);
        app.drain_outbox().await;
        assert!(app.emails_to(&scene.partner.email).iter().any(|e| e.subject == "Every place is taken: Peer interviews"));
    }

    async fn partners_are_not_told_every_place_is_taken_when_it_is_not(app) {
        let scene = scene(&app, 1, 0, 0).await;
        assert_eq!(patch_element(&app, &scene.coordinator, &scene.element, json!({"status": "filled"})).await.status(), 200);
        coproduce::jobs::tell_partners_of_filled_elements(&app.state, Utc::now().naive_utc()).await.unwrap();
        app.drain_outbox().await;
        assert!(app.emails_to(&scene.partner.email).iter().all(|e| !e.subject.starts_with("Every place is taken")), "one of three places is taken");
    }

    async fn partners_are_not_told_of_an_element_still_short_of_people(app) {
        scene(&app, 2, 0, 0).await;
        assert_eq!(coproduce::jobs::tell_partners_of_filled_elements(&app.state, Utc::now().naive_utc()).await.unwrap(), 0);
    }

    async fn work_with_every_place_taken_is_not_named_as_short(app) {
        scene(&app, 3, 0, 0).await;
        assert!(!coproduce::jobs::send_elements_short_reminders(&app.state, noon_in(34)).await.unwrap());
    }

    async fn the_bookings_to_close_reminder_stops_after_sixty_days(app) {
        scene(&app, 1, 0, 0).await;
        let remind = |days: i64| coproduce::jobs::send_bookings_to_close_reminders(&app.state, noon_in(days));
        assert!(remind(42 + 59).await.unwrap());
        assert!(!remind(42 + 61).await.unwrap(), "not named for ever");
    }

    async fn people_booked_are_reminded_of_each_session_once_two_days_before(app) {
        let scene = scene(&app, 1, 0, 0).await;
        let (person, _) = &scene.booked[0];
        let start = session_start();
        let remind = |at| coproduce::jobs::send_session_reminders(&app.state, at);
        assert_eq!(remind(start - Duration::hours(49)).await.unwrap(), 0, "not yet");
        assert_eq!(remind(start - Duration::hours(47)).await.unwrap(), 1);
        assert_eq!(remind(start - Duration::hours(46)).await.unwrap(), 0, "once");
        app.drain_outbox().await;
        let reminder = app.emails_to(&person.email).pop().unwrap();
        assert!(reminder.subject.starts_with("Reminder: Peer interviews, ") && reminder.subject.ends_with("UK time"), "{}", reminder.subject);
        assert!(reminder.text.contains("You can come in person to Leeds Central Library, or join online."), "{}", reminder.text);
        assert!(reminder.text.contains("never held against you"), "{}", reminder.text);
    }

    async fn someone_booked_within_two_days_of_a_session_gets_no_separate_reminder(app) {
        let (coordinator, _, project) = project(&app).await;
        let soon = Utc::now() + Duration::hours(24);
        let mut body = crate::partners::element("Focus group");
        body["sessions"] = json!([{"starts_at": soon.to_rfc3339(), "ends_at": (soon + Duration::hours(2)).to_rfc3339()}]);
        let added: Value = app.post_as(&coordinator, &format!("/api/v1/projects/{}/elements", project["id"].as_str().unwrap())).json(&body).send().await.unwrap().json().await.unwrap();
        let person = coproducer(&app, fitting_profile()).await;
        let invited: Vec<Value> = invite(&app, &coordinator, added["id"].as_str().unwrap(), &[&person.id]).await.json().await.unwrap();
        assert_eq!(accept(&app, &person, invited[0]["id"].as_str().unwrap()).await.status(), 200);
        assert_eq!(coproduce::jobs::send_session_reminders(&app.state, Utc::now().naive_utc()).await.unwrap(), 0, "the booking email was the reminder");
    }

    async fn people_who_withdrew_are_not_reminded(app) {
        let scene = scene(&app, 2, 0, 0).await;
        let (leaving, assignment) = &scene.booked[0];
        assert_eq!(act(&app, leaving, assignment, "withdraw", json!({})).await.status(), 200);
        let (staying, _) = &scene.booked[1];
        assert_eq!(coproduce::jobs::send_session_reminders(&app.state, session_start() - Duration::hours(47)).await.unwrap(), 1);
        app.drain_outbox().await;
        assert!(app.emails_to(&leaving.email).iter().all(|e| !e.subject.starts_with("Reminder")));
        assert!(app.emails_to(&staying.email).iter().any(|e| e.subject.starts_with("Reminder")));
    }

    async fn nobody_is_reminded_of_a_session_of_an_element_cancelled_under_way(app) {
        let scene = scene(&app, 1, 0, 0).await;
        for change in [json!({"people_needed": 1}), json!({"status": "in_progress"}), json!({"status": "cancelled"})] {
            assert_eq!(patch_element(&app, &scene.coordinator, &scene.element, change).await.status(), 200);
        }
        let (person, _) = &scene.booked[0];
        let mine = get(&app, person, "/api/v1/me/assignments").await;
        assert_eq!(mine["items"][0]["status"], "confirmed", "kept for claims");
        assert_eq!(coproduce::jobs::send_session_reminders(&app.state, session_start() - Duration::hours(47)).await.unwrap(), 0);
    }

    async fn bookings_kept_when_an_element_under_way_was_cancelled_are_named_from_the_cancellation(app) {
        let scene = scene(&app, 1, 0, 0).await;
        for change in [json!({"people_needed": 1}), json!({"status": "in_progress"}), json!({"status": "cancelled"})] {
            assert_eq!(patch_element(&app, &scene.coordinator, &scene.element, change).await.status(), 200);
        }
        let other_coordinator = app.signed_in(Role::Coordinator).await;
        assert!(coproduce::jobs::send_bookings_to_close_reminders(&app.state, noon_in(3)).await.unwrap(), "two days after the cancellation, not after the planned session");
        app.drain_outbox().await;
        let reminder = app.emails_to(&other_coordinator.email).pop().unwrap();
        assert!(reminder.text.contains("Peer interviews (Housing support review): cancelled on "), "{}", reminder.text);
        assert!(reminder.text.contains("after it had started, 1 booking kept for claims"), "{}", reminder.text);
    }

    async fn what_changed_waits_until_the_element_is_completed(app) {
        let scene = scene(&app, 3, 0, 0).await;
        let body = problem(write_what_changed(&app, &scene.partner, &scene.element, &json!({"summary": "Too soon."})).await).await;
        assert_eq!(body["code"], "element_not_completed");
        let empty = problem(write_what_changed(&app, &scene.partner, &scene.element, &json!({"summary": "  "})).await).await;
        assert_eq!(error_fields(&empty), ["summary"]);
    }

    async fn someone_passed_over_while_paused_gets_the_free_seat_once_back(app) {
        let scene = scene(&app, 3, 1, 0).await;
        let (waiting, _) = &scene.waiting[0];
        let pause = |status: &str| app.patch_as(waiting, "/api/v1/me").json(&json!({"coproducer_status": status})).send();
        assert_eq!(pause("paused").await.unwrap().status(), 200);
        let (leaving, assignment) = &scene.booked[0];
        assert_eq!(act(&app, leaving, assignment, "withdraw", json!({})).await.status(), 200);
        assert_eq!(element_status(&app, &scene).await, "open", "passed over while paused");
        assert_eq!(coproduce::jobs::offer_free_seats(&app.state, Utc::now().naive_utc()).await.unwrap(), 0, "still paused");
        assert_eq!(pause("active").await.unwrap().status(), 200);
        assert_eq!(coproduce::jobs::offer_free_seats(&app.state, Utc::now().naive_utc()).await.unwrap(), 1);
        let mine = get(&app, waiting, "/api/v1/me/assignments").await;
        assert_eq!(mine["items"][0]["status"], "confirmed");
        assert_eq!(element_status(&app, &scene).await, "filled");
        app.drain_outbox().await;
        assert_eq!(app.emails_to(&waiting.email).pop().unwrap().subject, "A place came up and you are booked: Peer interviews");
        let history = get(&app, waiting, &format!("/api/v1/assignments/{}/history", mine["items"][0]["id"].as_str().unwrap())).await;
        assert_eq!(history["items"][0]["actor_id"], "service", "booked by the service, not by whoever left: {history}");
        let export = get(&app, waiting, "/api/v1/me/export").await;
        assert_eq!(export["assignments"][0]["history"][0]["by"], "the service", "{}", export["assignments"]);
        let told = app.emails_to(&scene.coordinator.email).pop().unwrap();
        assert_eq!(told.subject, "Booked from the waiting list: Peer interviews", "coordinators hear who took the place");
    }

    async fn free_seats_are_not_offered_again_once_sessions_have_begun(app) {
        let scene = scene(&app, 3, 1, 0).await;
        let (waiting, _) = &scene.waiting[0];
        let pause = |status: &str| app.patch_as(waiting, "/api/v1/me").json(&json!({"coproducer_status": status})).send();
        assert_eq!(pause("paused").await.unwrap().status(), 200);
        let (leaving, assignment) = &scene.booked[0];
        assert_eq!(act(&app, leaving, assignment, "withdraw", json!({})).await.status(), 200);
        assert_eq!(pause("active").await.unwrap().status(), 200);
        // The element's one session starts 40 days ahead.
        let begun = (Utc::now() + Duration::days(41)).naive_utc();
        assert_eq!(coproduce::jobs::offer_free_seats(&app.state, begun).await.unwrap(), 0);
        let mine = get(&app, waiting, "/api/v1/me/invitations").await;
        assert_eq!(mine["items"][0]["status"], "waitlisted");
    }

    async fn offering_free_seats_leaves_when_the_element_last_changed_alone(app) {
        let scene = scene(&app, 3, 1, 0).await;
        let (waiting, _) = &scene.waiting[0];
        assert_eq!(app.patch_as(waiting, "/api/v1/me").json(&json!({"coproducer_status": "paused"})).send().await.unwrap().status(), 200);
        let (leaving, assignment) = &scene.booked[0];
        assert_eq!(act(&app, leaving, assignment, "withdraw", json!({})).await.status(), 200);
        let updated_at = || {
            let id = scene.element.clone();
            app.state.db.read(move |conn| Ok(coproduce::db::queries::partnership::find_element(conn, &id)?.unwrap().updated_at))
        };
        let before = updated_at().await.unwrap();
        assert_eq!(coproduce::jobs::offer_free_seats(&app.state, Utc::now().naive_utc()).await.unwrap(), 0);
        assert_eq!(updated_at().await.unwrap(), before);
    }

    async fn a_partner_cannot_change_an_element_once_someone_is_booked(app) {
        let scene = scene(&app, 1, 0, 0).await;
        let response = patch_element(&app, &scene.partner, &scene.element, json!({"people_needed": 2})).await;
        assert_eq!(response.status(), 409);
        assert_eq!(problem(response).await["code"], "people_booked");
        let unchanged = patch_element(&app, &scene.coordinator, &scene.element, json!({})).await;
        assert_eq!(unchanged.json::<Value>().await.unwrap()["people_needed"], 3);
    }

    async fn places_never_drop_below_the_people_booked(app) {
        let scene = scene(&app, 2, 0, 0).await;
        let response = patch_element(&app, &scene.coordinator, &scene.element, json!({"people_needed": 1})).await;
        let body = problem(response).await;
        assert_eq!(error_fields(&body), ["people_needed"]);
        assert_eq!(body["errors"][0]["code"], "fewer_than_booked");
        assert_eq!(element_status(&app, &scene).await, "open");
    }

    async fn fewer_places_with_every_one_booked_fill_the_element(app) {
        let scene = scene(&app, 2, 0, 0).await;
        let response = patch_element(&app, &scene.coordinator, &scene.element, json!({"people_needed": 2})).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Value>().await.unwrap()["status"], "filled");
    }

    async fn a_place_added_to_a_full_element_goes_to_the_first_person_waiting(app) {
        let scene = scene(&app, 3, 1, 0).await;
        assert_eq!(element_status(&app, &scene).await, "filled");
        let response = patch_element(&app, &scene.coordinator, &scene.element, json!({"people_needed": 4})).await;
        assert_eq!(response.status(), 200);
        let (waiting, _) = &scene.waiting[0];
        let mine: Vec<Value> = get(&app, waiting, "/api/v1/me/assignments").await["items"].as_array().unwrap().clone();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0]["status"], "confirmed");
        assert_eq!(element_status(&app, &scene).await, "filled");
        app.drain_outbox().await;
        let booked = app.emails_to(&waiting.email).pop().unwrap();
        assert_eq!(booked.subject, "A place came up and you are booked: Peer interviews");
    }

    async fn deleting_a_booked_account_books_the_first_person_waiting(app) {
        let scene = scene(&app, 3, 1, 0).await;
        let (leaving, _) = &scene.booked[0];
        let response = app
            .delete_as(leaving, "/api/v1/me")
            .json(&json!({"confirm": "delete my account"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
        let (first, _) = &scene.waiting[0];
        let mine: Vec<Value> = get(&app, first, "/api/v1/me/assignments").await["items"].as_array().unwrap().clone();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0]["status"], "confirmed");
        assert_eq!(element_status(&app, &scene).await, "filled");
    }

    async fn withdrawing_with_nobody_waiting_reopens_a_filled_element(app) {
        let scene = scene(&app, 3, 0, 0).await;
        assert_eq!(element_status(&app, &scene).await, "filled");
        let (leaving, assignment) = &scene.booked[0];
        assert_eq!(act(&app, leaving, assignment, "withdraw", json!({})).await.status(), 200);
        assert_eq!(element_status(&app, &scene).await, "open");
        app.drain_outbox().await;
        let told = app.emails_to(&scene.coordinator.email).pop().unwrap();
        assert_eq!(told.subject, "A place is free: Peer interviews");
        assert!(told.text.contains("1 place is now free"), "{}", told.text);
        // The freed seat can be taken by a new invitation.
        let newcomer = coproducer(&app, fitting_profile()).await;
        let invitations: Vec<Value> = invite(&app, &scene.coordinator, &scene.element, &[&newcomer.id]).await.json().await.unwrap();
        let result: Value = accept(&app, &newcomer, invitations[0]["id"].as_str().unwrap()).await.json().await.unwrap();
        assert_eq!(result["status"], "accepted");
        assert_eq!(element_status(&app, &scene).await, "filled");
    }

    async fn people_who_are_paused_are_skipped_but_keep_their_place_in_line(app) {
        let scene = scene(&app, 3, 2, 0).await;
        let (paused, paused_invitation) = &scene.waiting[0];
        let until = (Utc::now() + Duration::days(20)).date_naive().to_string();
        let response = app.patch_as(paused, "/api/v1/me").json(&json!({"coproducer_status": "paused", "paused_until": until})).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let (leaving, assignment) = &scene.booked[0];
        act(&app, leaving, assignment, "withdraw", json!({})).await;
        let (next, _) = &scene.waiting[1];
        assert_eq!(get(&app, next, "/api/v1/me/assignments").await["items"][0]["status"], "confirmed");
        let still: Vec<Value> = get(&app, paused, "/api/v1/me/invitations").await["items"].as_array().unwrap().clone();
        assert_eq!(still[0]["id"], paused_invitation.as_str());
        assert_eq!(still[0]["status"], "waitlisted");
    }

    async fn leaving_the_waiting_list_means_not_being_booked_later(app) {
        let scene = scene(&app, 3, 2, 0).await;
        let (gone, invitation) = &scene.waiting[0];
        let response = app.post_as(gone, &format!("/api/v1/invitations/{invitation}/decline")).json(&json!({"reason": "Found other work"})).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Value>().await.unwrap()["status"], "declined");
        let (leaving, assignment) = &scene.booked[0];
        act(&app, leaving, assignment, "withdraw", json!({})).await;
        assert!(get(&app, gone, "/api/v1/me/assignments").await["items"].as_array().unwrap().is_empty());
        assert_eq!(get(&app, &scene.waiting[1].0, "/api/v1/me/assignments").await["items"][0]["status"], "confirmed");
    }

    async fn a_coordinator_withdraws_someone_who_is_told_why(app) {
        let scene = scene(&app, 3, 1, 0).await;
        let (person, assignment) = &scene.booked[2];
        let response = act(&app, &scene.coordinator, assignment, "withdraw", json!({"reason": "The partner moved the sessions online."})).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["booked_from_waiting_list"], json!([scene.waiting[0].0.id]));
        app.drain_outbox().await;
        let told = app.emails_to(&person.email).pop().unwrap();
        assert_eq!(told.subject, "You are no longer booked on Peer interviews");
        assert!(told.text.contains("The partner moved the sessions online."), "{}", told.text);
        assert!(
            !app.emails_to(&scene.coordinator.email).iter().any(|e| e.subject.contains("place")),
            "the coordinator who did it is not emailed about it"
        );
        let history: Vec<Value> = get(&app, person, &format!("/api/v1/assignments/{assignment}/history")).await["items"].as_array().unwrap().clone();
        assert_eq!(history.len(), 2);
        assert_eq!(history[0]["to"], "confirmed");
        assert_eq!(history[0]["actor_id"], person.id.as_str());
        assert_eq!((history[1]["from"].as_str(), history[1]["to"].as_str()), (Some("confirmed"), Some("withdrawn")));
        assert_eq!(history[1]["note"], "The partner moved the sessions online.");
        assert!(history[1]["actor_id"].is_null(), "the co-producer sees their own steps' actor only");
        let seen: Vec<Value> = get(&app, &scene.coordinator, &format!("/api/v1/assignments/{assignment}/history")).await["items"].as_array().unwrap().clone();
        assert_eq!(seen[1]["actor_id"], scene.coordinator.id.as_str());
    }

    async fn completed_and_no_show_keep_the_seat_and_are_recorded(app) {
        let scene = scene(&app, 3, 0, 1).await;
        let (done, done_assignment) = &scene.booked[0];
        let response = act(&app, &scene.coordinator, done_assignment, "complete", json!({"note": "Great interviews."})).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Value>().await.unwrap()["status"], "completed");
        let (_, missed) = &scene.booked[1];
        let response = act(&app, &scene.coordinator, missed, "no-show", json!({})).await;
        assert_eq!(response.json::<Value>().await.unwrap()["status"], "no_show");
        assert_eq!(element_status(&app, &scene).await, "filled");
        // The seats are still used: a late acceptance waits.
        let (late, invitation) = &scene.pending[0];
        let result: Value = accept(&app, late, invitation).await.json().await.unwrap();
        assert_eq!(result["status"], "waitlisted");
        let mine: Vec<Value> = get(&app, done, "/api/v1/me/assignments").await["items"].as_array().unwrap().clone();
        assert_eq!(mine[0]["status"], "completed");
        let history: Vec<Value> = get(&app, done, &format!("/api/v1/assignments/{done_assignment}/history")).await["items"].as_array().unwrap().clone();
        assert_eq!(history[1]["to"], "completed");
        assert_eq!(history[1]["note"], "Great interviews.");
    }

    async fn completing_thanks_the_person_with_the_coordinator_s_note(app) {
        let scene = scene(&app, 1, 0, 0).await;
        let (person, assignment) = &scene.booked[0];
        app.drain_outbox().await;
        let response = act(&app, &scene.coordinator, assignment, "complete", json!({"note": "Your interviews shaped the report."})).await;
        assert_eq!(response.status(), 200);
        app.drain_outbox().await;
        let told = app.emails_to(&person.email).pop().expect("an email to the person");
        assert!(told.subject.starts_with("Thank you for your work on"), "{}", told.subject);
        assert!(told.text.contains("Your interviews shaped the report."), "{}", told.text);
    }

    async fn a_no_show_checks_in_with_the_person(app) {
        let scene = scene(&app, 1, 0, 0).await;
        let (person, assignment) = &scene.booked[0];
        app.drain_outbox().await;
        assert_eq!(act(&app, &scene.coordinator, assignment, "no-show", json!({})).await.status(), 200);
        app.drain_outbox().await;
        let told = app.emails_to(&person.email).pop().expect("an email to the person");
        assert!(told.subject.starts_with("We missed you at"), "{}", told.subject);
        assert!(told.text.contains("does not stop us inviting you"), "{}", told.text);
    }

    async fn a_refused_change_emails_nobody(app) {
        let scene = scene(&app, 1, 0, 0).await;
        let (person, assignment) = &scene.booked[0];
        assert_eq!(act(&app, &scene.coordinator, assignment, "complete", json!({})).await.status(), 200);
        app.drain_outbox().await;
        let before = app.emails_to(&person.email).len();
        assert_eq!(act(&app, &scene.coordinator, assignment, "no-show", json!({})).await.status(), 409);
        app.drain_outbox().await;
        assert_eq!(app.emails_to(&person.email).len(), before);
    }

    async fn a_coordinator_erased_as_someone_withdraws_is_not_told_of_the_freed_seat(app) {
        let scene = scene(&app, 1, 0, 0).await;
        let (person, assignment) = &scene.booked[0];
        let leaving = app.signed_in(Role::Coordinator).await;
        app.drain_outbox().await;
        let erasing = app.erasure_in_flight(&leaving);
        let withdrawing = act(&app, person, assignment, "withdraw", json!({"reason": "I am unwell"}));
        assert_eq!(answered_after_commit(erasing, withdrawing).await.status(), 200);
        app.drain_outbox().await;
        let freed = |to: &str| app.emails_to(to).iter().filter(|e| e.subject.contains("place") || e.text.contains("I am unwell")).count();
        assert!(freed(&scene.coordinator.email) > 0, "the other coordinator is told");
        assert_eq!(freed(&leaving.email), 0, "the erased coordinator was told, at their old address");
        let to_erased = app.state.mailer.sent().into_iter().filter(|e| e.to.ends_with("@erased.invalid") && e.text.contains("I am unwell")).count();
        assert_eq!(to_erased, 0);
    }

    async fn only_a_confirmed_assignment_changes(app) {
        let scene = scene(&app, 2, 0, 0).await;
        let (person, assignment) = &scene.booked[0];
        assert_eq!(act(&app, person, assignment, "withdraw", json!({})).await.status(), 200);
        let again = act(&app, person, assignment, "withdraw", json!({})).await;
        assert_eq!(again.status(), 409);
        let body = problem(again).await;
        assert_eq!(body["code"], "invalid_transition");
        assert_eq!(body["detail"], "This assignment is already withdrawn, so it cannot be withdrawn. Only a confirmed assignment can change.");
        let complete = act(&app, &scene.coordinator, assignment, "complete", json!({})).await;
        assert_eq!(problem(complete).await["code"], "invalid_transition");
        let (_, other) = &scene.booked[1];
        assert_eq!(act(&app, &scene.coordinator, other, "no-show", json!({})).await.status(), 200);
        let body = problem(act(&app, &scene.coordinator, other, "complete", json!({})).await).await;
        assert_eq!(body["detail"], "This assignment is already marked as a no-show, so it cannot be marked as completed. Only a confirmed assignment can change.");
    }

    async fn someone_elses_assignment_is_not_found_and_only_coordinators_close_one(app) {
        let scene = scene(&app, 2, 0, 0).await;
        let (person, assignment) = &scene.booked[0];
        let (other, _) = &scene.booked[1];
        for stranger in [other, &scene.partner] {
            let response = act(&app, stranger, assignment, "withdraw", json!({})).await;
            assert_eq!(response.status(), 404);
            assert_eq!(app.get_as(stranger, &format!("/api/v1/assignments/{assignment}/history")).send().await.unwrap().status(), 404);
        }
        assert_eq!(act(&app, person, assignment, "complete", json!({})).await.status(), 403);
        assert_eq!(act(&app, person, assignment, "no-show", json!({})).await.status(), 403);
        assert_eq!(act(&app, &scene.coordinator, "no-such-id", "complete", json!({})).await.status(), 404);
        let unsigned = app.client.post(app.url(&format!("/api/v1/assignments/{assignment}/withdraw"))).json(&json!({})).send().await.unwrap();
        assert_eq!(unsigned.status(), 401);
        assert_eq!(get(&app, person, "/api/v1/me/assignments").await["items"][0]["status"], "confirmed", "nothing changed");
    }

    async fn bad_bodies_name_the_field_and_change_nothing(app) {
        let scene = scene(&app, 1, 0, 0).await;
        let (person, assignment) = &scene.booked[0];
        let body = problem(act(&app, person, assignment, "withdraw", json!({"reason": "x".repeat(2001)})).await).await;
        assert_eq!(error_fields(&body), ["reason"]);
        let body = problem(act(&app, &scene.coordinator, assignment, "complete", json!({"note": 5})).await).await;
        assert_eq!(error_fields(&body), ["note"]);
        let body = problem(act(&app, person, assignment, "withdraw", json!({"why": "no"})).await).await;
        assert_eq!(body["status"], 422);
        assert_eq!(get(&app, person, "/api/v1/me/assignments").await["items"][0]["status"], "confirmed");
    }

    async fn partners_see_confirmed_and_completed_people_and_coordinators_see_everyone(app) {
        let scene = scene(&app, 3, 0, 0).await;
        act(&app, &scene.coordinator, &scene.booked[0].1, "complete", json!({})).await;
        act(&app, &scene.coordinator, &scene.booked[1].1, "no-show", json!({})).await;
        act(&app, &scene.booked[2].0, &scene.booked[2].1, "withdraw", json!({})).await;
        let newcomer = coproducer(&app, fitting_profile()).await;
        let invitations: Vec<Value> = invite(&app, &scene.coordinator, &scene.element, &[&newcomer.id]).await.json().await.unwrap();
        accept(&app, &newcomer, invitations[0]["id"].as_str().unwrap()).await;
        let path = format!("/api/v1/elements/{}/assignments", scene.element);
        let statuses = |list: &Value| {
            let mut statuses: Vec<String> = list["items"].as_array().unwrap().iter().map(|a| a["status"].as_str().unwrap().to_string()).collect();
            statuses.sort();
            statuses
        };
        let everyone = get(&app, &scene.coordinator, &path).await;
        assert_eq!(statuses(&everyone), ["completed", "confirmed", "no_show", "withdrawn"]);
        for view in everyone["items"].as_array().unwrap() {
            assert_eq!(view["adjustments"].is_array(), view["status"] == "confirmed", "{view}");
        }
        let partner_view = get(&app, &scene.partner, &path).await;
        assert_eq!(statuses(&partner_view), ["completed", "confirmed"]);
    }
}

/// The booking email goes through lettre's real SMTP transport to an SMTP server: the calendar
/// arrives as a base64 `text/calendar` part, byte for byte, and the stored copy is cleared.
async fn the_calendar_survives_real_smtp(backend: Backend) {
    let sink = SmtpSink::start(Mode::Accept).await;
    let url = sink.url();
    let Some(app) = spawn_app_with(backend, |s| {
        s.email.transport = EmailTransport::Smtp;
        s.email.smtp_url = url;
    })
    .await
    else {
        return;
    };
    let (coordinator, _, project) = project(&app).await;
    let element = first_element(&project);
    let person = coproducer(&app, fitting_profile()).await;
    let invitations: Vec<Value> = invite(&app, &coordinator, &element, &[&person.id])
        .await
        .json()
        .await
        .unwrap();
    accept(&app, &person, invitations[0]["id"].as_str().unwrap()).await;
    app.drain_outbox().await;

    let messages = sink.messages();
    let raw = messages
        .iter()
        .find(|m| m.contains("Subject: You are booked: Peer interviews"))
        .expect("the booking email arrived");
    assert!(raw.contains("Content-Type: multipart/mixed"), "{raw}");
    assert!(raw.contains("Content-Type: multipart/alternative"), "{raw}");
    let part = raw
        .split("Content-Type: text/calendar; charset=utf-8; method=PUBLISH")
        .nth(1)
        .expect("a calendar part");
    assert!(part.contains("Content-Transfer-Encoding: base64"), "{part}");
    let encoded: String = part
        .split("\n\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|line| !line.starts_with("--"))
        .collect();
    let ics = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .unwrap(),
    )
    .unwrap();
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"), "{ics}");
    assert!(ics.ends_with("END:VCALENDAR\r\n"), "{ics}");
    assert_eq!(ics.matches("BEGIN:VEVENT\r\n").count(), 1);
    let day = (Utc::now() + Duration::days(40)).date_naive();
    let start = day.and_hms_opt(10, 0, 0).unwrap().and_utc();
    assert_eq!(
        event_times(&ics),
        [(ics_time(start), ics_time(start + Duration::hours(2)))]
    );

    #[derive(diesel::QueryableByName)]
    struct Stored {
        #[diesel(sql_type = Nullable<Text>)]
        attachment_filename: Option<String>,
        #[diesel(sql_type = Nullable<diesel::sql_types::Binary>)]
        attachment_body: Option<Vec<u8>>,
    }
    let stored = app
        .state
        .db
        .read(|conn| {
            Ok(diesel::sql_query(
                "SELECT attachment_filename, attachment_body FROM outbox WHERE template = 'invitation_outcome'",
            )
            .get_result::<Stored>(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(
        stored.attachment_filename.as_deref(),
        Some("peer-interviews.ics")
    );
    assert_eq!(stored.attachment_body, None, "cleared once sent");
}

mod the_calendar_survives_real_smtp {
    #[tokio::test]
    async fn sqlite() {
        super::the_calendar_survives_real_smtp(crate::helpers::Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        super::the_calendar_survives_real_smtp(crate::helpers::Backend::Postgres).await;
    }
}

/// Three seats, all taken, one person waiting and ten still to answer. The three booked
/// withdraw while the ten accept, all at once, so freed seats are raced for by the waiting
/// list and by new acceptances: the element ends with exactly three people, every booking
/// comes from exactly one accepted invitation, and the database agrees.
async fn parallel_withdrawals_and_accepts_never_overfill(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.server.workers = 4;
        s.database.pool_size = 8;
        s.database.pool_timeout_ms = 10_000;
        s.database.busy_timeout_ms = 10_000;
    })
    .await
    else {
        return;
    };
    let scene = scene(&app, 3, 1, 10).await;
    let withdrawals = scene.booked.iter().map(|(person, assignment)| {
        app.post_as(
            person,
            &format!("/api/v1/assignments/{assignment}/withdraw"),
        )
        .json(&json!({}))
        .send()
    });
    let accepts = scene.pending.iter().map(|(person, invitation)| {
        app.post_as(person, &format!("/api/v1/invitations/{invitation}/accept"))
            .send()
    });
    let (withdrawn, accepted) = futures_util::future::join(
        futures_util::future::join_all(withdrawals),
        futures_util::future::join_all(accepts),
    )
    .await;
    for response in withdrawn.into_iter().chain(accepted) {
        assert_eq!(response.unwrap().status(), 200);
    }

    #[derive(diesel::QueryableByName)]
    struct Counts {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        confirmed: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        assignments: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        accepted_invitations: i64,
    }
    let element = scene.element.clone();
    let counts = app
        .state
        .db
        .read(move |conn| {
            Ok(diesel::sql_query(
                "SELECT \
                   (SELECT COUNT(*) FROM assignments WHERE element_id = $1 AND status = 'confirmed') AS confirmed, \
                   (SELECT COUNT(*) FROM assignments WHERE element_id = $1) AS assignments, \
                   (SELECT COUNT(*) FROM invitations WHERE element_id = $1 AND status = 'accepted') AS accepted_invitations",
            )
            .bind::<Text, _>(&element)
            .get_result::<Counts>(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(
        counts.confirmed, 3,
        "the three seats are full again, not more"
    );
    assert_eq!(counts.assignments, 6, "three withdrawn and three booked");
    assert_eq!(counts.accepted_invitations, 6);
    assert_eq!(element_status(&app, &scene).await, "filled");
}

mod parallel_withdrawals_and_accepts_never_overfill {
    #[tokio::test]
    async fn sqlite() {
        super::parallel_withdrawals_and_accepts_never_overfill(crate::helpers::Backend::Sqlite)
            .await;
    }

    #[tokio::test]
    async fn postgres() {
        super::parallel_withdrawals_and_accepts_never_overfill(crate::helpers::Backend::Postgres)
            .await;
    }
}

/// The assignment as stored.
pub async fn stored_assignment(
    app: &TestApp,
    id: &str,
) -> coproduce::db::models::matching::AssignmentRow {
    let id = id.to_string();
    app.state
        .db
        .read(move |conn| {
            Ok(coproduce::db::queries::matching::find_assignment(
                conn, &id,
            )?)
        })
        .await
        .unwrap()
        .unwrap()
}

async fn assignment_status(app: &TestApp, id: &str) -> String {
    stored_assignment(app, id).await.status
}

async fn invitation_status(app: &TestApp, id: &str) -> String {
    let id = id.to_string();
    app.state
        .db
        .read(move |conn| {
            Ok(coproduce::db::queries::matching::find_invitation(
                conn, &id,
            )?)
        })
        .await
        .unwrap()
        .unwrap()
        .status
}

both_backends! {
    async fn cancelling_an_element_frees_everyone_on_it_and_tells_each_of_them(app) {
        let scene = scene(&app, 3, 1, 1).await;
        app.drain_outbox().await;
        let cancelled = patch_element(&app, &scene.coordinator, &scene.element, json!({"status": "cancelled"})).await;
        assert_eq!(cancelled.status(), 200);
        app.drain_outbox().await;

        for (person, assignment) in &scene.booked {
            assert_eq!(assignment_status(&app, assignment).await, "withdrawn");
            let email = app.emails_to(&person.email).pop().unwrap();
            assert!(email.subject.ends_with("is cancelled"), "{}", email.subject);
            assert!(email.text.contains("you do not need to go to its sessions"), "{}", email.text);
        }
        let (waiting, on_list) = &scene.waiting[0];
        assert_eq!(invitation_status(&app, on_list).await, "expired");
        let email = app.emails_to(&waiting.email).pop().unwrap();
        assert!(email.subject.ends_with("is cancelled") && email.text.contains("not waiting for a place on it any more"), "{}", email.text);
        let (invited, open) = &scene.pending[0];
        assert_eq!(invitation_status(&app, open).await, "expired");
        let email = app.emails_to(&invited.email).pop().unwrap();
        assert!(email.subject.ends_with("is cancelled") && email.text.contains("do not need to reply"), "{}", email.text);
        let refused = problem(accept(&app, invited, open).await).await;
        assert_eq!(refused["code"], "element_cancelled", "the reason is the cancellation, not time running out");
    }

    async fn cancelling_an_element_whose_sessions_began_keeps_the_bookings_even_if_never_marked_in_progress(app) {
        let scene = scene(&app, 1, 0, 0).await;
        let (person, assignment) = &scene.booked[0];
        let begun = Utc::now() - Duration::days(1);
        let sessions = json!([{"starts_at": begun.to_rfc3339(), "ends_at": (begun + Duration::hours(2)).to_rfc3339()}]);
        let moved = patch_element(&app, &scene.coordinator, &scene.element, json!({"sessions": sessions})).await;
        assert_eq!(moved.status(), 200, "{}", moved.text().await.unwrap());
        assert_eq!(patch_element(&app, &scene.coordinator, &scene.element, json!({"status": "cancelled"})).await.status(), 200);
        assert_eq!(assignment_status(&app, assignment).await, "confirmed");
        app.drain_outbox().await;
        assert!(app.emails_to(&person.email).pop().unwrap().text.contains("you can still claim"));
    }

    async fn cancelling_an_element_under_way_keeps_the_bookings_so_work_done_can_be_claimed(app) {
        let scene = scene(&app, 3, 0, 0).await;
        assert_eq!(patch_element(&app, &scene.coordinator, &scene.element, json!({"status": "in_progress"})).await.status(), 200);
        app.drain_outbox().await;
        assert_eq!(patch_element(&app, &scene.coordinator, &scene.element, json!({"status": "cancelled"})).await.status(), 200);
        app.drain_outbox().await;
        let (person, assignment) = &scene.booked[0];
        assert_eq!(assignment_status(&app, assignment).await, "confirmed");
        let email = app.emails_to(&person.email).pop().unwrap();
        assert!(email.text.contains("you can still claim"), "{}", email.text);
        let claimed = crate::claims::claim(&app, person, assignment, json!({"minutes_worked": 60})).await;
        assert_eq!(claimed.status(), 201);
    }

    async fn the_element_cancelled_email_has_an_easy_read_version(app) {
        let scene = scene(&app, 1, 0, 0).await;
        let (person, _) = &scene.booked[0];
        let prefs = json!({"format": "easy_read", "digest": false});
        assert_eq!(crate::people::put(&app, person, "/api/v1/me/notification-preferences", &prefs).await.status(), 200);
        assert_eq!(patch_element(&app, &scene.coordinator, &scene.element, json!({"status": "cancelled"})).await.status(), 200);
        app.drain_outbox().await;
        let email = app.emails_to(&person.email).pop().unwrap();
        assert!(email.text.contains("is cancelled.\nIt will not go ahead.") && email.text.contains("You do not need to go."), "{}", email.text);
    }

    async fn a_booking_kept_on_a_cancelled_element_no_longer_holds_its_sessions(app) {
        let scene = scene(&app, 1, 0, 0).await;
        let (person, _) = &scene.booked[0];
        let (coordinator, _, other) = project(&app).await;
        let same_time = first_element(&other);
        let listed = |result: Value| result["items"].as_array().unwrap().iter().any(|c| c["coproducer_id"] == person.id.as_str());
        assert!(!listed(crate::matching::candidates(&app, &coordinator, &same_time).await), "booked at that time");
        for status in ["filled", "in_progress"] {
            assert_eq!(patch_element(&app, &scene.coordinator, &scene.element, json!({"status": status})).await.status(), 200);
        }
        assert_eq!(patch_element(&app, &scene.coordinator, &scene.element, json!({"status": "cancelled"})).await.status(), 200);
        assert!(listed(crate::matching::candidates(&app, &coordinator, &same_time).await), "free again");
    }

    async fn the_other_coordinators_and_the_partner_hear_what_became_of_everyone_naming_nobody(app) {
        let scene = scene(&app, 3, 1, 1).await;
        let other_coordinator = app.signed_in(Role::Coordinator).await;
        app.drain_outbox().await;
        assert_eq!(patch_element(&app, &scene.coordinator, &scene.element, json!({"status": "cancelled"})).await.status(), 200);
        app.drain_outbox().await;
        let to_staff = app.emails_to(&other_coordinator.email).pop().unwrap();
        assert!(to_staff.subject.ends_with("is cancelled"), "{}", to_staff.subject);
        assert!(to_staff.text.contains("3 people booked on it were taken off it") && to_staff.text.contains("2 invitations or places on the waiting list no longer stand."), "{}", to_staff.text);
        let to_partner = app.emails_to(&scene.partner.email).pop().unwrap();
        assert!(to_partner.text.contains("3 people booked on it were taken off it"), "{}", to_partner.text);
        for (person, _) in scene.booked.iter().chain(&scene.waiting).chain(&scene.pending) {
            assert!(!to_partner.text.contains(&person.email) && !to_staff.text.contains(&person.email));
        }
        assert!(app.emails_to(&scene.coordinator.email).iter().all(|e| !e.subject.ends_with("is cancelled")), "not the one who cancelled it");
    }

    async fn coordinators_are_asked_to_mark_done_the_bookings_kept_for_claims(app) {
        let scene = scene(&app, 3, 0, 0).await;
        let other_coordinator = app.signed_in(Role::Coordinator).await;
        assert_eq!(patch_element(&app, &scene.coordinator, &scene.element, json!({"status": "in_progress"})).await.status(), 200);
        assert_eq!(patch_element(&app, &scene.coordinator, &scene.element, json!({"status": "cancelled"})).await.status(), 200);
        app.drain_outbox().await;
        let to_staff = app.emails_to(&other_coordinator.email).pop().unwrap();
        assert!(to_staff.text.contains("3 bookings stay on record") && to_staff.text.contains("Please mark each one as done"), "{}", to_staff.text);
        let to_partner = app.emails_to(&scene.partner.email).pop().unwrap();
        assert!(!to_partner.text.contains("Please mark"), "{}", to_partner.text);
    }

    async fn withdrawing_sends_the_sessions_marked_cancelled_under_the_booking_uids(app) {
        let scene = scene(&app, 1, 0, 0).await;
        let (person, assignment) = &scene.booked[0];
        let withdrawn = app.post_as(person, &format!("/api/v1/assignments/{assignment}/withdraw")).json(&json!({})).send().await.unwrap();
        assert_eq!(withdrawn.status(), 200);
        app.drain_outbox().await;
        let email = app.emails_to(&person.email).pop().unwrap();
        assert!(email.text.contains("opening it marks them as cancelled"), "the words say what the file is for: {}", email.text);
        let ics = String::from_utf8(email.attachment.expect("the sessions, cancelled").bytes).unwrap();
        assert!(ics.contains(&format!("UID:{}-1@127.0.0.1\r\n", scene.element)), "{ics}");
        assert!(ics.contains("SEQUENCE:1\r\nSTATUS:CANCELLED\r\n"), "{ics}");
    }

    async fn a_cancellation_marks_the_booked_sessions_cancelled_in_their_calendar(app) {
        let scene = scene(&app, 3, 1, 0).await;
        assert_eq!(patch_element(&app, &scene.coordinator, &scene.element, json!({"status": "cancelled"})).await.status(), 200);
        app.drain_outbox().await;
        let (booked, _) = &scene.booked[0];
        let to_booked = app.emails_to(&booked.email).pop().unwrap();
        assert!(to_booked.text.contains("We have attached a calendar file"), "{}", to_booked.text);
        let ics = String::from_utf8(to_booked.attachment.expect("a calendar").bytes).unwrap();
        assert!(ics.contains("STATUS:CANCELLED"), "{ics}");
        let (waiting, _) = &scene.waiting[0];
        let to_waiting = app.emails_to(&waiting.email).pop().unwrap();
        assert!(to_waiting.attachment.is_none(), "nothing was in their calendar");
        assert!(!to_waiting.text.contains("calendar file"), "no file is mentioned that is not there: {}", to_waiting.text);
    }

    async fn someone_erased_as_their_element_is_cancelled_is_sent_nothing(app) {
        let scene = scene(&app, 3, 0, 0).await;
        assert_eq!(patch_element(&app, &scene.coordinator, &scene.element, json!({"status": "in_progress"})).await.status(), 200);
        app.drain_outbox().await;
        let (person, _) = &scene.booked[0];
        // The erasure as `DELETE /me` runs it: its turn taken first, then the person erased.
        let mut erasing = app.transaction_of_its_own();
        coproduce::db::queries::outbox::one_erasure_at_a_time(&mut erasing).unwrap();
        coproduce::db::queries::privacy::erase_person(&mut erasing, &person.id, &person.email, "Test Person", Utc::now().naive_utc()).unwrap();
        let cancelling = patch_element(&app, &scene.coordinator, &scene.element, json!({"status": "cancelled"}));
        let response = answered_after_commit(erasing, cancelling).await;
        assert_eq!(response.status(), 200);
        let (id, email) = (person.id.clone(), person.email.clone());
        let queued = app.state.db.read(move |conn| {
            Ok(diesel::sql_query("SELECT id FROM outbox WHERE user_id = $1 OR recipient = $2")
                .bind::<Text, _>(id)
                .bind::<Text, _>(email)
                .load::<OutboxId>(conn)?
                .len())
        }).await.unwrap();
        assert_eq!(queued, 0, "an email waits for the erased person");
        let (other, _) = &scene.booked[1];
        app.drain_outbox().await;
        assert!(app.emails_to(&other.email).pop().unwrap().subject.ends_with("is cancelled"), "the others are told");
    }
}

#[derive(diesel::QueryableByName)]
struct OutboxId {
    #[diesel(sql_type = Text)]
    #[allow(dead_code)]
    id: String,
}
