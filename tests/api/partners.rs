//! Partner organisations, their requests, triage into projects and elements, and the pool.

use chrono::{Duration, Utc};
use coproduce::db::queries::{organisations, people};
use coproduce::domain::role::Role;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::people::{profile_body, put};

pub fn element(title: &str) -> Value {
    // 10:00 UTC on a day 40 days ahead: inside every matching test profile's free time.
    let day = (Utc::now() + Duration::days(40)).date_naive();
    let start = day.and_hms_opt(10, 0, 0).unwrap().and_utc();
    json!({
        "title": title,
        "description": "Interview people who use housing support.",
        "skills_required": ["interviewing"],
        "skills_desired": ["writing"],
        "lived_experience_wanted": ["homelessness"],
        "interests": ["housing"],
        "people_needed": 3,
        "hours_estimate": 12,
        "mode": "hybrid",
        "location": "Leeds Central Library",
        "features": ["step_free_access", "online_option"],
        "sessions": [{"starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(2)).to_rfc3339()}],
        "pay_rate_pence_per_hour": 2500,
        "content_notes": null
    })
}

pub fn request_body() -> Value {
    json!({
        "title": "Housing support review",
        "summary": "We want people with lived experience to shape our review.",
        "engagement_level": "co_produce",
        "budget_pence": 500000,
        "access_budget_pence": 50000,
        "elements": [element("Peer interviews")]
    })
}

pub async fn organisation(app: &TestApp, coordinator: &TestUser, name: &str) -> String {
    let body = json!({"name": name, "kind": "charity", "contact_email": "hello@org.example"});
    let response = app
        .post_as(coordinator, "/api/v1/organisations")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub async fn partner_of(app: &TestApp, organisation_id: &str) -> TestUser {
    let partner = app.signed_in(Role::Partner).await;
    let (org, user) = (organisation_id.to_string(), partner.id.clone());
    app.state
        .db
        .write(move |conn| {
            Ok(organisations::add_member(
                conn,
                &org,
                &user,
                Utc::now().naive_utc(),
            )?)
        })
        .await
        .unwrap();
    partner
}

pub async fn submit_request(app: &TestApp, partner: &TestUser, body: &Value) -> reqwest::Response {
    app.post_as(partner, "/api/v1/requests")
        .json(body)
        .send()
        .await
        .unwrap()
}

pub async fn triage(
    app: &TestApp,
    coordinator: &TestUser,
    id: &str,
    decision: &str,
    note: &str,
) -> reqwest::Response {
    app.post_as(coordinator, &format!("/api/v1/requests/{id}/triage"))
        .json(&json!({"decision": decision, "note": note}))
        .send()
        .await
        .unwrap()
}

/// A coordinator, a partner, and an accepted request's project.
pub async fn project(app: &TestApp) -> (TestUser, TestUser, Value) {
    let coordinator = app.signed_in(Role::Coordinator).await;
    let org = organisation(app, &coordinator, "Northside Housing").await;
    let partner = partner_of(app, &org).await;
    let project = accepted_project(app, &coordinator, &partner, &request_body()).await;
    (coordinator, partner, project)
}

/// The project of the request `body`, sent by `partner` and accepted by `coordinator`.
pub async fn accepted_project(
    app: &TestApp,
    coordinator: &TestUser,
    partner: &TestUser,
    body: &Value,
) -> Value {
    let request: Value = submit_request(app, partner, body)
        .await
        .json()
        .await
        .unwrap();
    let result: Value = triage(
        app,
        coordinator,
        request["id"].as_str().unwrap(),
        "accept",
        "Thank you, we can help.",
    )
    .await
    .json()
    .await
    .unwrap();
    let path = format!(
        "/api/v1/projects/{}",
        result["project_id"].as_str().unwrap()
    );
    app.get_as(coordinator, &path)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn coproducer(app: &TestApp, profile: Value) -> TestUser {
    let user = app.signed_in(Role::Coproducer).await;
    assert_eq!(
        put(app, &user, "/api/v1/me/profile", &profile)
            .await
            .status(),
        200
    );
    let id = user.id.clone();
    app.state
        .db
        .write(move |conn| Ok(people::make_coproducer(conn, &id, Utc::now().naive_utc())?))
        .await
        .unwrap();
    user
}

pub async fn patch_element(
    app: &TestApp,
    who: &TestUser,
    id: &str,
    body: Value,
) -> reqwest::Response {
    app.client
        .patch(app.url(&format!("/api/v1/elements/{id}")))
        .bearer_auth(&who.token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

both_backends! {
    async fn coordinators_add_organisations_and_partners_see_their_own(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let mine = organisation(&app, &coordinator, "Northside Housing").await;
        organisation(&app, &coordinator, "Southside Health").await;
        let partner = partner_of(&app, &mine).await;
        let listed = items(app.get_as(&partner, "/api/v1/organisations").send().await.unwrap()).await;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["id"], mine.as_str());
        let all = items(app.get_as(&coordinator, "/api/v1/organisations").send().await.unwrap()).await;
        assert_eq!(all.len(), 2);
        let applicant = app.signed_in(Role::Applicant).await;
        assert_eq!(app.get_as(&applicant, "/api/v1/organisations").send().await.unwrap().status(), 403);
        let bad = app.post_as(&coordinator, "/api/v1/organisations").json(&json!({"name": "", "kind": "pub", "contact_email": "nope"})).send().await.unwrap();
        assert_eq!(error_fields(&problem(bad).await), ["name", "kind", "contact_email"]);
        let bad_kind = app.post_as(&coordinator, "/api/v1/organisations").json(&json!({"name": "X", "kind": "pub", "contact_email": "a@b.example"})).send().await.unwrap();
        assert_eq!(error_fields(&problem(bad_kind).await), ["kind"]);
    }

    async fn a_coordinator_changes_an_organisation_s_contact_address(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let org = organisation(&app, &coordinator, "Northside Housing").await;
        let path = format!("/api/v1/organisations/{org}");
        let response = app.patch_as(&coordinator, &path).json(&json!({"contact_email": "  Office@Northside.Example "})).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let changed: Value = response.json().await.unwrap();
        assert_eq!(changed["contact_email"], "office@northside.example");
        assert_eq!(changed["name"], "Northside Housing", "what is not sent stays");
        assert_eq!(changed["contact_needed"], false);
        let listed = items(app.get_as(&coordinator, "/api/v1/organisations").send().await.unwrap()).await;
        assert_eq!(listed[0]["contact_email"], "office@northside.example");
    }

    async fn only_coordinators_change_an_organisation(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let org = organisation(&app, &coordinator, "Northside Housing").await;
        let partner = partner_of(&app, &org).await;
        let response = app.patch_as(&partner, &format!("/api/v1/organisations/{org}")).json(&json!({"name": "Mine now"})).send().await.unwrap();
        assert_eq!(response.status(), 403);
    }

    async fn an_organisation_change_names_each_invalid_field(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let org = organisation(&app, &coordinator, "Northside Housing").await;
        let bad = app.patch_as(&coordinator, &format!("/api/v1/organisations/{org}")).json(&json!({"name": " ", "contact_email": "nope"})).send().await.unwrap();
        assert_eq!(error_fields(&problem(bad).await), ["name", "contact_email"]);
    }

    async fn changing_an_unknown_organisation_is_not_found(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let response = app.patch_as(&coordinator, "/api/v1/organisations/no-such-id").json(&json!({"name": "X"})).send().await.unwrap();
        assert_eq!(response.status(), 404);
    }

    async fn a_partner_submits_a_request_and_is_told_it_arrived(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let org = organisation(&app, &coordinator, "Northside Housing").await;
        let partner = partner_of(&app, &org).await;
        let response = submit_request(&app, &partner, &request_body()).await;
        assert_eq!(response.status(), 201);
        let request: Value = response.json().await.unwrap();
        assert_eq!(request["status"], "submitted");
        assert_eq!(request["organisation_id"], org.as_str());
        assert_eq!(request["quality_warnings"], json!([]));
        assert_eq!(request["elements"][0]["title"], "Peer interviews");
        app.drain_outbox().await;
        let email = app.emails_to(&partner.email).pop().unwrap();
        assert!(email.text.contains("Housing support review"), "{}", email.text);
    }

    async fn every_bad_request_field_is_named(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let org = organisation(&app, &coordinator, "Northside Housing").await;
        let partner = partner_of(&app, &org).await;
        let mut body = request_body();
        body["elements"][0]["skills_required"] = json!(["juggling"]);
        body["elements"][0]["mode"] = json!("in_person");
        body["elements"][0]["location"] = json!(null);
        let start = body["elements"][0]["sessions"][0]["starts_at"].clone();
        body["elements"][0]["sessions"][0]["ends_at"] = start;
        body["elements"][0]["features"] = json!(["free_cake"]);
        let refused = problem(submit_request(&app, &partner, &body).await).await;
        assert_eq!(error_fields(&refused), [
            "elements[0].skills_required[0]",
            "elements[0].features[0]",
            "elements[0].location",
            "elements[0].sessions[0].ends_at",
        ]);
        body["organisation_id"] = json!(uuid::Uuid::now_v7().to_string());
        let refused = problem(submit_request(&app, &partner, &body).await).await;
        assert_eq!(error_fields(&refused)[..2], ["organisation_id", "elements[0].skills_required[0]"], "an organisation not theirs is named with the rest");
        let mut empty = request_body();
        empty["elements"] = json!([]);
        assert_eq!(error_fields(&problem(submit_request(&app, &partner, &empty).await).await), ["elements"]);
        let mut wrong_level = request_body();
        wrong_level["engagement_level"] = json!("tokenistic");
        assert_eq!(error_fields(&problem(submit_request(&app, &partner, &wrong_level).await).await), ["engagement_level"]);
    }

    async fn the_quality_check_warns_but_never_blocks(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let org = organisation(&app, &coordinator, "Northside Housing").await;
        let partner = partner_of(&app, &org).await;
        let mut body = request_body();
        body["access_budget_pence"] = json!(null);
        let soon = Utc::now() + Duration::days(3);
        body["elements"][0]["pay_rate_pence_per_hour"] = json!(900);
        body["elements"][0]["mode"] = json!("in_person");
        body["elements"][0]["hours_estimate"] = json!(30);
        body["elements"][0]["sessions"] = json!([{"starts_at": soon.to_rfc3339(), "ends_at": (soon + Duration::hours(1)).to_rfc3339()}]);
        let response = submit_request(&app, &partner, &body).await;
        assert_eq!(response.status(), 201);
        let request: Value = response.json().await.unwrap();
        let codes: Vec<&str> = request["quality_warnings"].as_array().unwrap().iter().map(|w| w["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["no_access_budget", "low_pay", "short_notice", "no_remote_option"]);
        assert!(request["quality_warnings"][1]["message"].as_str().unwrap().contains("£9.00 an hour"));
        app.drain_outbox().await;
        let email = app.emails_to(&partner.email).pop().unwrap();
        assert!(email.text.contains("£9.00 an hour"), "the hints are in the email: {}", email.text);
    }

    async fn partners_see_only_their_organisations_requests(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let north = organisation(&app, &coordinator, "Northside Housing").await;
        let south = organisation(&app, &coordinator, "Southside Health").await;
        let north_partner = partner_of(&app, &north).await;
        let south_partner = partner_of(&app, &south).await;
        let request: Value = submit_request(&app, &north_partner, &request_body()).await.json().await.unwrap();
        let path = format!("/api/v1/requests/{}", request["id"].as_str().unwrap());
        assert_eq!(app.get_as(&south_partner, &path).send().await.unwrap().status(), 404);
        assert_eq!(app.get_as(&north_partner, &path).send().await.unwrap().status(), 200);
        let listed = items(app.get_as(&south_partner, "/api/v1/requests").send().await.unwrap()).await;
        assert!(listed.is_empty());
        let all = items(app.get_as(&coordinator, "/api/v1/requests?status=submitted").send().await.unwrap()).await;
        assert_eq!(all.len(), 1);
        let lonely = app.signed_in(Role::Partner).await;
        assert_eq!(submit_request(&app, &lonely, &request_body()).await.status(), 403);
    }

    async fn needs_info_then_the_partner_edits_and_resubmits(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let org = organisation(&app, &coordinator, "Northside Housing").await;
        let partner = partner_of(&app, &org).await;
        let request: Value = submit_request(&app, &partner, &request_body()).await.json().await.unwrap();
        let id = request["id"].as_str().unwrap();
        let path = format!("/api/v1/requests/{id}");
        let too_early = app.client.put(app.url(&path)).bearer_auth(&partner.token).json(&request_body()).send().await.unwrap();
        assert_eq!(too_early.status(), 409);
        let result: Value = triage(&app, &coordinator, id, "needs_info", "How many sessions will there be?").await.json().await.unwrap();
        assert_eq!(result["status"], "needs_info");
        app.drain_outbox().await;
        assert!(app.emails_to(&partner.email).pop().unwrap().text.contains("How many sessions will there be?"));
        let mut edited = request_body();
        edited["summary"] = json!("Six sessions over three months.");
        let response = app.client.put(app.url(&path)).bearer_auth(&partner.token).json(&edited).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let resubmitted: Value = response.json().await.unwrap();
        assert_eq!(resubmitted["status"], "submitted");
        assert_eq!(resubmitted["summary"], "Six sessions over three months.");
        let steps: Vec<&str> = resubmitted["history"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
        assert_eq!(steps, ["submitted", "needs_info", "submitted"]);
    }

    async fn declining_tells_the_partner_why(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let org = organisation(&app, &coordinator, "Northside Housing").await;
        let partner = partner_of(&app, &org).await;
        let request: Value = submit_request(&app, &partner, &request_body()).await.json().await.unwrap();
        let id = request["id"].as_str().unwrap();
        let result: Value = triage(&app, &coordinator, id, "decline", "We have no capacity until spring.").await.json().await.unwrap();
        assert_eq!(result["status"], "declined");
        assert_eq!(result["project_id"], Value::Null);
        app.drain_outbox().await;
        assert!(app.emails_to(&partner.email).pop().unwrap().text.contains("We have no capacity until spring."));
        let again = triage(&app, &coordinator, id, "accept", "Changed our minds").await;
        assert_eq!(again.status(), 409);
        assert_eq!(triage(&app, &partner, id, "accept", "self-service").await.status(), 403);
    }

    async fn accepting_creates_a_project_with_open_elements(app) {
        let (coordinator, partner, project) = project(&app).await;
        assert_eq!(project["title"], "Housing support review");
        assert_eq!(project["elements"][0]["status"], "open");
        assert_eq!(project["elements"][0]["people_needed"], 3);
        app.drain_outbox().await;
        let email = app.emails_to(&partner.email).pop().unwrap();
        assert!(email.text.contains(&format!("/projects/{}", project["id"].as_str().unwrap())), "{}", email.text);
        let seen = items(app.get_as(&partner, "/api/v1/projects").send().await.unwrap()).await;
        assert_eq!(seen.len(), 1);
        let other_org = organisation(&app, &coordinator, "Elsewhere").await;
        let outsider = partner_of(&app, &other_org).await;
        let path = format!("/api/v1/projects/{}", project["id"].as_str().unwrap());
        assert_eq!(app.get_as(&outsider, &path).send().await.unwrap().status(), 404);
        let listed = items(app.get_as(&outsider, "/api/v1/projects").send().await.unwrap()).await;
        assert!(listed.is_empty());
    }

    async fn elements_move_only_along_legal_status_changes(app) {
        let (coordinator, partner, project) = project(&app).await;
        let id = project["elements"][0]["id"].as_str().unwrap();
        for status in ["filled", "in_progress", "completed"] {
            let response = patch_element(&app, &coordinator, id, json!({"status": status})).await;
            assert_eq!(response.status(), 200, "{status}");
            assert_eq!(response.json::<Value>().await.unwrap()["status"], status);
        }
        let back = patch_element(&app, &coordinator, id, json!({"status": "open"})).await;
        assert_eq!(back.status(), 409);
        assert_eq!(problem(back).await["code"], "invalid_transition");
        assert_eq!(patch_element(&app, &partner, id, json!({"status": "cancelled"})).await.status(), 403);
    }

    async fn an_element_added_while_another_is_being_added_comes_after_it(app) {
        use diesel::connection::SimpleConnection;
        let (coordinator, _, project) = project(&app).await;
        let project_id = project["id"].as_str().unwrap().to_string();
        // Another element being added, caught half way: the project taken, a new last position.
        let mut adding = app.transaction_of_its_own();
        if app.database_url.starts_with("postgres") {
            adding.batch_execute(&format!("SELECT id FROM projects WHERE id = '{project_id}' FOR NO KEY UPDATE")).unwrap();
        }
        adding.batch_execute(&format!("UPDATE elements SET position = 40 WHERE project_id = '{project_id}'")).unwrap();
        let posting = app.post_as(&coordinator, &format!("/api/v1/projects/{project_id}/elements")).json(&element("Focus group")).send();
        let response = answered_after_commit(adding, async { posting.await.unwrap() }).await;
        assert_eq!(response.status(), 201);
        assert_eq!(response.json::<Value>().await.unwrap()["position"], 41);
    }

    async fn a_pay_rate_over_the_cap_is_refused_but_one_stored_before_it_does_not_block_other_edits(app) {
        let (_, partner, project) = project(&app).await;
        let id = project["elements"][0]["id"].as_str().unwrap().to_string();
        let slip = patch_element(&app, &partner, &id, json!({"pay_rate_pence_per_hour": 250_000})).await;
        let slip = problem(slip).await;
        assert_eq!(error_fields(&slip), ["pay_rate_pence_per_hour"]);
        assert!(slip["errors"][0]["message"].as_str().unwrap().contains("£1,000.00 an hour"), "{slip}");

        let stored = id.clone();
        app.state.db.write(move |conn| {
            use coproduce::db::schema::elements;
            use diesel::prelude::*;
            let spec: String = elements::table.find(&stored).select(elements::spec).first(conn)?;
            let mut spec: Value = serde_json::from_str(&spec).unwrap();
            spec["pay_rate_pence_per_hour"] = json!(250_000);
            diesel::update(elements::table.find(&stored)).set(elements::spec.eq(spec.to_string())).execute(conn)?;
            Ok(())
        }).await.unwrap();
        let edited = patch_element(&app, &partner, &id, json!({"location": "Leeds Civic Hall"})).await;
        assert_eq!(edited.status(), 200);
    }

    async fn elements_can_be_added_and_edited_with_every_bad_field_named(app) {
        let (coordinator, partner, project) = project(&app).await;
        let path = format!("/api/v1/projects/{}/elements", project["id"].as_str().unwrap());
        let response = app.post_as(&coordinator, &path).json(&element("Survey design")).send().await.unwrap();
        assert_eq!(response.status(), 201);
        let added: Value = response.json().await.unwrap();
        assert_eq!(added["position"], 1);
        let id = project["elements"][0]["id"].as_str().unwrap();
        let edited = patch_element(&app, &partner, id, json!({"people_needed": 5, "location": "Leeds Civic Hall"})).await;
        assert_eq!(edited.status(), 200);
        let edited: Value = edited.json().await.unwrap();
        assert_eq!((edited["people_needed"].clone(), edited["location"].clone()), (json!(5), json!("Leeds Civic Hall")));
        assert_eq!(edited["skills_required"], json!(["interviewing"]), "what the patch leaves out stays");
        let bad = patch_element(&app, &partner, id, json!({"people_needed": 0, "interests": ["knitting"]})).await;
        assert_eq!(error_fields(&problem(bad).await), ["interests[0]", "people_needed"]);
        let unknown = patch_element(&app, &partner, id, json!({"colour": "blue"})).await;
        let unknown = problem(unknown).await;
        assert_eq!(unknown["errors"][0]["code"], "unknown_field");
    }

    async fn coordinators_filter_the_pool(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let remote_peer = coproducer(&app, profile_body()).await;
        let mut in_person = profile_body();
        in_person["availability"]["remote"] = json!(false);
        in_person["availability"]["in_person"] = json!(true);
        in_person["skills"] = json!([{"code": "writing", "level": 2}]);
        in_person["interests"] = json!(["youth"]);
        in_person["lived_experience"] = json!(["care_experience"]);
        let writer = coproducer(&app, in_person).await;
        let ids = |page: &Value| -> Vec<String> { page["items"].as_array().unwrap().iter().map(|i| i["user_id"].as_str().unwrap().to_string()).collect() };
        let all: Value = app.get_as(&coordinator, "/api/v1/coproducers").send().await.unwrap().json().await.unwrap();
        assert_eq!(ids(&all).len(), 2);
        for (query, expected) in [
            ("skill=facilitation", &remote_peer),
            ("interest=youth", &writer),
            ("mode=in_person", &writer),
            ("mode=remote", &remote_peer),
            ("lived_experience=care_experience", &writer),
        ] {
            let page: Value = app.get_as(&coordinator, &format!("/api/v1/coproducers?{query}")).send().await.unwrap().json().await.unwrap();
            assert_eq!(ids(&page), std::slice::from_ref(&expected.id), "{query}");
        }
        let first: Value = app.get_as(&coordinator, "/api/v1/coproducers?limit=1").send().await.unwrap().json().await.unwrap();
        let cursor = first["next_cursor"].as_str().unwrap();
        let second: Value = app.get_as(&coordinator, &format!("/api/v1/coproducers?limit=1&cursor={cursor}")).send().await.unwrap().json().await.unwrap();
        assert_eq!(second["next_cursor"], Value::Null);
        assert_ne!(ids(&first), ids(&second));
        let bad = app.get_as(&coordinator, "/api/v1/coproducers?skill=juggling&mode=teleport").send().await.unwrap();
        assert_eq!(error_fields(&problem(bad).await), ["skill", "mode"]);
        let applicant = app.signed_in(Role::Applicant).await;
        assert_eq!(app.get_as(&applicant, "/api/v1/coproducers").send().await.unwrap().status(), 403);
    }

    async fn filtering_the_pool_by_lived_experience_is_audited(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let person = coproducer(&app, profile_body()).await;
        app.get_as(&coordinator, "/api/v1/coproducers?skill=facilitation").send().await.unwrap();
        app.get_as(&coordinator, "/api/v1/coproducers?lived_experience=homelessness").send().await.unwrap();
        let subject = person.id.clone();
        let reads = app.state.db.read(move |conn| Ok(coproduce::db::queries::audit::reads_of(conn, &subject)?)).await.unwrap();
        assert_eq!(reads.len(), 1, "only the lived-experience filter reveals it");
        assert_eq!(reads[0].route, "GET /api/v1/coproducers");
    }

    async fn coproducers_pause_and_resume_themselves(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let person = coproducer(&app, profile_body()).await;
        let until = (Utc::now() + Duration::days(30)).date_naive().to_string();
        let paused = app.patch_as(&person, "/api/v1/me").json(&json!({"coproducer_status": "paused", "paused_until": until})).send().await.unwrap();
        assert_eq!(paused.status(), 200);
        assert_eq!(paused.json::<Value>().await.unwrap()["coproducer_status"], "paused");
        let page: Value = app.get_as(&coordinator, "/api/v1/coproducers?status=paused").send().await.unwrap().json().await.unwrap();
        assert_eq!(page["items"][0]["user_id"], person.id.as_str());
        assert!(page["items"][0]["paused_until"].as_str().unwrap().starts_with(&until));
        let resumed: Value = app.patch_as(&person, "/api/v1/me").json(&json!({"coproducer_status": "active"})).send().await.unwrap().json().await.unwrap();
        assert_eq!(resumed["coproducer_status"], "active");
        let past = app.patch_as(&person, "/api/v1/me").json(&json!({"coproducer_status": "paused", "paused_until": "2020-01-01"})).send().await.unwrap();
        assert_eq!(error_fields(&problem(past).await), ["paused_until"]);
        let applicant = app.signed_in(Role::Applicant).await;
        let not_one = app.patch_as(&applicant, "/api/v1/me").json(&json!({"coproducer_status": "paused"})).send().await.unwrap();
        assert_eq!(problem(not_one).await["code"], "not_a_coproducer");
    }

    async fn coordinators_archive_with_a_reason_and_archived_people_cannot_resume(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let person = coproducer(&app, profile_body()).await;
        let path = format!("/api/v1/coproducers/{}/archive", person.id);
        let archived = app.post_as(&coordinator, &path).json(&json!({"reason": "Moved abroad"})).send().await.unwrap();
        assert_eq!(archived.status(), 200);
        assert_eq!(archived.json::<Value>().await.unwrap()["archived_reason"], "Moved abroad");
        assert_eq!(app.post_as(&coordinator, &path).json(&json!({"reason": "again"})).send().await.unwrap().status(), 409);
        let resume = app.patch_as(&person, "/api/v1/me").json(&json!({"coproducer_status": "active"})).send().await.unwrap();
        assert_eq!(problem(resume).await["code"], "archived");
        let stranger = app.signed_in(Role::Applicant).await;
        let not_in_pool = app.post_as(&coordinator, &format!("/api/v1/coproducers/{}/archive", stranger.id)).json(&json!({"reason": "x"})).send().await.unwrap();
        assert_eq!(not_in_pool.status(), 404);
    }

    async fn an_archived_co_producer_is_emailed_the_reason(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let person = coproducer(&app, profile_body()).await;
        let path = format!("/api/v1/coproducers/{}/archive", person.id);
        let archived = app.post_as(&coordinator, &path).json(&json!({"reason": "You asked for a year off"})).send().await.unwrap();
        assert_eq!(archived.status(), 200);
        app.drain_outbox().await;
        let emails = app.emails_to(&person.email);
        let told = emails.last().expect("an email to the person");
        assert!(told.subject.contains("archived"), "{}", told.subject);
        assert!(told.text.contains("You asked for a year off"), "{}", told.text);
    }

    async fn a_coordinator_reinstates_an_archived_co_producer_who_can_then_resume_and_is_told(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let person = coproducer(&app, profile_body()).await;
        let archive = format!("/api/v1/coproducers/{}/archive", person.id);
        assert_eq!(app.post_as(&coordinator, &archive).json(&json!({"reason": "Moved abroad"})).send().await.unwrap().status(), 200);
        let reinstated = app.post_as(&coordinator, &format!("/api/v1/coproducers/{}/reinstate", person.id)).send().await.unwrap();
        assert_eq!(reinstated.status(), 200);
        let view: Value = reinstated.json().await.unwrap();
        assert_eq!((view["status"].as_str(), view["archived_reason"].as_str()), (Some("active"), None));
        let me: Value = app.get_as(&person, "/api/v1/me").send().await.unwrap().json().await.unwrap();
        assert_eq!(me["coproducer_status"], "active");
        let active: Value = app.get_as(&coordinator, "/api/v1/coproducers?status=active").send().await.unwrap().json().await.unwrap();
        assert!(active["items"].as_array().unwrap().iter().any(|p| p["user_id"] == person.id.as_str()), "{active}");
        let paused = app.patch_as(&person, "/api/v1/me").json(&json!({"coproducer_status": "paused"})).send().await.unwrap();
        assert_eq!(paused.status(), 200, "they manage their own place again");
        app.drain_outbox().await;
        let told = app.emails_to(&person.email).pop().expect("an email to the person");
        assert!(told.subject.contains("back in the co-producer pool"), "{}", told.subject);
    }

    async fn reinstating_someone_not_archived_is_refused_and_changes_nothing(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let person = coproducer(&app, profile_body()).await;
        assert_eq!(app.patch_as(&person, "/api/v1/me").json(&json!({"coproducer_status": "paused", "paused_until": "2099-01-31"})).send().await.unwrap().status(), 200);
        app.drain_outbox().await;
        let sent_before = app.emails_to(&person.email).len();
        let again = app.post_as(&coordinator, &format!("/api/v1/coproducers/{}/reinstate", person.id)).send().await.unwrap();
        assert_eq!(again.status(), 409);
        assert_eq!(problem(again).await["code"], "not_archived");
        let me: Value = app.get_as(&person, "/api/v1/me").send().await.unwrap().json().await.unwrap();
        assert_eq!(me["coproducer_status"], "paused", "their own pause stands");
        app.drain_outbox().await;
        assert_eq!(app.emails_to(&person.email).len(), sent_before, "nobody was emailed");
    }

    async fn only_coordinators_reinstate_and_only_co_producers(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let person = coproducer(&app, profile_body()).await;
        let path = format!("/api/v1/coproducers/{}/reinstate", person.id);
        assert_eq!(app.post_as(&coordinator, &format!("/api/v1/coproducers/{}/archive", person.id)).json(&json!({"reason": "x"})).send().await.unwrap().status(), 200);
        let by_themselves = app.post_as(&person, &path).send().await.unwrap();
        assert_eq!(by_themselves.status(), 403);
        let stranger = app.signed_in(Role::Applicant).await;
        let not_in_pool = app.post_as(&coordinator, &format!("/api/v1/coproducers/{}/reinstate", stranger.id)).send().await.unwrap();
        assert_eq!(not_in_pool.status(), 404);
        let me: Value = app.get_as(&person, "/api/v1/me").send().await.unwrap().json().await.unwrap();
        assert_eq!(me["coproducer_status"], "archived");
    }

    async fn someone_erased_while_a_coordinator_archives_them_is_neither_found_nor_emailed(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let person = coproducer(&app, profile_body()).await;
        let erasing = app.erasure_in_flight(&person);
        let archiving = app.post_as(&coordinator, &format!("/api/v1/coproducers/{}/archive", person.id)).json(&json!({"reason": "Moved abroad"})).send();
        let response = answered_after_commit(erasing, async { archiving.await.unwrap() }).await;
        assert_eq!(response.status(), 404);
        app.drain_outbox().await;
        let about_the_pool = app.state.mailer.sent().into_iter().filter(|e| e.subject.contains("pool")).count();
        assert_eq!(about_the_pool, 0, "the erased person was emailed about their place in the pool");
    }

    async fn coproducers_declare_conflicts_of_interest_per_organisation(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let org = organisation(&app, &coordinator, "Northside Housing").await;
        let person = coproducer(&app, profile_body()).await;
        let path = format!("/api/v1/me/conflicts/{org}");
        let declared = app.client.put(app.url(&path)).bearer_auth(&person.token).json(&json!({"note": "My sister works there"})).send().await.unwrap();
        assert_eq!(declared.status(), 200);
        let listed: Vec<Value> = app.get_as(&person, "/api/v1/me/conflicts").send().await.unwrap().json().await.unwrap();
        assert_eq!(listed[0]["organisation_id"], org.as_str());
        let pool: Value = app.get_as(&coordinator, "/api/v1/coproducers").send().await.unwrap().json().await.unwrap();
        assert_eq!(pool["items"][0]["conflicts_with"], json!([org]));
        assert_eq!(app.client.delete(app.url(&path)).bearer_auth(&person.token).send().await.unwrap().status(), 204);
        assert_eq!(app.client.delete(app.url(&path)).bearer_auth(&person.token).send().await.unwrap().status(), 404);
        let unknown = app.client.put(app.url("/api/v1/me/conflicts/no-such-org")).bearer_auth(&person.token).json(&json!({})).send().await.unwrap();
        assert_eq!(unknown.status(), 404);
        let applicant = app.signed_in(Role::Applicant).await;
        assert_eq!(app.get_as(&applicant, "/api/v1/me/conflicts").send().await.unwrap().status(), 403);
    }

    async fn partners_cannot_change_status_and_edit_only_while_open(app) {
        let (coordinator, partner, project) = project(&app).await;
        let id = project["elements"][0]["id"].as_str().unwrap();
        let status_change = patch_element(&app, &partner, id, json!({"status": "cancelled"})).await;
        assert_eq!(status_change.status(), 403);
        assert_eq!(patch_element(&app, &coordinator, id, json!({"status": "filled"})).await.status(), 200);
        let late_edit = patch_element(&app, &partner, id, json!({"people_needed": 4})).await;
        assert_eq!(late_edit.status(), 409);
        let body = problem(late_edit).await;
        assert_eq!(body["code"], "element_not_open");
        assert_eq!(body["detail"], "This element is filled, so only coordinators can change it now.");
    }

    async fn a_bad_spec_and_an_illegal_status_change_roll_back_together(app) {
        let (coordinator, _, project) = project(&app).await;
        let id = project["elements"][0]["id"].as_str().unwrap();
        let response = patch_element(&app, &coordinator, id, json!({"people_needed": 6, "status": "completed"})).await;
        assert_eq!(response.status(), 409);
        let path = format!("/api/v1/projects/{}", project["id"].as_str().unwrap());
        let after: Value = app.get_as(&coordinator, &path).send().await.unwrap().json().await.unwrap();
        assert_eq!(after["elements"][0]["people_needed"], 3, "nothing half-written");
        assert_eq!(after["elements"][0]["status"], "open");
    }

    async fn request_fields_and_element_fields_are_reported_together_in_plain_words(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let org = organisation(&app, &coordinator, "Northside Housing").await;
        let partner = partner_of(&app, &org).await;
        let mut body = request_body();
        body["title"] = json!("");
        body["elements"][0]["skills_required"] = json!(["juggling"]);
        let refused = problem(submit_request(&app, &partner, &body).await).await;
        assert_eq!(error_fields(&refused), ["title", "elements[0].skills_required[0]"]);
        assert_eq!(refused["errors"][0]["message"], "This cannot be empty.");
        assert_eq!(
            refused["errors"][1]["message"],
            "\u{201c}juggling\u{201d} is not a skill we know. The catalogue lists every code we use."
        );
    }

    async fn another_organisations_partner_can_change_nothing(app) {
        let (coordinator, partner, project) = project(&app).await;
        let other = organisation(&app, &coordinator, "Elsewhere").await;
        let outsider = partner_of(&app, &other).await;
        let element_id = project["elements"][0]["id"].as_str().unwrap();
        assert_eq!(patch_element(&app, &outsider, element_id, json!({"people_needed": 9})).await.status(), 404);
        let add = app.post_as(&outsider, &format!("/api/v1/projects/{}/elements", project["id"].as_str().unwrap())).json(&element("Mine now")).send().await.unwrap();
        assert_eq!(add.status(), 404);
        let request: Value = submit_request(&app, &partner, &request_body()).await.json().await.unwrap();
        let id = request["id"].as_str().unwrap();
        triage(&app, &coordinator, id, "needs_info", "More detail please").await;
        let put = app.client.put(app.url(&format!("/api/v1/requests/{id}"))).bearer_auth(&outsider.token).json(&request_body()).send().await.unwrap();
        assert_eq!(put.status(), 404);
    }

    async fn a_pause_that_has_ended_counts_as_active(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let person = coproducer(&app, profile_body()).await;
        let id = person.id.clone();
        app.state.db.write(move |conn| {
            let yesterday = Utc::now().naive_utc() - Duration::days(1);
            Ok(coproduce::db::queries::pool::set_status(conn, &id, "paused", Some(yesterday), None, Utc::now().naive_utc())?)
        }).await.unwrap();
        let me: Value = app.get_as(&person, "/api/v1/me").send().await.unwrap().json().await.unwrap();
        assert_eq!(me["coproducer_status"], "active");
        let active: Value = app.get_as(&coordinator, "/api/v1/coproducers?status=active").send().await.unwrap().json().await.unwrap();
        assert_eq!(active["items"][0]["user_id"], person.id.as_str());
        assert_eq!(active["items"][0]["status"], "active");
    }

    async fn coproducers_can_find_organisations_to_declare_conflicts(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        organisation(&app, &coordinator, "Northside Housing").await;
        let person = coproducer(&app, profile_body()).await;
        let listed = items(app.get_as(&person, "/api/v1/organisations").send().await.unwrap()).await;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["name"], "Northside Housing");
    }

    async fn coproducers_see_organisations_without_their_contact_addresses(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        organisation(&app, &coordinator, "Northside Housing").await;
        let person = coproducer(&app, profile_body()).await;
        let listed = items(app.get_as(&person, "/api/v1/organisations").send().await.unwrap()).await;
        assert!(listed[0].get("contact_email").is_none(), "{}", listed[0]);
        let all = items(app.get_as(&coordinator, "/api/v1/organisations").send().await.unwrap()).await;
        assert_eq!(all[0]["contact_email"], "hello@org.example");
    }

    async fn a_partner_contact_sees_their_own_organisations_contact_address(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let mine = organisation(&app, &coordinator, "Northside Housing").await;
        let partner = partner_of(&app, &mine).await;
        let listed = items(app.get_as(&partner, "/api/v1/organisations").send().await.unwrap()).await;
        assert_eq!(listed[0]["contact_email"], "hello@org.example");
    }
}
