//! Rounds and applications: from an open round to a decision that closes the loop.

use chrono::{Duration, Utc};
use coproduce::db::DbConn;
use coproduce::db::models::recruitment::ApplicationRow;
use coproduce::db::pool::DbConnectionManager;
use coproduce::db::queries::recruitment::{
    Hold, hold_round, insert_application_if_new, reviewers_of, set_reviewers,
};
use coproduce::db::url::DatabaseUrl;
use coproduce::domain::role::Role;
use diesel::connection::SimpleConnection;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::people::{passport_body, profile_body, put};

/// Noon (UTC) `days` from today: a time every reminder job sends at, whatever the time now.
pub fn noon_in(days: i64) -> chrono::NaiveDateTime {
    (Utc::now().date_naive() + Duration::days(days))
        .and_hms_opt(12, 0, 0)
        .unwrap()
}

pub fn round_body(days_open: i64) -> Value {
    let now = Utc::now();
    json!({
        "title": "Peer researchers 2027",
        "summary": "Join our peer research team.",
        "description": "We are looking for people with lived experience of homelessness.",
        "easy_read_summary": "Help us find out what works.",
        "opens_at": (now - Duration::days(1)).to_rfc3339(),
        "closes_at": (now + Duration::days(days_open)).to_rfc3339(),
        "places": 6,
        "questions": [
            {"prompt": "Why do you want to join?", "guidance": "A few sentences is fine", "required": true, "max_words": 50},
            {"prompt": "Anything else?", "required": false}
        ]
    })
}

