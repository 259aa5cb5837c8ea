//! Payment runs: a coordinator takes the approved claims waiting into one run, pays from its
//! file and records the run as paid, so nobody is paid twice from two downloads.

use serde_json::{Value, json};

use crate::claims::{booked, bus_fare, claim, decide, pay, retention_after};
use crate::helpers::*;
use crate::matching::fitting_profile;

/// A claim made and approved; its id.
async fn approved(
    app: &TestApp,
    coordinator: &TestUser,
    person: &TestUser,
    assignment: &str,
) -> String {
    let made: Value = claim(app, person, assignment, bus_fare())
        .await
        .json()
        .await
        .unwrap();
    let id = made["id"].as_str().unwrap().to_string();
    assert_eq!(
        decide(app, coordinator, &id, json!({"decision": "approve"}))
            .await
            .status(),
        200
    );
    id
}

async fn start_run(app: &TestApp, coordinator: &TestUser) -> reqwest::Response {
    app.post_as(coordinator, "/api/v1/claims/payment-runs")
        .send()
        .await
        .unwrap()
}

async fn started(app: &TestApp, coordinator: &TestUser) -> Value {
    let response = start_run(app, coordinator).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn pay_run(
    app: &TestApp,
    coordinator: &TestUser,
    run: &Value,
    body: Option<Value>,
) -> reqwest::Response {
    let request = app.post_as(
        coordinator,
        &format!(
            "/api/v1/claims/payment-runs/{}/paid",
            run["id"].as_str().unwrap()
        ),
    );
    match body {
        Some(body) => request.json(&body),
        None => request,
    }
    .send()
    .await
    .unwrap()
}

async fn text(app: &TestApp, coordinator: &TestUser, path: &str) -> String {
    let response = app.get_as(coordinator, path).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The claim ids of a payment file, in order.
fn claims_in(csv: &str) -> Vec<String> {
    csv.lines()
        .skip(1)
        .map(|line| line.split(',').next().unwrap().to_string())
        .collect()
}

async fn status_of(app: &TestApp, claim: &str) -> String {
    let id = claim.to_string();
    app.state
        .db
        .read(move |conn| Ok(coproduce::db::queries::claims::find(conn, &id)?))
        .await
        .unwrap()
        .unwrap()
        .status
}

both_backends! {
    async fn a_payment_run_takes_every_approved_claim_waiting_and_nothing_else(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let first = approved(&app, &coordinator, &person, &assignment).await;
        let second = approved(&app, &coordinator, &person, &assignment).await;
        let waiting: Value = claim(&app, &person, &assignment, bus_fare()).await.json().await.unwrap();

        let run = started(&app, &coordinator).await;
        assert_eq!(run["status"], "open");
        assert_eq!(run["claims"], 2);
        assert_eq!(run["total_pence"], 2 * 4590);
        assert_eq!(run["paid_claims"], 0);
        assert_eq!(run["created_by"], coordinator.id.as_str());
        let file = text(&app, &coordinator, run["file"].as_str().unwrap()).await;
        assert_eq!(claims_in(&file), [first, second]);
        assert!(!file.contains(waiting["id"].as_str().unwrap()), "a claim not yet approved waits: {file}");
    }

    async fn claims_in_a_run_leave_the_preview_and_a_second_run_finds_nothing_to_pay(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let id = approved(&app, &coordinator, &person, &assignment).await;
        assert_eq!(claims_in(&text(&app, &coordinator, "/api/v1/claims/payments.csv").await), [id.as_str()]);
        started(&app, &coordinator).await;

        assert_eq!(claims_in(&text(&app, &coordinator, "/api/v1/claims/payments.csv").await), Vec::<String>::new());
        let again = problem(start_run(&app, &coordinator).await).await;
        assert_eq!(again["status"], 409);
        assert_eq!(again["code"], "nothing_to_pay");
        let runs = items(app.get_as(&coordinator, "/api/v1/claims/payment-runs").send().await.unwrap()).await;
        assert_eq!(runs.len(), 1, "the refused run was not stored: {runs:?}");
    }

    async fn a_claim_approved_after_a_run_started_waits_for_the_next_one(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        approved(&app, &coordinator, &person, &assignment).await;
        let run = started(&app, &coordinator).await;
        let path = run["file"].as_str().unwrap();
        let response = app.get_as(&coordinator, path).send().await.unwrap();
        assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
        let disposition = response.headers()["content-disposition"].to_str().unwrap().to_string();
        assert!(disposition.starts_with("attachment; filename=\"coproduce-payment-run-"), "{disposition}");
        let first = response.text().await.unwrap();
        approved(&app, &coordinator, &person, &assignment).await;
        assert_eq!(text(&app, &coordinator, path).await, first, "a claim approved later waits for the next run");
    }

    async fn recording_a_run_paid_pays_each_claim_and_emails_the_person(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let first = approved(&app, &coordinator, &person, &assignment).await;
        let second = approved(&app, &coordinator, &person, &assignment).await;
        let run = started(&app, &coordinator).await;
        app.drain_outbox().await;
        let before = app.emails_to(&person.email).len();

        let paid = pay_run(&app, &coordinator, &run, None).await;
        assert_eq!(paid.status(), 200);
        let paid: Value = paid.json().await.unwrap();
        assert_eq!(paid["status"], "paid");
        assert_eq!(paid["paid_claims"], 2);
        assert_eq!(paid["paid_by"], coordinator.id.as_str());
        assert!(paid["paid_at"].is_string());
        assert_eq!(status_of(&app, &first).await, "paid");
        assert_eq!(status_of(&app, &second).await, "paid");
        app.drain_outbox().await;
        let emails = app.emails_to(&person.email);
        assert_eq!(emails.len(), before + 2, "one email a claim");
        assert!(emails.last().unwrap().text.contains("We have paid your claim"), "{}", emails.last().unwrap().text);
    }

    async fn a_run_is_recorded_paid_once(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        approved(&app, &coordinator, &person, &assignment).await;
        let run = started(&app, &coordinator).await;
        assert_eq!(pay_run(&app, &coordinator, &run, None).await.status(), 200);
        app.drain_outbox().await;
        let emails = app.emails_to(&person.email).len();

        let again = problem(pay_run(&app, &coordinator, &run, None).await).await;
        assert_eq!(again["status"], 409);
        assert_eq!(again["code"], "payment_run_already_paid");
        app.drain_outbox().await;
        assert_eq!(app.emails_to(&person.email).len(), emails, "nobody told twice");
    }

    async fn claims_listed_as_not_paid_go_back_to_wait_for_the_next_run(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let paid = approved(&app, &coordinator, &person, &assignment).await;
        let bounced = approved(&app, &coordinator, &person, &assignment).await;
        let run = started(&app, &coordinator).await;

        let done: Value = pay_run(&app, &coordinator, &run, Some(json!({"not_paid": [bounced]}))).await.json().await.unwrap();
        assert_eq!((done["claims"].clone(), done["paid_claims"].clone()), (json!(1), json!(1)));
        assert_eq!(status_of(&app, &paid).await, "paid");
        assert_eq!(status_of(&app, &bounced).await, "approved");
        assert_eq!(claims_in(&text(&app, &coordinator, "/api/v1/claims/payments.csv").await), [bounced.as_str()]);
        let next = started(&app, &coordinator).await;
        assert_eq!(claims_in(&text(&app, &coordinator, next["file"].as_str().unwrap()).await), [bounced]);
    }

    async fn not_paid_naming_a_claim_outside_the_run_is_refused_and_nothing_is_recorded(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let inside = approved(&app, &coordinator, &person, &assignment).await;
        let run = started(&app, &coordinator).await;
        let outside = approved(&app, &coordinator, &person, &assignment).await;

        let body = problem(pay_run(&app, &coordinator, &run, Some(json!({"not_paid": [outside]}))).await).await;
        assert_eq!(body["status"], 422);
        assert_eq!(error_fields(&body), ["not_paid[0]"]);
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("is not in this payment run"), "{body}");
        assert_eq!(status_of(&app, &inside).await, "approved", "nothing paid");
        let path = format!("/api/v1/claims/payment-runs/{}", run["id"].as_str().unwrap());
        let still: Value = app.get_as(&coordinator, &path).send().await.unwrap().json().await.unwrap();
        assert_eq!(still["status"], "open");
    }

    async fn a_claim_in_a_run_is_recorded_paid_only_with_its_run(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let id = approved(&app, &coordinator, &person, &assignment).await;
        let run = started(&app, &coordinator).await;

        let refused = problem(pay(&app, &coordinator, &id).await).await;
        assert_eq!(refused["status"], 409);
        assert_eq!(refused["code"], "claim_in_payment_run");
        assert!(refused["detail"].as_str().unwrap().contains(run["id"].as_str().unwrap()), "{refused}");
        assert_eq!(status_of(&app, &id).await, "approved");
    }

    async fn once_a_run_is_recorded_paid_its_file_says_not_to_pay_any_line_again(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        approved(&app, &coordinator, &person, &assignment).await;
        approved(&app, &coordinator, &person, &assignment).await;
        let run = started(&app, &coordinator).await;
        assert_eq!(pay_run(&app, &coordinator, &run, None).await.status(), 200);

        let file = text(&app, &coordinator, run["file"].as_str().unwrap()).await;
        let today = chrono::Utc::now().date_naive();
        let lines: Vec<&str> = file.lines().skip(1).collect();
        assert_eq!(lines.len(), 2);
        for line in lines {
            assert!(line.ends_with(&format!("Already paid on {today}: do not pay again.")), "{line}");
        }
    }

    async fn a_coordinator_cannot_record_a_run_holding_their_own_claim_and_nothing_is_paid(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let own = approved(&app, &coordinator, &person, &assignment).await;
        let (other_coordinator, other, other_assignment) = booked(&app, fitting_profile()).await;
        let others = approved(&app, &other_coordinator, &other, &other_assignment).await;
        let run = started(&app, &coordinator).await;
        assert_eq!(run["claims"], 2);
        let both = app.state.jwt
            .issue_access_token(&person.id, &[coproduce::domain::role::Role::Coproducer, coproduce::domain::role::Role::Coordinator], &person.session_id)
            .unwrap().token;
        let as_coordinator = TestUser { id: person.id.clone(), email: person.email.clone(), token: both, session_id: person.session_id.clone() };

        let refused = problem(pay_run(&app, &as_coordinator, &run, None).await).await;
        assert_eq!(refused["status"], 409);
        assert_eq!(refused["code"], "own_claim");
        assert!(!refused["detail"].as_str().unwrap().contains("not_paid"), "never advised to send a paid claim back: {refused}");
        assert_eq!((status_of(&app, &own).await, status_of(&app, &others).await), ("approved".into(), "approved".into()), "nothing paid");
        let path = format!("/api/v1/claims/payment-runs/{}", run["id"].as_str().unwrap());
        let still: Value = app.get_as(&coordinator, &path).send().await.unwrap().json().await.unwrap();
        assert_eq!(still["status"], "open");
        assert_eq!(pay_run(&app, &coordinator, &run, None).await.status(), 200, "another coordinator can");
        assert_eq!(status_of(&app, &own).await, "paid");
    }

    async fn two_runs_started_at_once_never_share_a_claim(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        let mut claims = Vec::new();
        for _ in 0..6 {
            claims.push(approved(&app, &coordinator, &person, &assignment).await);
        }
        let (first, second) = tokio::join!(start_run(&app, &coordinator), start_run(&app, &coordinator));
        let mut taken = Vec::new();
        let mut created = 0;
        for response in [first, second] {
            match response.status().as_u16() {
                201 => {
                    created += 1;
                    let run: Value = response.json().await.unwrap();
                    taken.extend(claims_in(&text(&app, &coordinator, run["file"].as_str().unwrap()).await));
                }
                409 => assert_eq!(problem(response).await["code"], "nothing_to_pay"),
                other => panic!("a run answered {other}"),
            }
        }
        assert!(created >= 1);
        taken.sort();
        claims.sort();
        assert_eq!(taken, claims, "each claim in exactly one run");
    }

    async fn runs_are_listed_newest_first(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        approved(&app, &coordinator, &person, &assignment).await;
        let older = started(&app, &coordinator).await;
        approved(&app, &coordinator, &person, &assignment).await;
        let newer = started(&app, &coordinator).await;
        let listed = items(app.get_as(&coordinator, "/api/v1/claims/payment-runs?limit=1").send().await.unwrap()).await;
        assert_eq!(listed[0]["id"], newer["id"]);
        let page: Value = app.get_as(&coordinator, "/api/v1/claims/payment-runs?limit=1").send().await.unwrap().json().await.unwrap();
        let cursor = page["next_cursor"].as_str().unwrap();
        let next = items(app.get_as(&coordinator, &format!("/api/v1/claims/payment-runs?limit=1&cursor={cursor}")).send().await.unwrap()).await;
        assert_eq!(next[0]["id"], older["id"]);
    }

    async fn a_run_that_does_not_exist_is_not_found(app) {
        let (coordinator, _, _) = booked(&app, fitting_profile()).await;
        for path in ["", "/payments.csv"] {
            let response = app.get_as(&coordinator, &format!("/api/v1/claims/payment-runs/no-such-run{path}")).send().await.unwrap();
            assert_eq!(response.status(), 404, "{path}");
        }
        let missing = json!({"id": "no-such-run"});
        assert_eq!(pay_run(&app, &coordinator, &missing, None).await.status(), 404);
    }

    async fn listing_more_than_a_thousand_claims_as_not_paid_is_refused(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        approved(&app, &coordinator, &person, &assignment).await;
        let run = started(&app, &coordinator).await;
        let many: Vec<String> = (0..1001).map(|i| format!("claim-{i}")).collect();
        let body = problem(pay_run(&app, &coordinator, &run, Some(json!({"not_paid": many}))).await).await;
        assert_eq!(error_fields(&body), ["not_paid"]);
    }
}

both_backends! {
    async fn a_run_goes_with_the_last_of_its_claims_and_one_still_owing_stays(app) {
        let (coordinator, person, assignment) = booked(&app, fitting_profile()).await;
        approved(&app, &coordinator, &person, &assignment).await;
        let paid = started(&app, &coordinator).await;
        assert_eq!(pay_run(&app, &coordinator, &paid, None).await.status(), 200);
        approved(&app, &coordinator, &person, &assignment).await;
        let owing = started(&app, &coordinator).await;

        assert_eq!(retention_after(&app, 6).await.empty_payment_runs_deleted, 0, "kept while its claims are");
        let report = retention_after(&app, 7).await;
        assert_eq!((report.settled_claims_deleted, report.empty_payment_runs_deleted), (1, 1));
        let runs = items(app.get_as(&coordinator, "/api/v1/claims/payment-runs").send().await.unwrap()).await;
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0]["id"], owing["id"], "a run with money still owed stays");
        assert_eq!(runs[0]["claims"], 1);
    }
}
