//! Email delivery: real SMTP through lettre, outages, retries, dead letters, the admin outbox.

use std::time::Duration;

use coproduce::domain::role::Role;
use coproduce::settings::EmailTransport;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::smtp_sink::{Mode, SmtpSink};

/// Runs `scenario(backend)` as `<name>::sqlite` and `<name>::postgres`.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test]
                async fn sqlite() {
                    super::$scenario(crate::helpers::Backend::Sqlite).await;
                }

                #[tokio::test]
                async fn postgres() {
                    super::$scenario(crate::helpers::Backend::Postgres).await;
                }
            }
        )*
    };
}

on_both_backends!(
    email_sent_through_real_smtp_arrives_whole_and_its_link_works,
    smtp_outage_loses_nothing_and_everything_is_delivered_once_after_recovery,
    failing_email_goes_dead_after_its_attempts_and_retry_sends_it,
    a_batch_sent_over_smtp_is_recorded_email_by_email_with_its_own_send_times,
    a_send_slower_than_the_timeout_in_all_fails_though_each_step_is_quick_enough,
);

async fn register(app: &TestApp, email: &str) {
    let body = json!({"email": email, "full_name": "Sam Jones"});
    let response = app
        .post_json("/api/v1/auth/register", &body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
}

async fn outbox(app: &TestApp, query: &str) -> Vec<Value> {
    let coordinator = app.signed_in(Role::Coordinator).await;
    let page: Value = app
        .get_as(&coordinator, &format!("/api/v1/admin/outbox{query}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["items"].as_array().unwrap().clone()
}

/// Undoes quoted-printable soft breaks and escapes, enough to read links.
fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let mut out = Vec::new();
    let bytes = joined.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name}: ")))
}

async fn wait_until(mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("gave up waiting");
}

async fn email_sent_through_real_smtp_arrives_whole_and_its_link_works(backend: Backend) {
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
    register(&app, "sam@example.org").await;
    assert_eq!(app.drain_outbox().await, 1);

    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    let raw = &messages[0];
    assert_eq!(header(raw, "To"), Some("sam@example.org"));
    assert_eq!(
        header(raw, "From"),
        Some("coproduce <no-reply@coproduce.localhost>")
    );
    assert_eq!(
        header(raw, "Subject"),
        Some("Your sign-in link for coproduce")
    );
    let items = outbox(&app, "?status=sent").await;
    assert_eq!(header(raw, "Message-ID"), items[0]["message_id"].as_str());
    assert!(raw.contains("multipart/alternative"));
    assert!(raw.contains("Content-Type: text/plain"));
    assert!(raw.contains("Content-Type: text/html"));

    let token = token_in(&decode_quoted_printable(raw));
    let response = app
        .post_json(
            "/api/v1/auth/token",
            &json!({"grant_type": "magic_link", "token": token}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// Outcomes are written several emails at a time, while later ones are sent: each row still
/// gets its own send time, and every email arrives once.
async fn a_batch_sent_over_smtp_is_recorded_email_by_email_with_its_own_send_times(
    backend: Backend,
) {
    let sink = SmtpSink::start(Mode::Accept).await;
    let url = sink.url();
    let Some(app) = spawn_app_with(backend, |s| {
        s.email.transport = EmailTransport::Smtp;
        s.email.smtp_url = url;
        s.email.batch_size = 30;
    })
    .await
    else {
        return;
    };
    for n in 0..30 {
        register(&app, &format!("person{n}@example.org")).await;
    }
    let report = app.state.outbox_worker().drain_once().await.unwrap();
    assert_eq!((report.claimed, report.sent, report.failed), (30, 30, 0));

    let sent = outbox(&app, "?status=sent&limit=100").await;
    assert_eq!(sent.len(), 30);
    let mut times: Vec<&str> = sent
        .iter()
        .map(|row| row["sent_at"].as_str().unwrap())
        .collect();
    times.sort_unstable();
    times.dedup();
    assert_eq!(times.len(), 30, "each email keeps the time it was sent");
    let mut received: Vec<String> = sink
        .messages()
        .iter()
        .filter_map(|raw| header(raw, "Message-ID").map(str::to_string))
        .collect();
    received.sort();
    received.dedup();
    assert_eq!(received.len(), 30);
    assert_eq!(sink.messages().len(), 30, "no email sent twice");
}

async fn smtp_outage_loses_nothing_and_everything_is_delivered_once_after_recovery(
    backend: Backend,
) {
    let sink = SmtpSink::start(Mode::RefuseTemporarily).await;
    let url = sink.url();
    let Some(app) = spawn_app_with(backend, |s| {
        s.email.transport = EmailTransport::Smtp;
        s.email.smtp_url = url;
        s.email.worker = true;
        s.email.poll_interval_ms = 20;
        s.email.retry_base_secs = 0;
        s.email.max_attempts = 1000;
    })
    .await
    else {
        return;
    };
    let addresses: Vec<String> = (0..5).map(|n| format!("person{n}@example.org")).collect();
    for address in &addresses {
        register(&app, address).await;
    }
    wait_until(async || outbox(&app, "?status=failed").await.len() == 5).await;
    assert!(sink.messages().is_empty());

    sink.set_mode(Mode::Accept);
    wait_until(async || outbox(&app, "?status=sent").await.len() == 5).await;
    let messages = sink.messages();
    assert_eq!(messages.len(), 5);
    for address in &addresses {
        let arrived = messages
            .iter()
            .filter(|m| header(m, "To") == Some(address.as_str()))
            .count();
        assert_eq!(arrived, 1, "{address}");
    }
}

/// `email.smtp_timeout_secs` bounds a whole send, not each step of it: a send still going past
/// it could outlive the row's lease, and another worker would send the email too. Here each
/// step (greeting and EHLO; MAIL to the end of data) takes under 2 s, the whole send about 2.7 s.
async fn a_send_slower_than_the_timeout_in_all_fails_though_each_step_is_quick_enough(
    backend: Backend,
) {
    let sink = SmtpSink::start(Mode::SlowReplies(Duration::from_millis(450))).await;
    let url = sink.url();
    let Some(app) = spawn_app_with(backend, |s| {
        s.email.transport = EmailTransport::Smtp;
        s.email.smtp_url = url;
        s.email.smtp_timeout_secs = 2;
    })
    .await
    else {
        return;
    };
    register(&app, "sam@example.org").await;
    let report = app.state.outbox_worker().drain_once().await.unwrap();
    assert_eq!((report.sent, report.failed), (0, 1));
    let failed = outbox(&app, "?status=failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0]["last_error"],
        "the mail server did not answer in time"
    );
    assert!(sink.messages().is_empty(), "nothing was delivered");
}

async fn failing_email_goes_dead_after_its_attempts_and_retry_sends_it(backend: Backend) {
    let sink = SmtpSink::start(Mode::RefuseTemporarily).await;
    let url = sink.url();
    let Some(app) = spawn_app_with(backend, |s| {
        s.email.transport = EmailTransport::Smtp;
        s.email.smtp_url = url;
        s.email.max_attempts = 2;
        s.email.retry_base_secs = 0;
    })
    .await
    else {
        return;
    };
    register(&app, "sam@example.org").await;
    app.drain_outbox().await;
    let dead = outbox(&app, "?status=dead").await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["attempts"], 2);
    assert_eq!(dead[0]["recipient"], "s…@example.org");
    assert!(dead[0]["last_error"].as_str().unwrap().contains("451"));

    sink.set_mode(Mode::Accept);
    let coordinator = app.signed_in(Role::Coordinator).await;
    let id = dead[0]["id"].as_str().unwrap();
    let message_id = dead[0]["message_id"].as_str().unwrap().to_string();
    let retried = app
        .post_as(&coordinator, &format!("/api/v1/admin/outbox/{id}/retry"))
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), 200);
    assert_eq!(retried.json::<Value>().await.unwrap()["status"], "pending");
    assert_eq!(app.drain_outbox().await, 1);
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(
        header(&sink.messages()[0], "Message-ID"),
        Some(message_id.as_str()),
        "same Message-ID on every attempt"
    );

    let again = app
        .post_as(&coordinator, &format!("/api/v1/admin/outbox/{id}/retry"))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(again).await["code"], "not_retryable");
}

