//! The daily digest: routine email to someone who chose one waits, and goes out together once a
//! day at `email.digest_hour`; email that cannot wait goes straight away.

use chrono::{Duration, NaiveDateTime, Utc};
use coproduce::db::models::outbox::OutboxRow;
use coproduce::db::schema::outbox;
use coproduce::domain::role::Role;
use coproduce::jobs::send_digests;
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::assignments::{act, scene};
use crate::claims::{booked, bus_fare, claim, decide, pay};
use crate::helpers::*;
use crate::matching::{first_element, fitting_profile, invite};
use crate::partners::{coproducer, project};
use crate::people::put;

async fn choose_digest(app: &TestApp, who: &TestUser, digest: bool) {
    choose(app, who, "standard", digest).await;
}

async fn choose(app: &TestApp, who: &TestUser, format: &str, digest: bool) {
    let body = json!({"format": format, "digest": digest});
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

/// A routine email held for `who` and due now, written as rows were before bodies were sealed.
async fn hold_by_hand(app: &TestApp, who: &TestUser) {
    let id = uuid::Uuid::now_v7().to_string();
    let now = Utc::now().naive_utc();
    let row = OutboxRow {
        id: id.clone(),
        message_id: format!("<{id}@coproduce.localhost>"),
        template: "application_received".into(),
        user_id: Some(who.id.clone()),
        recipient: who.email.clone(),
        subject: "We have your application".into(),
        body_text: "Hello,\n\nWe have your application.\n".into(),
        body_html: None,
        attachment_filename: None,
        attachment_content_type: None,
        attachment_body: None,
        status: "held".into(),
        attempts: 0,
        next_attempt_at: now - Duration::hours(1),
        locked_until: None,
        last_error: None,
        created_at: now,
        sent_at: None,
        mentions: None,
        sealed_body: None,
    };
    app.state
        .db
        .write(move |conn| Ok(coproduce::db::queries::outbox::insert(conn, &row)?))
        .await
        .unwrap();
}

async fn outbox_rows(app: &TestApp, status: &str) -> Vec<Value> {
    let coordinator = app.signed_in(Role::Coordinator).await;
    items(
        app.get_as(
            &coordinator,
            &format!("/api/v1/admin/outbox?status={status}"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await
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

    async fn a_plain_text_digest_has_no_html(app) {
        let (person, before) = claim_approved_and_paid(&app).await;
        choose(&app, &person, "plain_text", true).await;
        assert_eq!(send_digests(&app.state, tomorrow_evening()).await.unwrap(), 1);
        app.drain_outbox().await;
        let sent = sent_since(&app, &person, before);
        assert_eq!(sent.len(), 1);
        assert!(sent[0].html.is_none());
        assert!(sent[0].text.contains("We have paid your claim"), "{}", sent[0].text);
    }

    async fn a_held_email_that_does_not_open_goes_on_by_itself_and_the_rest_is_gathered(app) {
        let (person, before) = claim_approved_and_paid(&app).await;
        let damaged = held_rows(&app).await[0]["id"].as_str().unwrap().to_string();
        app.state.db.write(move |conn| {
            Ok(diesel::update(outbox::table.find(damaged)).set(outbox::sealed_body.eq(Some(vec![7u8; 40]))).execute(conn)?)
        }).await.unwrap();

        assert_eq!(send_digests(&app.state, tomorrow_evening()).await.unwrap(), 1);
        app.drain_outbox().await;
        let sent = sent_since(&app, &person, before);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].subject, "Your update from coproduce today");
        let failed = outbox_rows(&app, "failed").await;
        assert_eq!(failed.len(), 1, "coordinators see the one that could not be sent");
        assert_eq!(failed[0]["template"], "claim_update");
        assert!(held_rows(&app).await.is_empty());
    }

    async fn everyone_due_gets_their_digest_however_many_there_are(app) {
        let mut people = Vec::new();
        for _ in 0..60 {
            let person = app.signed_in(Role::Applicant).await;
            choose_digest(&app, &person, true).await;
            hold_by_hand(&app, &person).await;
            people.push(person);
        }
        assert_eq!(send_digests(&app.state, Utc::now().naive_utc()).await.unwrap(), 60);
        assert!(held_rows(&app).await.is_empty());
    }

    async fn a_digest_waiting_to_go_is_rewritten_without_someone_it_names_who_deletes_their_account(app) {
        let scene = scene(&app, 3, 1, 0).await;
        choose_digest(&app, &scene.coordinator, true).await;
        app.drain_outbox().await;
        let before = app.emails_to(&scene.coordinator.email).len();
        let (leaving, assignment) = &scene.booked[0];
        let names = json!({"full_name": "Zephyrine Quillfeather", "preferred_name": "Zephy"});
        assert_eq!(app.patch_as(leaving, "/api/v1/me").json(&names).send().await.unwrap().status(), 200);
        let withdrawn = act(&app, leaving, assignment, "withdraw", json!({"reason": "The marmalade lighthouse closed."})).await;
        assert_eq!(withdrawn.status(), 200);
        assert_eq!(held_rows(&app).await.len(), 1, "the seat was filled from the waiting list: routine news");
        assert_eq!(send_digests(&app.state, tomorrow_evening()).await.unwrap(), 1);
        let confirm = json!({"confirm": "delete my account"});
        assert_eq!(app.delete_as(leaving, "/api/v1/me").json(&confirm).send().await.unwrap().status(), 204);

        app.drain_outbox().await;
        let told = sent_since(&app, &scene.coordinator, before);
        assert_eq!(told.len(), 1);
        assert_eq!(told[0].subject, "Your update from coproduce today");
        assert!(told[0].text.contains("Someone who has since deleted their account has withdrawn from “Peer interviews”."), "{}", told[0].text);
        let html = told[0].html.as_deref().unwrap_or_default();
        assert!(html.contains("Someone who has since deleted their account"), "{html}");
        for gone in ["Zephy", "marmalade lighthouse"] {
            assert!(!told[0].text.contains(gone) && !html.contains(gone), "{gone}");
        }
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
