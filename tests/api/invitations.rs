//! Staff and partner invitations.

use chrono::Utc;
use coproduce::domain::role::Role;
use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Text};
use serde_json::{Value, json};

use crate::helpers::*;

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn invite(app: &TestApp, by: &TestUser, body: Value) -> reqwest::Response {
    app.post_as(by, "/api/v1/users/invitations")
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn accept(app: &TestApp, body: Value) -> reqwest::Response {
    app.post_json("/api/v1/users/invitations/accept", &body)
        .send()
        .await
        .unwrap()
}

async fn create_organisation(app: &TestApp, name: &str) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    let (org_id, org_name) = (id.clone(), name.to_string());
    app.state
        .db
        .write(move |conn| {
            diesel::sql_query(
                "INSERT INTO organisations (id, name, kind, contact_email, created_at) VALUES ($1, $2, 'charity', 'hello@org.example', $3)",
            )
            .bind::<diesel::sql_types::Text, _>(&org_id)
            .bind::<diesel::sql_types::Text, _>(&org_name)
            .bind::<diesel::sql_types::Timestamp, _>(Utc::now().naive_utc())
            .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    id
}

both_backends! {
    async fn admin_invites_a_coordinator_who_accepts_and_holds_the_role(app) {
        let admin = app.signed_in(Role::Admin).await;
        let response = invite(&app, &admin, json!({"email": "Kim@Example.org", "role": "coordinator"})).await;
        assert_eq!(response.status(), 201);
        let invitation: Value = response.json().await.unwrap();
        assert_eq!(invitation["email"], "kim@example.org");
        assert_eq!(invitation["role"], "coordinator");

        let token = app.link_token_sent_to("kim@example.org").await;
        let email = app.emails_to("kim@example.org").pop().unwrap();
        assert_eq!(email.subject, "You are invited to join coproduce as a coordinator");
        assert!(email.text.contains("/accept-invitation?token="));

        let response = accept(&app, json!({"token": token, "full_name": "Kim Lee"})).await;
        assert_eq!(response.status(), 200);
        let tokens: Value = response.json().await.unwrap();
        assert_eq!(tokens["user"]["roles"], json!(["coordinator"]));
        assert_eq!(accept(&app, json!({"token": token, "full_name": "Kim Lee"})).await.status(), 401);
    }

    async fn coordinator_invites_a_partner_contact_of_an_organisation(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let organisation = create_organisation(&app, "Northside Housing").await;
        let response = invite(&app, &coordinator, json!({"email": "lee@northside.example", "role": "partner", "organisation_id": organisation})).await;
        assert_eq!(response.status(), 201);
        let token = app.link_token_sent_to("lee@northside.example").await;
        assert!(app.emails_to("lee@northside.example")[0].text.contains("for Northside Housing"));
        let tokens: Value = accept(&app, json!({"token": token, "full_name": "Lee Partner"})).await.json().await.unwrap();
        assert_eq!(tokens["user"]["roles"], json!(["partner"]));
        let user_id = tokens["user"]["id"].as_str().unwrap().to_string();
        let members = app.state.db.read(move |conn| {
            Ok(diesel::sql_query("SELECT COUNT(*) AS n FROM organisation_members WHERE organisation_id = $1 AND user_id = $2")
                .bind::<Text, _>(&organisation)
                .bind::<Text, _>(&user_id)
                .get_result::<Count>(conn)?
                .n)
        }).await.unwrap();
        assert_eq!(members, 1);
    }

    async fn accepting_adds_the_role_to_an_existing_account_and_ends_its_sessions(app) {
        let tokens = app.register_and_sign_in("sam@example.org").await;
        let admin = app.signed_in(Role::Admin).await;
        invite(&app, &admin, json!({"email": "sam@example.org", "role": "reviewer"})).await;
        let token = app.link_token_sent_to("sam@example.org").await;
        let accepted: Value = accept(&app, json!({"token": token})).await.json().await.unwrap();
        assert_eq!(accepted["user"]["roles"], json!(["applicant", "reviewer"]));
        let old = app.post_json("/api/v1/auth/token", &json!({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}))
            .send().await.unwrap();
        assert_eq!(old.status(), 401);
    }

    async fn new_account_from_an_invitation_needs_a_name_and_the_link_still_works_after(app) {
        let admin = app.signed_in(Role::Admin).await;
        invite(&app, &admin, json!({"email": "kim@example.org", "role": "reviewer"})).await;
        let token = app.link_token_sent_to("kim@example.org").await;
        let response = accept(&app, json!({"token": token})).await;
        assert_eq!(error_fields(&problem(response).await), ["full_name"]);
        assert_eq!(accept(&app, json!({"token": token, "full_name": "Kim"})).await.status(), 200);
    }

    async fn coordinator_cannot_invite_staff_and_applicant_cannot_invite_anyone(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let response = invite(&app, &coordinator, json!({"email": "x@example.org", "role": "coordinator"})).await;
        assert_eq!(problem(response).await["code"], "forbidden");
        let applicant = app.signed_in(Role::Applicant).await;
        let organisation = create_organisation(&app, "Org").await;
        let response = invite(&app, &applicant, json!({"email": "x@example.org", "role": "partner", "organisation_id": organisation})).await;
        assert_eq!(response.status(), 403);
        let response = app.client.post(app.url("/api/v1/users/invitations")).json(&json!({"email": "x@example.org", "role": "partner"})).send().await.unwrap();
        assert_eq!(response.status(), 401);
    }

    async fn an_invitation_accepted_ten_times_at_once_is_accepted_once(app) {
        let admin = app.signed_in(Role::Admin).await;
        invite(&app, &admin, json!({"email": "kim@example.org", "role": "reviewer"})).await;
        let token = app.link_token_sent_to("kim@example.org").await;
        let body = json!({"token": token, "full_name": "Kim"});
        let requests = (0..10).map(|_| app.post_json("/api/v1/users/invitations/accept", &body).send());
        let statuses: Vec<u16> = futures_util::future::join_all(requests).await.into_iter().map(|r| r.unwrap().status().as_u16()).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    }

    async fn an_invitation_accepted_while_its_account_is_erased_grants_nothing(app) {
        use coproduce::db::queries::{privacy, users};
        use diesel::connection::SimpleConnection;
        app.register_and_sign_in("sam@example.org").await;
        let admin = app.signed_in(Role::Admin).await;
        invite(&app, &admin, json!({"email": "sam@example.org", "role": "reviewer"})).await;
        let token = app.link_token_sent_to("sam@example.org").await;
        let id = app.state.db.read(|conn| Ok(users::find_by_email(conn, "sam@example.org")?.unwrap().id)).await.unwrap();
        // An erasure that has taken the account and not yet reached its invitations.
        let mut erasing = app.transaction_of_its_own();
        users::for_erasure(&mut erasing, &id).unwrap();
        let accepting = accept(&app, json!({"token": token}));
        tokio::pin!(accepting);
        let early = tokio::time::timeout(std::time::Duration::from_millis(300), &mut accepting).await;
        assert!(early.is_err(), "it went ahead while the account was being erased");
        privacy::erase_person(&mut erasing, &id, "sam@example.org", "Sam", Utc::now().naive_utc())
            .expect("the erasure deadlocked with the acceptance");
        erasing.batch_execute("COMMIT").unwrap();
        assert_eq!(problem(accepting.await).await["code"], "invalid_grant");
        let roles = app.state.db.read(move |conn| Ok(users::roles_of(conn, &id)?)).await.unwrap();
        assert!(roles.is_empty(), "{roles:?}");
    }

    async fn deactivated_account_cannot_accept_an_invitation(app) {
        let admin = app.signed_in(Role::Admin).await;
        app.register_and_sign_in("gone@example.org").await;
        app.state.db.write(|conn| {
            diesel::sql_query("UPDATE users SET status = 'deactivated' WHERE email = 'gone@example.org'").execute(conn)?;
            Ok(())
        }).await.unwrap();
        invite(&app, &admin, json!({"email": "gone@example.org", "role": "coordinator"})).await;
        let token = app.link_token_sent_to("gone@example.org").await;
        assert_eq!(accept(&app, json!({"token": token})).await.status(), 401);
    }

    async fn coordinator_cannot_invite_an_admin(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let response = invite(&app, &coordinator, json!({"email": "x@example.org", "role": "admin"})).await;
        assert_eq!(response.status(), 403);
    }

    async fn invitation_fields_are_checked_together(app) {
        let admin = app.signed_in(Role::Admin).await;
        let response = invite(&app, &admin, json!({"email": "nope", "role": "applicant"})).await;
        assert_eq!(error_fields(&problem(response).await), ["email", "role"]);
        let response = invite(&app, &admin, json!({"email": "p@example.org", "role": "partner"})).await;
        assert_eq!(error_fields(&problem(response).await), ["organisation_id"]);
        let response = invite(&app, &admin, json!({"email": "p@example.org", "role": "reviewer", "organisation_id": "x"})).await;
        assert_eq!(problem(response).await["errors"][0]["code"], "not_allowed");
        let response = invite(&app, &admin, json!({"email": "p@example.org", "role": "partner", "organisation_id": "missing"})).await;
        let body = problem(response).await;
        assert_eq!(error_fields(&body), ["organisation_id"]);
        assert_eq!(body["errors"][0]["code"], "not_found");
    }

    async fn an_unknown_organisation_is_reported_with_the_other_bad_fields(app) {
        let admin = app.signed_in(Role::Admin).await;
        let response = invite(&app, &admin, json!({"email": "nope", "role": "partner", "organisation_id": "missing"})).await;
        let body = problem(response).await;
        assert_eq!(error_fields(&body), ["email", "organisation_id"]);
        assert_eq!(body["errors"][1]["code"], "not_found");
        let stored = app.state.db.read(|conn| {
            use diesel::prelude::*;
            use coproduce::db::schema::staff_invitations;
            Ok(staff_invitations::table.count().get_result::<i64>(conn)?)
        }).await.unwrap();
        assert_eq!(stored, 0, "nothing is stored for a refused invitation");
    }

    async fn a_role_that_may_not_invite_is_refused_before_the_body_is_checked(app) {
        let reviewer = app.signed_in(Role::Reviewer).await;
        let response = invite(&app, &reviewer, json!({"email": "nope", "role": "coordinator"})).await;
        assert_eq!(response.status(), 403);
        let coordinator = app.signed_in(Role::Coordinator).await;
        let response = invite(&app, &coordinator, json!({"email": "nope", "role": "admin", "organisation_id": "x"})).await;
        assert_eq!(response.status(), 403);
    }

    async fn an_unknown_role_is_a_bad_field_even_for_someone_who_may_not_invite(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let response = invite(&app, &coordinator, json!({"email": "p@example.org", "role": "applicant"})).await;
        assert_eq!(error_fields(&problem(response).await), ["role"]);
    }
}
