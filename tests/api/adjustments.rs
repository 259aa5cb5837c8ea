//! A booking's adjustment plan: what each of the person's access needs means for the element,
//! what coordinators have arranged (the person is told), and the reminder before it starts.

use serde_json::{Value, json};

use crate::assignments::stored_assignment;
use crate::claims::booked;
use crate::helpers::*;
use crate::matching::fitting_profile;
use crate::people::{passport_body, put};
use crate::privacy::{columns_containing, count};

/// A co-producer booked on the test element (it has step-free access) whose passport asks for a
/// BSL interpreter (always to arrange) and step-free access (met).
async fn booked_with_needs(app: &TestApp) -> (TestUser, TestUser, String) {
    let (coordinator, person, assignment) = booked(app, fitting_profile()).await;
    assert_eq!(
        put(app, &person, "/api/v1/me/access-passport", &passport_body())
            .await
            .status(),
        200
    );
    (coordinator, person, assignment)
}

async fn plan(app: &TestApp, who: &TestUser, assignment: &str) -> reqwest::Response {
    app.get_as(
        who,
        &format!("/api/v1/assignments/{assignment}/adjustments"),
    )
    .send()
    .await
    .unwrap()
}

async fn arrange(
    app: &TestApp,
    coordinator: &TestUser,
    assignment: &str,
    need: &str,
    mut body: Value,
) -> reqwest::Response {
    body["need"] = json!(need);
    app.post_as(
        coordinator,
        &format!("/api/v1/assignments/{assignment}/arrangements"),
    )
    .json(&body)
    .send()
    .await
    .unwrap()
}

fn status_of<'a>(plan: &'a Value, need: &str) -> &'a Value {
    &plan["adjustments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["need"] == need)
        .unwrap()["status"]
}

const INTERPRETER: &str = "bsl_interpreter";

async fn element_of(app: &TestApp, assignment: &str) -> String {
    stored_assignment(app, assignment).await.element_id
}

fn arranged_note<'a>(plan: &'a Value, need: &str) -> &'a Value {
    &plan["adjustments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["need"] == need)
        .unwrap()["arranged"]["note"]
}
const BOOKED: &str = "Jo, a registered interpreter, will be at the session.";