pub async fn create_round(app: &TestApp, coordinator: &TestUser) -> Value {
    let response = app
        .post_as(coordinator, "/api/v1/rounds")
        .json(&round_body(14))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// A request of ours caught half way, on a connection of its own: in its transaction, holding
/// the round as the request would (on SQLite: the write lock, as every writer does). Dropped
/// without `COMMIT`, it rolls back.
fn in_flight(app: &TestApp, round_id: &str, hold: Hold) -> DbConn {
    let mut conn = app.transaction_of_its_own();
    hold_round(&mut conn, round_id, hold).unwrap().unwrap();
    conn
}

pub async fn start(app: &TestApp, user: &TestUser, round: &Value) -> reqwest::Response {
    app.post_as(
        user,
        &format!(
            "/api/v1/rounds/{}/applications",
            round["id"].as_str().unwrap()
        ),
    )
    .send()
    .await
    .unwrap()
}

/// An applicant with a complete, submitted application; returns (applicant, application).
pub async fn submitted(app: &TestApp, round: &Value) -> (TestUser, Value) {
    submitted_in_format(app, round, "standard").await
}

async fn submitted_in_format(app: &TestApp, round: &Value, format: &str) -> (TestUser, Value) {
    let answers = json!([{"question_id": round["questions"][0]["id"], "text": "I slept rough for two years and want to help."}]);
    submitted_answering(app, round, format, answers).await
}

/// Like [`submitted`], with the given `[{"question_id","text"}]` answers.
async fn submitted_answering(
    app: &TestApp,
    round: &Value,
    format: &str,
    answers: Value,
) -> (TestUser, Value) {
    let applicant = app.signed_in(Role::Applicant).await;
    let prefs = json!({"format": format, "digest": false});
    assert_eq!(
        put(
            app,
            &applicant,
            "/api/v1/me/notification-preferences",
            &prefs
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        put(app, &applicant, "/api/v1/me/profile", &profile_body())
            .await
            .status(),
        200
    );
    assert_eq!(
        put(
            app,
            &applicant,
            "/api/v1/me/access-passport",
            &passport_body()
        )
        .await
        .status(),
        200
    );
    let eo = put(
        app,
        &applicant,
        "/api/v1/me/equal-opportunities",
        &json!({"age_band": "prefer_not_to_say"}),
    )
    .await;
    assert_eq!(
        eo.status(),
        200,
        "equal-opportunities answers are stored, so their absence elsewhere means something"
    );
    let draft: Value = start(app, &applicant, round).await.json().await.unwrap();
    let id = draft["id"].as_str().unwrap();
    let answers = json!({
        "answers": answers,
        "consents": {"privacy_notice": true, "future_opportunities": false}
    });
    assert_eq!(
        app.patch_as(&applicant, &format!("/api/v1/applications/{id}"))
            .json(&answers)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let response = app
        .post_as(&applicant, &format!("/api/v1/applications/{id}/submit"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    (applicant, response.json().await.unwrap())
}

pub async fn reviewer_on_panel(app: &TestApp, coordinator: &TestUser, round: &Value) -> TestUser {
    let reviewer = app.signed_in(Role::Reviewer).await;
    let path = format!("/api/v1/rounds/{}/reviewers", round["id"].as_str().unwrap());
    let response = app
        .client
        .put(app.url(&path))
        .bearer_auth(&coordinator.token)
        .json(&json!({"user_ids": [reviewer.id]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    reviewer
}

pub async fn score(
    app: &TestApp,
    reviewer: &TestUser,
    application: &Value,
    round: &Value,
    value: i32,
) -> reqwest::Response {
    let body = json!({"scores": [{"question_id": round["questions"][0]["id"], "score": value, "note": "Clear"}]});
    app.post_as(
        reviewer,
        &format!(
            "/api/v1/applications/{}/reviews",
            application["id"].as_str().unwrap()
        ),
    )
    .json(&body)
    .send()
    .await
    .unwrap()
}

pub async fn decide(
    app: &TestApp,
    coordinator: &TestUser,
    application: &Value,
    outcome: &str,
) -> reqwest::Response {
    let body = json!({"outcome": outcome, "feedback": "Thank you. Your answer about rough sleeping was powerful."});
    app.post_as(
        coordinator,
        &format!(
            "/api/v1/applications/{}/decision",
            application["id"].as_str().unwrap()
        ),
    )
    .json(&body)
    .send()
    .await
    .unwrap()
}

both_backends! {
    async fn coordinator_opens_a_round_with_question_ids(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        assert_eq!(round["status"], "open");
        assert_eq!(round["answer_by_days"], 21);
        assert!(round["questions"][0]["id"].as_str().is_some_and(|id| !id.is_empty()));
        assert_eq!(round["questions"][1]["required"], false);
        let applicant = app.signed_in(Role::Applicant).await;
        let response = app.post_as(&applicant, "/api/v1/rounds").json(&round_body(14)).send().await.unwrap();
        assert_eq!(response.status(), 403);
    }

    async fn round_fields_are_checked_together(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let mut body = round_body(14);
        body["title"] = json!(" ");
        body["closes_at"] = json!((Utc::now() - Duration::days(3)).to_rfc3339());
        body["places"] = json!(0);
        body["questions"][0]["prompt"] = json!("");
        let response = app.post_as(&coordinator, "/api/v1/rounds").json(&body).send().await.unwrap();
        assert_eq!(error_fields(&problem(response).await), ["title", "closes_at", "places", "questions[0].prompt"]);
    }

    async fn the_public_sees_open_rounds_and_coordinators_see_all(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let open = create_round(&app, &coordinator).await;
        let closed = create_round(&app, &coordinator).await;
        app.post_as(&coordinator, &format!("/api/v1/rounds/{}/close", closed["id"].as_str().unwrap())).send().await.unwrap();
        let public = items(app.get("/api/v1/rounds").await).await;
        assert_eq!(public.len(), 1);
        assert_eq!(public[0]["id"], open["id"]);
        assert!(public[0].get("waiting").is_none());
        let all = items(app.get_as(&coordinator, "/api/v1/rounds").send().await.unwrap()).await;
        assert_eq!(all.len(), 2);
        let only_closed = items(app.get_as(&coordinator, "/api/v1/rounds?status=closed").send().await.unwrap()).await;
        assert_eq!(only_closed[0]["id"], closed["id"]);
    }

    async fn a_bad_token_on_the_public_round_list_is_refused_not_taken_as_signed_out(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        for path in ["/api/v1/rounds".to_string(), format!("/api/v1/rounds/{}", round["id"].as_str().unwrap())] {
            let response = app.client.get(app.url(&path)).bearer_auth("not-a-token").send().await.unwrap();
            assert_eq!(response.status(), 401, "{path}");
            assert!(response.headers().get("www-authenticate").is_some());
        }
    }

    async fn one_draft_per_person_per_round(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let applicant = app.signed_in(Role::Applicant).await;
        let first = start(&app, &applicant, &round).await;
        assert_eq!(first.status(), 201);
        let draft: Value = first.json().await.unwrap();
        assert_eq!(draft["status"], "draft");
        let second = problem(start(&app, &applicant, &round).await).await;
        assert_eq!(second["code"], "already_applied");
        assert_eq!(second["existing_id"], draft["id"]);
    }

    async fn a_closed_round_refuses_drafts_and_submissions(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let applicant = app.signed_in(Role::Applicant).await;
        let draft: Value = start(&app, &applicant, &round).await.json().await.unwrap();
        app.post_as(&coordinator, &format!("/api/v1/rounds/{}/close", round["id"].as_str().unwrap())).send().await.unwrap();
        let late = app.signed_in(Role::Applicant).await;
        assert_eq!(problem(start(&app, &late, &round).await).await["code"], "round_closed");
        let submit = app.post_as(&applicant, &format!("/api/v1/applications/{}/submit", draft["id"].as_str().unwrap())).send().await.unwrap();
        assert_eq!(problem(submit).await["code"], "round_closed");
    }

    async fn submitting_lists_everything_missing_at_once(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let applicant = app.signed_in(Role::Applicant).await;
        let draft: Value = start(&app, &applicant, &round).await.json().await.unwrap();
        let response = app.post_as(&applicant, &format!("/api/v1/applications/{}/submit", draft["id"].as_str().unwrap())).send().await.unwrap();
        assert_eq!(response.status(), 422);
        let problem = problem(response).await;
        let question = round["questions"][0]["id"].as_str().unwrap();
        assert_eq!(error_fields(&problem), [format!("answers.{question}"), "consents.privacy_notice".into(), "profile".into()]);
        assert!(problem["errors"][0]["message"].as_str().unwrap().contains("Why do you want to join?"));
    }

    async fn answers_are_checked_against_the_round(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let applicant = app.signed_in(Role::Applicant).await;
        let draft: Value = start(&app, &applicant, &round).await.json().await.unwrap();
        let long = vec!["word"; 51].join(" ");
        let body = json!({"answers": [
            {"question_id": "not-a-question", "text": "x"},
            {"question_id": round["questions"][0]["id"], "text": long}
        ]});
        let response = app.patch_as(&applicant, &format!("/api/v1/applications/{}", draft["id"].as_str().unwrap())).json(&body).send().await.unwrap();
        assert_eq!(error_fields(&problem(response).await), ["answers[0].question_id", "answers[1].text"]);
    }

        async fn submission_is_confirmed_by_email_in_the_persons_format(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (standard, _) = submitted(&app, &round).await;
        app.drain_outbox().await;
        assert!(app.emails_to(&standard.email)[0].text.contains("1. Our team reads every application carefully."));
        let (applicant, application) = submitted_in_format(&app, &round, "easy_read").await;
        assert_eq!(application["status"], "submitted");
        app.drain_outbox().await;
        let emails = app.emails_to(&applicant.email);
        assert_eq!(emails.len(), 1);
                assert!(emails[0].subject.contains("Peer researchers 2027"), "{}", emails[0].subject);
        assert!(emails[0].text.contains("We read your application."), "easy read: {}", emails[0].text);
        let answer_by = (Utc::now() + Duration::days(14 + 21)).format("%-d %B %Y").to_string();
        assert!(emails[0].text.contains(&answer_by), "{}", emails[0].text);
    }

    /// Found by the load drill: reading your own application queued for SQLite's write lock.
    async fn owners_read_their_application_while_a_writer_holds_the_lock(app, |s| s.database.busy_timeout_ms = 300) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        let path = format!("/api/v1/applications/{}", application["id"].as_str().unwrap());
        let url = DatabaseUrl::parse(&app.database_url).unwrap();
        let mut writer = DbConnectionManager::new(url, 300).establish().unwrap();
        let hold = match &writer {
            DbConn::Sqlite(_) => "BEGIN IMMEDIATE",
            DbConn::Postgres(_) => "BEGIN; LOCK TABLE applications IN EXCLUSIVE MODE",
        };
        writer.batch_execute(hold).unwrap();
        let response = app.get_as(&applicant, &path).send().await.unwrap();
        writer.batch_execute("ROLLBACK").unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Value>().await.unwrap()["status"], "submitted");
    }

    async fn only_drafts_change_and_only_by_their_owner(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        let path = format!("/api/v1/applications/{}", application["id"].as_str().unwrap());
        let again = app.patch_as(&applicant, &path).json(&json!({"answers": []})).send().await.unwrap();
        assert_eq!(problem(again).await["code"], "not_a_draft");
        let stranger = app.signed_in(Role::Applicant).await;
        assert_eq!(app.get_as(&stranger, &path).send().await.unwrap().status(), 404);
        assert_eq!(app.patch_as(&stranger, &path).json(&json!({})).send().await.unwrap().status(), 404);
    }

    async fn withdrawing_works_before_a_decision_only(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        let path = format!("/api/v1/applications/{}/withdraw", application["id"].as_str().unwrap());
                let withdrawn: Value = app.post_as(&applicant, &path).send().await.unwrap().json().await.unwrap();
        assert_eq!(withdrawn["status"], "withdrawn");
        let again = app.post_as(&applicant, &path).send().await.unwrap();
        assert_eq!(again.status(), 409);
        assert_eq!(problem(again).await["code"], "invalid_transition");

        let (decided_applicant, decided) = submitted(&app, &round).await;
        decide(&app, &coordinator, &decided, "waitlisted").await;
        let after_decision = app.post_as(&decided_applicant, &format!("/api/v1/applications/{}/withdraw", decided["id"].as_str().unwrap())).send().await.unwrap();
        assert_eq!(after_decision.status(), 409);
    }

    async fn reviewer_sees_only_rounds_on_their_panel_and_only_anonymised(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (_, application) = submitted(&app, &round).await;
        let path = format!("/api/v1/applications/{}", application["id"].as_str().unwrap());
        let outsider = app.signed_in(Role::Reviewer).await;
        assert_eq!(app.get_as(&outsider, &path).send().await.unwrap().status(), 404);
        let list = format!("/api/v1/rounds/{}/applications?view=anonymised", round["id"].as_str().unwrap());
        assert_eq!(app.get_as(&outsider, &list).send().await.unwrap().status(), 404);

        let reviewer = reviewer_on_panel(&app, &coordinator, &round).await;
        let full_list = format!("/api/v1/rounds/{}/applications", round["id"].as_str().unwrap());
        assert_eq!(app.get_as(&reviewer, &full_list).send().await.unwrap().status(), 403);
        let page: Value = app.get_as(&reviewer, &list).send().await.unwrap().json().await.unwrap();
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        let view: Value = app.get_as(&reviewer, &path).send().await.unwrap().json().await.unwrap();
        assert_eq!(view["answers"][0]["prompt"], "Why do you want to join?");
        assert_eq!(view["lived_experience"], json!(["homelessness", "uses_mental_health_services"]));
    }

    async fn anonymised_view_leaks_nothing_identifying(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        let reviewer = reviewer_on_panel(&app, &coordinator, &round).await;
        let path = format!("/api/v1/applications/{}", application["id"].as_str().unwrap());
        let text = app.get_as(&reviewer, &path).send().await.unwrap().text().await.unwrap();
        let list = format!("/api/v1/rounds/{}/applications?view=anonymised", round["id"].as_str().unwrap());
        let listed = app.get_as(&coordinator, &list).send().await.unwrap().text().await.unwrap();
        for body in [&text, &listed] {
            for secret in [applicant.id.as_str(), applicant.email.as_str(), "Test applicant", "bsl_interpreter", "age_band", "prefer_not_to_say", "Weekday mornings", "email"] {
                assert!(!body.contains(secret), "anonymised view shows {secret:?}: {body}");
            }
        }
    }

    async fn equal_opportunities_answers_appear_in_no_view_but_the_owners(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        let id = application["id"].as_str().unwrap();
        let round_id = round["id"].as_str().unwrap();
        for (who, path) in [
            (&coordinator, format!("/api/v1/applications/{id}")),
            (&coordinator, format!("/api/v1/rounds/{round_id}/applications")),
            (&coordinator, format!("/api/v1/applications/{id}/history")),
            (&coordinator, format!("/api/v1/rounds/{round_id}")),
            (&applicant, format!("/api/v1/applications/{id}")),
            (&applicant, "/api/v1/me".to_string()),
            (&applicant, "/api/v1/me/profile".to_string()),
        ] {
            let body = app.get_as(who, &path).send().await.unwrap().text().await.unwrap();
            assert!(!body.contains("age_band") && !body.contains("prefer_not_to_say"), "{path}: {body}");
        }
    }

    async fn reading_lived_experience_of_someone_else_is_audited(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        let reviewer = reviewer_on_panel(&app, &coordinator, &round).await;
        let path = format!("/api/v1/applications/{}", application["id"].as_str().unwrap());
        let full: Value = app.get_as(&coordinator, &path).send().await.unwrap().json().await.unwrap();
        assert_eq!(full["applicant"]["email"], applicant.email.as_str());
        assert_eq!(full["lived_experience"], json!(["homelessness", "uses_mental_health_services"]));
        app.get_as(&reviewer, &path).send().await.unwrap();
        app.get_as(&applicant, &path).send().await.unwrap();
        let subject = applicant.id.clone();
        let reads = app.state.db.read(move |conn| Ok(coproduce::db::queries::audit::reads_of(conn, &subject)?)).await.unwrap();
        let actors: Vec<&str> = reads.iter().map(|r| r.actor_id.as_str()).collect();
        assert_eq!(actors, [coordinator.id.as_str(), reviewer.id.as_str()], "one row per read by someone else, none for the owner");
        assert!(reads.iter().all(|r| r.data == "lived_experience" && r.route == "GET /api/v1/applications/{id}"));
    }

    async fn reviews_score_zero_to_four_once_each_and_coordinators_see_average_and_spread(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (_, application) = submitted(&app, &round).await;
        let first = reviewer_on_panel(&app, &coordinator, &round).await;
        let out_of_range = score(&app, &first, &application, &round, 5).await;
        assert_eq!(error_fields(&problem(out_of_range).await), ["scores[0].score"]);
        assert_eq!(score(&app, &first, &application, &round, 4).await.status(), 201);
        assert_eq!(problem(score(&app, &first, &application, &round, 3).await).await["code"], "already_reviewed");
        assert_eq!(score(&app, &coordinator, &application, &round, 1).await.status(), 201);

        let path = format!("/api/v1/applications/{}", application["id"].as_str().unwrap());
        let view: Value = app.get_as(&coordinator, &path).send().await.unwrap().json().await.unwrap();
        assert_eq!(view["status"], "in_review");
        assert_eq!(view["review_summary"]["reviews"], 2);
        assert_eq!(view["review_summary"]["average"], 2.5);
        assert_eq!(view["review_summary"]["spread"], 3.0);
    }

    async fn accepting_makes_the_person_an_active_coproducer_and_tells_them(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        let response = decide(&app, &coordinator, &application, "accepted").await;
        assert_eq!(response.status(), 200);
        let me: Value = app.get_as(&applicant, "/api/v1/me").send().await.unwrap().json().await.unwrap();
        assert_eq!(me["roles"], json!(["applicant", "coproducer"]));
        assert_eq!(me["coproducer_status"], "active");
        app.drain_outbox().await;
        let email = app.emails_to(&applicant.email).pop().unwrap();
        assert!(email.text.contains("Your answer about rough sleeping was powerful."), "{}", email.text);
        let again = decide(&app, &coordinator, &application, "not_this_time").await;
        assert_eq!(problem(again).await["code"], "invalid_transition");
    }

    async fn every_decision_is_emailed_with_its_feedback(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        for outcome in ["invited_to_conversation", "waitlisted", "not_this_time"] {
            let (applicant, application) = submitted(&app, &round).await;
            assert_eq!(decide(&app, &coordinator, &application, outcome).await.status(), 200, "{outcome}");
            app.drain_outbox().await;
            let email = app.emails_to(&applicant.email).pop().unwrap();
            assert!(email.text.contains("rough sleeping was powerful"), "{outcome}: {}", email.text);
        }
    }

    async fn only_coordinators_decide(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (_, application) = submitted(&app, &round).await;
        let reviewer = reviewer_on_panel(&app, &coordinator, &round).await;
        assert_eq!(decide(&app, &reviewer, &application, "accepted").await.status(), 403);
        let body = json!({"outcome": "accepted", "feedback": "  "});
        let empty = app.post_as(&coordinator, &format!("/api/v1/applications/{}/decision", application["id"].as_str().unwrap())).json(&body).send().await.unwrap();
        assert_eq!(error_fields(&problem(empty).await), ["feedback"]);
    }

    async fn a_decision_without_reviews_goes_through_review_first(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        assert_eq!(decide(&app, &coordinator, &application, "accepted").await.status(), 200);
        let path = format!("/api/v1/applications/{}/history", application["id"].as_str().unwrap());
        let history = items(app.get_as(&coordinator, &path).send().await.unwrap()).await;
        let steps: Vec<(&str, &str, &str)> = history.iter().map(|t| (t["from"].as_str().unwrap_or(""), t["to"].as_str().unwrap(), t["actor_id"].as_str().unwrap())).collect();
        assert_eq!(steps, [
            ("", "draft", applicant.id.as_str()),
            ("draft", "submitted", applicant.id.as_str()),
            ("submitted", "in_review", coordinator.id.as_str()),
            ("in_review", "accepted", coordinator.id.as_str()),
        ]);
    }

    async fn history_records_every_transition_with_actor_time_and_note(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        let reviewer = reviewer_on_panel(&app, &coordinator, &round).await;
        score(&app, &reviewer, &application, &round, 3).await;
        decide(&app, &coordinator, &application, "waitlisted").await;
        let path = format!("/api/v1/applications/{}/history", application["id"].as_str().unwrap());
        let history = items(app.get_as(&coordinator, &path).send().await.unwrap()).await;
        let steps: Vec<(&str, &str)> = history.iter().map(|t| (t["to"].as_str().unwrap(), t["actor_id"].as_str().unwrap())).collect();
        assert_eq!(steps, [
            ("draft", applicant.id.as_str()),
            ("submitted", applicant.id.as_str()),
            ("in_review", reviewer.id.as_str()),
            ("waitlisted", coordinator.id.as_str()),
        ]);
        assert_eq!(history[3]["note"], "Thank you. Your answer about rough sleeping was powerful.");
        assert_eq!(app.get_as(&reviewer, &path).send().await.unwrap().status(), 404);
        assert_eq!(app.get_as(&applicant, &path).send().await.unwrap().status(), 200);
    }

    async fn round_reports_how_many_wait_and_for_how_long(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        submitted(&app, &round).await;
        let (_, decided) = submitted(&app, &round).await;
        decide(&app, &coordinator, &decided, "not_this_time").await;
        let path = format!("/api/v1/rounds/{}", round["id"].as_str().unwrap());
        let view: Value = app.get_as(&coordinator, &path).send().await.unwrap().json().await.unwrap();
        assert_eq!(view["waiting"]["applications"], 1);
        assert_eq!(view["waiting"]["oldest_wait_days"], 0);
        assert!(view["waiting"]["oldest_submitted_at"].is_string());
        let public: Value = app.get(&path).await.json().await.unwrap();
        assert!(public.get("waiting").is_none());
    }

    async fn coordinators_are_reminded_once_a_day_as_the_answer_by_date_nears(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        submitted(&app, &round).await;
        assert_eq!(coproduce::jobs::send_decision_reminders(&app.state, noon_in(0)).await.unwrap(), 0, "answer-by is 35 days away");
        let near = noon_in(31);
        assert_eq!(coproduce::jobs::send_decision_reminders(&app.state, near).await.unwrap(), 1);
        assert_eq!(coproduce::jobs::send_decision_reminders(&app.state, near).await.unwrap(), 0, "once a day");
        app.drain_outbox().await;
        let reminders = app.emails_to(&coordinator.email);
        assert_eq!(reminders.len(), 1);
        assert!(reminders[0].text.contains("Peer researchers 2027"));
    }

    async fn someone_with_an_application_not_sent_is_reminded_once_before_the_round_closes(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let drafting = app.signed_in(Role::Applicant).await;
        assert_eq!(start(&app, &drafting, &round).await.status(), 201);
        let (sent, _) = submitted(&app, &round).await;
        let notices = |at| coproduce::jobs::send_unsent_application_notices(&app.state, at);
        assert_eq!(notices(noon_in(0)).await.unwrap(), 0, "the round closes in 14 days");
        assert_eq!(notices(noon_in(12)).await.unwrap(), 1);
        assert_eq!(notices(noon_in(13)).await.unwrap(), 0, "once");
        app.drain_outbox().await;
        let reminder = app.emails_to(&drafting.email).pop().unwrap();
        assert_eq!(reminder.subject, "Your application to Peer researchers 2027 is not sent yet");
        assert!(reminder.text.contains("The round closes on ") && reminder.text.contains("UK time"), "{}", reminder.text);
        assert!(reminder.text.contains("/applications/"), "{}", reminder.text);
        assert!(app.emails_to(&sent.email).iter().all(|e| !e.subject.contains("not sent")), "theirs was sent");
    }

    async fn someone_whose_round_closed_before_they_sent_is_told_once(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let drafting = app.signed_in(Role::Applicant).await;
        assert_eq!(start(&app, &drafting, &round).await.status(), 201);
        let (sent, _) = submitted(&app, &round).await;
        let notices = |at| coproduce::jobs::send_unsent_application_notices(&app.state, at);
        assert_eq!(notices(noon_in(15)).await.unwrap(), 1, "told it closed; too late for a reminder");
        assert_eq!(notices(noon_in(16)).await.unwrap(), 0, "once");
        app.drain_outbox().await;
        let told = app.emails_to(&drafting.email);
        assert_eq!(told.len(), 1, "{:?}", told.iter().map(|e| &e.subject).collect::<Vec<_>>());
        assert_eq!(told[0].subject, "Peer researchers 2027 has closed: your application was not sent");
        assert!(told[0].text.contains("we could not consider it this time"), "{}", told[0].text);
        assert!(app.emails_to(&sent.email).iter().all(|e| !e.subject.contains("not sent")), "theirs was sent");
    }

    async fn applications_not_sent_in_rounds_closed_long_ago_are_left_alone(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let drafting = app.signed_in(Role::Applicant).await;
        assert_eq!(start(&app, &drafting, &round).await.status(), 201);
        assert_eq!(coproduce::jobs::send_unsent_application_notices(&app.state, noon_in(30)).await.unwrap(), 0);
    }

    async fn a_round_closed_early_tells_those_who_had_not_sent_theirs(app, |s| s.rounds.reminder_hour = 0) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let drafting = app.signed_in(Role::Applicant).await;
        assert_eq!(start(&app, &drafting, &round).await.status(), 201);
        let closed = app.post_as(&coordinator, &format!("/api/v1/rounds/{}/close", round["id"].as_str().unwrap())).send().await.unwrap();
        assert_eq!(closed.status(), 200);
        let later = Utc::now().naive_utc() + Duration::minutes(1);
        assert_eq!(coproduce::jobs::send_unsent_application_notices(&app.state, later).await.unwrap(), 1);
        app.drain_outbox().await;
        let told = app.emails_to(&drafting.email).pop().unwrap();
        assert_eq!(told.subject, "Peer researchers 2027 has closed: your application was not sent");
        assert!(told.text.contains(", earlier than we planned. You started an application"), "{}", told.text);
    }

    async fn changing_the_date_of_a_round_closed_early_tells_nobody_twice(app, |s| s.rounds.reminder_hour = 0) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let drafting = app.signed_in(Role::Applicant).await;
        assert_eq!(start(&app, &drafting, &round).await.status(), 201);
        let path = format!("/api/v1/rounds/{}", round["id"].as_str().unwrap());
        assert_eq!(app.post_as(&coordinator, &format!("{path}/close")).send().await.unwrap().status(), 200);
        let later = Utc::now().naive_utc() + Duration::minutes(1);
        assert_eq!(coproduce::jobs::send_unsent_application_notices(&app.state, later).await.unwrap(), 1);
        let moved = app.client.patch(app.url(&path)).bearer_auth(&coordinator.token).json(&json!({"closes_at": (Utc::now() + Duration::days(20)).to_rfc3339()})).send().await.unwrap();
        assert_eq!(moved.status(), 200);
        assert_eq!(coproduce::jobs::send_unsent_application_notices(&app.state, later + Duration::minutes(1)).await.unwrap(), 0, "still closed: told once");
    }

    async fn moving_a_rounds_closing_date_reminds_people_of_the_new_one(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let drafting = app.signed_in(Role::Applicant).await;
        assert_eq!(start(&app, &drafting, &round).await.status(), 201);
        let notices = |at| coproduce::jobs::send_unsent_application_notices(&app.state, at);
        assert_eq!(notices(noon_in(12)).await.unwrap(), 1);
        let later = (Utc::now() + Duration::days(20)).to_rfc3339();
        let moved = app.client.patch(app.url(&format!("/api/v1/rounds/{}", round["id"].as_str().unwrap()))).bearer_auth(&coordinator.token).json(&json!({"closes_at": later})).send().await.unwrap();
        assert_eq!(moved.status(), 200);
        assert_eq!(notices(noon_in(13)).await.unwrap(), 0, "the new date is a week away");
        assert_eq!(notices(noon_in(18)).await.unwrap(), 1, "reminded of the new date");
    }

    async fn an_easy_read_reader_is_reminded_in_easy_read(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let drafting = app.signed_in(Role::Applicant).await;
        let format = app.client.put(app.url("/api/v1/me/notification-preferences")).bearer_auth(&drafting.token).json(&json!({"format": "easy_read", "digest": false})).send().await.unwrap();
        assert_eq!(format.status(), 200);
        assert_eq!(start(&app, &drafting, &round).await.status(), 201);
        assert_eq!(coproduce::jobs::send_unsent_application_notices(&app.state, noon_in(12)).await.unwrap(), 1);
        app.drain_outbox().await;
        let reminder = app.emails_to(&drafting.email).pop().unwrap();
        assert!(reminder.text.contains("You have not sent it to us yet."), "{}", reminder.text);
    }

    async fn decision_reminders_wait_for_the_working_day(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        submitted(&app, &round).await;
        let early = noon_in(31) - Duration::hours(4);
        assert_eq!(coproduce::jobs::send_decision_reminders(&app.state, early).await.unwrap(), 0, "not before rounds.reminder_hour (9)");
        assert_eq!(coproduce::jobs::send_decision_reminders(&app.state, early + Duration::hours(1)).await.unwrap(), 1);
    }

    async fn a_reminder_after_the_answer_by_date_says_the_decision_is_late(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        submitted(&app, &round).await;
        let near = noon_in(31);
        assert_eq!(coproduce::jobs::send_decision_reminders(&app.state, near).await.unwrap(), 1);
        let past = near + Duration::days(10);
        assert_eq!(coproduce::jobs::send_decision_reminders(&app.state, past).await.unwrap(), 1);
        app.drain_outbox().await;
        let reminders = app.emails_to(&coordinator.email);
        assert_eq!(reminders.len(), 2);
        let (after, before): (Vec<_>, Vec<_>) =
            reminders.iter().partition(|e| e.subject.starts_with("Late: "));
        assert_eq!((before.len(), after.len()), (1, 1), "one reminder before, one after");
        let (before, after) = (before[0], after[0]);
        assert!(before.text.contains("write feedback before then"), "{}", before.text);
        assert!(after.text.contains("that date has passed"), "{}", after.text);
        assert!(!after.text.contains("before then"), "{}", after.text);
    }

    async fn my_applications_lists_only_mine(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        submitted(&app, &round).await;
        let mine = items(app.get_as(&applicant, "/api/v1/me/applications").send().await.unwrap()).await;
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0]["id"], application["id"]);
        assert_eq!(mine[0]["round_title"], "Peer researchers 2027");
    }

    async fn access_needs_play_no_part_in_any_review_view(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (_, application) = submitted(&app, &round).await;
        let reviewer = reviewer_on_panel(&app, &coordinator, &round).await;
        let id = application["id"].as_str().unwrap();
        let round_id = round["id"].as_str().unwrap();
        for (who, path) in [
            (&coordinator, format!("/api/v1/applications/{id}")),
            (&coordinator, format!("/api/v1/rounds/{round_id}/applications")),
            (&reviewer, format!("/api/v1/applications/{id}")),
            (&reviewer, format!("/api/v1/rounds/{round_id}/applications?view=anonymised")),
        ] {
            let body = app.get_as(who, &path).send().await.unwrap().text().await.unwrap();
            assert!(!body.contains("interpreter") && !body.contains("step_free_access") && !body.contains("bad day"), "{path}: {body}");
        }
    }

    async fn reviewers_never_see_a_draft_even_a_withdrawn_one(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let reviewer = reviewer_on_panel(&app, &coordinator, &round).await;
        let applicant = app.signed_in(Role::Applicant).await;
        put(&app, &applicant, "/api/v1/me/profile", &profile_body()).await;
        let draft: Value = start(&app, &applicant, &round).await.json().await.unwrap();
        let id = draft["id"].as_str().unwrap();
        let path = format!("/api/v1/applications/{id}");
        assert_eq!(app.get_as(&reviewer, &path).send().await.unwrap().status(), 404);
        let coordinator_view: Value = app.get_as(&coordinator, &path).send().await.unwrap().json().await.unwrap();
        assert!(coordinator_view.get("lived_experience").is_none(), "nobody but the person sees lived experience before they apply");
        app.post_as(&applicant, &format!("{path}/withdraw")).send().await.unwrap();
        assert_eq!(app.get_as(&reviewer, &path).send().await.unwrap().status(), 404);
        let list = format!("/api/v1/rounds/{}/applications?view=anonymised", round["id"].as_str().unwrap());
        let page: Value = app.get_as(&reviewer, &list).send().await.unwrap().json().await.unwrap();
        assert_eq!(page["items"], json!([]));
    }

    async fn reading_through_the_list_is_audited_too(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, _) = submitted(&app, &round).await;
        let list = format!("/api/v1/rounds/{}/applications", round["id"].as_str().unwrap());
        app.get_as(&coordinator, &list).send().await.unwrap();
        let subject = applicant.id.clone();
        let reads = app.state.db.read(move |conn| Ok(coproduce::db::queries::audit::reads_of(conn, &subject)?)).await.unwrap();
        assert_eq!(reads.len(), 1);
        assert_eq!(reads[0].route, "GET /api/v1/rounds/{id}/applications");
        assert_eq!(reads[0].actor_id, coordinator.id);
    }

    async fn panel_members_cannot_apply_and_coordinators_cannot_decide_their_own(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let reviewer = reviewer_on_panel(&app, &coordinator, &round).await;
        let response = start(&app, &reviewer, &round).await;
        assert_eq!(response.status(), 409);
        assert_eq!(problem(response).await["code"], "on_review_panel");
        let own: Value = start(&app, &coordinator, &round).await.json().await.unwrap();
        let response = decide(&app, &coordinator, &own, "accepted").await;
        assert_eq!(response.status(), 409);
        assert_eq!(problem(response).await["code"], "own_application");
    }

    async fn reviewers_see_the_rounds_they_review_even_once_closed(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let reviewer = reviewer_on_panel(&app, &coordinator, &round).await;
        app.post_as(&coordinator, &format!("/api/v1/rounds/{}/close", round["id"].as_str().unwrap())).send().await.unwrap();
        let rounds = items(app.get_as(&reviewer, "/api/v1/rounds").send().await.unwrap()).await;
        assert_eq!(rounds.len(), 1);
        assert_eq!(rounds[0]["status"], "closed");
        let public = items(app.get("/api/v1/rounds").await).await;
        assert!(public.is_empty());
    }

    async fn applicants_see_their_own_steps_but_not_who_reviewed(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        let reviewer = reviewer_on_panel(&app, &coordinator, &round).await;
        score(&app, &reviewer, &application, &round, 3).await;
        let path = format!("/api/v1/applications/{}/history", application["id"].as_str().unwrap());
        let text = app.get_as(&applicant, &path).send().await.unwrap().text().await.unwrap();
        assert!(!text.contains(&reviewer.id), "{text}");
        let staff = items(app.get_as(&coordinator, &path).send().await.unwrap()).await;
        assert_eq!(staff[2]["actor_id"], reviewer.id.as_str());
    }

    async fn a_history_pages_in_order_one_step_at_a_time(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (_, application) = submitted(&app, &round).await;
        let reviewer = reviewer_on_panel(&app, &coordinator, &round).await;
        score(&app, &reviewer, &application, &round, 3).await;
        let path = format!("/api/v1/applications/{}/history", application["id"].as_str().unwrap());
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..5 {
            let page_path = match &cursor {
                Some(c) => format!("{path}?limit=1&cursor={c}"),
                None => format!("{path}?limit=1"),
            };
            let page: Value = app.get_as(&coordinator, &page_path).send().await.unwrap().json().await.unwrap();
            seen.extend(page["items"].as_array().unwrap().iter().map(|s| s["to"].as_str().unwrap().to_string()));
            cursor = page["next_cursor"].as_str().map(String::from);
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(seen, ["draft", "submitted", "in_review"]);
    }

    async fn the_promised_answer_date_does_not_move_when_the_round_changes(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, _) = submitted(&app, &round).await;
        let before = items(app.get_as(&applicant, "/api/v1/me/applications").send().await.unwrap()).await;
        let path = format!("/api/v1/rounds/{}", round["id"].as_str().unwrap());
        let changed = app.patch_as(&coordinator, &path).json(&json!({"answer_by_days": 60})).send().await.unwrap();
        assert_eq!(changed.status(), 200);
        assert_eq!(changed.json::<Value>().await.unwrap()["answer_by_days"], 60);
        let after = items(app.get_as(&applicant, "/api/v1/me/applications").send().await.unwrap()).await;
        assert_eq!(before[0]["answer_by"], after[0]["answer_by"]);
    }

    async fn a_round_s_questions_are_replaced_until_someone_starts_applying(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let mut body = round_body(14);
        body["opens_at"] = json!((Utc::now() + Duration::days(3)).to_rfc3339());
        body["closes_at"] = json!((Utc::now() + Duration::days(20)).to_rfc3339());
        let round: Value = app.post_as(&coordinator, "/api/v1/rounds").json(&body).send().await.unwrap().json().await.unwrap();
        let path = format!("/api/v1/rounds/{}", round["id"].as_str().unwrap());
        let questions = json!([
            {"prompt": "What would you like to change about housing support?", "required": true, "max_words": 200},
            {"prompt": "Why do you want to join?", "guidance": "A few sentences is fine", "required": true},
            {"prompt": "Anything else?", "required": false}
        ]);
        let changed = app.patch_as(&coordinator, &path).json(&json!({"questions": questions})).send().await.unwrap();
        assert_eq!(changed.status(), 200);
        let view: Value = changed.json().await.unwrap();
        let prompts: Vec<&str> = view["questions"].as_array().unwrap().iter().map(|q| q["prompt"].as_str().unwrap()).collect();
        assert_eq!(prompts, ["What would you like to change about housing support?", "Why do you want to join?", "Anything else?"]);
        assert_eq!(view["questions"][0]["max_words"], 200);
        assert_eq!(view["title"], round["title"], "what was left out stays");
        let read: Value = app.get_as(&coordinator, &path).send().await.unwrap().json().await.unwrap();
        assert_eq!(read["questions"], view["questions"]);
    }

    async fn a_round_s_questions_stay_once_someone_has_started_applying(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let applicant = app.signed_in(Role::Applicant).await;
        assert_eq!(start(&app, &applicant, &round).await.status(), 201);
        let path = format!("/api/v1/rounds/{}", round["id"].as_str().unwrap());
        let changing = json!({"title": "A new title", "questions": [{"prompt": "A new question?", "required": true}]});
        let refused = app.patch_as(&coordinator, &path).json(&changing).send().await.unwrap();
        assert_eq!(refused.status(), 409);
        assert_eq!(problem(refused).await["code"], "questions_in_use");
        let read: Value = app.get_as(&coordinator, &path).send().await.unwrap().json().await.unwrap();
        assert_eq!(read["questions"], round["questions"]);
        assert_eq!(read["title"], round["title"], "nothing of the refused change was written");
    }

    async fn replacement_questions_are_checked_and_each_bad_one_is_named(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let path = format!("/api/v1/rounds/{}", round["id"].as_str().unwrap());
        let bad = json!({"questions": [{"prompt": " ", "required": true}, {"prompt": "Fine?", "required": false, "max_words": 0}]});
        let response = app.patch_as(&coordinator, &path).json(&bad).send().await.unwrap();
        assert_eq!(response.status(), 422);
        assert_eq!(error_fields(&problem(response).await), ["questions[0].prompt", "questions[1].max_words"]);
        let read: Value = app.get_as(&coordinator, &path).send().await.unwrap().json().await.unwrap();
        assert_eq!(read["questions"], round["questions"]);
    }

    async fn questions_replaced_while_someone_starts_applying_are_refused(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let applicant = app.signed_in(Role::Applicant).await;
        let round_id = round["id"].as_str().unwrap().to_string();
        let mut applying = in_flight(&app, &round_id, Hold::Shared);
        let now = Utc::now().naive_utc();
        insert_application_if_new(&mut applying, &ApplicationRow {
            id: uuid::Uuid::now_v7().to_string(), round_id: round_id.clone(), user_id: applicant.id.clone(),
            status: "draft".into(), consents: "{}".into(), outcome: None, feedback: None,
            submitted_at: None, decided_at: None, created_at: now, updated_at: now, answer_by: None,
        }).unwrap();
        let changing = app.patch_as(&coordinator, &format!("/api/v1/rounds/{round_id}")).json(&json!({"questions": [{"prompt": "A new question?", "required": true}]})).send();
        let response = answered_after_commit(applying, async { changing.await.unwrap() }).await;
        assert_eq!(problem(response).await["code"], "questions_in_use");
    }

    async fn only_reviewers_can_sit_on_a_panel(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let applicant = app.signed_in(Role::Applicant).await;
        let path = format!("/api/v1/rounds/{}/reviewers", round["id"].as_str().unwrap());
        let response = app.client.put(app.url(&path)).bearer_auth(&coordinator.token).json(&json!({"user_ids": [applicant.id]})).send().await.unwrap();
        let body = problem(response).await;
        assert_eq!(error_fields(&body), ["user_ids[0]"]);
        assert_eq!(body["errors"][0]["code"], "not_a_reviewer");
    }

    async fn someone_who_applied_to_a_round_cannot_sit_on_its_panel(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let reviewer = app.signed_in(Role::Reviewer).await;
        assert_eq!(start(&app, &reviewer, &round).await.status(), 201);
        let path = format!("/api/v1/rounds/{}/reviewers", round["id"].as_str().unwrap());
        let response = app.client.put(app.url(&path)).bearer_auth(&coordinator.token).json(&json!({"user_ids": [reviewer.id]})).send().await.unwrap();
        let body = problem(response).await;
        assert_eq!(error_fields(&body), ["user_ids[0]"]);
        assert_eq!(body["errors"][0]["code"], "applied_to_round");
        let listed = app.get_as(&reviewer, &format!("/api/v1/rounds/{}/applications?view=anonymised", round["id"].as_str().unwrap())).send().await.unwrap();
        assert_eq!(listed.status(), 404, "not on the panel, so the round's applications stay hidden");
    }

    async fn someone_applying_while_a_coordinator_puts_them_on_the_panel_is_refused(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let reviewer = app.signed_in(Role::Reviewer).await;
        let round_id = round["id"].as_str().unwrap().to_string();
        let mut panel_change = in_flight(&app, &round_id, Hold::Exclusive);
        set_reviewers(&mut panel_change, &round_id, std::slice::from_ref(&reviewer.id)).unwrap();
        let response = answered_after_commit(panel_change, start(&app, &reviewer, &round)).await;
        assert_eq!(response.status(), 409);
        assert_eq!(problem(response).await["code"], "on_review_panel");
    }

    async fn putting_someone_on_the_panel_while_they_apply_is_refused(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let reviewer = app.signed_in(Role::Reviewer).await;
        let round_id = round["id"].as_str().unwrap().to_string();
        let mut applying = in_flight(&app, &round_id, Hold::Shared);
        let now = Utc::now().naive_utc();
        insert_application_if_new(&mut applying, &ApplicationRow {
            id: uuid::Uuid::now_v7().to_string(), round_id: round_id.clone(), user_id: reviewer.id.clone(),
            status: "draft".into(), consents: "{}".into(), outcome: None, feedback: None,
            submitted_at: None, decided_at: None, created_at: now, updated_at: now, answer_by: None,
        }).unwrap();
        let path = format!("/api/v1/rounds/{round_id}/reviewers");
        let changing = app.client.put(app.url(&path)).bearer_auth(&coordinator.token).json(&json!({"user_ids": [reviewer.id]})).send();
        let body = problem(answered_after_commit(applying, changing).await.unwrap()).await;
        assert_eq!(body["errors"][0]["code"], "applied_to_round");
    }

    async fn a_reviewer_erased_while_a_coordinator_puts_them_on_the_panel_is_not_put_on_it(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let reviewer = app.signed_in(Role::Reviewer).await;
        let round_id = round["id"].as_str().unwrap().to_string();
        let erasing = app.erasure_in_flight(&reviewer);
        let path = format!("/api/v1/rounds/{round_id}/reviewers");
        let changing = app.client.put(app.url(&path)).bearer_auth(&coordinator.token).json(&json!({"user_ids": [reviewer.id]})).send();
        let body = problem(answered_after_commit(erasing, changing).await.unwrap()).await;
        assert_eq!(error_fields(&body), ["user_ids[0]"]);
        assert_eq!(body["errors"][0]["code"], "not_a_reviewer");
        let mut conn = app.transaction_of_its_own();
        assert!(reviewers_of(&mut conn, &round_id).unwrap().is_empty(), "the erased account is on the panel");
    }

    async fn a_round_not_yet_open_is_shown_only_to_coordinators_and_its_panel(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let mut body = round_body(30);
        body["opens_at"] = json!((Utc::now() + Duration::days(7)).to_rfc3339());
        let created = app.post_as(&coordinator, "/api/v1/rounds").json(&body).send().await.unwrap();
        assert_eq!(created.status(), 201);
        let round: Value = created.json().await.unwrap();
        assert_eq!(round["status"], "scheduled");
        let path = format!("/api/v1/rounds/{}", round["id"].as_str().unwrap());
        let reviewer = reviewer_on_panel(&app, &coordinator, &round).await;
        let other_reviewer = app.signed_in(Role::Reviewer).await;
        let applicant = app.signed_in(Role::Applicant).await;

        assert_eq!(problem(app.get(&path).await).await["code"], "not_found", "signed out");
        for someone in [&applicant, &other_reviewer] {
            let response = app.get_as(someone, &path).send().await.unwrap();
            assert_eq!(problem(response).await["code"], "not_found");
        }
        for allowed in [&coordinator, &reviewer] {
            let response = app.get_as(allowed, &path).send().await.unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.json::<Value>().await.unwrap()["title"], "Peer researchers 2027");
        }
    }

    async fn closing_a_round_as_its_details_change_keeps_the_change(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let round_id = round["id"].as_str().unwrap().to_string();
        let mut renaming = in_flight(&app, &round_id, Hold::Exclusive);
        let mut renamed = coproduce::db::queries::recruitment::find_round(&mut renaming, &round_id).unwrap().unwrap();
        renamed.title = "Peer researchers 2027 (second intake)".into();
        coproduce::db::queries::recruitment::update_round(&mut renaming, &renamed).unwrap();
        let closing = app.post_as(&coordinator, &format!("/api/v1/rounds/{round_id}/close")).send();
        let closed = answered_after_commit(renaming, async { closing.await.unwrap() }).await;
        assert_eq!(closed.status(), 200);
        let read: Value = app.get_as(&coordinator, &format!("/api/v1/rounds/{round_id}")).send().await.unwrap().json().await.unwrap();
        assert_eq!((read["title"].as_str(), read["status"].as_str()), (Some("Peer researchers 2027 (second intake)"), Some("closed")));
    }

    async fn applying_to_a_round_not_yet_open_is_answered_as_if_it_did_not_exist(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let mut body = round_body(30);
        body["opens_at"] = json!((Utc::now() + Duration::days(7)).to_rfc3339());
        let round: Value = app.post_as(&coordinator, "/api/v1/rounds").json(&body).send().await.unwrap().json().await.unwrap();
        let applicant = app.signed_in(Role::Applicant).await;
        assert_eq!(problem(start(&app, &applicant, &round).await).await["code"], "not_found");
        assert_eq!(problem(start(&app, &coordinator, &round).await).await["code"], "round_not_open", "a coordinator knows of it");
        let drafts = items(app.get_as(&applicant, "/api/v1/me/applications").send().await.unwrap()).await;
        assert!(drafts.is_empty(), "{drafts:?}");
    }

    async fn admins_are_reminded_as_well_as_coordinators(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let admin = app.signed_in(Role::Admin).await;
        let round = create_round(&app, &coordinator).await;
        submitted(&app, &round).await;
        let near = noon_in(31);
        assert_eq!(coproduce::jobs::send_decision_reminders(&app.state, near).await.unwrap(), 1);
        app.drain_outbox().await;
        assert_eq!(app.emails_to(&admin.email).len(), 1);
        assert_eq!(app.emails_to(&coordinator.email).len(), 1);
    }

    async fn paging_through_a_round_shows_each_visible_application_once_in_order_with_its_answers(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let reviewer = reviewer_on_panel(&app, &coordinator, &round).await;
        let (first, second) = (&round["questions"][0]["id"], &round["questions"][1]["id"]);
        // id → (applicant's email, answers), for what each view should list.
        let mut submitted_ones = std::collections::BTreeMap::new();
        for n in 0..5 {
            let mut answers = vec![json!({"question_id": first, "text": format!("First answer of {n}")})];
            if n % 2 == 0 {
                answers.push(json!({"question_id": second, "text": format!("Second answer of {n}")}));
            }
            let (applicant, application) = submitted_answering(&app, &round, "standard", json!(answers)).await;
            submitted_ones.insert(application["id"].as_str().unwrap().to_string(), (applicant.email.clone(), json!(answers)));
        }
        let (withdrawer, withdrawn) = submitted(&app, &round).await;
        app.post_as(&withdrawer, &format!("/api/v1/applications/{}/withdraw", withdrawn["id"].as_str().unwrap())).send().await.unwrap();
        let drafter = app.signed_in(Role::Applicant).await;
        let draft: Value = start(&app, &drafter, &round).await.json().await.unwrap();
        assert_eq!(start(&app, &coordinator, &round).await.status(), 201, "the coordinator's own is never listed to them");
        let mut everything = submitted_ones.clone();
        everything.insert(withdrawn["id"].as_str().unwrap().to_string(), (withdrawer.email.clone(), json!([{"question_id": first, "text": "I slept rough for two years and want to help."}])));
        everything.insert(draft["id"].as_str().unwrap().to_string(), (drafter.email.clone(), json!([])));

        let round_id = round["id"].as_str().unwrap();
        for (who, query, expected) in [
            (&reviewer, "view=anonymised&", &submitted_ones),
            (&coordinator, "", &everything),
        ] {
            let mut listed: Vec<Value> = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let after = cursor.as_deref().map(|c| format!("&cursor={c}")).unwrap_or_default();
                let path = format!("/api/v1/rounds/{round_id}/applications?{query}limit=2{after}");
                let page: Value = app.get_as(who, &path).send().await.unwrap().json().await.unwrap();
                assert!(page["items"].as_array().unwrap().len() <= 2);
                listed.extend(page["items"].as_array().unwrap().iter().cloned());
                match page["next_cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_string()),
                    None => break,
                }
            }
            let ids: Vec<&str> = listed.iter().map(|a| a["id"].as_str().unwrap()).collect();
            assert_eq!(ids, expected.keys().map(String::as_str).collect::<Vec<_>>(), "{query}");
            for item in &listed {
                let (email, answers) = &expected[item["id"].as_str().unwrap()];
                let given: Vec<Value> = item["answers"].as_array().unwrap().iter().map(|a| json!({"question_id": a["question_id"], "text": a["text"]})).collect();
                assert_eq!(&json!(given), answers, "{item}");
                if query.is_empty() {
                    assert_eq!(item["applicant"]["email"], email.as_str());
                } else {
                    assert!(item.get("applicant").is_none());
                    assert_eq!(item["lived_experience"], json!(["homelessness", "uses_mental_health_services"]));
                }
            }
        }
    }
}