/// An email to `to` as rows were queued before bodies were sealed (plain words in the row), or,
/// with `sealed_under`, sealed under that key; returns its id.
async fn queue_by_hand(app: &TestApp, to: &str, text: &str, sealed_under: Option<&str>) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    let now = chrono::Utc::now().naive_utc();
    let sealed_body = sealed_under.map(|key| {
        coproduce::crypto::DataCipher::new(key, &[])
            .unwrap()
            .encrypt_json(
                &id,
                coproduce::crypto::Field::EmailBody,
                &json!({"text": text, "html": null, "mentions": null}),
            )
            .unwrap()
    });
    let row = coproduce::db::models::outbox::OutboxRow {
        id: id.clone(),
        message_id: format!("<{id}@coproduce.localhost>"),
        template: "sign_in_link".into(),
        user_id: None,
        recipient: to.into(),
        subject: "Sign in".into(),
        body_text: if sealed_body.is_some() {
            String::new()
        } else {
            text.into()
        },
        body_html: None,
        attachment_filename: None,
        attachment_content_type: None,
        attachment_body: None,
        status: "pending".into(),
        attempts: 0,
        next_attempt_at: now,
        locked_until: None,
        last_error: None,
        created_at: now,
        sent_at: None,
        mentions: None,
        sealed_body,
    };
    app.state
        .db
        .write(move |conn| Ok(coproduce::db::queries::outbox::insert(conn, &row)?))
        .await
        .unwrap();
    id
}

#[derive(diesel::QueryableByName)]
struct Body {
    #[diesel(sql_type = diesel::sql_types::Text)]
    body_text: String,
}