both_backends! {
    async fn no_readable_column_names_the_need_arranged(app) {
        let (coordinator, person, assignment) = booked_with_needs(&app).await;
        assert_eq!(arrange(&app, &coordinator, &assignment, INTERPRETER, json!({"arranged": true, "note": BOOKED})).await.status(), 200);
        assert_eq!(columns_containing(&app, "Sign Language").await, Vec::<String>::new(), "waiting to be sent");
        app.drain_outbox().await;
        assert!(app.emails_to(&person.email).pop().unwrap().text.contains("British Sign Language"));
        assert_eq!(columns_containing(&app, "Sign Language").await, Vec::<String>::new(), "sent");
    }

    async fn a_refused_arrangement_still_records_that_the_plan_was_read(app) {
        let (coordinator, _, assignment) = booked_with_needs(&app).await;
        let refused = arrange(&app, &coordinator, &assignment, "step_free_access", json!({"arranged": true})).await;
        assert_eq!(refused.status(), 422);
        let reads = format!("SELECT COUNT(*) AS n FROM audit_log WHERE actor_id = '{}' AND route = 'POST /api/v1/assignments/{{id}}/arrangements'", coordinator.id);
        assert_eq!(count(&app, reads).await, 1);
    }

    async fn needs_arranged_at_once_are_all_kept(app) {
        let (coordinator, person, assignment) = booked_with_needs(&app).await;
        let needs = [INTERPRETER, "lipspeaker", "speech_to_text_reporter", "quiet_room", "rest_space", "hearing_loop"];
        let mut passport = passport_body();
        passport["needs"] = json!(needs.iter().map(|code| json!({"code": code, "detail": null})).collect::<Vec<_>>());
        assert_eq!(put(&app, &person, "/api/v1/me/access-passport", &passport).await.status(), 200);
        let before: Value = plan(&app, &person, &assignment).await.json().await.unwrap();
        assert_eq!(before["still_to_arrange"], needs.len(), "{before}");
        let all = needs.iter().map(|need| arrange(&app, &coordinator, &assignment, need, json!({"arranged": true})));
        for answer in futures_util::future::join_all(all).await {
            assert_eq!(answer.status(), 200);
        }
        let seen: Value = plan(&app, &person, &assignment).await.json().await.unwrap();
        assert_eq!(seen["still_to_arrange"], 0, "none lost: {seen}");
    }

    async fn an_arrangement_is_forgotten_when_the_person_no_longer_lists_the_need(app) {
        let (coordinator, person, assignment) = booked_with_needs(&app).await;
        assert_eq!(arrange(&app, &coordinator, &assignment, INTERPRETER, json!({"arranged": true, "note": BOOKED})).await.status(), 200);
        let mut without = passport_body();
        without["needs"] = json!([{"code": "step_free_access", "detail": null}]);
        assert_eq!(put(&app, &person, "/api/v1/me/access-passport", &without).await.status(), 200);
        assert_eq!(put(&app, &person, "/api/v1/me/access-passport", &passport_body()).await.status(), 200);
        let seen: Value = plan(&app, &person, &assignment).await.json().await.unwrap();
        assert_eq!(status_of(&seen, INTERPRETER), "to_arrange", "the old booking may be cancelled: arrange it again");
    }

    async fn the_person_is_told_when_an_arrangement_falls_through_and_not_twice_when_nothing_changed(app) {
        let (coordinator, person, assignment) = booked_with_needs(&app).await;
        assert_eq!(arrange(&app, &coordinator, &assignment, INTERPRETER, json!({"arranged": true, "note": BOOKED})).await.status(), 200);
        assert_eq!(arrange(&app, &coordinator, &assignment, INTERPRETER, json!({"arranged": true, "note": BOOKED})).await.status(), 200);
        app.drain_outbox().await;
        let told = app.emails_to(&person.email).len();
        assert_eq!(arrange(&app, &coordinator, &assignment, INTERPRETER, json!({"arranged": false})).await.status(), 200);
        app.drain_outbox().await;
        let emails = app.emails_to(&person.email);
        assert_eq!(emails.len(), told + 1);
        assert!(emails.last().unwrap().text.contains("fallen through"), "{}", emails.last().unwrap().text);
        let arranged = app.emails_to(&person.email).iter().filter(|e| e.subject.contains("is arranged")).count();
        assert_eq!(arranged, 1, "the same arrangement recorded twice is told once");
    }

    async fn partners_see_that_it_is_arranged_but_not_the_note(app) {
        let (coordinator, partner, project) = crate::partners::project(&app).await;
        let person = crate::partners::coproducer(&app, fitting_profile()).await;
        assert_eq!(put(&app, &person, "/api/v1/me/access-passport", &passport_body()).await.status(), 200);
        let element = crate::matching::first_element(&project);
        let invitations: Vec<Value> = crate::matching::invite(&app, &coordinator, &element, &[&person.id]).await.json().await.unwrap();
        let accepted: Value = crate::matching::accept(&app, &person, invitations[0]["id"].as_str().unwrap()).await.json().await.unwrap();
        let assignment = accepted["assignment"]["id"].as_str().unwrap().to_string();
        assert_eq!(arrange(&app, &coordinator, &assignment, INTERPRETER, json!({"arranged": true, "note": BOOKED})).await.status(), 200);

        let listed = items(app.get_as(&partner, &format!("/api/v1/elements/{element}/assignments")).send().await.unwrap()).await;
        let seen = json!({"adjustments": listed[0]["adjustments"]});
        assert_eq!(status_of(&seen, INTERPRETER), "arranged");
        assert!(arranged_note(&seen, INTERPRETER).is_null(), "{seen}");
    }

    async fn the_person_sees_what_is_met_and_what_is_to_arrange_on_their_booking(app) {
        let (_, person, assignment) = booked_with_needs(&app).await;
        let response = plan(&app, &person, &assignment).await;
        assert_eq!(response.status(), 200);
        let plan: Value = response.json().await.unwrap();
        assert_eq!(status_of(&plan, "step_free_access"), "met");
        assert_eq!(status_of(&plan, INTERPRETER), "to_arrange");
        assert_eq!(plan["still_to_arrange"], 1);
        assert_eq!(plan["status"], "confirmed");
    }

    async fn a_coordinator_marks_an_adjustment_arranged_and_the_person_is_told(app) {
        let (coordinator, person, assignment) = booked_with_needs(&app).await;
        let response = arrange(&app, &coordinator, &assignment, INTERPRETER, json!({"arranged": true, "note": BOOKED})).await;
        assert_eq!(response.status(), 200);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(status_of(&answer, INTERPRETER), "arranged");
        assert_eq!(answer["still_to_arrange"], 0);

        let seen: Value = plan(&app, &person, &assignment).await.json().await.unwrap();
        let interpreter = seen["adjustments"].as_array().unwrap().iter().find(|a| a["need"] == INTERPRETER).unwrap();
        assert_eq!(interpreter["arranged"]["note"], BOOKED);
        assert!(interpreter["arranged"]["arranged_at"].is_string());
        app.drain_outbox().await;
        let email = app.emails_to(&person.email).pop().unwrap();
        assert!(email.subject.contains("is arranged"), "{}", email.subject);
        assert!(email.text.contains("British Sign Language") && email.text.contains(BOOKED), "{}", email.text);
    }

    async fn an_arrangement_that_fell_through_is_to_arrange_again(app) {
        let (coordinator, _, assignment) = booked_with_needs(&app).await;
        assert_eq!(arrange(&app, &coordinator, &assignment, INTERPRETER, json!({"arranged": true})).await.status(), 200);
        let again: Value = arrange(&app, &coordinator, &assignment, INTERPRETER, json!({"arranged": false})).await.json().await.unwrap();
        assert_eq!(status_of(&again, INTERPRETER), "to_arrange");
        assert_eq!(again["still_to_arrange"], 1);
    }

    async fn a_need_not_on_the_plan_or_already_met_is_refused_naming_the_need(app) {
        let (coordinator, person, assignment) = booked_with_needs(&app).await;
        for (need, code) in [("lipspeaker", "not_on_plan"), ("step_free_access", "already_met"), ("free_cake", "unknown_code")] {
            let body = problem(arrange(&app, &coordinator, &assignment, need, json!({"arranged": true})).await).await;
            assert_eq!(body["status"], 422, "{need}");
            assert_eq!(error_fields(&body), ["need"], "{need}");
            assert_eq!(body["errors"][0]["code"], code, "{need}");
        }
        let body = problem(arrange(&app, &coordinator, &assignment, INTERPRETER, json!({"arranged": true, "note": "x".repeat(1001)})).await).await;
        assert_eq!(error_fields(&body), ["note"]);
        let seen: Value = plan(&app, &person, &assignment).await.json().await.unwrap();
        assert_eq!(seen["still_to_arrange"], 1, "nothing recorded");
    }

    async fn adjustments_are_arranged_only_for_a_booking_that_stands(app) {
        let (coordinator, person, assignment) = booked_with_needs(&app).await;
        let withdrawn = app.post_as(&person, &format!("/api/v1/assignments/{assignment}/withdraw")).json(&json!({})).send().await.unwrap();
        assert_eq!(withdrawn.status(), 200);
        let body = problem(arrange(&app, &coordinator, &assignment, INTERPRETER, json!({"arranged": true})).await).await;
        assert_eq!(body["status"], 409);
        assert_eq!(body["code"], "booking_not_confirmed");
    }

    async fn a_coordinators_read_of_a_plan_is_audited_and_the_persons_own_is_not(app) {
        let (coordinator, person, assignment) = booked_with_needs(&app).await;
        let reads = |who: &str| format!("SELECT COUNT(*) AS n FROM audit_log WHERE actor_id = '{who}' AND route = 'GET /api/v1/assignments/{{id}}/adjustments'");
        assert_eq!(plan(&app, &person, &assignment).await.status(), 200);
        assert_eq!(count(&app, reads(&person.id)).await, 0);
        assert_eq!(plan(&app, &coordinator, &assignment).await.status(), 200);
        assert_eq!(count(&app, reads(&coordinator.id)).await, 1);
    }

    async fn what_was_arranged_is_sealed_at_rest(app) {
        let (coordinator, _, assignment) = booked_with_needs(&app).await;
        assert_eq!(arrange(&app, &coordinator, &assignment, INTERPRETER, json!({"arranged": true, "note": BOOKED})).await.status(), 200);
        let id = assignment.clone();
        let stored = app.state.db.read(move |conn| Ok(coproduce::db::queries::adjustments::sealed_of(conn, &id)?)).await.unwrap().unwrap();
        let text = String::from_utf8_lossy(&stored);
        assert!(!text.contains("registered interpreter") && !text.contains(INTERPRETER), "sealed: {text}");
    }

    async fn the_project_team_sees_what_has_been_arranged(app) {
        let (coordinator, _, assignment) = booked_with_needs(&app).await;
        assert_eq!(arrange(&app, &coordinator, &assignment, INTERPRETER, json!({"arranged": true, "note": BOOKED})).await.status(), 200);
        let element = element_of(&app, &assignment).await;
        let listed = items(app.get_as(&coordinator, &format!("/api/v1/elements/{element}/assignments")).send().await.unwrap()).await;
        let booking = listed.iter().find(|a| a["id"] == assignment.as_str()).unwrap();
        let interpreter = booking["adjustments"].as_array().unwrap().iter().find(|a| a["need"] == INTERPRETER).unwrap();
        assert_eq!(interpreter["status"], "arranged");
    }

    async fn deleting_the_account_forgets_what_was_arranged_and_the_export_shows_it_before(app) {
        let (coordinator, person, assignment) = booked_with_needs(&app).await;
        assert_eq!(arrange(&app, &coordinator, &assignment, INTERPRETER, json!({"arranged": true, "note": BOOKED})).await.status(), 200);
        let export: Value = app.get_as(&person, "/api/v1/me/export").send().await.unwrap().json().await.unwrap();
        assert_eq!(export["assignments"][0]["arranged_for_your_access_needs"][INTERPRETER]["note"], BOOKED);

        let erased = app.delete_as(&person, "/api/v1/me").json(&json!({"confirm": "delete my account"})).send().await.unwrap();
        assert_eq!(erased.status(), 204);
        let left = count(&app, format!("SELECT COUNT(*) AS n FROM adjustment_arrangements WHERE assignment_id = '{assignment}'")).await;
        assert_eq!(left, 0);
    }
}

