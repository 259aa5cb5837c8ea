//! Data rights: the export of everything held, erasure, and the retention rules.

use chrono::{Duration, Months, NaiveDateTime, Utc};
use coproduce::db::DbConn;
use coproduce::domain::role::Role;
use coproduce::jobs::{RetentionReport, apply_retention};
use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::matching::{accept, first_element, fitting_profile, invite};
use crate::partners::{
    coproducer, organisation, partner_of, project, request_body, submit_request, triage,
};
use crate::people::{passport_body, put};
use crate::recruitment::{create_round, decide, reviewer_on_panel, score, start, submitted};

const FULL_NAME: &str = "Zephyrine Quillfeather";
const PREFERRED_NAME: &str = "Zephy";
/// A phrase only this person wrote, in free text of several kinds.
const PHRASE: &str = "marmalade lighthouse";

/// Someone with data in every table that can hold data about a person.
struct Person {
    user: TestUser,
    refresh_token: String,
    coordinator: TestUser,
    reviewer: TestUser,
    round_id: String,
    element_id: String,
}

async fn person_with_data_everywhere(app: &TestApp) -> Person {
    // Profile, access passport, equal-opportunities answers, notification preferences, and a
    // submitted application with answers (see recruitment::submitted).
    let coordinator = app.signed_in(Role::Coordinator).await;
    let round = create_round(app, &coordinator).await;
    let (mut user, application) = submitted(app, &round).await;
    let names = json!({"full_name": FULL_NAME, "preferred_name": PREFERRED_NAME});
    assert_eq!(
        app.patch_as(&user, "/api/v1/me")
            .json(&names)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let passport = json!({
        "needs": [{"code": "bsl_interpreter", "detail": format!("My {PHRASE} interpreter, please")}],
        "good_day_bad_day": "On a bad day I need more breaks",
        "access_to_work": true,
        "share_with_project_teams": true,
        "review_by": "2027-06-01"
    });
    assert_eq!(
        put(app, &user, "/api/v1/me/access-passport", &passport)
            .await
            .status(),
        200
    );

    // Reviewed, then accepted with feedback: history, reviews, a co-producer record, emails.
    let reviewer = reviewer_on_panel(app, &coordinator, &round).await;
    assert_eq!(
        score(app, &reviewer, &application, &round, 3)
            .await
            .status(),
        201
    );
    assert_eq!(
        decide(app, &coordinator, &application, "accepted")
            .await
            .status(),
        200
    );

    // A draft in a second round, started with an Idempotency-Key.
    let second = create_round(app, &coordinator).await;
    let draft = app
        .post_as(
            &user,
            &format!(
                "/api/v1/rounds/{}/applications",
                second["id"].as_str().unwrap()
            ),
        )
        .header("Idempotency-Key", "privacy-draft-1")
        .send()
        .await
        .unwrap();
    assert_eq!(draft.status(), 201);
    let draft: Value = draft.json().await.unwrap();
    let answers = json!({"answers": [{"question_id": second["questions"][0]["id"], "text": format!("The {PHRASE} taught me patience.")}]});
    let path = format!("/api/v1/applications/{}", draft["id"].as_str().unwrap());
    assert_eq!(
        app.patch_as(&user, &path)
            .json(&answers)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // A sign-in by emailed link: a magic link, a session and a refresh token.
    let asked = app
        .post_json("/api/v1/auth/magic-link", &json!({"email": user.email}))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 202);
    let link = app.link_token_sent_to(&user.email).await;
    let signed_in: Value = app
        .post_json(
            "/api/v1/auth/token",
            &json!({"grant_type": "magic_link", "token": link}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refresh_token = signed_in["refresh_token"].as_str().unwrap().to_string();
    // This token carries the co-producer role the acceptance granted.
    user.token = signed_in["access_token"].as_str().unwrap().to_string();

    // Matched: shown as a candidate (audited), invited with a message, accepted.
    assert_eq!(
        put(app, &user, "/api/v1/me/profile", &fitting_profile())
            .await
            .status(),
        200
    );
    let (matcher, _, project) = project(app).await;
    let element_id = first_element(&project);
    let shown = app
        .get_as(
            &matcher,
            &format!("/api/v1/elements/{element_id}/candidates"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(shown.status(), 200);
    let invited: Value = invite(app, &matcher, &element_id, &[&user.id])
        .await
        .json()
        .await
        .unwrap();
    let invitation = invited[0]["id"].as_str().unwrap();
    assert_eq!(accept(app, &user, invitation).await.status(), 200);

    // A declared conflict of interest, and an invitation to join as staff sent to their address.
    let other = organisation(app, &coordinator, "Southside Trust").await;
    let conflict = json!({"note": format!("My cousin runs the {PHRASE} project there")});
    assert_eq!(
        put(
            app,
            &user,
            &format!("/api/v1/me/conflicts/{other}"),
            &conflict
        )
        .await
        .status(),
        200
    );
    let admin = app.signed_in(Role::Admin).await;
    let staff = app
        .post_as(&admin, "/api/v1/users/invitations")
        .json(&json!({"email": user.email, "role": "reviewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(staff.status(), 201);
    app.drain_outbox().await;

    Person {
        user,
        refresh_token,
        coordinator,
        reviewer,
        round_id: round["id"].as_str().unwrap().to_string(),
        element_id,
    }
}

/// (status, Content-Disposition, body) of the person's export.
async fn export(app: &TestApp, user: &TestUser) -> (u16, String, Value) {
    let response = app.get_as(user, "/api/v1/me/export").send().await.unwrap();
    let status = response.status().as_u16();
    let disposition = response
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, disposition, response.json().await.unwrap())
}

async fn delete_me(app: &TestApp, user: &TestUser, body: &Value) -> reqwest::Response {
    app.delete_as(user, "/api/v1/me")
        .json(body)
        .send()
        .await
        .unwrap()
}

fn confirmed() -> Value {
    json!({"confirm": "delete my account"})
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Every `table.column` of the migrated database (listed from the database's own catalogue,
/// so a table added later is searched too) holding `needle`, case-insensitively.
pub async fn columns_containing(app: &TestApp, needle: &str) -> Vec<String> {
    let needle = needle.to_lowercase().replace('\'', "''");
    app.state
        .db
        .read(move |conn| {
            let listing = match conn {
                DbConn::Sqlite(_) => {
                    "SELECT m.name AS table_name, p.name AS column_name \
                     FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"
                }
                DbConn::Postgres(_) => {
                    "SELECT table_name::text AS table_name, column_name::text AS column_name \
                     FROM information_schema.columns WHERE table_schema = 'public'"
                }
            };
            let columns: Vec<Column> = diesel::sql_query(listing).load(conn)?;
            let mut hits = Vec::new();
            for Column {
                table_name,
                column_name,
            } in columns
            {
                if table_name == "__diesel_schema_migrations" {
                    continue;
                }
                let sql = format!(
                    "SELECT COUNT(*) AS n FROM \"{table_name}\" \
                     WHERE LOWER(CAST(\"{column_name}\" AS TEXT)) LIKE '%{needle}%'"
                );
                let found: Count = diesel::sql_query(sql).get_result(conn)?;
                if found.n > 0 {
                    hits.push(format!("{table_name}.{column_name}"));
                }
            }
            Ok(hits)
        })
        .await
        .unwrap()
}

pub async fn count(app: &TestApp, sql: String) -> i64 {
    app.state
        .db
        .read(move |conn| Ok(diesel::sql_query(sql).get_result::<Count>(conn)?.n))
        .await
        .unwrap()
}

async fn execute(app: &TestApp, sql: String) {
    app.state
        .db
        .write(move |conn| Ok(diesel::sql_query(sql).execute(conn)?))
        .await
        .unwrap();
}

/// The person withdraws from their one assignment giving `reason`; coordinators are emailed
/// (not sent yet).
async fn leave_element_saying(app: &TestApp, user: &TestUser, reason: &str) {
    let mine = items(
        app.get_as(user, "/api/v1/me/assignments")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let path = format!(
        "/api/v1/assignments/{}/withdraw",
        mine[0]["id"].as_str().unwrap()
    );
    let response = app
        .post_as(user, &path)
        .json(&json!({"reason": reason}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// Makes `address` the organisation's contact address.
async fn contact_is(app: &TestApp, coordinator: &TestUser, organisation_id: &str, address: &str) {
    let response = app
        .patch_as(
            coordinator,
            &format!("/api/v1/organisations/{organisation_id}"),
        )
        .json(&json!({"contact_email": address}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// (status, body) of a POST by `who` with an Idempotency-Key.
async fn post_with_key(
    app: &TestApp,
    who: &TestUser,
    path: &str,
    key: &str,
    body: &Value,
) -> (u16, String) {
    let response = app
        .post_as(who, path)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn retention_at(app: &TestApp, now: NaiveDateTime) -> RetentionReport {
    apply_retention(&app.state, now).await.unwrap()
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

fn months_ahead(months: u32) -> NaiveDateTime {
    now().checked_add_months(Months::new(months)).unwrap()
}

async fn outbox_rows_for(app: &TestApp, user: &TestUser) -> i64 {
    let (id, email) = (&user.id, &user.email);
    count(app, format!("SELECT COUNT(*) AS n FROM outbox WHERE user_id = '{id}' OR recipient = '{email}' OR recipient LIKE '%@erased.invalid'")).await
}

both_backends! {
    async fn the_export_holds_every_kind_of_data_about_the_person(app) {
        let person = person_with_data_everywhere(&app).await;
        let (status, disposition, export) = export(&app, &person.user).await;
        assert_eq!(status, 200);
        let today = Utc::now().date_naive();
        assert_eq!(disposition, format!("attachment; filename=\"coproduce-export-{today}.json\""));

        assert_eq!(export["account"]["email"], person.user.email);
        assert_eq!(export["account"]["full_name"], FULL_NAME);
        assert_eq!(export["account"]["preferred_name"], PREFERRED_NAME);
        let roles: Vec<&str> = export["account"]["roles"].as_array().unwrap().iter().map(|r| r["role"].as_str().unwrap()).collect();
        assert!(roles.contains(&"applicant") && roles.contains(&"coproducer"), "{roles:?}");
        assert_eq!(export["email_preferences"]["format"], "standard");
        assert_eq!(export["sign_ins"]["sessions"].as_array().unwrap().len(), 2, "the test sign-in and the emailed link");
        assert!(!export["sign_ins"]["sign_in_links"].as_array().unwrap().is_empty());
        assert_eq!(export["invitations_to_join"][0]["role"], "reviewer");
        assert_eq!(export["profile"]["lived_experience"], json!(["homelessness", "uses_mental_health_services"]));
        assert!(export["access_passport"]["needs"][0]["detail"].as_str().unwrap().contains(PHRASE));
        assert_eq!(export["equal_opportunities"]["age_band"], "prefer_not_to_say");
        assert_eq!(export["coproducer"]["status"], "active");
        assert_eq!(export["conflicts_of_interest"][0]["organisation"], "Southside Trust");
        assert!(export["conflicts_of_interest"][0]["note"].as_str().unwrap().contains(PHRASE));

        let applications = export["applications"].as_array().unwrap();
        assert_eq!(applications.len(), 2);
        let decided = applications.iter().find(|a| a["status"] == "accepted").unwrap();
        assert_eq!(decided["round"], "Peer researchers 2027");
        assert_eq!(decided["answers"][0]["question"], "Why do you want to join?");
        assert!(decided["answers"][0]["answer"].as_str().unwrap().contains("slept rough"));
        assert!(decided["feedback"].as_str().unwrap().contains("rough sleeping was powerful"));
        assert_eq!(decided["consents"]["privacy_notice"], true);
        let by: Vec<&str> = decided["history"].as_array().unwrap().iter().map(|h| h["by"].as_str().unwrap()).collect();
        assert!(by.contains(&"you") && by.contains(&"staff"), "{by:?}");
        assert_eq!(decided["reviews"][0]["score"], 3);
        assert_eq!(decided["reviews"][0]["note"], "Clear");
        let draft = applications.iter().find(|a| a["status"] == "draft").unwrap();
        assert!(draft["answers"][0]["answer"].as_str().unwrap().contains(PHRASE));

        assert_eq!(export["work_invitations"][0]["status"], "accepted");
        assert_eq!(export["work_invitations"][0]["element"], "Peer interviews");
        assert_eq!(export["work_invitations"][0]["project"], "Housing support review");
        assert_eq!(export["work_invitations"][0]["message"], "We would love you on board.");
        assert!(export["work_invitations"][0]["why_you_were_suggested"].is_array());
        assert_eq!(export["assignments"][0]["status"], "confirmed");
        assert_eq!(export["assignments"][0]["history"][0]["to"], "confirmed");
        assert_eq!(export["assignments"][0]["history"][0]["by"], "you");
        let kinds: Vec<&str> = export["emails_to_you"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        for kind in ["application_received", "application_decision", "sign_in_link", "element_invitation", "staff_invitation"] {
            assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
        }
        let reads = export["who_read_your_sensitive_information"].as_array().unwrap();
        assert!(reads.iter().any(|r| r["what"] == "lived experience" && r["who"] == "Test coordinator" && r["their_roles"] == json!(["coordinator"])), "{reads:?}");
        assert!(reads.iter().all(|r| r["when"].as_str().unwrap().ends_with('Z')), "ISO 8601 in UTC");
        assert_eq!(export["repeat_request_keys"][0]["key"], "privacy-draft-1");
    }

    async fn the_export_holds_the_steps_of_requests_the_person_sent_with_their_notes(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let partner = partner_of(&app, &organisation(&app, &coordinator, "Northside Housing").await).await;
        let sent: Value = submit_request(&app, &partner, &request_body()).await.json().await.unwrap();
        let asked = triage(&app, &coordinator, sent["id"].as_str().unwrap(), "needs_info", "Which weeks suit you?").await;
        assert_eq!(asked.status(), 200);
        let (_, _, export) = export(&app, &partner).await;
        let steps = export["partner_requests_you_sent"][0]["history"].as_array().unwrap();
        let said: Vec<(&str, &str)> = steps.iter().map(|s| (s["status"].as_str().unwrap(), s["by"].as_str().unwrap())).collect();
        assert_eq!(said, [("submitted", "you"), ("needs_info", "staff")]);
        assert_eq!(steps[1]["note"], "Which weeks suit you?");
    }

    async fn the_export_holds_no_secrets_and_nobody_else_s_identity(app) {
        let person = person_with_data_everywhere(&app).await;
        let (_, _, export) = export(&app, &person.user).await;
        let text = export.to_string();
        for secret in ["token_hash", "password_hash", "ciphertext", person.refresh_token.as_str(), coproduce::auth::secret_token::hash(&person.refresh_token).as_str()] {
            assert!(!text.contains(secret), "the export holds {secret}");
        }
        for someone_else in [person.reviewer.id.as_str(), person.reviewer.email.as_str(), person.coordinator.id.as_str(), "Test reviewer"] {
            assert!(!text.contains(someone_else), "the export names {someone_else}");
        }
    }

    async fn the_export_is_for_signed_in_people_only(app) {
        let response = app.get("/api/v1/me/export").await;
        assert_eq!(response.status(), 401);
    }

    async fn after_deletion_nothing_of_the_person_is_left_anywhere(app) {
        let person = person_with_data_everywhere(&app).await;
        // Email not yet sent to coordinators that names them and quotes their reason.
        leave_element_saying(&app, &person.user, &format!("The {PHRASE} closed")).await;
        let needles = [person.user.email.as_str(), FULL_NAME, "Quillfeather", PREFERRED_NAME, PHRASE, "slept rough for two years", "rough sleeping was powerful", "We would love you on board"];
        for needle in needles {
            assert!(!columns_containing(&app, needle).await.is_empty(), "the fixture stores {needle}");
        }
        assert_eq!(delete_me(&app, &person.user, &confirmed()).await.status(), 204);

        // The farewell email keeps the address only until it is sent.
        assert_eq!(columns_containing(&app, &person.user.email).await, ["outbox.recipient"]);
        app.drain_outbox().await;
        let farewell = app.emails_to(&person.user.email).pop().unwrap();
        assert_eq!(farewell.subject, "Your coproduce account has been deleted");
        assert!(farewell.text.contains(PREFERRED_NAME));

        for needle in needles {
            assert_eq!(columns_containing(&app, needle).await, Vec::<String>::new(), "{needle} is still stored");
        }
        let id = person.user.id.clone();
        assert_eq!(count(&app, format!("SELECT COUNT(*) AS n FROM audit_log WHERE subject_id = '{id}'")).await, 0);
        assert!(count(&app, "SELECT COUNT(*) AS n FROM audit_log WHERE subject_id LIKE 'erased-%'".into()).await > 0, "reads stay counted");
        for table in ["profiles", "access_passports", "equal_opportunities", "sessions", "magic_links", "user_roles", "coproducers", "idempotency_keys", "conflicts_of_interest"] {
            assert_eq!(count(&app, format!("SELECT COUNT(*) AS n FROM {table} WHERE user_id = '{id}'")).await, 0, "{table}");
        }
    }

    async fn an_unsent_email_to_a_coordinator_naming_the_person_is_rewritten_without_them(app) {
        let person = person_with_data_everywhere(&app).await;
        leave_element_saying(&app, &person.user, &format!("The {PHRASE} closed")).await;
        assert_eq!(delete_me(&app, &person.user, &confirmed()).await.status(), 204);

        app.drain_outbox().await;
        let told = app.emails_to(&person.coordinator.email).pop().unwrap();
        assert_eq!(told.subject, "A place is free: Peer interviews");
        assert!(told.text.contains("Someone who has since deleted their account has withdrawn from “Peer interviews”."), "{}", told.text);
        assert!(told.text.starts_with("Hello Test coordinator,"), "the greeting is the coordinator's own");
        for gone in [PREFERRED_NAME, PHRASE] {
            assert!(!told.text.contains(gone) && !told.html.as_deref().unwrap_or_default().contains(gone), "{gone}");
        }
    }

    async fn an_unsent_note_naming_the_person_loses_their_name_and_address(app) {
        let person = app.signed_in(Role::Applicant).await;
        let names = json!({"full_name": FULL_NAME});
        assert_eq!(app.patch_as(&person, "/api/v1/me").json(&names).send().await.unwrap().status(), 200);
        let coordinator = app.signed_in(Role::Coordinator).await;
        let org = organisation(&app, &coordinator, "Northside Housing").await;
        let partner = partner_of(&app, &org).await;
        let request: Value = submit_request(&app, &partner, &request_body()).await.json().await.unwrap();
        app.drain_outbox().await;
        let note = format!("Please talk to {FULL_NAME} ({}) first.", person.email);
        let asked = triage(&app, &coordinator, request["id"].as_str().unwrap(), "needs_info", &note).await;
        assert_eq!(asked.status(), 200);

        assert_eq!(delete_me(&app, &person, &confirmed()).await.status(), 204);
        app.drain_outbox().await;
        let told = app.emails_to(&partner.email).pop().unwrap();
        assert!(told.text.contains("Please talk to [a person who has since deleted their account] ([a person who has since deleted their account]) first."), "{}", told.text);
        let html = told.html.unwrap_or_default();
        assert!(!html.contains(FULL_NAME) && !html.contains(&person.email), "{html}");
    }

    async fn notes_on_other_people_s_records_lose_the_person_s_name_and_address_and_keep_the_rest(app) {
        let person = app.signed_in(Role::Applicant).await;
        let names = json!({"full_name": FULL_NAME});
        assert_eq!(app.patch_as(&person, "/api/v1/me").json(&names).send().await.unwrap().status(), 200);
        let note = format!("Ask {FULL_NAME} ({}) about the {PHRASE}.", person.email);
        let (coordinator, partner, project) = project(&app).await;
        // A partner's request sent back with the note (request_events.note).
        let request: Value = submit_request(&app, &partner, &request_body()).await.json().await.unwrap();
        assert_eq!(triage(&app, &coordinator, request["id"].as_str().unwrap(), "needs_info", &note).await.status(), 200);
        // Another applicant's decision (applications.feedback, application_transitions.note) and a
        // review of it (review_scores.note).
        let round = create_round(&app, &coordinator).await;
        let (_, application) = submitted(&app, &round).await;
        let application_id = application["id"].as_str().unwrap();
        let reviewer = reviewer_on_panel(&app, &coordinator, &round).await;
        let review = json!({"scores": [{"question_id": round["questions"][0]["id"], "score": 3, "note": note}]});
        assert_eq!(app.post_as(&reviewer, &format!("/api/v1/applications/{application_id}/reviews")).json(&review).send().await.unwrap().status(), 201);
        let decision = json!({"outcome": "waitlisted", "feedback": note});
        assert_eq!(app.post_as(&coordinator, &format!("/api/v1/applications/{application_id}/decision")).json(&decision).send().await.unwrap().status(), 200);
        // Another co-producer invited with the note, withdrawn with it, and archived with it
        // (invitations.message, assignment_events.note, coproducers.archived_reason).
        let other = coproducer(&app, fitting_profile()).await;
        let invitation = json!({"coproducer_ids": [other.id], "respond_by": (Utc::now() + Duration::days(5)).to_rfc3339(), "message": note});
        let invited: Value = app.post_as(&coordinator, &format!("/api/v1/elements/{}/invitations", first_element(&project))).json(&invitation).send().await.unwrap().json().await.unwrap();
        let accepted: Value = accept(&app, &other, invited[0]["id"].as_str().unwrap()).await.json().await.unwrap();
        let withdraw = format!("/api/v1/assignments/{}/withdraw", accepted["assignment"]["id"].as_str().unwrap());
        assert_eq!(app.post_as(&coordinator, &withdraw).json(&json!({"reason": note})).send().await.unwrap().status(), 200);
        assert_eq!(app.post_as(&coordinator, &format!("/api/v1/coproducers/{}/archive", other.id)).json(&json!({"reason": note})).send().await.unwrap().status(), 200);
        // What changed, written of an element (element_outcomes.summary and easy_read).
        let element = first_element(&project);
        let outcome = format!("INSERT INTO element_outcomes (element_id, summary, easy_read, written_by, created_at, updated_at) VALUES ('{element}', '{note}', '{note}', '{}', '2026-12-01 10:00:00', '2026-12-01 10:00:00')", coordinator.id);
        app.state.db.write(move |conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query(outcome).execute(conn)?;
            Ok(())
        }).await.unwrap();
        app.drain_outbox().await;

        assert_eq!(delete_me(&app, &person, &confirmed()).await.status(), 204);
        app.drain_outbox().await;
        for gone in [FULL_NAME, person.email.as_str()] {
            assert_eq!(columns_containing(&app, gone).await, Vec::<String>::new(), "{gone} is still stored");
        }
        let marker = "[a person who has since deleted their account]";
        let scrubbed = format!("Ask {marker} ({marker}) about the {PHRASE}.");
        for (table, column) in [
            ("request_events", "note"),
            ("applications", "feedback"),
            ("application_transitions", "note"),
            ("review_scores", "note"),
            ("invitations", "message"),
            ("assignment_events", "note"),
            ("coproducers", "archived_reason"),
            ("element_outcomes", "summary"),
            ("element_outcomes", "easy_read"),
        ] {
            let kept = count(&app, format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} = '{scrubbed}'")).await;
            assert_eq!(kept, 1, "{table}.{column} keeps the note without the name and address");
        }
    }

    async fn deletion_keeps_what_the_counts_need(app) {
        let person = person_with_data_everywhere(&app).await;
        let round = person.round_id.clone();
        let applications = format!("SELECT COUNT(*) AS n FROM applications WHERE round_id = '{round}'");
        let accepted = format!("SELECT COUNT(*) AS n FROM applications WHERE round_id = '{round}' AND status = 'accepted'");
        let scores = format!("SELECT COUNT(*) AS n FROM review_scores s JOIN reviews r ON r.id = s.review_id JOIN applications a ON a.id = r.application_id WHERE a.round_id = '{round}'");
        let before = (count(&app, applications.clone()).await, count(&app, accepted.clone()).await, count(&app, scores.clone()).await);
        assert_eq!(before, (1, 1, 1));

        assert_eq!(delete_me(&app, &person.user, &confirmed()).await.status(), 204);

        let after = (count(&app, applications).await, count(&app, accepted).await, count(&app, scores).await);
        assert_eq!(after, before);
        let id = person.user.id.clone();
        assert_eq!(count(&app, format!("SELECT COUNT(*) AS n FROM applications WHERE user_id = '{id}' AND status = 'draft'")).await, 0, "drafts go");
        assert_eq!(count(&app, format!("SELECT COUNT(*) AS n FROM application_answers a JOIN applications p ON p.id = a.application_id WHERE p.user_id = '{id}'")).await, 0);
    }

    async fn an_account_deleted_without_a_body_is_erased(app) {
        let user = app.signed_in(Role::Applicant).await;
        let response = app.delete_as(&user, "/api/v1/me").send().await.unwrap();
        assert_eq!(response.status(), 204);
        assert_eq!(app.get_as(&user, "/api/v1/me").send().await.unwrap().status(), 401);
    }

    async fn a_body_without_the_confirming_words_erases_nothing(app) {
        let user = app.signed_in(Role::Applicant).await;
        let response = delete_me(&app, &user, &json!({"confirm": "yes"})).await;
        assert_eq!(error_fields(&problem(response).await), ["confirm"]);
        assert_eq!(app.get_as(&user, "/api/v1/me").send().await.unwrap().status(), 200);
    }

    async fn applications_awaiting_a_decision_are_withdrawn_when_their_sender_deletes_their_account(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        assert_eq!(delete_me(&app, &applicant, &confirmed()).await.status(), 204);
        let path = format!("/api/v1/applications/{}", application["id"].as_str().unwrap());
        let seen: Value = app.get_as(&coordinator, &path).send().await.unwrap().json().await.unwrap();
        assert_eq!(seen["status"], "withdrawn");
        let late = decide(&app, &coordinator, &application, "accepted").await;
        assert_eq!(problem(late).await["code"], "applicant_left");
    }

    async fn a_waitlisted_application_of_a_deleted_account_cannot_be_accepted_later(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        assert_eq!(decide(&app, &coordinator, &application, "waitlisted").await.status(), 200);
        assert_eq!(delete_me(&app, &applicant, &confirmed()).await.status(), 204);
        let late = decide(&app, &coordinator, &application, "accepted").await;
        assert_eq!(late.status(), 409);
        assert_eq!(problem(late).await["code"], "applicant_left");
        let id = applicant.id.clone();
        assert_eq!(count(&app, format!("SELECT COUNT(*) AS n FROM user_roles WHERE user_id = '{id}' AND role = 'coproducer'")).await, 0);
    }

    async fn a_write_already_past_its_token_check_stores_nothing_once_the_account_is_erased(app) {
        let user = app.signed_in(Role::Applicant).await;
        assert_eq!(delete_me(&app, &user, &confirmed()).await.status(), 204);
        // As if this request's token check had passed just before the erasure committed.
        let checked = coproduce::auth::AuthUser { id: user.id.clone(), roles: vec![Role::Applicant], session_id: user.session_id.clone() };
        let epoch = coproduce::auth::verified_tokens::revocation_epoch();
        app.state.verified_tokens.insert(&user.token, checked, Utc::now().timestamp() + 600, epoch);
        let response = put(&app, &user, "/api/v1/me/access-passport", &passport_body()).await;
        assert_eq!(response.status(), 401);
        let id = user.id.clone();
        assert_eq!(count(&app, format!("SELECT COUNT(*) AS n FROM access_passports WHERE user_id = '{id}'")).await, 0);
    }

    async fn deletion_frees_the_person_s_confirmed_seats(app) {
        let person = person_with_data_everywhere(&app).await;
        let path = format!("/api/v1/elements/{}/assignments", person.element_id);
        assert_eq!(delete_me(&app, &person.user, &confirmed()).await.status(), 204);
        let coordinator = app.signed_in(Role::Coordinator).await;
        let seated = items(app.get_as(&coordinator, &path).send().await.unwrap()).await;
        let statuses: Vec<&str> = seated.iter().map(|a| a["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["withdrawn"], "coordinators see the seat given up");
        let element = person.element_id.clone();
        assert_eq!(count(&app, format!("SELECT COUNT(*) AS n FROM assignments WHERE element_id = '{element}' AND status = 'withdrawn'")).await, 1);
    }

    async fn an_element_shows_a_co_producer_who_deleted_their_account_as_deleted_account(app) {
        let person = person_with_data_everywhere(&app).await;
        assert_eq!(delete_me(&app, &person.user, &confirmed()).await.status(), 204);
        let coordinator = app.signed_in(Role::Coordinator).await;
        let path = format!("/api/v1/elements/{}/assignments", person.element_id);
        let seated = items(app.get_as(&coordinator, &path).send().await.unwrap()).await;
        assert_eq!(seated[0]["display_name"], "Deleted account");
        assert_eq!(seated[0]["coproducer_id"], person.user.id.as_str(), "the record stays linked to the anonymised account");
    }

    async fn the_export_shows_a_reader_who_deleted_their_account_as_deleted_account(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        let path = format!("/api/v1/applications/{}", application["id"].as_str().unwrap());
        assert_eq!(app.get_as(&coordinator, &path).send().await.unwrap().status(), 200);
        assert_eq!(delete_me(&app, &coordinator, &confirmed()).await.status(), 204);

        let (status, _, export) = export(&app, &applicant).await;
        assert_eq!(status, 200);
        let reads = export["who_read_your_sensitive_information"].as_array().unwrap();
        assert!(!reads.is_empty(), "the read stays on record");
        assert!(reads.iter().all(|r| r["who"] == "Deleted account" && r["their_roles"] == json!([])), "{reads:?}");
    }

    async fn deleting_an_organisation_s_contact_hands_its_address_to_another_contact(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let org = organisation(&app, &coordinator, "Northside Housing").await;
        let leaving = partner_of(&app, &org).await;
        let staying = partner_of(&app, &org).await;
        contact_is(&app, &coordinator, &org, &leaving.email).await;
        assert_eq!(delete_me(&app, &leaving, &confirmed()).await.status(), 204);

        let listed = items(app.get_as(&coordinator, "/api/v1/organisations").send().await.unwrap()).await;
        assert_eq!(listed[0]["contact_email"], staying.email.as_str());
        assert_eq!(listed[0]["contact_needed"], false);
        app.drain_outbox().await;
        let told = app.emails_to(&coordinator.email).pop().unwrap();
        assert_eq!(told.subject, "A new contact address for Northside Housing");
        assert!(told.text.contains(&staying.email), "{}", told.text);
    }

    async fn an_organisation_left_without_a_contact_is_marked_as_needing_one(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let org = organisation(&app, &coordinator, "Northside Housing").await;
        let leaving = partner_of(&app, &org).await;
        contact_is(&app, &coordinator, &org, &leaving.email).await;
        assert_eq!(delete_me(&app, &leaving, &confirmed()).await.status(), 204);

        let listed = items(app.get_as(&coordinator, "/api/v1/organisations").send().await.unwrap()).await;
        assert_eq!(listed[0]["contact_email"], "contact-needed@organisation.invalid");
        assert_eq!(listed[0]["contact_needed"], true);
        app.drain_outbox().await;
        let told = app.emails_to(&coordinator.email).pop().unwrap();
        assert_eq!(told.subject, "Northside Housing needs a contact address");
        assert_eq!(columns_containing(&app, &leaving.email).await, Vec::<String>::new());
    }

    async fn a_contact_address_set_as_the_old_contact_is_erased_stands(app) {
        use diesel::connection::SimpleConnection;
        let coordinator = app.signed_in(Role::Coordinator).await;
        let org = organisation(&app, &coordinator, "Northside Housing").await;
        let leaving = partner_of(&app, &org).await;
        contact_is(&app, &coordinator, &org, &leaving.email).await;
        // A coordinator's change of address, caught half way on a connection of its own.
        let mut changing = app.transaction_of_its_own();
        changing.batch_execute(&format!("UPDATE organisations SET contact_email = 'office@org.example' WHERE id = '{org}'")).unwrap();
        let response = answered_after_commit(changing, delete_me(&app, &leaving, &confirmed())).await;
        assert_eq!(response.status(), 204);
        let listed = items(app.get_as(&coordinator, "/api/v1/organisations").send().await.unwrap()).await;
        assert_eq!(listed[0]["contact_email"], "office@org.example", "the erasure overwrote the new address");
        app.drain_outbox().await;
        let told = app.emails_to(&coordinator.email).into_iter().filter(|e| e.subject.contains("contact address")).count();
        assert_eq!(told, 0, "coordinators were told of a change that did not happen");
    }

    async fn an_answer_finished_as_an_account_is_erased_is_not_kept_and_a_retry_does_not_act_again(app) {
        use diesel::connection::SimpleConnection;
        let coordinator = app.signed_in(Role::Coordinator).await;
        let leaving = app.signed_in(Role::Applicant).await;
        // An erasure caught half way, holding its turn as `DELETE /me` does.
        let mut erasing = app.transaction_of_its_own();
        coproduce::db::queries::outbox::one_erasure_at_a_time(&mut erasing).unwrap();
        coproduce::db::queries::privacy::erase_person(&mut erasing, &leaving.id, &leaving.email, "Test Person", Utc::now().naive_utc()).unwrap();
        let organisation = json!({"name": "Northside", "kind": "charity", "contact_email": "hello@org.example"});
        let creating = post_with_key(&app, &coordinator, "/api/v1/organisations", "first", &organisation);
        let postgres = app.database_url.starts_with("postgres");
        let (status, first) = if postgres {
            // It runs alongside the erasure, and does not wait for it.
            let answered = creating.await;
            erasing.batch_execute("COMMIT").unwrap();
            answered
        } else {
            // SQLite runs one writer at a time: the request waits, then runs after the erasure.
            answered_after_commit(erasing, creating).await
        };
        assert_eq!(status, 201);
        let (status, replayed) = post_with_key(&app, &coordinator, "/api/v1/organisations", "first", &organisation).await;
        if postgres {
            assert_eq!(status, 409, "{replayed}");
            assert_eq!(serde_json::from_str::<Value>(&replayed).unwrap()["code"], "answer_not_kept");
        } else {
            assert_eq!((status, replayed), (201, first), "an answer given after the erasure is kept");
        }
        assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM organisations WHERE name = 'Northside'".into()).await, 1, "the retry acted again");
    }

    async fn after_deletion_the_tokens_stop_working(app) {
        let person = person_with_data_everywhere(&app).await;
        assert_eq!(app.get_as(&person.user, "/api/v1/me").send().await.unwrap().status(), 200);
        assert_eq!(delete_me(&app, &person.user, &confirmed()).await.status(), 204);
        assert_eq!(app.get_as(&person.user, "/api/v1/me").send().await.unwrap().status(), 401);
        assert_eq!(app.get_as(&person.user, "/api/v1/me/export").send().await.unwrap().status(), 401);
        assert_eq!(delete_me(&app, &person.user, &confirmed()).await.status(), 401, "a second delete");
        let refresh = app
            .post_json("/api/v1/auth/token", &json!({"grant_type": "refresh_token", "refresh_token": person.refresh_token}))
            .send()
            .await
            .unwrap();
        assert_eq!(refresh.status(), 401);
    }

    async fn other_people_s_stored_answers_that_name_the_person_are_not_replayed_after_deletion(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let admin = app.signed_in(Role::Admin).await;
        let round = create_round(&app, &coordinator).await;
        let (person, application) = submitted(&app, &round).await;
        let names = json!({"full_name": FULL_NAME});
        assert_eq!(app.patch_as(&person, "/api/v1/me").json(&names).send().await.unwrap().status(), 200);
        // Answers to other people's requests naming the person by an application's id (a
        // review), full name (decision feedback), id (archiving them) and address (a staff
        // invitation to it).
        let reviewer = reviewer_on_panel(&app, &coordinator, &round).await;
        let review = (&reviewer, format!("/api/v1/applications/{}/reviews", application["id"].as_str().unwrap()), json!({"scores": [{"question_id": round["questions"][0]["id"], "score": 3, "note": "Clear"}]}));
        let decision = (&coordinator, format!("/api/v1/applications/{}/decision", application["id"].as_str().unwrap()), json!({"outcome": "accepted", "feedback": format!("Welcome aboard, {FULL_NAME}.")}));
        let archive = (&coordinator, format!("/api/v1/coproducers/{}/archive", person.id), json!({"reason": "Asked for a break"}));
        let staff = (&admin, "/api/v1/users/invitations".to_string(), json!({"email": person.email, "role": "reviewer"}));
        let naming = [review, decision, archive, staff];
        let mut stored = Vec::new();
        for (who, path, body) in &naming {
            let (status, answer) = post_with_key(&app, who, path, path, body).await;
            assert!((200..300).contains(&status), "{path}: {status} {answer}");
            stored.push(answer);
        }
        assert!(stored[1].contains(FULL_NAME) && stored[2].contains(&person.id) && stored[3].contains(&person.email));
        // An answer that does not name them.
        let organisation = json!({"name": "Northside", "kind": "charity", "contact_email": "hello@org.example"});
        let (status, kept) = post_with_key(&app, &coordinator, "/api/v1/organisations", "unrelated", &organisation).await;
        assert_eq!(status, 201);

        assert_eq!(delete_me(&app, &person, &confirmed()).await.status(), 204);

        for (at, ((who, path, body), first)) in naming.iter().zip(&stored).enumerate() {
            let (status, replayed) = post_with_key(&app, who, path, path, body).await;
            assert!(status < 500, "{path}: {status} {replayed}");
            assert_ne!(&replayed, first, "{path} ran again instead of replaying");
            // The review, decision and archiving run again without the person (already decided;
            // no longer a co-producer); the invitation runs again with the address the admin sent.
            if at < 3 {
                for gone in [FULL_NAME, person.email.as_str(), person.id.as_str()] {
                    assert!(!replayed.contains(gone), "{path} answered with {gone}: {replayed}");
                }
            }
        }
        let (status, replayed) = post_with_key(&app, &coordinator, "/api/v1/organisations", "unrelated", &organisation).await;
        assert_eq!((status, replayed), (201, kept), "the unrelated answer is still replayed");
    }

    async fn a_stored_answer_is_forgotten_only_where_it_names_the_person_as_a_whole_word(app) {
        let person = app.signed_in(Role::Applicant).await;
        let name = "Zephyrine \"Zeph\" Quillfeather";
        assert_eq!(app.patch_as(&person, "/api/v1/me").json(&json!({"full_name": name})).send().await.unwrap().status(), 200);
        let other = app.signed_in(Role::Coordinator).await;
        let answers = [
            ("by-name", json!({"note": format!("Ask {name}")}), false),
            ("by-address", json!({"to": person.email}), false),
            ("by-id", json!({"user_id": person.id}), false),
            ("longer-name", json!({"note": format!("Ask {name}s")}), true),
            ("other-capitals", json!({"note": format!("Ask {}", name.to_lowercase())}), true),
            ("longer-address", json!({"to": format!("x{}", person.email)}), true),
        ];
        for (key, body, _) in &answers {
            execute(&app, format!(
                "INSERT INTO idempotency_keys (user_id, key, request_path, status, content_type, body, created_at) \
                 VALUES ('{}', '{key}', '/api/v1/organisations', 201, 'application/json', '{body}', '2026-01-01 00:00:00')",
                other.id
            )).await;
        }

        assert_eq!(delete_me(&app, &person, &confirmed()).await.status(), 204);

        for (key, _, kept) in answers {
            let left = count(&app, format!("SELECT COUNT(*) AS n FROM idempotency_keys WHERE key = '{key}'")).await;
            assert_eq!(left == 1, kept, "{key}");
        }
    }

    async fn deleting_needs_the_confirmation_words(app) {
        let user = app.signed_in(Role::Applicant).await;
        for body in [json!({}), json!({"confirm": "yes"}), json!({"confirm": null})] {
            let response = delete_me(&app, &user, &body).await;
            assert_eq!(response.status(), 422, "{body}");
            let problem = problem(response).await;
            assert_eq!(error_fields(&problem), ["confirm"]);
            assert!(problem["errors"][0]["message"].as_str().unwrap().contains("delete my account"));
        }
        assert_eq!(app.get_as(&user, "/api/v1/me").send().await.unwrap().status(), 200, "nothing was deleted");
    }

    async fn the_last_active_admin_cannot_delete_their_account(app) {
        let admin = app.signed_in(Role::Admin).await;
        let response = delete_me(&app, &admin, &confirmed()).await;
        assert_eq!(response.status(), 409);
        let problem = problem(response).await;
        assert_eq!(problem["code"], "last_admin");
        assert!(problem["detail"].as_str().unwrap().contains("administrator"));
        assert_eq!(app.get_as(&admin, "/api/v1/me").send().await.unwrap().status(), 200);

        app.signed_in(Role::Admin).await;
        assert_eq!(delete_me(&app, &admin, &confirmed()).await.status(), 204, "with another admin it works");
    }

    async fn unsuccessful_applications_lose_their_content_a_year_after_the_decision(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        assert_eq!(decide(&app, &coordinator, &application, "not_this_time").await.status(), 200);
        app.drain_outbox().await;
        let path = format!("/api/v1/applications/{}", application["id"].as_str().unwrap());

        assert_eq!(retention_at(&app, months_ahead(11)).await.unsuccessful_applications_stripped, 0);
        let view: Value = app.get_as(&applicant, &path).send().await.unwrap().json().await.unwrap();
        assert_eq!(view["answers"].as_array().unwrap().len(), 1);

        let later = months_ahead(12) + Duration::days(1);
        assert_eq!(retention_at(&app, later).await.unsuccessful_applications_stripped, 1);
        let view: Value = app.get_as(&applicant, &path).send().await.unwrap().json().await.unwrap();
        assert_eq!(view["status"], "not_this_time", "the outcome stays for counts");
        assert_eq!(view["answers"], json!([]));
        assert_eq!(columns_containing(&app, "rough sleeping was powerful").await, Vec::<String>::new());
        assert_eq!(retention_at(&app, later).await.unsuccessful_applications_stripped, 0, "a second run changes nothing");
    }

    async fn drafts_untouched_for_six_months_are_deleted(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let applicant = app.signed_in(Role::Applicant).await;
        let draft: Value = start(&app, &applicant, &round).await.json().await.unwrap();
        let path = format!("/api/v1/applications/{}", draft["id"].as_str().unwrap());

        assert_eq!(retention_at(&app, months_ahead(5)).await.draft_applications_deleted, 0);
        assert_eq!(app.get_as(&applicant, &path).send().await.unwrap().status(), 200);
        assert_eq!(retention_at(&app, months_ahead(6) + Duration::days(1)).await.draft_applications_deleted, 1);
        assert_eq!(app.get_as(&applicant, &path).send().await.unwrap().status(), 404);
    }

    async fn idempotency_keys_are_deleted_after_a_day(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let body = json!({"name": "Northside", "kind": "charity", "contact_email": "hello@org.example"});
        let response = app.post_as(&coordinator, "/api/v1/organisations").header("Idempotency-Key", "k-1").json(&body).send().await.unwrap();
        assert_eq!(response.status(), 201);

        assert_eq!(retention_at(&app, now() + Duration::hours(23)).await.idempotency_keys_deleted, 0);
        assert_eq!(retention_at(&app, now() + Duration::hours(25)).await.idempotency_keys_deleted, 1);
        assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM idempotency_keys".into()).await, 0);
    }

    async fn sent_email_rows_are_deleted_after_thirty_days(app) {
        let user = app.signed_in(Role::Applicant).await;
        app.post_json("/api/v1/auth/magic-link", &json!({"email": user.email})).send().await.unwrap();
        assert_eq!(app.drain_outbox().await, 1);

        assert_eq!(retention_at(&app, now() + Duration::days(29)).await.sent_emails_deleted, 0);
        assert_eq!(retention_at(&app, now() + Duration::days(31)).await.sent_emails_deleted, 1);
        assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM outbox".into()).await, 0);
    }

    async fn dead_email_rows_are_deleted_after_ninety_days(app) {
        let user = app.signed_in(Role::Applicant).await;
        app.post_json("/api/v1/auth/magic-link", &json!({"email": user.email})).send().await.unwrap();
        execute(&app, "UPDATE outbox SET status = 'dead'".into()).await;

        assert_eq!(retention_at(&app, now() + Duration::days(89)).await.dead_emails_deleted, 0);
        assert_eq!(retention_at(&app, now() + Duration::days(91)).await.dead_emails_deleted, 1);
        assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM outbox".into()).await, 0);
    }

    async fn a_farewell_email_that_cannot_be_sent_is_deleted_at_once(app) {
        let user = app.signed_in(Role::Applicant).await;
        assert_eq!(delete_me(&app, &user, &confirmed()).await.status(), 204);
        execute(&app, "UPDATE outbox SET status = 'dead'".into()).await;
        assert_eq!(retention_at(&app, now()).await.dead_emails_deleted, 1);
        assert_eq!(columns_containing(&app, &user.email).await, Vec::<String>::new());
    }

    async fn expired_sign_in_links_and_sessions_go_a_week_after_expiry(app) {
        app.register_and_sign_in("river@example.org").await;
        assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM sessions".into()).await, 1);

        let early = retention_at(&app, now() + Duration::days(6)).await;
        assert_eq!((early.sign_in_links_deleted, early.sessions_deleted), (0, 0));
        let link_gone = retention_at(&app, now() + Duration::days(8)).await;
        assert_eq!(link_gone.sign_in_links_deleted, 1, "the 15-minute link, a week after it expired");
        assert_eq!((link_gone.refresh_tokens_deleted, link_gone.sessions_deleted), (0, 0), "the 30-day session lives on");
        let session_gone = retention_at(&app, now() + Duration::days(38)).await;
        assert_eq!((session_gone.refresh_tokens_deleted, session_gone.sessions_deleted), (1, 1));
        assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM sessions".into()).await, 0);
    }

    async fn unaccepted_staff_invitations_go_a_week_after_expiry(app) {
        let admin = app.signed_in(Role::Admin).await;
        let sent = app.post_as(&admin, "/api/v1/users/invitations").json(&json!({"email": "new.reviewer@example.org", "role": "reviewer"})).send().await.unwrap();
        assert_eq!(sent.status(), 201);
        assert_eq!(retention_at(&app, now() + Duration::days(13)).await.staff_invitations_deleted, 0);
        assert_eq!(retention_at(&app, now() + Duration::days(15)).await.staff_invitations_deleted, 1);
    }

    async fn audit_rows_are_kept_six_years(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (_, application) = submitted(&app, &round).await;
        let path = format!("/api/v1/applications/{}", application["id"].as_str().unwrap());
        assert_eq!(app.get_as(&coordinator, &path).send().await.unwrap().status(), 200);
        let rows = count(&app, "SELECT COUNT(*) AS n FROM audit_log".into()).await;
        assert!(rows > 0, "the coordinator's read is audited");

        assert_eq!(retention_at(&app, months_ahead(71)).await.audit_rows_deleted, 0);
        assert_eq!(retention_at(&app, months_ahead(72) + Duration::days(1)).await.audit_rows_deleted as i64, rows);
    }

    async fn retention_works_through_everything_in_small_batches(app, |s| s.retention.batch_size = 1) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        for _ in 0..3 {
            let applicant = app.signed_in(Role::Applicant).await;
            assert_eq!(start(&app, &applicant, &round).await.status(), 201);
        }
        assert_eq!(retention_at(&app, months_ahead(7)).await.draft_applications_deleted, 3);
        assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM applications".into()).await, 0);
    }
}

both_backends! {
    async fn a_waitlisted_applicant_being_erased_is_not_accepted_meanwhile(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let (applicant, application) = submitted(&app, &round).await;
        assert_eq!(decide(&app, &coordinator, &application, "waitlisted").await.status(), 200);
        app.drain_outbox().await;
        let erasing = app.erasure_in_flight(&applicant);
        let late = answered_after_commit(erasing, decide(&app, &coordinator, &application, "accepted")).await;
        assert_eq!(problem(late).await["code"], "applicant_left");
        let id = applicant.id.clone();
        assert_eq!(count(&app, format!("SELECT COUNT(*) AS n FROM user_roles WHERE user_id = '{id}'")).await, 0, "a role given back");
        assert_eq!(count(&app, format!("SELECT COUNT(*) AS n FROM coproducers WHERE user_id = '{id}'")).await, 0, "back in the pool");
        assert_eq!(count(&app, format!("SELECT COUNT(*) AS n FROM outbox WHERE user_id = '{id}' AND status <> 'sent'")).await, 0, "an email waits for them");
    }

    async fn a_sign_in_link_asked_for_during_an_erasure_is_not_sent(app) {
        let user = app.signed_in(Role::Applicant).await;
        let erasing = app.erasure_in_flight(&user);
        let asking = app.post_json("/api/v1/auth/magic-link", &json!({"email": user.email})).send();
        let response = answered_after_commit(erasing, async { asking.await.unwrap() }).await;
        assert_eq!(response.status(), 202, "answered as for any address");
        assert_eq!(outbox_rows_for(&app, &user).await, 0, "a link was queued for the erased account");
        let id = user.id.clone();
        assert_eq!(count(&app, format!("SELECT COUNT(*) AS n FROM magic_links WHERE user_id = '{id}'")).await, 0);
    }

    async fn a_name_change_during_an_erasure_is_refused_and_not_written_back(app) {
        let user = app.signed_in(Role::Applicant).await;
        let erasing = app.erasure_in_flight(&user);
        let renaming = app.patch_as(&user, "/api/v1/me").json(&json!({"full_name": FULL_NAME})).send();
        let response = answered_after_commit(erasing, async { renaming.await.unwrap() }).await;
        assert_eq!(response.status(), 401);
        let id = user.id.clone();
        assert_eq!(count(&app, format!("SELECT COUNT(*) AS n FROM users WHERE id = '{id}' AND full_name = 'Deleted account'")).await, 1, "the name was written back");
    }

    async fn a_co_producer_being_erased_is_not_withdrawn_by_a_coordinator_meanwhile(app) {
        let person = person_with_data_everywhere(&app).await;
        let coordinator = app.signed_in(Role::Coordinator).await;
        let path = format!("/api/v1/elements/{}/assignments", person.element_id);
        let seated = items(app.get_as(&coordinator, &path).send().await.unwrap()).await;
        let withdraw = format!("/api/v1/assignments/{}/withdraw", seated[0]["id"].as_str().unwrap());
        app.drain_outbox().await;
        let erasing = app.erasure_in_flight(&person.user);
        let withdrawing = app.post_as(&coordinator, &withdraw).json(&json!({"reason": "Stepping back"})).send();
        let response = answered_after_commit(erasing, async { withdrawing.await.unwrap() }).await;
        assert_eq!(problem(response).await["code"], "person_left");
        assert_eq!(outbox_rows_for(&app, &person.user).await, 0, "an email waits for the erased person");
    }

    async fn a_password_checked_just_before_an_erasure_starts_no_session(app) {
        let body = json!({"email": "pat@example.org", "full_name": "Pat", "password": "a long enough passphrase"});
        assert_eq!(app.post_json("/api/v1/auth/register", &body).send().await.unwrap().status(), 202);
        let id = app.state.db.read(|conn| {
            Ok(coproduce::db::queries::users::find_by_email(conn, "pat@example.org")?.unwrap().id)
        }).await.unwrap();
        let pat = TestUser { id: id.clone(), email: "pat@example.org".into(), token: String::new(), session_id: String::new() };
        let erasing = app.erasure_in_flight(&pat);
        let grant = json!({"grant_type": "password", "email": "pat@example.org", "password": "a long enough passphrase"});
        let signing_in = app.post_json("/api/v1/auth/token", &grant).send();
        let response = answered_after_commit(erasing, async { signing_in.await.unwrap() }).await;
        assert_eq!(problem(response).await["code"], "invalid_grant");
        assert_eq!(count(&app, format!("SELECT COUNT(*) AS n FROM sessions WHERE user_id = '{id}'")).await, 0, "a session for the erased account");
    }

    async fn finished_work_of_someone_who_left_is_still_recorded_without_a_note_but_not_withdrawn(app) {
        let person = person_with_data_everywhere(&app).await;
        let coordinator = app.signed_in(Role::Coordinator).await;
        for status in ["filled", "in_progress", "completed"] {
            let response = crate::partners::patch_element(&app, &coordinator, &person.element_id, json!({"status": status})).await;
            assert_eq!(response.status(), 200, "{status}");
        }
        assert_eq!(delete_me(&app, &person.user, &confirmed()).await.status(), 204);
        let path = format!("/api/v1/elements/{}/assignments", person.element_id);
        let seated = items(app.get_as(&coordinator, &path).send().await.unwrap()).await;
        assert_eq!(seated[0]["status"], "confirmed", "finished work is not withdrawn by the erasure");
        let assignment = format!("/api/v1/assignments/{}", seated[0]["id"].as_str().unwrap());

        let withdrawing = app.post_as(&coordinator, &format!("{assignment}/withdraw")).json(&json!({"reason": "Left"})).send().await.unwrap();
        assert_eq!(problem(withdrawing).await["code"], "person_left");
        let note = json!({"note": format!("{FULL_NAME} was brilliant")});
        let completing = app.post_as(&coordinator, &format!("{assignment}/complete")).json(&note).send().await.unwrap();
        assert_eq!(completing.status(), 200);
        let history = items(app.get_as(&coordinator, &format!("{assignment}/history")).send().await.unwrap()).await;
        let last = history.last().unwrap();
        assert_eq!((last["to"].as_str(), &last["note"]), (Some("completed"), &Value::Null), "a note about someone erased");
        app.drain_outbox().await;
        let thanked = app.state.mailer.sent().into_iter().filter(|e| e.subject.starts_with("Thank you for your work")).count();
        assert_eq!(thanked, 0, "someone who left was emailed about the work");
    }

    async fn a_queue_of_erasures_leaves_connections_for_everyone_else(app, |s| {
        s.database.pool_size = 2;
        s.database.pool_timeout_ms = 1000;
    }) {
        use diesel::connection::SimpleConnection;
        if !app.database_url.starts_with("postgres") {
            return; // SQLite's writers take turns whatever they are; this is about the pool.
        }
        let mut leaving = Vec::new();
        for _ in 0..3 {
            leaving.push(app.signed_in(Role::Applicant).await);
        }
        let staying = app.signed_in(Role::Applicant).await;
        // Another replica's erasure, under way: ours wait their turn.
        let mut elsewhere = app.transaction_of_its_own();
        coproduce::db::queries::outbox::one_erasure_at_a_time(&mut elsewhere).unwrap();
        let deletions: Vec<_> = leaving.iter().map(|user| {
            tokio::spawn(app.delete_as(user, "/api/v1/me").send())
        }).collect();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let renamed = app.patch_as(&staying, "/api/v1/me").json(&json!({"preferred_name": "Sam"})).send().await.unwrap();
        assert_eq!(renamed.status(), 200, "waiting erasures took every connection");
        elsewhere.batch_execute("COMMIT").unwrap();
        for deletion in deletions {
            assert_eq!(deletion.await.unwrap().unwrap().status(), 204);
        }
    }

    async fn an_application_submitted_as_its_sender_is_erased_goes_with_the_rest(app) {
        use diesel::connection::SimpleConnection;
        if !app.database_url.starts_with("postgres") {
            return; // On SQLite the erasure holds the one write lock: the submit simply waits.
        }
        let coordinator = app.signed_in(Role::Coordinator).await;
        let round = create_round(&app, &coordinator).await;
        let applicant = app.signed_in(Role::Applicant).await;
        assert_eq!(put(&app, &applicant, "/api/v1/me/profile", &crate::people::profile_body()).await.status(), 200);
        let draft: Value = start(&app, &applicant, &round).await.json().await.unwrap();
        let id = draft["id"].as_str().unwrap().to_string();
        let answers = json!({"answers": [{"question_id": round["questions"][0]["id"], "text": "I slept rough for two years."}],
                             "consents": {"privacy_notice": true, "future_opportunities": false}});
        let saved = app.patch_as(&applicant, &format!("/api/v1/applications/{id}")).json(&answers).send().await.unwrap();
        assert_eq!(saved.status(), 200);
        // An erasure that has taken the account and not yet reached the application.
        let mut erasing = app.transaction_of_its_own();
        coproduce::db::queries::users::for_erasure(&mut erasing, &applicant.id).unwrap();
        let submitting = app.post_as(&applicant, &format!("/api/v1/applications/{id}/submit")).send();
        let submitted = tokio::time::timeout(std::time::Duration::from_secs(3), submitting).await
            .expect("the submit waited for the erasure, which would then wait for the submit")
            .unwrap();
        assert_eq!(submitted.status(), 200);
        coproduce::db::queries::privacy::erase_person(&mut erasing, &applicant.id, &applicant.email, "Test applicant", Utc::now().naive_utc())
            .expect("the erasure failed after the submit");
        erasing.batch_execute("COMMIT").unwrap();
        assert_eq!(count(&app, format!("SELECT COUNT(*) AS n FROM applications WHERE id = '{id}' AND status = 'withdrawn'")).await, 1);
        assert_eq!(outbox_rows_for(&app, &applicant).await, 0, "the submit's email waits for the erased person");
    }

    async fn a_read_audited_as_its_subject_is_erased_is_kept_without_naming_them(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let person = crate::partners::coproducer(&app, crate::people::profile_body()).await;
        let erasing = app.erasure_in_flight(&person);
        let listing = app.get_as(&coordinator, "/api/v1/coproducers?lived_experience=homelessness").send();
        let response = answered_after_commit(erasing, async { listing.await.unwrap() }).await;
        assert_eq!(response.status(), 200);
        let id = person.id.clone();
        assert_eq!(count(&app, format!("SELECT COUNT(*) AS n FROM audit_log WHERE subject_id = '{id}'")).await, 0, "a read recorded under the erased person's id");
    }

    async fn a_partner_who_deleted_their_account_is_not_emailed_about_their_request(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let org = organisation(&app, &coordinator, "Northside Housing").await;
        let partner = partner_of(&app, &org).await;
        let request: Value = submit_request(&app, &partner, &request_body()).await.json().await.unwrap();
        assert_eq!(delete_me(&app, &partner, &confirmed()).await.status(), 204);
        app.drain_outbox().await;
        let triaged = triage(&app, &coordinator, request["id"].as_str().unwrap(), "accept", "We can help.").await;
        assert_eq!(triaged.status(), 200);
        let id = partner.id.clone();
        assert_eq!(count(&app, format!("SELECT COUNT(*) AS n FROM outbox WHERE (user_id = '{id}' OR recipient LIKE '%@erased.invalid') AND status <> 'sent'")).await, 0);
    }

    async fn the_organisation_s_address_hears_about_a_request_when_no_contact_is_left(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let org = organisation(&app, &coordinator, "Northside Housing").await;
        let sender = partner_of(&app, &org).await;
        let request: Value = submit_request(&app, &sender, &request_body()).await.json().await.unwrap();
        assert_eq!(delete_me(&app, &sender, &confirmed()).await.status(), 204);
        app.drain_outbox().await;
        assert!(app.emails_to("hello@org.example").is_empty());
        let declined = triage(&app, &coordinator, request["id"].as_str().unwrap(), "decline", "We cannot staff it this year.").await;
        assert_eq!(declined.status(), 200);
        app.drain_outbox().await;
        let told = app.emails_to("hello@org.example").pop().expect("the organisation's address is told");
        assert!(told.text.starts_with("Hello Northside Housing"), "{}", told.text);
        assert!(told.text.contains("We cannot staff it this year."), "{}", told.text);
    }

    async fn the_other_contacts_hear_about_a_request_whose_sender_deleted_their_account(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let org = organisation(&app, &coordinator, "Northside Housing").await;
        let sender = partner_of(&app, &org).await;
        let colleague = partner_of(&app, &org).await;
        let request: Value = submit_request(&app, &sender, &request_body()).await.json().await.unwrap();
        app.drain_outbox().await;
        assert!(app.emails_to(&colleague.email).is_empty(), "while the sender is here, only they are told");
        assert_eq!(delete_me(&app, &sender, &confirmed()).await.status(), 204);
        let asked = triage(&app, &coordinator, request["id"].as_str().unwrap(), "needs_info", "Which weeks suit you?").await;
        assert_eq!(asked.status(), 200);
        app.drain_outbox().await;
        let told = app.emails_to(&colleague.email).pop().expect("the colleague is told");
        assert!(told.text.contains("Which weeks suit you?"), "{}", told.text);
    }
}