both_backends! {
    async fn two_workers_draining_together_send_each_email_once(app) {
        for n in 0..30 {
            register(&app, &format!("person{n}@example.org")).await;
        }
        let (first, second) = (app.state.outbox_worker(), app.state.outbox_worker());
        let drain = |worker: coproduce::email::outbox::Worker| async move {
            let mut sent = 0;
            loop {
                let report = worker.drain_once().await.unwrap();
                sent += report.sent;
                if report.claimed == 0 {
                    return sent;
                }
            }
        };
        let (a, b) = tokio::join!(drain(first), drain(second));
        assert_eq!(a + b, 30);
        let mut ids: Vec<String> = app.state.mailer.sent().into_iter().map(|e| e.message_id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 30);
        assert_eq!(app.state.mailer.sent().len(), 30, "no email sent twice");
    }

    async fn sent_email_keeps_no_body_so_no_live_link_stays_at_rest(app) {
        register(&app, "sam@example.org").await;
        app.drain_outbox().await;
        let bodies: Vec<Body> = app.state.db.read(|conn| {
            use diesel::RunQueryDsl;
            Ok(diesel::sql_query("SELECT body_text FROM outbox WHERE status = 'sent' AND sealed_body IS NULL").load(conn)?)
        }).await.unwrap();
        assert_eq!(bodies.len(), 1);
        assert_eq!(bodies[0].body_text, "");
    }

    async fn an_email_queued_before_bodies_were_sealed_is_still_sent_with_its_words(app) {
        queue_by_hand(&app, "sam@example.org", "Your link is here.", None).await;
        assert_eq!(app.drain_outbox().await, 1);
        assert_eq!(app.emails_to("sam@example.org")[0].text, "Your link is here.");
    }

    async fn rotating_the_key_seals_email_queued_before_bodies_were_sealed(app) {
        queue_by_hand(&app, "sam@example.org", "Your link is here.", None).await;
        let settings = (*app.state.settings).clone();
        let written = tokio::task::spawn_blocking(move || coproduce::commands::reencrypt(&settings)).await.unwrap().unwrap();
        assert_eq!(written, 1);
        let plain: Vec<Body> = app.state.db.read(|conn| {
            use diesel::RunQueryDsl;
            Ok(diesel::sql_query("SELECT body_text FROM outbox WHERE sealed_body IS NOT NULL").load(conn)?)
        }).await.unwrap();
        assert_eq!(plain.len(), 1);
        assert_eq!(plain[0].body_text, "", "the plain words are gone from the row");
        app.drain_outbox().await;
        assert_eq!(app.emails_to("sam@example.org")[0].text, "Your link is here.");
    }

    async fn an_erasure_meeting_email_sealed_with_an_unknown_key_erases_nothing_and_loses_nothing(app) {
        let person = app.signed_in(Role::Applicant).await;
        let elsewhere = "HxwdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";
        let id = queue_by_hand(&app, "someone@example.org", "Hello.", Some(elsewhere)).await;
        let response = app.delete_as(&person, "/api/v1/me").json(&json!({"confirm": "delete my account"})).send().await.unwrap();
        assert_eq!(response.status(), 500);
        assert_eq!(app.get_as(&person, "/api/v1/me").send().await.unwrap().status(), 200, "the account is still there");
        let kept = app.state.db.read(move |conn| Ok(coproduce::db::queries::outbox::find(conn, &id)?)).await.unwrap();
        assert!(kept.is_some_and(|row| row.sealed_body.is_some()), "the email is still queued");
    }

    async fn email_being_sent_cannot_be_retried(app) {
        register(&app, "sam@example.org").await;
        // Make the row failed, then lease it as a worker mid-send would.
        let id = app.state.db.write(|conn| {
            use coproduce::db::queries::outbox as q;
            let now = chrono::Utc::now().naive_utc();
            let rows = q::claim_due(conn, now, now + chrono::Duration::minutes(5), 10)?;
            let id = rows[0].id.clone();
            let lease = rows[0].locked_until.unwrap();
            q::mark_failed(conn, &id, lease, q::FAILED, now, "451 busy")?;
            q::claim_due(conn, now + chrono::Duration::seconds(1), now + chrono::Duration::minutes(5), 10)?;
            Ok(id)
        }).await.unwrap();
        let coordinator = app.signed_in(Role::Coordinator).await;
        let response = app.post_as(&coordinator, &format!("/api/v1/admin/outbox/{id}/retry")).send().await.unwrap();
        assert_eq!(problem(response).await["code"], "not_retryable");
    }

    async fn outbox_is_for_coordinators_only(app) {
        let applicant = app.signed_in(Role::Applicant).await;
        let response = app.get_as(&applicant, "/api/v1/admin/outbox").send().await.unwrap();
        assert_eq!(response.status(), 403);
        let coordinator = app.signed_in(Role::Coordinator).await;
        let response = app.get_as(&coordinator, "/api/v1/admin/outbox?status=lost").send().await.unwrap();
        assert_eq!(error_fields(&problem(response).await), ["status"]);
        let response = app.post_as(&coordinator, "/api/v1/admin/outbox/no-such-id/retry").send().await.unwrap();
        assert_eq!(response.status(), 404);
    }
}