/// Noon, `days` before the test element's session (40 days ahead at 10:00).
fn days_before_the_session(days: i64) -> chrono::NaiveDateTime {
    let session = (chrono::Utc::now() + chrono::Duration::days(40)).date_naive();
    (session - chrono::Duration::days(days))
        .and_hms_opt(12, 0, 0)
        .unwrap()
}

async fn remind_at(app: &TestApp, at: chrono::NaiveDateTime) -> bool {
    coproduce::jobs::send_adjustment_reminders(&app.state, at)
        .await
        .unwrap()
}

both_backends! {
    async fn coordinators_are_reminded_once_a_day_of_a_booking_starting_soon_with_adjustments_to_arrange(app) {
        let (coordinator, person, _) = booked_with_needs(&app).await;
        assert!(!remind_at(&app, days_before_the_session(10)).await, "not yet within a week");
        assert!(remind_at(&app, days_before_the_session(3)).await);
        assert!(!remind_at(&app, days_before_the_session(3)).await, "once a day");
        app.drain_outbox().await;
        let email = app.emails_to(&coordinator.email).pop().unwrap();
        assert!(email.subject.contains("adjustments to arrange"), "{}", email.subject);
        assert!(email.text.contains("Peer interviews") && email.text.contains("1 still to arrange"), "{}", email.text);
        for private in ["Sign Language", "interpreter", person.email.as_str(), "Test coproducer"] {
            assert!(!email.text.contains(private), "names no need and no person: {private:?} in {}", email.text);
        }
    }

    async fn nobody_is_reminded_once_everything_is_arranged(app) {
        let (coordinator, _, assignment) = booked_with_needs(&app).await;
        assert!(remind_at(&app, days_before_the_session(4)).await, "reminded while it waits");
        assert_eq!(arrange(&app, &coordinator, &assignment, INTERPRETER, json!({"arranged": true})).await.status(), 200);
        assert!(!remind_at(&app, days_before_the_session(3)).await);
    }

    async fn nobody_is_reminded_of_a_cancelled_element_and_nothing_is_arranged_for_it(app) {
        let (coordinator, _, assignment) = booked_with_needs(&app).await;
        let element = element_of(&app, &assignment).await;
        // Under way when cancelled, so the booking stays (for claims) while the element is off.
        for change in [json!({"people_needed": 1}), json!({"status": "in_progress"}), json!({"status": "cancelled"})] {
            let changed = crate::partners::patch_element(&app, &coordinator, &element, change).await;
            assert_eq!(changed.status(), 200, "{}", changed.text().await.unwrap());
        }
        assert_eq!(stored_assignment(&app, &assignment).await.status, "confirmed");
        assert!(!remind_at(&app, days_before_the_session(3)).await);
        let body = problem(arrange(&app, &coordinator, &assignment, INTERPRETER, json!({"arranged": true})).await).await;
        assert_eq!(body["code"], "element_not_going_ahead");
    }

    async fn the_adjustments_reminder_waits_for_the_working_day(app) {
        booked_with_needs(&app).await;
        let early = days_before_the_session(3).date().and_hms_opt(7, 0, 0).unwrap();
        assert!(!remind_at(&app, early).await);
        assert!(remind_at(&app, days_before_the_session(3)).await);
    }
}

