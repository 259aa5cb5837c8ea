//! Claims for time worked and expenses: the co-producer claims on their own booking, a
//! coordinator approves or rejects it and records payment, and the person hears of each step.

use serde_json::{Value, json};

use crate::helpers::*;
use crate::matching::{accept, candidates, first_element, fitting_profile, invite};
use crate::partners::{
    accepted_project, coproducer, organisation, partner_of, project, request_body,
};
use crate::people::put;

/// A coordinator and a co-producer confirmed on the test element (£25.00 an hour).
pub async fn booked(app: &TestApp, profile: Value) -> (TestUser, TestUser, String) {
    let (coordinator, _, project) = project(app).await;
    let person = coproducer(app, profile).await;
    let invitations: Vec<Value> =
        invite(app, &coordinator, &first_element(&project), &[&person.id])
            .await
            .json()
            .await
            .unwrap();
    let accepted: Value = accept(app, &person, invitations[0]["id"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    let assignment = accepted["assignment"]["id"].as_str().unwrap().to_string();
    (coordinator, person, assignment)
}

pub async fn claim(
    app: &TestApp,
    who: &TestUser,
    assignment: &str,
    body: Value,
) -> reqwest::Response {
    app.post_as(who, &format!("/api/v1/assignments/{assignment}/claims"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub async fn decide(
    app: &TestApp,
    coordinator: &TestUser,
    claim: &str,
    body: Value,
) -> reqwest::Response {
    app.post_as(coordinator, &format!("/api/v1/claims/{claim}/decision"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub async fn pay(app: &TestApp, coordinator: &TestUser, claim: &str) -> reqwest::Response {
    app.post_as(coordinator, &format!("/api/v1/claims/{claim}/paid"))
        .send()
        .await
        .unwrap()
}

pub fn bus_fare() -> Value {
    json!({"minutes_worked": 90, "expenses_pence": 840, "expenses_note": "Bus fare", "note": "Two interviews"})
}

async fn my_claims(app: &TestApp, who: &TestUser) -> Vec<Value> {
    items(app.get_as(who, "/api/v1/me/claims").send().await.unwrap()).await
}

both_backends! {
    async fn a_co_producer_claims_time_at_the_elements_rate_and_expenses(app) {
        let (_, person, assignment) = booked(&app, fitting_profile()).await;
        let response = claim(&app, &person, &assignment, bus_fare()).await;
        assert_eq!(response.status(), 201);
        let made: Value = response.json().await.unwrap();
        assert_eq!(made["status"], "submitted");
        assert_eq!(made["fee_pence"], 3750, "90 minutes at £25.00 an hour");
        assert_eq!(made["expenses_pence"], 840);
        assert_eq!(made["total_pence"], 4590);
        assert_eq!(made["element_title"], "Peer interviews");
        let mine = my_claims(&app, &person).await;
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0]["id"], made["id"]);
    }

    async fn people_who_decline_fees_are_paid_their_expenses_only(app) {
        let mut profile = fitting_profile();
        profile["payment"]["method"] = json!("decline_fee");
        let (_, person, assignment) = booked(&app, profile).await;
        let made: Value = claim(&app, &person, &assignment, bus_fare()).await.json().await.unwrap();
        assert_eq!(made["fee_pence"], 0);
        assert_eq!(made["total_pence"], 840);
    }

    async fn a_claim_for_nothing_is_refused_naming_the_time_and_nothing_is_stored(app) {
        let (_, person, assignment) = booked(&app, fitting_profile()).await;
        let body = problem(claim(&app, &person, &assignment, json!({"minutes_worked": 0})).await).await;
        assert_eq!(error_fields(&body), ["minutes_worked"]);
        assert_eq!(body["errors"][0]["code"], "nothing_to_claim");
        assert!(my_claims(&app, &person).await.is_empty());
    }

    async fn expenses_without_a_note_and_amounts_out_of_range_are_refused_by_field(app) {
        let (_, person, assignment) = booked(&app, fitting_profile()).await;
        let body = problem(claim(&app, &person, &assignment, json!({"minutes_worked": 20000, "expenses_pence": 500})).await).await;
        assert_eq!(error_fields(&body), ["minutes_worked", "expenses_note"]);
        let negative = problem(claim(&app, &person, &assignment, json!({"minutes_worked": 60, "expenses_pence": -1})).await).await;
        assert_eq!(error_fields(&negative), ["expenses_pence"]);
        assert!(my_claims(&app, &person).await.is_empty());
    }

    async fn a_withdrawn_booking_cannot_be_claimed_for(app) {
        let (_, person, assignment) = booked(&app, fitting_profile()).await;
        let withdrawn = app.post_as(&person, &format!("/api/v1/assignments/{assignment}/withdraw"))
            .json(&json!({"reason": "I am not well."})).send().await.unwrap();
        assert_eq!(withdrawn.status(), 200);
        let refused = claim(&app, &person, &assignment, bus_fare()).await;
        assert_eq!(refused.status(), 409);
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["code"], "assignment_not_claimable");
        assert!(body["detail"].as_str().unwrap().contains("withdrawn"), "{body}");
    }

    async fn a_claim_made_as_the_booking_is_withdrawn_is_refused(app) {
        use diesel::connection::SimpleConnection;
        let (_, person, assignment) = booked(&app, fitting_profile()).await;
        // A withdrawal caught half way: the account held, the booking already marked withdrawn.
        let mut withdrawing = app.transaction_of_its_own();
        if app.database_url.starts_with("postgres") {
            withdrawing.batch_execute(&format!("SELECT status FROM users WHERE id = '{}' FOR SHARE", person.id)).unwrap();
        }
        withdrawing.batch_execute(&format!("UPDATE assignments SET status = 'withdrawn' WHERE id = '{assignment}'")).unwrap();
        let claiming = claim(&app, &person, &assignment, bus_fare());
        let response = answered_after_commit(withdrawing, claiming).await;
        assert_eq!(response.status(), 409);
        assert_eq!(problem(response).await["code"], "assignment_not_claimable");
        assert!(my_claims(&app, &person).await.is_empty());
    }

    async fn nobody_else_can_claim_on_a_booking(app) {
        let (coordinator, _, assignment) = booked(&app, fitting_profile()).await;
        let someone_else = coproducer(&app, fitting_profile()).await;
        assert_eq!(claim(&app, &someone_else, &assignment, bus_fare()).await.status(), 404);
        assert_eq!(claim(&app, &coordinator, &assignment, bus_fare()).await.status(), 404);
    }

    async fn approving_then_paying_emails_the_person_each_time(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let made: Value = claim(&app, &person, &assignment, bus_fare()).await.json().await.unwrap();
        let id = made["id"].as_str().unwrap();
        let approved = decide(&app, &coordinator, id, json!({"decision": "approve"})).await;
        assert_eq!(approved.status(), 200);
        assert_eq!(approved.json::<Value>().await.unwrap()["status"], "approved");
        app.drain_outbox().await;
        let email = app.emails_to(&person.email).pop().unwrap();
        assert!(email.subject.contains("approved"), "{}", email.subject);
        for words in ["£37.50", "£8.40", "£45.90", "We will pay it soon"] {
            assert!(email.text.contains(words), "{words:?} missing from: {}", email.text);
        }

        let paid = pay(&app, &coordinator, id).await;
        assert_eq!(paid.status(), 200);
        let paid: Value = paid.json().await.unwrap();
        assert_eq!(paid["status"], "paid");
        assert!(paid["paid_at"].is_string());
        let paid_id = id.to_string();
        let paid_by = app.state.db.read(move |conn| Ok(coproduce::db::queries::claims::find(conn, &paid_id)?)).await.unwrap().unwrap().paid_by;
        assert_eq!(paid_by.as_deref(), Some(coordinator.id.as_str()), "who paid is recorded");
        app.drain_outbox().await;
        let email = app.emails_to(&person.email).pop().unwrap();
        assert!(email.text.contains("We have paid your claim"), "{}", email.text);
    }

    async fn rejecting_needs_a_reason_which_the_person_reads(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let made: Value = claim(&app, &person, &assignment, bus_fare()).await.json().await.unwrap();
        let id = made["id"].as_str().unwrap();
        let body = problem(decide(&app, &coordinator, id, json!({"decision": "reject"})).await).await;
        assert_eq!(error_fields(&body), ["note"]);
        assert_eq!(my_claims(&app, &person).await[0]["status"], "submitted", "nothing changed");

        let reason = "The session was one hour, not ninety minutes. Please claim again.";
        let rejected: Value = decide(&app, &coordinator, id, json!({"decision": "reject", "note": reason})).await.json().await.unwrap();
        assert_eq!(rejected["status"], "rejected");
        assert_eq!(rejected["decision_note"], reason);
        app.drain_outbox().await;
        let email = app.emails_to(&person.email).pop().unwrap();
        assert!(email.text.contains(reason) && email.text.contains("send a new claim"), "{}", email.text);
    }

    async fn a_decided_claim_is_not_decided_again_and_only_an_approved_one_is_paid(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let made: Value = claim(&app, &person, &assignment, bus_fare()).await.json().await.unwrap();
        let id = made["id"].as_str().unwrap();
        let early = problem(pay(&app, &coordinator, id).await).await;
        assert_eq!(early["code"], "claim_not_approved");
        assert_eq!(decide(&app, &coordinator, id, json!({"decision": "approve"})).await.status(), 200);
        let again = decide(&app, &coordinator, id, json!({"decision": "reject", "note": "Changed my mind"})).await;
        assert_eq!(again.status(), 409);
        let body: Value = again.json().await.unwrap();
        assert_eq!(body["code"], "claim_already_decided");
        assert_eq!(my_claims(&app, &person).await[0]["status"], "approved");
    }

    async fn a_coordinator_who_is_also_a_co_producer_cannot_decide_or_pay_their_own_claim(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let made: Value = claim(&app, &person, &assignment, bus_fare()).await.json().await.unwrap();
        let id = made["id"].as_str().unwrap();
        let both = app.state.jwt
            .issue_access_token(&person.id, &[coproduce::domain::role::Role::Coproducer, coproduce::domain::role::Role::Coordinator], &person.session_id)
            .unwrap().token;
        let as_coordinator = TestUser { id: person.id.clone(), email: person.email.clone(), token: both, session_id: person.session_id.clone() };
        let own = problem(decide(&app, &as_coordinator, id, json!({"decision": "approve"})).await).await;
        assert_eq!(own["code"], "own_claim");
        assert_eq!(decide(&app, &coordinator, id, json!({"decision": "approve"})).await.status(), 200);
        let own = problem(pay(&app, &as_coordinator, id).await).await;
        assert_eq!(own["code"], "own_claim");
        assert_eq!(my_claims(&app, &person).await[0]["status"], "approved", "not paid");
    }

    async fn coordinators_see_claims_waiting_by_status(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let made: Value = claim(&app, &person, &assignment, bus_fare()).await.json().await.unwrap();
        let list = |status: &str| app.get_as(&coordinator, &format!("/api/v1/claims?status={status}")).send();
        let waiting: Value = list("submitted").await.unwrap().json().await.unwrap();
        assert_eq!(waiting["items"][0]["id"], made["id"]);
        let paid: Value = list("paid").await.unwrap().json().await.unwrap();
        assert_eq!(paid["items"], json!([]));
        let body = problem(list("lost").await.unwrap()).await;
        assert_eq!(error_fields(&body), ["status"]);
    }

    async fn the_export_holds_claims_and_erasure_keeps_amounts_without_words(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let made: Value = claim(&app, &person, &assignment, bus_fare()).await.json().await.unwrap();
        let export: Value = app.get_as(&person, "/api/v1/me/export").send().await.unwrap().json().await.unwrap();
        assert_eq!(export["claims"][0]["expenses_note"], "Bus fare");
        assert_eq!(export["claims"][0]["element"], "Peer interviews");

        let erased = app.delete_as(&person, "/api/v1/me").json(&json!({"confirm": "delete my account"})).send().await.unwrap();
        assert_eq!(erased.status(), 204);
        let listed: Value = app.get_as(&coordinator, "/api/v1/claims").send().await.unwrap().json().await.unwrap();
        let kept = &listed["items"][0];
        assert_eq!(kept["id"], made["id"]);
        assert_eq!(kept["total_pence"], 4590, "the accounts keep the amounts");
        assert_eq!(kept["expenses_note"], Value::Null);
        assert_eq!(kept["note"], Value::Null);
        let approved = decide(&app, &coordinator, made["id"].as_str().unwrap(), json!({"decision": "approve", "note": "Thanks"})).await;
        assert_eq!(approved.status(), 200, "a claim stays payable");
        assert_eq!(approved.json::<Value>().await.unwrap()["decision_note"], Value::Null);
    }

    async fn the_easy_read_email_uses_plain_words(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        put(&app, &person, "/api/v1/me/notification-preferences", &json!({"format": "easy_read", "digest": false})).await;
        let made: Value = claim(&app, &person, &assignment, bus_fare()).await.json().await.unwrap();
        decide(&app, &coordinator, made["id"].as_str().unwrap(), json!({"decision": "approve"})).await;
        app.drain_outbox().await;
        let email = app.emails_to(&person.email).pop().unwrap();
        assert!(email.text.contains("A coordinator says yes."), "{}", email.text);
        assert!(email.text.contains("All together: £45.90"), "{}", email.text);
    }
}

/// Runs the claims reminder at noon (UTC) `days` from today; true when one was queued.
async fn remind_at(app: &TestApp, days: i64) -> bool {
    remind_at_hour(app, days, 12).await
}

async fn remind_at_hour(app: &TestApp, days: i64, hour: u32) -> bool {
    let day = chrono::Utc::now().date_naive() + chrono::Duration::days(days);
    let at = day.and_hms_opt(hour, 0, 0).unwrap();
    coproduce::jobs::send_claim_reminders(&app.state, at)
        .await
        .unwrap()
}

/// The subjects of the claims reminders the coordinator has been sent.
async fn reminders_to(app: &TestApp, coordinator: &TestUser) -> Vec<String> {
    app.drain_outbox().await;
    app.emails_to(&coordinator.email)
        .into_iter()
        .map(|email| email.subject)
        .filter(|subject| subject.contains("waiting"))
        .collect()
}

both_backends! {
    async fn coordinators_are_reminded_once_a_day_of_a_claim_waiting_too_long_for_a_decision(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let made = claim(&app, &person, &assignment, bus_fare()).await;
        assert_eq!(made.status(), 201);
        let made: Value = made.json().await.unwrap();
        let claimed_at: chrono::DateTime<chrono::Utc> = made["created_at"].as_str().unwrap().parse().unwrap();
        assert!(!remind_at(&app, 0).await, "a new claim is not yet waiting too long");
        assert!(remind_at(&app, 6).await);
        assert!(!remind_at(&app, 6).await, "once a day");
        assert!(remind_at(&app, 7).await, "and again the next day while it waits");
        let reminders = reminders_to(&app, &coordinator).await;
        assert_eq!(reminders, ["1 claim is waiting for a decision", "1 claim is waiting for a decision"]);
        let text = app.emails_to(&coordinator.email).pop().unwrap().text;
        // Whole days from the claim to noon a week on: 6 when claimed after noon, else 7.
        let noon = (chrono::Utc::now().date_naive() + chrono::Duration::days(7)).and_hms_opt(12, 0, 0).unwrap();
        let waited = (noon - claimed_at.naive_utc()).num_days();
        assert!(text.contains(&format!("waited 5 days or more for a decision. It has waited {waited} days.")), "{text}");
    }

    async fn the_claims_reminder_waits_for_the_working_day(app) {
        let (_, person, assignment) = booked(&app, fitting_profile()).await;
        assert_eq!(claim(&app, &person, &assignment, bus_fare()).await.status(), 201);
        assert!(!remind_at_hour(&app, 6, 8).await, "not before claims.remind_hour (9)");
        assert!(remind_at_hour(&app, 6, 9).await);
    }

    async fn an_approved_claim_waiting_too_long_to_be_paid_is_in_the_reminder(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let made: Value = claim(&app, &person, &assignment, bus_fare()).await.json().await.unwrap();
        let id = made["id"].as_str().unwrap();
        assert_eq!(decide(&app, &coordinator, id, json!({"decision": "approve"})).await.status(), 200);
        assert!(remind_at(&app, 6).await);
        assert_eq!(reminders_to(&app, &coordinator).await, ["1 approved claim is waiting to be paid"]);
    }

    async fn paid_and_rejected_claims_are_never_reminded_about(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let paid: Value = claim(&app, &person, &assignment, bus_fare()).await.json().await.unwrap();
        let paid = paid["id"].as_str().unwrap();
        assert_eq!(decide(&app, &coordinator, paid, json!({"decision": "approve"})).await.status(), 200);
        assert_eq!(pay(&app, &coordinator, paid).await.status(), 200);
        let rejected: Value = claim(&app, &person, &assignment, bus_fare()).await.json().await.unwrap();
        let rejected = rejected["id"].as_str().unwrap();
        let no = json!({"decision": "reject", "note": "This was claimed already."});
        assert_eq!(decide(&app, &coordinator, rejected, no).await.status(), 200);
        assert!(!remind_at(&app, 30).await);
    }
}

/// Another organisation's element like the test element (£25.00 an hour for 12 hours), a day
/// later so its session clashes with nothing.
async fn a_day_later_element(app: &TestApp, coordinator: &TestUser) -> String {
    let org = organisation(app, coordinator, "Eastside Care").await;
    let partner = partner_of(app, &org).await;
    let mut body = request_body();
    for end in ["starts_at", "ends_at"] {
        let at = body["elements"][0]["sessions"][0][end]
            .as_str()
            .unwrap()
            .to_string();
        let later = chrono::DateTime::parse_from_rfc3339(&at).unwrap() + chrono::Duration::days(1);
        body["elements"][0]["sessions"][0][end] = json!(later.to_rfc3339());
    }
    let project = accepted_project(app, coordinator, &partner, &body).await;
    first_element(&project)
}

both_backends! {
    async fn pay_claimed_above_the_estimate_counts_towards_the_earnings_limit(app) {
        // fitting_profile's earnings limit is £1,000 a tax year.
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let next = a_day_later_element(&app, &coordinator).await;
        let before = candidates(&app, &coordinator, &next).await;
        assert!(before["items"].as_array().unwrap().iter().any(|c| c["coproducer_id"] == person.id.as_str()),
            "estimated pay £300 + £300 is within the limit");

        // 32 hours at £25.00: £800, far more than the 12 hours (£300) the element estimated.
        let made: Value = claim(&app, &person, &assignment, json!({"minutes_worked": 1920})).await.json().await.unwrap();
        assert_eq!(decide(&app, &coordinator, made["id"].as_str().unwrap(), json!({"decision": "approve"})).await.status(), 200);

        let after = candidates(&app, &coordinator, &next).await;
        assert!(!after["items"].as_array().unwrap().iter().any(|c| c["coproducer_id"] == person.id.as_str()),
            "£800 claimed + £300 would pass the limit: {after}");
        assert_eq!(after["excluded"]["earnings_limit"], 1);
    }

    async fn pay_claimed_on_a_booking_since_withdrawn_still_counts_towards_the_earnings_limit(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let next = a_day_later_element(&app, &coordinator).await;
        let made: Value = claim(&app, &person, &assignment, json!({"minutes_worked": 1920})).await.json().await.unwrap();
        let id = made["id"].as_str().unwrap();
        assert_eq!(decide(&app, &coordinator, id, json!({"decision": "approve"})).await.status(), 200);
        assert_eq!(pay(&app, &coordinator, id).await.status(), 200);
        let withdrawn = app.post_as(&person, &format!("/api/v1/assignments/{assignment}/withdraw"))
            .json(&json!({"reason": "I have to stop."})).send().await.unwrap();
        assert_eq!(withdrawn.status(), 200);

        let result = candidates(&app, &coordinator, &next).await;
        assert!(!result["items"].as_array().unwrap().iter().any(|c| c["coproducer_id"] == person.id.as_str()),
            "£800 paid + £300 would pass the £1,000 limit: {result}");
        assert_eq!(result["excluded"]["earnings_limit"], 1);
    }

    async fn pay_received_in_an_earlier_tax_year_does_not_count_towards_this_years_limit(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let next = a_day_later_element(&app, &coordinator).await;
        let made: Value = claim(&app, &person, &assignment, json!({"minutes_worked": 1920})).await.json().await.unwrap();
        let id = made["id"].as_str().unwrap().to_string();
        assert_eq!(decide(&app, &coordinator, &id, json!({"decision": "approve"})).await.status(), 200);
        assert_eq!(pay(&app, &coordinator, &id).await.status(), 200);
        let last_year = chrono::Utc::now().naive_utc() - chrono::Duration::days(400);
        app.state.db.write(move |conn| {
            use coproduce::db::schema::claims;
            use diesel::prelude::*;
            Ok(diesel::update(claims::table.find(&id)).set(claims::paid_at.eq(Some(last_year))).execute(conn)?)
        }).await.unwrap();

        let result = candidates(&app, &coordinator, &next).await;
        assert!(result["items"].as_array().unwrap().iter().any(|c| c["coproducer_id"] == person.id.as_str()),
            "£800 paid last tax year, nothing still to come on that booking, £300 now: {result}");
    }

    async fn an_earnings_limit_never_excludes_someone_who_takes_no_fees(app) {
        let (coordinator, _, project) = project(&app).await;
        let mut no_fees = fitting_profile();
        no_fees["payment"]["method"] = json!("decline_fee");
        no_fees["payment"]["earnings_limit_pence"] = json!(100);
        let volunteer = coproducer(&app, no_fees).await;
        let mut paid = fitting_profile();
        paid["payment"]["earnings_limit_pence"] = json!(100);
        let limited = coproducer(&app, paid).await;

        let result = candidates(&app, &coordinator, &first_element(&project)).await;
        let ids: Vec<&str> = result["items"].as_array().unwrap().iter().map(|c| c["coproducer_id"].as_str().unwrap()).collect();
        assert!(ids.contains(&volunteer.id.as_str()), "{result}");
        assert!(!ids.contains(&limited.id.as_str()), "£300 would pass a £1 limit");
    }

    async fn a_rejected_claim_does_not_count_towards_the_earnings_limit(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let next = a_day_later_element(&app, &coordinator).await;
        let made: Value = claim(&app, &person, &assignment, json!({"minutes_worked": 1920})).await.json().await.unwrap();
        let no = json!({"decision": "reject", "note": "The element was 12 hours."});
        assert_eq!(decide(&app, &coordinator, made["id"].as_str().unwrap(), no).await.status(), 200);
        let result = candidates(&app, &coordinator, &next).await;
        assert!(result["items"].as_array().unwrap().iter().any(|c| c["coproducer_id"] == person.id.as_str()), "{result}");
    }
}

both_backends! {
    async fn coordinators_download_the_approved_claims_to_pay_as_a_csv_file(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let approved: Value = claim(&app, &person, &assignment, bus_fare()).await.json().await.unwrap();
        let approved = approved["id"].as_str().unwrap().to_string();
        assert_eq!(decide(&app, &coordinator, &approved, json!({"decision": "approve"})).await.status(), 200);
        let waiting: Value = claim(&app, &person, &assignment, json!({"minutes_worked": 30})).await.json().await.unwrap();
        assert_eq!(waiting["status"], "submitted");

        let response = app.get_as(&coordinator, "/api/v1/claims/payments.csv").send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
        let disposition = response.headers()["content-disposition"].to_str().unwrap().to_string();
        assert!(disposition.starts_with("attachment; filename=\"coproduce-payments-preview-"), "{disposition}");
        let csv = response.text().await.unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 2, "the header and the one approved claim: {csv}");
        assert_eq!(lines[0], "\u{feff}claim_id,approved_on,name,email,payment_method,element,minutes_worked,fee,expenses,total,note");
        let today = chrono::Utc::now().date_naive();
        assert_eq!(lines[1], format!("{approved},{today},Test coproducer,{},bank_transfer,Peer interviews,90,37.50,8.40,45.90,Preview only: not in a payment run yet. Do not pay from this file.", person.email));
    }

    async fn an_approved_claim_of_someone_who_deleted_their_account_is_marked_in_the_payment_file(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let made: Value = claim(&app, &person, &assignment, bus_fare()).await.json().await.unwrap();
        assert_eq!(decide(&app, &coordinator, made["id"].as_str().unwrap(), json!({"decision": "approve"})).await.status(), 200);
        let confirm = json!({"confirm": "delete my account"});
        assert_eq!(app.delete_as(&person, "/api/v1/me").json(&confirm).send().await.unwrap().status(), 204);

        let csv = app.get_as(&coordinator, "/api/v1/claims/payments.csv").send().await.unwrap().text().await.unwrap();
        let row = csv.lines().nth(1).unwrap();
        assert!(row.contains(",Deleted account,,"), "no tombstone address: {row}");
        assert!(row.ends_with("find another way to reach them before paying."), "{row}");
    }

    async fn a_paid_claim_leaves_the_payment_file(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let made: Value = claim(&app, &person, &assignment, bus_fare()).await.json().await.unwrap();
        let id = made["id"].as_str().unwrap();
        assert_eq!(decide(&app, &coordinator, id, json!({"decision": "approve"})).await.status(), 200);
        assert_eq!(pay(&app, &coordinator, id).await.status(), 200);
        let csv = app.get_as(&coordinator, "/api/v1/claims/payments.csv").send().await.unwrap().text().await.unwrap();
        assert_eq!(csv.lines().count(), 1, "only the header: {csv}");
    }
}

/// The retention rules, run `years` (and a day) from now.
pub async fn retention_after(app: &TestApp, years: u32) -> coproduce::jobs::RetentionReport {
    let at = chrono::Utc::now().naive_utc() + chrono::Duration::days(1);
    let at = at
        .checked_add_months(chrono::Months::new(years * 12))
        .unwrap();
    coproduce::jobs::apply_retention(&app.state, at)
        .await
        .unwrap()
}

/// How many settled claims the retention rules, run `years` (and a day) from now, deleted.
async fn claims_deleted_after(app: &TestApp, years: u32) -> usize {
    retention_after(app, years).await.settled_claims_deleted
}

both_backends! {
    async fn a_claim_paid_over_six_tax_years_ago_is_deleted_and_one_still_owed_never_is(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let paid: Value = claim(&app, &person, &assignment, bus_fare()).await.json().await.unwrap();
        let paid = paid["id"].as_str().unwrap();
        assert_eq!(decide(&app, &coordinator, paid, json!({"decision": "approve"})).await.status(), 200);
        assert_eq!(pay(&app, &coordinator, paid).await.status(), 200);
        let owed: Value = claim(&app, &person, &assignment, bus_fare()).await.json().await.unwrap();
        let owed = owed["id"].as_str().unwrap();
        assert_eq!(decide(&app, &coordinator, owed, json!({"decision": "approve"})).await.status(), 200);

        assert_eq!(claims_deleted_after(&app, 6).await, 0, "kept six whole tax years after the one it was paid in");
        assert_eq!(claims_deleted_after(&app, 7).await, 1);
        let left = my_claims(&app, &person).await;
        assert_eq!(left.len(), 1);
        assert_eq!(left[0]["id"], owed, "money still owed is never deleted");
        assert_eq!(claims_deleted_after(&app, 20).await, 0);
    }
}
