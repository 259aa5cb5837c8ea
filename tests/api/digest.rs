//! The daily digest: routine email to someone who chose one waits, and goes out together once a
//! day at `email.digest_hour`; email that cannot wait goes straight away.

use chrono::{Duration, NaiveDateTime, Utc};
use coproduce::jobs::send_digests;
use serde_json::{Value, json};

use crate::claims::{booked, bus_fare, claim, decide, pay};
use crate::helpers::*;
use crate::matching::{first_element, fitting_profile, invite};
use crate::partners::{coproducer, project};
use crate::people::put;

async fn choose_digest(app: &TestApp, who: &TestUser, digest: bool) {
    let body = json!({"format": "standard", "digest": digest});
    let response = put(app, who, "/api/v1/me/notification-preferences", &body).await;
    assert_eq!(response.status(), 200);
}

/// A booked co-producer who chose the digest, whose claim a coordinator then approved and
/// paid: two routine updates, held. Also how many emails they had before (their invitation
/// and booking).
async fn claim_approved_and_paid(app: &TestApp) -> (TestUser, usize) {
    let (coordinator, person, assignment) = booked(app, fitting_profile()).await;
    app.drain_outbox().await;
    let before = app.emails_to(&person.email).len();
    choose_digest(app, &person, true).await;
    let made: Value = claim(app, &person, &assignment, bus_fare())
        .await
        .json()
        .await
        .unwrap();
    let id = made["id"].as_str().unwrap();
    assert_eq!(
        decide(app, &coordinator, id, json!({"decision": "approve"}))
            .await
            .status(),
        200
    );
    assert_eq!(pay(app, &coordinator, id).await.status(), 200);
    (person, before)
}

/// Emails sent to `who` after the first `before`.
fn sent_since(
    app: &TestApp,
    who: &TestUser,
    before: usize,
) -> Vec<coproduce::email::OutgoingEmail> {
    app.emails_to(&who.email).split_off(before)
}

/// A moment past the next digest hour, whatever the time now.
fn tomorrow_evening() -> NaiveDateTime {
    Utc::now().naive_utc() + Duration::days(1) + Duration::hours(1)
}

async fn held_rows(app: &TestApp) -> Vec<Value> {
    let coordinator = app
        .signed_in(coproduce::domain::role::Role::Coordinator)
        .await;
    items(
        app.get_as(&coordinator, "/api/v1/admin/outbox?status=held")
            .send()
            .await
            .unwrap(),
    )
    .await
}

both_backends! {
    async fn routine_updates_to_someone_who_chose_the_digest_wait_for_it(app) {
        let (person, before) = claim_approved_and_paid(&app).await;
        app.drain_outbox().await;
        assert!(sent_since(&app, &person, before).is_empty(), "nothing goes before the digest");
        let held = held_rows(&app).await;
        assert_eq!(held.len(), 2);
        assert!(held.iter().all(|row| row["template"] == "claim_update"), "{held:?}");
    }

    async fn the_digest_gathers_everything_held_into_one_email(app) {
        let (person, before) = claim_approved_and_paid(&app).await;
        assert_eq!(send_digests(&app.state, tomorrow_evening()).await.unwrap(), 1);
        app.drain_outbox().await;

        let sent = sent_since(&app, &person, before);
        assert_eq!(sent.len(), 1, "one email for both updates");
        let digest = &sent[0];
        assert_eq!(digest.subject, "Your 2 updates from coproduce today");
        assert!(digest.text.contains("==== 1 of 2: Your claim for Peer interviews is approved ===="), "{}", digest.text);
        assert!(digest.text.contains("==== 2 of 2: We have paid your claim for Peer interviews ===="), "{}", digest.text);
        assert_eq!(digest.text.matches("You are getting this email from coproduce").count(), 1, "one footer: {}", digest.text);
        let html = digest.html.as_deref().unwrap();
        assert!(html.contains("Your claim is approved</h2>") && html.contains("Your claim is paid</h2>"), "{html}");
        assert_eq!(html.matches("<h1").count(), 1, "one top heading: {html}");
        assert!(held_rows(&app).await.is_empty());
    }

    async fn a_digest_is_not_sent_before_its_hour_nor_twice(app) {
        let (person, before) = claim_approved_and_paid(&app).await;
        assert_eq!(send_digests(&app.state, Utc::now().naive_utc()).await.unwrap(), 0, "held until the digest hour");
        assert_eq!(send_digests(&app.state, tomorrow_evening()).await.unwrap(), 1);
        assert_eq!(send_digests(&app.state, tomorrow_evening()).await.unwrap(), 0, "nothing is left to gather");
        app.drain_outbox().await;
        assert_eq!(sent_since(&app, &person, before).len(), 1);
    }

    async fn email_that_cannot_wait_goes_straight_away_to_someone_who_chose_the_digest(app) {
        let (coordinator, _, project) = project(&app).await;
        let person = coproducer(&app, fitting_profile()).await;
        choose_digest(&app, &person, true).await;
        let invited = invite(&app, &coordinator, &first_element(&project), &[&person.id]).await;
        assert_eq!(invited.status(), 201);
        app.drain_outbox().await;
        let sent = app.emails_to(&person.email);
        assert_eq!(sent.len(), 1, "the invitation has a date to answer by");
        assert!(sent[0].subject.contains("Peer interviews"), "{}", sent[0].subject);
        assert!(held_rows(&app).await.is_empty());
    }

    async fn turning_the_digest_off_sends_what_was_held_straight_away(app) {
        let (person, before) = claim_approved_and_paid(&app).await;
        choose_digest(&app, &person, false).await;
        app.drain_outbox().await;
        let sent = sent_since(&app, &person, before);
        assert_eq!(sent.len(), 2, "each update on its own");
        assert!(sent.iter().all(|email| !email.subject.contains("updates from coproduce")));
        assert!(held_rows(&app).await.is_empty());
    }

    async fn deleting_the_account_deletes_what_was_held_for_it(app) {
        let (person, _) = claim_approved_and_paid(&app).await;
        let confirm = json!({"confirm": "delete my account"});
        let deleted = app.delete_as(&person, "/api/v1/me").json(&confirm).send().await.unwrap();
        assert_eq!(deleted.status(), 204);
        assert!(held_rows(&app).await.is_empty());
        assert_eq!(send_digests(&app.state, tomorrow_evening()).await.unwrap(), 0);
    }
}