both_backends! {
    async fn what_was_arranged_goes_a_month_after_the_booking_ended(app) {
        let (coordinator, person, assignment) = booked_with_needs(&app).await;
        assert_eq!(arrange(&app, &coordinator, &assignment, INTERPRETER, json!({"arranged": true, "note": BOOKED})).await.status(), 200);
        let retain = |days: i64| {
            let at = chrono::Utc::now().naive_utc() + chrono::Duration::days(days);
            let state = app.state.clone();
            async move { coproduce::jobs::apply_retention(&state, at).await.unwrap().ended_booking_arrangements_deleted }
        };
        assert_eq!(retain(60).await, 0, "kept while the booking stands");
        let done = app.post_as(&coordinator, &format!("/api/v1/assignments/{assignment}/complete")).json(&json!({})).send().await.unwrap();
        assert_eq!(done.status(), 200);
        assert_eq!(retain(29).await, 0);
        assert_eq!(retain(31).await, 1);
        let export: Value = app.get_as(&person, "/api/v1/me/export").send().await.unwrap().json().await.unwrap();
        assert_eq!(export["assignments"][0]["arranged_for_your_access_needs"], json!({}));
    }

    async fn rotating_the_data_key_keeps_what_was_arranged_readable(app, |s| {
        s.crypto.data_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into();
    }) {
        let (coordinator, _, assignment) = booked_with_needs(&app).await;
        assert_eq!(arrange(&app, &coordinator, &assignment, INTERPRETER, json!({"arranged": true, "note": BOOKED})).await.status(), 200);
        let mut rotated = (*app.state.settings).clone();
        rotated.crypto.previous_keys = vec![rotated.crypto.data_key.clone()];
        rotated.crypto.data_key = "HxwdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=".into();
        let settings = rotated.clone();
        tokio::task::spawn_blocking(move || coproduce::commands::reencrypt(&settings)).await.unwrap().unwrap();

        let only_new = coproduce::crypto::DataCipher::new(&rotated.crypto.data_key, &[]).unwrap();
        let id = assignment.clone();
        let sealed = app.state.db.read(move |conn| Ok(coproduce::db::queries::adjustments::sealed_of(conn, &id)?)).await.unwrap().unwrap();
        let opened: Value = only_new.decrypt_json(&assignment, coproduce::crypto::Field::AdjustmentArrangements, &sealed).unwrap();
        assert_eq!(opened[INTERPRETER]["note"], BOOKED);
    }
}
