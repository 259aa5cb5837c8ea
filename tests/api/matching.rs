//! Candidates, the optimal plan, invitations and assignments.

use chrono::{Duration, Utc};
use coproduce::domain::role::Role;
use serde_json::{Value, json};

use crate::assignments::get;
use crate::helpers::*;
use crate::partners::{
    accepted_project, coproducer, organisation, partner_of, project, request_body,
};
use crate::people::{contains, passport_body, profile_body, put, stored_bytes};

/// A profile that fits the test element perfectly: required and desired skills, its lived
/// experience and theme, and free every morning.
pub fn fitting_profile() -> Value {
    let mut profile = profile_body();
    profile["skills"] =
        json!([{"code": "interviewing", "level": 3}, {"code": "writing", "level": 2}]);
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    profile["availability"]["weekly"] = days
        .iter()
        .map(|d| json!({"day": d, "from": "09:00", "to": "13:00"}))
        .collect();
    profile["availability"]["hours_per_month"] = json!(40);
    profile
}

pub async fn candidates(app: &TestApp, coordinator: &TestUser, element_id: &str) -> Value {
    let response = app
        .get_as(
            coordinator,
            &format!("/api/v1/elements/{element_id}/candidates?limit=20"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

pub async fn invite(
    app: &TestApp,
    coordinator: &TestUser,
    element_id: &str,
    ids: &[&str],
) -> reqwest::Response {
    let body = json!({"coproducer_ids": ids, "respond_by": (Utc::now() + Duration::days(5)).to_rfc3339(), "message": "We would love you on board."});
    app.post_as(
        coordinator,
        &format!("/api/v1/elements/{element_id}/invitations"),
    )
    .json(&body)
    .send()
    .await
    .unwrap()
}

pub async fn accept(app: &TestApp, who: &TestUser, invitation_id: &str) -> reqwest::Response {
    app.post_as(who, &format!("/api/v1/invitations/{invitation_id}/accept"))
        .send()
        .await
        .unwrap()
}

#[derive(diesel::QueryableByName)]
struct Words {
    #[diesel(sql_type = diesel::sql_types::Text)]
    words: String,
}

/// Every plain-text column of the outbox rows to `user_id`, run together.
async fn outbox_words_to(app: &TestApp, user_id: &str) -> String {
    let user_id = user_id.to_string();
    app.state
        .db
        .read(move |conn| {
            use diesel::RunQueryDsl;
            let rows: Vec<Words> = diesel::sql_query(
                "SELECT subject || body_text || COALESCE(body_html, '') || COALESCE(mentions, '') \
                 || COALESCE(attachment_filename, '') AS words FROM outbox WHERE user_id = $1",
            )
            .bind::<diesel::sql_types::Text, _>(&user_id)
            .load(conn)?;
            Ok(rows.into_iter().map(|row| row.words).collect::<String>())
        })
        .await
        .unwrap()
}

/// Moves every invitation's answer-by time back to when it was sent: all have run out.
async fn let_every_invitation_run_out(app: &TestApp) {
    app.state
        .db
        .write(|conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query("UPDATE invitations SET respond_by = created_at").execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
}

pub async fn invitation_id(invited: reqwest::Response) -> String {
    let invitations: Vec<Value> = invited.json().await.unwrap();
    invitations[0]["id"].as_str().unwrap().to_string()
}

pub fn first_element(project: &Value) -> String {
    project["elements"][0]["id"].as_str().unwrap().to_string()
}

both_backends! {
    async fn candidates_come_ranked_with_reasons_adjustments_and_exclusion_counts(app) {
        let (coordinator, _, project) = project(&app).await;
        let element = first_element(&project);
        let strong = coproducer(&app, fitting_profile()).await;
        put(&app, &strong, "/api/v1/me/access-passport", &passport_body()).await;
        let mut thin = fitting_profile();
        thin["skills"] = json!([]);
        let weak = coproducer(&app, thin).await;
        let paused = coproducer(&app, fitting_profile()).await;
        let until = (Utc::now() + Duration::days(20)).date_naive().to_string();
        app.patch_as(&paused, "/api/v1/me").json(&json!({"coproducer_status": "paused", "paused_until": until})).send().await.unwrap();

        let result = candidates(&app, &coordinator, &element).await;
        let ids: Vec<&str> = result["items"].as_array().unwrap().iter().map(|c| c["coproducer_id"].as_str().unwrap()).collect();
        assert_eq!(ids, [strong.id.as_str(), weak.id.as_str()]);
        assert_eq!(result["excluded"]["not_active"], 1);
        let best = &result["items"][0];
        assert_eq!(best["breakdown"].as_array().unwrap().len(), 6);
        assert!(best["breakdown"][0]["reason"].as_str().unwrap().contains("interviewing"), "{best}");
        let adjustments = best["adjustments"].as_array().unwrap();
        assert!(adjustments.iter().any(|a| a["need"] == "bsl_interpreter" && a["status"] == "to_arrange" && a["action"].is_string()));
        assert!(adjustments.iter().any(|a| a["need"] == "step_free_access" && a["status"] == "met"));
        let applicant = app.signed_in(Role::Applicant).await;
        assert_eq!(app.get_as(&applicant, &format!("/api/v1/elements/{element}/candidates")).send().await.unwrap().status(), 403);
    }

    async fn access_needs_never_change_a_score(app) {
        let (coordinator, _, project) = project(&app).await;
        let element = first_element(&project);
        let with_needs = coproducer(&app, fitting_profile()).await;
        put(&app, &with_needs, "/api/v1/me/access-passport", &passport_body()).await;
        coproducer(&app, fitting_profile()).await;
        let result = candidates(&app, &coordinator, &element).await;
        let scores: Vec<f64> = result["items"].as_array().unwrap().iter().map(|c| c["score"].as_f64().unwrap()).collect();
        assert_eq!(scores.len(), 2);
        assert_eq!(scores[0], scores[1]);
    }

    async fn showing_candidates_is_audited(app) {
        let (coordinator, _, project) = project(&app).await;
        let person = coproducer(&app, fitting_profile()).await;
        candidates(&app, &coordinator, &first_element(&project)).await;
        let subject = person.id.clone();
        let reads = app.state.db.read(move |conn| Ok(coproduce::db::queries::audit::reads_of(conn, &subject)?)).await.unwrap();
        let data: Vec<&str> = reads.iter().map(|r| r.data.as_str()).collect();
        assert_eq!(data, ["lived_experience", "access_passport"]);
    }

    async fn inviting_and_planning_are_audited_for_the_people_they_show(app) {
        let (coordinator, _, project) = project(&app).await;
        let invited = coproducer(&app, fitting_profile()).await;
        let reads_of = |subject: String| app.state.db.read(move |conn| Ok(coproduce::db::queries::audit::reads_of(conn, &subject)?));
        let plan = app.post_as(&coordinator, &format!("/api/v1/projects/{}/match-plan", project["id"].as_str().unwrap())).send().await.unwrap();
        assert_eq!(plan.status(), 200);
        let planned = reads_of(invited.id.clone()).await.unwrap();
        assert_eq!(planned.iter().map(|r| (r.data.as_str(), r.route.as_str())).collect::<Vec<_>>(), [("lived_experience", "POST /api/v1/projects/{id}/match-plan")]);
        assert_eq!(invite(&app, &coordinator, &first_element(&project), &[&invited.id]).await.status(), 201);
        let after = reads_of(invited.id.clone()).await.unwrap();
        assert_eq!(after.last().map(|r| (r.data.as_str(), r.route.as_str(), r.actor_id.as_str())), Some(("lived_experience", "POST /api/v1/elements/{id}/invitations", coordinator.id.as_str())));
    }

    async fn conflicts_of_interest_exclude(app) {
        let (coordinator, _, project) = project(&app).await;
        let person = coproducer(&app, fitting_profile()).await;
        let organisation = project["organisation_id"].as_str().unwrap();
        app.client.put(app.url(&format!("/api/v1/me/conflicts/{organisation}"))).bearer_auth(&person.token).json(&json!({})).send().await.unwrap();
        let result = candidates(&app, &coordinator, &first_element(&project)).await;
        assert_eq!(result["items"], json!([]));
        assert_eq!(result["excluded"]["conflict_of_interest"], 1);
    }

    async fn the_plan_fills_seats_best_first_and_reports_what_is_left(app) {
        let (coordinator, _, project) = project(&app).await;
        let a = coproducer(&app, fitting_profile()).await;
        let b = coproducer(&app, fitting_profile()).await;
        let response = app.post_as(&coordinator, &format!("/api/v1/projects/{}/match-plan", project["id"].as_str().unwrap())).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let plan: Value = response.json().await.unwrap();
        let proposed = plan["proposals"][0]["coproducer_ids"].as_array().unwrap();
        assert_eq!(proposed.len(), 2, "two people for three seats");
        assert!(proposed.contains(&json!(a.id)) && proposed.contains(&json!(b.id)));
        assert_eq!(plan["unfilled"][0]["seats_left"], 1);
        assert_eq!(plan["total_score"], 200.0);
        assert!(app.emails_to(&a.email).is_empty(), "nothing is sent until a coordinator invites");
    }

    async fn the_plan_never_gives_one_person_two_elements_at_the_same_time(app, |s| s.matching.per_person_limit = 2) {
        let (coordinator, _, project) = project(&app).await;
        let a = coproducer(&app, fitting_profile()).await;
        let b = coproducer(&app, fitting_profile()).await;
        // The same session as the project's first element.
        let same_time = app.post_as(&coordinator, &format!("/api/v1/projects/{}/elements", project["id"].as_str().unwrap()))
            .json(&crate::partners::element("Focus group")).send().await.unwrap();
        assert_eq!(same_time.status(), 201);

        let response = app.post_as(&coordinator, &format!("/api/v1/projects/{}/match-plan", project["id"].as_str().unwrap())).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let plan: Value = response.json().await.unwrap();
        let proposed: Vec<&str> = plan["proposals"].as_array().unwrap().iter()
            .flat_map(|p| p["coproducer_ids"].as_array().unwrap().iter().map(|id| id.as_str().unwrap()))
            .collect();
        for person in [&a, &b] {
            assert_eq!(proposed.iter().filter(|id| **id == person.id).count(), 1, "{plan}");
        }
        assert_eq!(plan["total_score"], 200.0);
    }

    async fn the_plan_across_every_project_gives_one_person_one_place_at_a_time(app) {
        let (coordinator, partner, first) = project(&app).await;
        // Another project, its element at the same time as the first's.
        let second = accepted_project(&app, &coordinator, &partner, &request_body()).await;
        let person = coproducer(&app, fitting_profile()).await;
        for project in [&first, &second] {
            let alone: Value = app.post_as(&coordinator, &format!("/api/v1/projects/{}/match-plan", project["id"].as_str().unwrap())).send().await.unwrap().json().await.unwrap();
            assert_eq!(alone["proposals"][0]["coproducer_ids"], json!([person.id]), "each project alone proposes them: {alone}");
        }

        let response = app.post_as(&coordinator, "/api/v1/match-plan").send().await.unwrap();
        assert_eq!(response.status(), 200);
        let plan: Value = response.json().await.unwrap();
        let proposals = plan["proposals"].as_array().unwrap();
        let planned: Vec<(&str, &str)> = proposals.iter().map(|p| (p["project_id"].as_str().unwrap(), p["element_id"].as_str().unwrap())).collect();
        for project in [&first, &second] {
            assert!(planned.contains(&(project["id"].as_str().unwrap(), first_element(project).as_str())), "{plan}");
        }
        let places = proposals.iter().flat_map(|p| p["coproducer_ids"].as_array().unwrap()).filter(|id| **id == json!(person.id)).count();
        assert_eq!(places, 1, "one place across both projects: {plan}");
        assert_eq!(plan["total_score"], 100.0);
        let seats_left: u64 = plan["unfilled"].as_array().unwrap().iter().map(|u| u["seats_left"].as_u64().unwrap()).sum();
        assert_eq!(seats_left, 5, "six seats, one planned: {plan}");
    }

    async fn the_plan_across_every_project_never_gives_one_person_two_sessions_at_once(app, |s| s.matching.per_person_limit = 2) {
        let (coordinator, partner, _) = project(&app).await;
        // Another project, its element at the same time as the first's: one person may hold two
        // places in a plan, but not these two.
        accepted_project(&app, &coordinator, &partner, &request_body()).await;
        let person = coproducer(&app, fitting_profile()).await;
        let plan: Value = app.post_as(&coordinator, "/api/v1/match-plan").send().await.unwrap().json().await.unwrap();
        let places = plan["proposals"].as_array().unwrap().iter().flat_map(|p| p["coproducer_ids"].as_array().unwrap()).filter(|id| **id == json!(person.id)).count();
        assert_eq!(places, 1, "{plan}");
    }

    async fn the_plan_across_every_project_leaves_out_elements_no_longer_open(app) {
        let (coordinator, partner, first) = project(&app).await;
        let second = accepted_project(&app, &coordinator, &partner, &request_body()).await;
        let cancelled = app.client.patch(app.url(&format!("/api/v1/elements/{}", first_element(&second))))
            .bearer_auth(&coordinator.token).json(&json!({"status": "cancelled"})).send().await.unwrap();
        assert_eq!(cancelled.status(), 200);
        let plan: Value = app.post_as(&coordinator, "/api/v1/match-plan").send().await.unwrap().json().await.unwrap();
        let planned: Vec<&str> = plan["proposals"].as_array().unwrap().iter().map(|p| p["element_id"].as_str().unwrap()).collect();
        assert_eq!(planned, [first_element(&first)]);
    }

    async fn invitations_explain_the_choice_and_record_the_score(app) {
        let (coordinator, _, project) = project(&app).await;
        let element = first_element(&project);
        let person = coproducer(&app, fitting_profile()).await;
        put(&app, &person, "/api/v1/me/access-passport", &passport_body()).await;
        let response = invite(&app, &coordinator, &element, &[&person.id]).await;
        assert_eq!(response.status(), 201);
        let invitations: Vec<Value> = response.json().await.unwrap();
        assert_eq!(invitations[0]["status"], "invited");
        assert_eq!(invitations[0]["score"], 100.0);
        app.drain_outbox().await;
        let email = app.emails_to(&person.email).pop().unwrap();
        for words in ["Peer interviews", "£25.00 an hour", "interviewing", "We would love you on board.", "British Sign Language"] {
            assert!(email.text.contains(words), "{words:?} missing from: {}", email.text);
        }
        let again = invite(&app, &coordinator, &element, &[&person.id]).await;
        let body = problem(again).await;
        assert_eq!(error_fields(&body), ["coproducer_ids[0]"]);
        assert_eq!(body["errors"][0]["code"], "already_on_element");
    }

    async fn an_invitation_waits_in_the_outbox_with_its_access_adjustments_sealed(app) {
        let (coordinator, _, project) = project(&app).await;
        let element = first_element(&project);
        let person = coproducer(&app, fitting_profile()).await;
        put(&app, &person, "/api/v1/me/access-passport", &passport_body()).await;
        assert_eq!(invite(&app, &coordinator, &element, &[&person.id]).await.status(), 201);

        let words = outbox_words_to(&app, &person.id).await;
        assert!(words.contains("Peer interviews"), "the subject stays readable: {words}");
        assert!(!words.contains("British Sign Language"), "adjustments in plain text: {words}");
        let sealed = stored_bytes(&app, "SELECT sealed_body AS bytes FROM outbox WHERE user_id = $1", &person.id).await;
        assert!(!contains(&sealed, "British Sign Language") && !contains(&sealed, "We would love you"));

        app.drain_outbox().await;
        let email = app.emails_to(&person.email).pop().unwrap();
        assert!(email.text.contains("British Sign Language"), "{}", email.text);
        assert!(email.html.unwrap_or_default().contains("British Sign Language"));
    }

    async fn the_invitee_sees_in_the_app_what_the_email_told_them(app) {
        let (coordinator, _, project) = project(&app).await;
        let element = first_element(&project);
        let person = coproducer(&app, fitting_profile()).await;
        put(&app, &person, "/api/v1/me/access-passport", &passport_body()).await;
        let invitation = invitation_id(invite(&app, &coordinator, &element, &[&person.id]).await).await;
        let response = app.get_as(&person, &format!("/api/v1/invitations/{invitation}")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let details: Value = response.json().await.unwrap();
        assert_eq!(details["status"], "invited");
        assert_eq!(details["message"], "We would love you on board.");
        assert_eq!(details["invited_to"]["title"], "Peer interviews");
        assert_eq!(details["invited_to"]["pay"], "£25.00 an hour");
        assert_eq!(details["invited_to"]["sessions"].as_array().unwrap().len(), 1);
        let why = details["why_you_were_suggested"].as_array().unwrap();
        assert!(why.iter().any(|f| f["factor"] == "required_skills" && f["reason"].as_str().unwrap().contains("interviewing")), "{why:?}");
        let adjustments = details["adjustments"].as_array().unwrap();
        assert!(adjustments.iter().any(|a| a["need"] == "bsl_interpreter" && a["status"] == "to_arrange"), "{adjustments:?}");
        let listed = app.get_as(&person, "/api/v1/me/invitations").send().await.unwrap().json::<Value>().await.unwrap();
        assert_eq!(listed["items"][0]["element_title"], "Peer interviews");

        let someone_else = coproducer(&app, fitting_profile()).await;
        let theirs = app.get_as(&someone_else, &format!("/api/v1/invitations/{invitation}")).send().await.unwrap();
        assert_eq!(theirs.status(), 404);
    }

    async fn why_someone_was_suggested_is_sealed_at_rest_and_theirs_to_read(app) {
        let (coordinator, _, project) = project(&app).await;
        let element = first_element(&project);
        let person = coproducer(&app, fitting_profile()).await;
        assert_eq!(invite(&app, &coordinator, &element, &[&person.id]).await.status(), 201);

        let id = person.id.clone();
        let plain = app.state.db.read(move |conn| {
            use diesel::RunQueryDsl;
            let rows: Vec<Words> = diesel::sql_query("SELECT breakdown AS words FROM invitations WHERE coproducer_id = $1")
                .bind::<diesel::sql_types::Text, _>(&id)
                .load(conn)?;
            Ok(rows.into_iter().map(|row| row.words).collect::<Vec<_>>())
        }).await.unwrap();
        assert_eq!(plain, ["[]"], "no reasons in plain text");
        let sealed = stored_bytes(&app, "SELECT sealed_breakdown AS bytes FROM invitations WHERE coproducer_id = $1", &person.id).await;
        assert!(!contains(&sealed, "lived experience") && !contains(&sealed, "lived_experience"));

        let export: Value = app.get_as(&person, "/api/v1/me/export").send().await.unwrap().json().await.unwrap();
        let reasons = export["work_invitations"][0]["why_you_were_suggested"].as_array().unwrap();
        assert!(reasons.iter().any(|f| f["factor"] == "lived_experience" && f["reason"].as_str().unwrap().starts_with("Shares 1 of 1")), "{reasons:?}");
    }

    async fn rotating_the_key_seals_reasons_given_before_they_were_sealed(app) {
        let (coordinator, _, project) = project(&app).await;
        let element = first_element(&project);
        let person = coproducer(&app, fitting_profile()).await;
        assert_eq!(invite(&app, &coordinator, &element, &[&person.id]).await.status(), 201);
        let reasons = r#"[{"factor":"skills","points":40.0,"max":40.0,"reason":"Has every skill asked for."}]"#;
        app.state.db.write(move |conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query("UPDATE invitations SET breakdown = $1, sealed_breakdown = NULL")
                .bind::<diesel::sql_types::Text, _>(reasons)
                .execute(conn)?;
            Ok(())
        }).await.unwrap();

        let settings = (*app.state.settings).clone();
        let written = tokio::task::spawn_blocking(move || coproduce::commands::reencrypt(&settings)).await.unwrap().unwrap();
        assert!(written >= 1);
        let sealed = stored_bytes(&app, "SELECT sealed_breakdown AS bytes FROM invitations WHERE coproducer_id = $1", &person.id).await;
        assert!(!contains(&sealed, "Has every skill"));
        let export: Value = app.get_as(&person, "/api/v1/me/export").send().await.unwrap().json().await.unwrap();
        assert_eq!(export["work_invitations"][0]["why_you_were_suggested"][0]["reason"], "Has every skill asked for.");
    }

    async fn someone_erased_while_a_coordinator_invites_them_is_neither_invited_nor_emailed(app) {
        let (coordinator, _, project) = project(&app).await;
        let element = first_element(&project);
        let person = coproducer(&app, fitting_profile()).await;
        put(&app, &person, "/api/v1/me/access-passport", &passport_body()).await;
        let erasing = app.erasure_in_flight(&person);
        let invitees = [person.id.as_str()];
        let body = problem(answered_after_commit(erasing, invite(&app, &coordinator, &element, &invitees)).await).await;
        assert_eq!(error_fields(&body), ["coproducer_ids[0]"]);
        assert_eq!(body["errors"][0]["code"], "not_a_coproducer");
        assert_eq!(outbox_words_to(&app, &person.id).await, "", "an email waits for the erased person");
        let to_erased = app.state.db.read(|conn| {
            use diesel::RunQueryDsl;
            let rows: Vec<Words> = diesel::sql_query("SELECT subject AS words FROM outbox WHERE recipient LIKE '%@erased.invalid'").load(conn)?;
            Ok(rows.len())
        }).await.unwrap();
        assert_eq!(to_erased, 0, "an email was queued to the erased account");
    }

    async fn hours_booked_in_one_month_do_not_use_up_another_month(app) {
        let (coordinator, _, project) = project(&app).await;
        let booked_on = first_element(&project);
        let mut profile = fitting_profile();
        profile["availability"]["hours_per_month"] = json!(20);
        let person = coproducer(&app, profile).await;
        let invitations: Vec<Value> = invite(&app, &coordinator, &booked_on, &[&person.id]).await.json().await.unwrap();
        assert_eq!(accept(&app, &person, invitations[0]["id"].as_str().unwrap()).await.status(), 200);
        // 12 hours booked in one month; another 12 the same month would be 24 of their 20.
        let add = |title: &str, days_ahead: i64, hour: u32| {
            let day = (chrono::Utc::now() + chrono::Duration::days(days_ahead)).date_naive();
            let start = day.and_hms_opt(hour, 0, 0).unwrap().and_utc();
            let mut body = crate::partners::element(title);
            body["sessions"] = json!([{"starts_at": start.to_rfc3339(), "ends_at": (start + chrono::Duration::hours(1)).to_rfc3339()}]);
            app.post_as(&coordinator, &format!("/api/v1/projects/{}/elements", project["id"].as_str().unwrap())).json(&body).send()
        };
        let same_month: Value = add("Same month", 40, 12).await.unwrap().json().await.unwrap();
        let months_later: Value = add("Months later", 100, 12).await.unwrap().json().await.unwrap();
        let refused = problem(invite(&app, &coordinator, same_month["id"].as_str().unwrap(), &[&person.id]).await).await;
        assert_eq!(refused["errors"][0]["code"], "no_capacity");
        let invited = invite(&app, &coordinator, months_later["id"].as_str().unwrap(), &[&person.id]).await;
        assert_eq!(invited.status(), 201, "another month has room");
    }

    async fn people_who_cannot_take_an_element_cannot_be_invited(app) {
        let (coordinator, _, project) = project(&app).await;
        let element = first_element(&project);
        let mut nowhere = fitting_profile();
        nowhere["availability"]["remote"] = json!(true);
        nowhere["availability"]["hours_per_month"] = json!(2);
        let short_of_time = coproducer(&app, nowhere).await;
        let applicant = app.signed_in(Role::Applicant).await;
        let response = invite(&app, &coordinator, &element, &[&short_of_time.id, &applicant.id]).await;
        let body = problem(response).await;
        assert_eq!(error_fields(&body), ["coproducer_ids[0]", "coproducer_ids[1]"]);
        assert_eq!(body["errors"][0]["code"], "no_capacity");
        assert_eq!(body["errors"][1]["code"], "not_a_coproducer");
    }

    async fn accepting_confirms_a_seat_then_the_waiting_list_takes_over(app) {
        let (coordinator, _, project) = project(&app).await;
        let element = first_element(&project);
        let mut people = Vec::new();
        for _ in 0..4 {
            people.push(coproducer(&app, fitting_profile()).await);
        }
        let ids: Vec<&str> = people.iter().map(|p| p.id.as_str()).collect();
        let invitations: Vec<Value> = invite(&app, &coordinator, &element, &ids).await.json().await.unwrap();
        for (i, person) in people.iter().enumerate() {
            let response = accept(&app, person, invitations[i]["id"].as_str().unwrap()).await;
            assert_eq!(response.status(), 200);
            let result: Value = response.json().await.unwrap();
            if i < 3 {
                assert_eq!(result["status"], "accepted");
                assert_eq!(result["assignment"]["status"], "confirmed");
            } else {
                assert_eq!(result["status"], "waitlisted");
            }
        }
        let again = accept(&app, &people[0], invitations[0]["id"].as_str().unwrap()).await;
        assert_eq!(problem(again).await["code"], "already_answered");
        let view: Value = app.get_as(&coordinator, &format!("/api/v1/projects/{}", project["id"].as_str().unwrap())).send().await.unwrap().json().await.unwrap();
        assert_eq!(view["elements"][0]["status"], "filled");
        let stranger = app.signed_in(Role::Coproducer).await;
        assert_eq!(accept(&app, &stranger, invitations[0]["id"].as_str().unwrap()).await.status(), 404);
        app.drain_outbox().await;
        let confirmation = app.emails_to(&people[0].email).pop().unwrap();
        assert!(confirmation.text.contains("Peer interviews"), "{}", confirmation.text);
    }

    async fn declining_is_recorded_with_its_reason(app) {
        let (coordinator, _, project) = project(&app).await;
        let person = coproducer(&app, fitting_profile()).await;
        let invitations: Vec<Value> = invite(&app, &coordinator, &first_element(&project), &[&person.id]).await.json().await.unwrap();
        let id = invitations[0]["id"].as_str().unwrap();
        let response = app.post_as(&person, &format!("/api/v1/invitations/{id}/decline")).json(&json!({"reason": "Too far to travel"})).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Value>().await.unwrap()["status"], "declined");
        assert_eq!(accept(&app, &person, id).await.status(), 409);
    }

    async fn archiving_closes_their_unanswered_invitations_and_no_seat_is_taken(app) {
        let (coordinator, _, project) = project(&app).await;
        let element = first_element(&project);
        let person = coproducer(&app, fitting_profile()).await;
        let invitations: Vec<Value> = invite(&app, &coordinator, &element, &[&person.id]).await.json().await.unwrap();
        let archived = app.post_as(&coordinator, &format!("/api/v1/coproducers/{}/archive", person.id)).json(&json!({"reason": "Asked to leave the pool"})).send().await.unwrap();
        assert_eq!(archived.status(), 200);
        assert_eq!(archived.json::<Value>().await.unwrap()["invitations_closed"], 1);
        let response = accept(&app, &person, invitations[0]["id"].as_str().unwrap()).await;
        assert_eq!(response.status(), 409);
        assert_eq!(problem(response).await["code"], "not_in_pool");
        let mine: Value = app.get_as(&person, "/api/v1/me/invitations").send().await.unwrap().json().await.unwrap();
        assert_eq!(mine["items"][0]["status"], "expired");
        let booked: Value = app.get_as(&coordinator, &format!("/api/v1/elements/{element}/assignments")).send().await.unwrap().json().await.unwrap();
        assert_eq!(booked["items"].as_array().map(Vec::len), Some(0), "{booked}");
    }

    async fn an_invitation_made_while_someone_is_being_archived_waits_and_is_refused(app) {
        use coproduce::db::queries::{matching as queries, pool, users};
        use diesel::connection::SimpleConnection;
        let (coordinator, _, project) = project(&app).await;
        let person = coproducer(&app, fitting_profile()).await;
        // An archive that has taken them out of the pool and holds their bookings, not yet committed.
        let mut archiving = app.transaction_of_its_own();
        assert!(users::hold_if_active(&mut archiving, &person.id).unwrap());
        queries::hold_bookings_of(&mut archiving, &person.id).unwrap();
        assert!(pool::set_status(&mut archiving, &person.id, "archived", None, Some("Moved away"), Utc::now().naive_utc()).unwrap());
        let element = first_element(&project);
        let invitees = [person.id.as_str()];
        let inviting = invite(&app, &coordinator, &element, &invitees);
        tokio::pin!(inviting);
        let early = tokio::time::timeout(std::time::Duration::from_millis(300), &mut inviting).await;
        assert!(early.is_err(), "it went ahead while they were being archived");
        archiving.batch_execute("COMMIT").unwrap();
        let body = problem(inviting.await).await;
        assert_eq!(body["errors"][0]["code"], "not_active", "{body}");
    }

    async fn archiving_takes_someone_off_waiting_lists_for_good_even_once_reinstated(app) {
        let (coordinator, _, project) = project(&app).await;
        let element = first_element(&project);
        let seat = app.client.patch(app.url(&format!("/api/v1/elements/{element}"))).bearer_auth(&coordinator.token).json(&json!({"people_needed": 1})).send().await.unwrap();
        assert_eq!(seat.status(), 200);
        let [booked, archived, next] = [coproducer(&app, fitting_profile()).await, coproducer(&app, fitting_profile()).await, coproducer(&app, fitting_profile()).await];
        let invited: Vec<Value> = invite(&app, &coordinator, &element, &[&booked.id, &archived.id, &next.id]).await.json().await.unwrap();
        let mut assignment = None;
        for (person, invitation) in [&booked, &archived, &next].into_iter().zip(&invited) {
            let answer: Value = accept(&app, person, invitation["id"].as_str().unwrap()).await.json().await.unwrap();
            assignment = assignment.or(answer["assignment"]["id"].as_str().map(str::to_string));
        }
        let closed: Value = app.post_as(&coordinator, &format!("/api/v1/coproducers/{}/archive", archived.id)).json(&json!({"reason": "Moved away"})).send().await.unwrap().json().await.unwrap();
        assert_eq!(closed["invitations_closed"], 1, "{closed}");
        let reinstated = app.post_as(&coordinator, &format!("/api/v1/coproducers/{}/reinstate", archived.id)).send().await.unwrap();
        assert_eq!(reinstated.status(), 200);

        let withdrawn = app.post_as(&booked, &format!("/api/v1/assignments/{}/withdraw", assignment.unwrap())).json(&json!({})).send().await.unwrap();
        assert_eq!(withdrawn.status(), 200);
        let on_it: Value = app.get_as(&coordinator, &format!("/api/v1/elements/{element}/assignments")).send().await.unwrap().json().await.unwrap();
        let people: Vec<&str> = on_it["items"].as_array().unwrap().iter().filter(|a| a["status"] == "confirmed").map(|a| a["coproducer_id"].as_str().unwrap()).collect();
        assert_eq!(people, [next.id.as_str()], "{on_it}");
    }

    async fn someone_archived_is_emailed_which_invitations_closed(app) {
        let (coordinator, _, project) = project(&app).await;
        let person = coproducer(&app, fitting_profile()).await;
        invite(&app, &coordinator, &first_element(&project), &[&person.id]).await;
        let archived = app.post_as(&coordinator, &format!("/api/v1/coproducers/{}/archive", person.id)).json(&json!({"reason": "Moved away"})).send().await.unwrap();
        assert_eq!(archived.status(), 200);
        app.drain_outbox().await;
        let told = app.emails_to(&person.email).pop().unwrap();
        assert_eq!(told.subject, "Your place in the co-producer pool is archived");
        assert!(told.text.contains("You do not need to do anything about them:\n- Peer interviews (Housing support review)"), "{}", told.text);
    }

    async fn an_invitation_closed_by_an_archive_says_expired_once_its_date_has_passed(app) {
        let (coordinator, _, project) = project(&app).await;
        let person = coproducer(&app, fitting_profile()).await;
        let first = invitation_id(invite(&app, &coordinator, &first_element(&project), &[&person.id]).await).await;
        let place = format!("/api/v1/coproducers/{}", person.id);
        assert_eq!(app.post_as(&coordinator, &format!("{place}/archive")).json(&json!({"reason": "Unreachable for months"})).send().await.unwrap().status(), 200);
        assert_eq!(app.post_as(&coordinator, &format!("{place}/reinstate")).send().await.unwrap().status(), 200);
        // Closed before its answer-by date, which has passed since.
        let id = first.clone();
        app.state.db.write(move |conn| {
            use coproduce::db::schema::invitations;
            use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
            let closed = coproduce::db::queries::matching::find_invitation(conn, &id)?.unwrap().responded_at.unwrap();
            diesel::update(invitations::table.find(&id)).set(invitations::respond_by.eq(closed + chrono::Duration::milliseconds(1))).execute(conn)?;
            Ok(())
        }).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        assert_eq!(problem(accept(&app, &person, &first).await).await["code"], "invitation_expired", "as API.md has it after respond_by");
    }

    async fn someone_reinstated_can_be_invited_again_to_what_closed_with_the_archive(app) {
        let (coordinator, _, project) = project(&app).await;
        let element = first_element(&project);
        let person = coproducer(&app, fitting_profile()).await;
        let first = invitation_id(invite(&app, &coordinator, &element, &[&person.id]).await).await;
        let place = format!("/api/v1/coproducers/{}", person.id);
        assert_eq!(app.post_as(&coordinator, &format!("{place}/archive")).json(&json!({"reason": "Unreachable for months"})).send().await.unwrap().status(), 200);
        assert_eq!(app.post_as(&coordinator, &format!("{place}/reinstate")).send().await.unwrap().status(), 200);
        let closed = problem(accept(&app, &person, &first).await).await;
        assert_eq!(closed["code"], "invitation_closed", "its time had not run out: {closed}");
        assert_eq!(invite(&app, &coordinator, &element, &[&person.id]).await.status(), 201);
        let response = accept(&app, &person, &first).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Value>().await.unwrap()["status"], "accepted");
    }

    async fn someone_paused_may_still_accept_what_they_were_offered(app) {
        let (coordinator, _, project) = project(&app).await;
        let person = coproducer(&app, fitting_profile()).await;
        let invitations: Vec<Value> = invite(&app, &coordinator, &first_element(&project), &[&person.id]).await.json().await.unwrap();
        let paused = app.patch_as(&person, "/api/v1/me").json(&json!({"coproducer_status": "paused"})).send().await.unwrap();
        assert_eq!(paused.status(), 200);
        let response = accept(&app, &person, invitations[0]["id"].as_str().unwrap()).await;
        assert_eq!(response.status(), 200);
    }

    async fn accepting_work_that_clashes_with_a_booking_made_since_is_refused_and_the_invitation_stays_open(app) {
        let (coordinator, _, first) = project(&app).await;
        let (_, _, second) = project(&app).await;
        let person = coproducer(&app, fitting_profile()).await;
        let to_first = invitation_id(invite(&app, &coordinator, &first_element(&first), &[&person.id]).await).await;
        let to_second = invitation_id(invite(&app, &coordinator, &first_element(&second), &[&person.id]).await).await;
        let booked: Value = accept(&app, &person, &to_first).await.json().await.unwrap();
        assert_eq!(booked["status"], "accepted");

        let refused = problem(accept(&app, &person, &to_second).await).await;
        assert_eq!(refused["status"], 409);
        assert_eq!(refused["code"], "session_clash");
        assert!(refused["detail"].as_str().unwrap().contains("withdraw from the other booking first"), "{refused}");
        let invitations = get(&app, &person, "/api/v1/me/invitations").await;
        let still = invitations["items"].as_array().unwrap().iter().find(|i| i["id"] == to_second.as_str()).unwrap();
        assert_eq!(still["status"], "invited");
        assert_eq!(get(&app, &person, "/api/v1/me/assignments").await["items"].as_array().unwrap().len(), 1);

        let assignment = booked["assignment"]["id"].as_str().unwrap();
        let withdrawn = app.post_as(&person, &format!("/api/v1/assignments/{assignment}/withdraw")).json(&json!({})).send().await.unwrap();
        assert_eq!(withdrawn.status(), 200);
        let now_fits: Value = accept(&app, &person, &to_second).await.json().await.unwrap();
        assert_eq!(now_fits["status"], "accepted", "{now_fits}");
    }

    async fn an_earnings_limit_lowered_after_the_invitation_stops_the_booking(app) {
        let (coordinator, _, project) = project(&app).await;
        let person = coproducer(&app, fitting_profile()).await;
        let invitation = invitation_id(invite(&app, &coordinator, &first_element(&project), &[&person.id]).await).await;
        let mut lowered = fitting_profile();
        lowered["payment"]["earnings_limit_pence"] = json!(10_000);
        assert_eq!(put(&app, &person, "/api/v1/me/profile", &lowered).await.status(), 200);
        let refused = problem(accept(&app, &person, &invitation).await).await;
        assert_eq!(refused["code"], "earnings_limit");
        assert!(refused["detail"].as_str().unwrap().contains("earnings limit you set to protect your benefits"), "{refused}");
        assert!(get(&app, &person, "/api/v1/me/assignments").await["items"].as_array().unwrap().is_empty());
    }

    async fn two_clashing_invitations_accepted_at_once_book_only_one(app) {
        let person = coproducer(&app, fitting_profile()).await;
        for _ in 0..4 {
            let (coordinator, _, first) = project(&app).await;
            let (_, _, second) = project(&app).await;
            let a = invitation_id(invite(&app, &coordinator, &first_element(&first), &[&person.id]).await).await;
            let b = invitation_id(invite(&app, &coordinator, &first_element(&second), &[&person.id]).await).await;
            let (one, other) = tokio::join!(accept(&app, &person, &a), accept(&app, &person, &b));
            let mut statuses = [one.status().as_u16(), other.status().as_u16()];
            statuses.sort_unstable();
            assert_eq!(statuses, [200, 409]);
            let booked = get(&app, &person, "/api/v1/me/assignments").await;
            let confirmed: Vec<&Value> = booked["items"].as_array().unwrap().iter().filter(|a| a["status"] == "confirmed").collect();
            assert_eq!(confirmed.len(), 1, "{booked}");
            // Free them for the next round.
            let assignment = confirmed[0]["id"].as_str().unwrap();
            let withdrawn = app.post_as(&person, &format!("/api/v1/assignments/{assignment}/withdraw")).json(&json!({})).send().await.unwrap();
            assert_eq!(withdrawn.status(), 200);
        }
    }

    async fn declining_needs_no_body(app) {
        let (coordinator, _, project) = project(&app).await;
        let person = coproducer(&app, fitting_profile()).await;
        let invitations: Vec<Value> = invite(&app, &coordinator, &first_element(&project), &[&person.id]).await.json().await.unwrap();
        let id = invitations[0]["id"].as_str().unwrap();
        let response = app.post_as(&person, &format!("/api/v1/invitations/{id}/decline")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Value>().await.unwrap()["status"], "declined");
    }

    async fn answers_after_the_deadline_say_the_invitation_expired_before_and_after_the_sweep(app) {
        let (coordinator, _, project) = project(&app).await;
        let person = coproducer(&app, fitting_profile()).await;
        let invitations: Vec<Value> = invite(&app, &coordinator, &first_element(&project), &[&person.id]).await.json().await.unwrap();
        let id = invitations[0]["id"].as_str().unwrap().to_string();
        let_every_invitation_run_out(&app).await;
        let decline = |_: ()| app.post_as(&person, &format!("/api/v1/invitations/{id}/decline")).json(&json!({})).send();
        let late = decline(()).await.unwrap();
        assert_eq!(problem(late).await["code"], "invitation_expired");
        let mine = items(app.get_as(&person, "/api/v1/me/invitations").send().await.unwrap()).await;
        assert_eq!(mine[0]["status"], "expired", "recorded though the answer was an error");
        assert_eq!(problem(decline(()).await.unwrap()).await["code"], "invitation_expired");
        assert_eq!(problem(accept(&app, &person, &id).await).await["code"], "invitation_expired");
    }

    async fn an_answer_after_the_deadline_is_refused_and_coordinators_hear_of_expiries(app) {
        let (coordinator, _, project) = project(&app).await;
        let late = coproducer(&app, fitting_profile()).await;
        let silent = coproducer(&app, fitting_profile()).await;
        let invitations: Vec<Value> = invite(&app, &coordinator, &first_element(&project), &[&late.id, &silent.id]).await.json().await.unwrap();
        let_every_invitation_run_out(&app).await;
        let response = accept(&app, &late, invitations[0]["id"].as_str().unwrap()).await;
        assert_eq!(response.status(), 409);
        assert_eq!(problem(response).await["code"], "invitation_expired");
        let mine: Value = app.get_as(&late, "/api/v1/me/invitations").send().await.unwrap().json().await.unwrap();
        assert_eq!(mine["items"][0]["status"], "expired");
        let expired = coproduce::jobs::expire_invitations(&app.state, Utc::now().naive_utc()).await.unwrap();
        assert_eq!(expired, 1, "the silent one");
        app.drain_outbox().await;
        assert!(app.emails_to(&coordinator.email).iter().any(|e| e.text.contains("Peer interviews")));
    }

    async fn someone_who_let_an_invitation_run_out_is_told_it_closed(app) {
        let (coordinator, _, project) = project(&app).await;
        let silent = coproducer(&app, fitting_profile()).await;
        invite(&app, &coordinator, &first_element(&project), &[&silent.id]).await;
        let_every_invitation_run_out(&app).await;
        assert_eq!(coproduce::jobs::expire_invitations(&app.state, Utc::now().naive_utc()).await.unwrap(), 1);
        app.drain_outbox().await;
        let told = app.emails_to(&silent.email).pop().unwrap();
        assert_eq!(told.subject, "Your invitation to Peer interviews has closed");
        assert!(told.text.contains("You do not need to do anything") && told.text.contains("not held against you"), "{}", told.text);
    }

    async fn someone_archived_is_not_told_their_invitation_ran_out(app) {
        let (coordinator, _, project) = project(&app).await;
        let person = coproducer(&app, fitting_profile()).await;
        invite(&app, &coordinator, &first_element(&project), &[&person.id]).await;
        let archived = app.post_as(&coordinator, &format!("/api/v1/coproducers/{}/archive", person.id)).json(&json!({"reason": "Asked to leave the pool"})).send().await.unwrap();
        assert_eq!(archived.status(), 200);
        let_every_invitation_run_out(&app).await;
        assert_eq!(coproduce::jobs::expire_invitations(&app.state, Utc::now().naive_utc()).await.unwrap(), 0, "closed with the archive");
        app.drain_outbox().await;
        assert!(app.emails_to(&person.email).iter().all(|e| !e.subject.contains("has closed")), "they were told they left the pool");
    }

    async fn an_invitation_that_ran_out_can_be_sent_again_and_accepted(app) {
        let (coordinator, _, project) = project(&app).await;
        let element = first_element(&project);
        let silent = coproducer(&app, fitting_profile()).await;
        let first = invitation_id(invite(&app, &coordinator, &element, &[&silent.id]).await).await;
        let_every_invitation_run_out(&app).await;
        coproduce::jobs::expire_invitations(&app.state, Utc::now().naive_utc()).await.unwrap();

        let listed = candidates(&app, &coordinator, &element).await;
        assert!(listed["items"].as_array().unwrap().iter().any(|c| c["coproducer_id"] == silent.id.as_str()), "a candidate again: {listed}");
        let again = invite(&app, &coordinator, &element, &[&silent.id]).await;
        assert_eq!(again.status(), 201);
        let again: Vec<Value> = again.json().await.unwrap();
        assert_eq!(again[0]["id"], first.as_str(), "the same invitation, sent again");
        assert_eq!(again[0]["status"], "invited");
        app.drain_outbox().await;
        assert!(app.emails_to(&silent.email).last().unwrap().subject.contains("Peer interviews"));
        let accepted: Value = accept(&app, &silent, &first).await.json().await.unwrap();
        assert_eq!(accepted["status"], "accepted", "{accepted}");
    }

    async fn an_invitation_sent_again_counts_as_a_second_offer(app) {
        use coproduce::db::queries::matching::{Pool, offers_since};
        let (coordinator, _, project) = project(&app).await;
        let element = first_element(&project);
        let silent = coproducer(&app, fitting_profile()).await;
        invite(&app, &coordinator, &element, &[&silent.id]).await;
        let_every_invitation_run_out(&app).await;
        coproduce::jobs::expire_invitations(&app.state, Utc::now().naive_utc()).await.unwrap();
        assert_eq!(invite(&app, &coordinator, &element, &[&silent.id]).await.status(), 201);
        let person = [silent.id.clone()];
        let long_ago = (Utc::now() - Duration::days(90)).naive_utc();
        let offers = app.state.db.read(move |conn| Ok(offers_since(conn, long_ago, Pool::Only(&person))?)).await.unwrap();
        assert_eq!(offers.len(), 2, "the fairness factor counts both sendings: {offers:?}");
        let export: Value = app.get_as(&silent, "/api/v1/me/export").send().await.unwrap().json().await.unwrap();
        assert_eq!(export["work_invitations"][0]["sendings"].as_array().map(Vec::len), Some(2), "{}", export["work_invitations"]);
    }

    async fn an_invitation_past_its_time_can_be_sent_again_before_the_hourly_job_marks_it(app) {
        let (coordinator, _, project) = project(&app).await;
        let element = first_element(&project);
        let silent = coproducer(&app, fitting_profile()).await;
        let first = invitation_id(invite(&app, &coordinator, &element, &[&silent.id]).await).await;
        let_every_invitation_run_out(&app).await;
        let listed = candidates(&app, &coordinator, &element).await;
        assert!(listed["items"].as_array().unwrap().iter().any(|c| c["coproducer_id"] == silent.id.as_str()), "a candidate again: {listed}");
        let again = invite(&app, &coordinator, &element, &[&silent.id]).await;
        assert_eq!(again.status(), 201);
        let again: Vec<Value> = again.json().await.unwrap();
        assert_eq!((again[0]["id"].as_str().unwrap(), again[0]["status"].as_str().unwrap()), (first.as_str(), "invited"));
        assert_eq!(coproduce::jobs::expire_invitations(&app.state, Utc::now().naive_utc()).await.unwrap(), 0, "the job leaves the one sent again");
    }

    async fn someone_who_said_no_is_not_invited_again(app) {
        let (coordinator, _, project) = project(&app).await;
        let element = first_element(&project);
        let person = coproducer(&app, fitting_profile()).await;
        let invitation = invitation_id(invite(&app, &coordinator, &element, &[&person.id]).await).await;
        let declined = app.post_as(&person, &format!("/api/v1/invitations/{invitation}/decline")).send().await.unwrap();
        assert_eq!(declined.status(), 200);
        let body = problem(invite(&app, &coordinator, &element, &[&person.id]).await).await;
        assert_eq!(body["errors"][0]["code"], "already_on_element", "{body}");
    }

    async fn partners_see_confirmed_names_and_only_consented_adjustments(app) {
        let (coordinator, partner, project) = project(&app).await;
        let element = first_element(&project);
        let sharing = coproducer(&app, fitting_profile()).await;
        put(&app, &sharing, "/api/v1/me/access-passport", &passport_body()).await;
        let private = coproducer(&app, fitting_profile()).await;
        let mut not_shared = passport_body();
        not_shared["share_with_project_teams"] = json!(false);
        put(&app, &private, "/api/v1/me/access-passport", &not_shared).await;
        let invitations: Vec<Value> = invite(&app, &coordinator, &element, &[&sharing.id, &private.id]).await.json().await.unwrap();
        accept(&app, &sharing, invitations[0]["id"].as_str().unwrap()).await;
        accept(&app, &private, invitations[1]["id"].as_str().unwrap()).await;
        let path = format!("/api/v1/elements/{element}/assignments");
        let seen = items(app.get_as(&partner, &path).send().await.unwrap()).await;
        assert_eq!(seen.len(), 2);
        let text = serde_json::to_string(&seen).unwrap();
        assert!(!text.contains(&sharing.id) && !text.contains(&private.id), "no user ids for partners");
        let shared = seen.iter().find(|a| a["adjustments"].is_array()).unwrap();
        assert_eq!(shared["display_name"], "Test coproducer");
        assert_eq!(seen.iter().filter(|a| a["adjustments"].is_null()).count(), 1);
        let outsider_org = organisation(&app, &coordinator, "Elsewhere").await;
        let outsider = partner_of(&app, &outsider_org).await;
        assert_eq!(app.get_as(&outsider, &path).send().await.unwrap().status(), 404);
    }
}

/// Fifty people accept at once for three seats: exactly three confirmed, everyone else
/// waitlisted, and the database agrees.
async fn fifty_parallel_accepts_never_overfill(backend: Backend) {
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
    let coordinator = app.signed_in(Role::Coordinator).await;
    let org = organisation(&app, &coordinator, "Northside Housing").await;
    let partner = partner_of(&app, &org).await;
    let project = accepted_project(&app, &coordinator, &partner, &request_body()).await;
    let element = first_element(&project);
    let mut people = Vec::new();
    for _ in 0..50 {
        people.push(coproducer(&app, fitting_profile()).await);
    }
    let ids: Vec<&str> = people.iter().map(|p| p.id.as_str()).collect();
    let invitations: Vec<Value> = invite(&app, &coordinator, &element, &ids)
        .await
        .json()
        .await
        .unwrap();
    let accepts = people
        .iter()
        .zip(&invitations)
        .map(|(person, invitation)| accept(&app, person, invitation["id"].as_str().unwrap()));
    let results = futures_util::future::join_all(accepts).await;
    let mut confirmed = 0;
    let mut waitlisted = 0;
    for response in results {
        assert_eq!(response.status(), 200);
        match response.json::<Value>().await.unwrap()["status"]
            .as_str()
            .unwrap()
        {
            "accepted" => confirmed += 1,
            "waitlisted" => waitlisted += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((confirmed, waitlisted), (3, 47));
    let element_id = element.clone();
    let stored = app
        .state
        .db
        .read(move |conn| {
            Ok(coproduce::db::queries::matching::seats_taken(
                conn,
                &element_id,
            )?)
        })
        .await
        .unwrap();
    assert_eq!(stored, 3);
}

mod fifty_parallel_accepts_never_overfill {
    #[tokio::test]
    async fn sqlite() {
        super::fifty_parallel_accepts_never_overfill(crate::helpers::Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        super::fifty_parallel_accepts_never_overfill(crate::helpers::Backend::Postgres).await;
    }
}
