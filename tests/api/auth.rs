//! Sign-up and sign-in: magic links, passwords, refresh rotation, logout, rate limits.

use coproduce::domain::role::Role;
use diesel::RunQueryDsl;
use serde_json::{Value, json};

use crate::helpers::*;

async fn register(app: &TestApp, body: Value) -> reqwest::Response {
    app.post_json("/api/v1/auth/register", &body)
        .send()
        .await
        .unwrap()
}

async fn grant(app: &TestApp, body: Value) -> reqwest::Response {
    app.post_json("/api/v1/auth/token", &body)
        .send()
        .await
        .unwrap()
}

both_backends! {
    async fn registering_sends_a_link_that_signs_in_as_an_applicant(app) {
        let response = register(&app, json!({"email": "Sam@Example.org", "full_name": "Sam Jones"})).await;
        assert_eq!(response.status(), 202);
        let token = app.link_token_sent_to("sam@example.org").await;
        let email = app.emails_to("sam@example.org").pop().unwrap();
        assert_eq!(email.subject, "Your sign-in link for coproduce");
        assert!(email.text.contains("http://127.0.0.1:8080/sign-in?token="));

        let response = grant(&app, json!({"grant_type": "magic_link", "token": token})).await;
        assert_eq!(response.status(), 200);
        let tokens: Value = response.json().await.unwrap();
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(tokens["expires_in"], 900);
        assert_eq!(tokens["user"]["email"], "sam@example.org");
        assert_eq!(tokens["user"]["roles"], json!(["applicant"]));
        let me = app.client.get(app.url("/api/v1/me"))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send().await.unwrap();
        assert_eq!(me.status(), 200);
    }

    async fn registering_an_existing_address_answers_the_same_and_tells_its_owner(app) {
        let first = register(&app, json!({"email": "sam@example.org", "full_name": "Sam Jones"})).await;
        let first_body: Value = first.json().await.unwrap();
        let second = register(&app, json!({"email": "sam@example.org", "full_name": "Someone Else"})).await;
        assert_eq!(second.status(), 202);
        assert_eq!(second.json::<Value>().await.unwrap(), first_body);
        app.drain_outbox().await;
        let emails = app.emails_to("sam@example.org");
        assert_eq!(emails.len(), 2);
        assert_eq!(emails[1].subject, "You already have a coproduce account");
        let tokens: Value = grant(&app, json!({"grant_type": "magic_link", "token": token_in(&emails[1].text)})).await.json().await.unwrap();
        let me: Value = app.client.get(app.url("/api/v1/me")).bearer_auth(tokens["access_token"].as_str().unwrap())
            .send().await.unwrap().json().await.unwrap();
        assert_eq!(me["full_name"], "Sam Jones");
    }

    async fn magic_link_request_for_an_unknown_address_answers_202_and_sends_nothing(app) {
        register(&app, json!({"email": "known@example.org", "full_name": "Known"})).await;
        let known = app.post_json("/api/v1/auth/magic-link", &json!({"email": "known@example.org"})).send().await.unwrap();
        let unknown = app.post_json("/api/v1/auth/magic-link", &json!({"email": "nobody@example.org"})).send().await.unwrap();
        assert_eq!(unknown.status(), 202);
        assert_eq!(known.json::<Value>().await.unwrap(), unknown.json::<Value>().await.unwrap());
        app.drain_outbox().await;
        assert!(app.emails_to("nobody@example.org").is_empty());
        assert_eq!(app.emails_to("known@example.org").len(), 2);
    }

    async fn magic_link_works_once(app) {
        register(&app, json!({"email": "sam@example.org", "full_name": "Sam"})).await;
        let token = app.link_token_sent_to("sam@example.org").await;
        // Opening the link (what a mail scanner does) does not spend it.
        app.client.get(app.url(&format!("/sign-in?token={token}"))).send().await.unwrap();
        assert_eq!(grant(&app, json!({"grant_type": "magic_link", "token": token})).await.status(), 200);
        let again = grant(&app, json!({"grant_type": "magic_link", "token": token})).await;
        assert_eq!(again.status(), 401);
        assert_eq!(problem(again).await["code"], "invalid_grant");
    }

    async fn unknown_magic_link_token_is_invalid_grant(app) {
        let response = grant(&app, json!({"grant_type": "magic_link", "token": "not-a-real-token"})).await;
        assert_eq!(problem(response).await["code"], "invalid_grant");
    }

    async fn password_grant_signs_in_and_wrong_passwords_are_refused_alike(app) {
        register(&app, json!({"email": "pat@example.org", "full_name": "Pat", "password": "a long enough passphrase"})).await;
        let ok = grant(&app, json!({"grant_type": "password", "email": "PAT@example.org", "password": "a long enough passphrase"})).await;
        assert_eq!(ok.status(), 200);
        let wrong = problem(grant(&app, json!({"grant_type": "password", "email": "pat@example.org", "password": "wrong passphrase!!"})).await).await;
        let unknown = problem(grant(&app, json!({"grant_type": "password", "email": "who@example.org", "password": "wrong passphrase!!"})).await).await;
        assert_eq!(wrong["code"], "invalid_grant");
        assert_eq!(wrong, unknown);
    }

    async fn account_without_a_password_cannot_use_the_password_grant(app) {
        register(&app, json!({"email": "sam@example.org", "full_name": "Sam"})).await;
        let response = grant(&app, json!({"grant_type": "password", "email": "sam@example.org", "password": ""})).await;
        assert_eq!(response.status(), 401);
    }

    async fn refresh_token_rotates_and_the_old_one_stops_working(app) {
        let tokens = app.register_and_sign_in("sam@example.org").await;
        let first = tokens["refresh_token"].as_str().unwrap();
        let rotated: Value = grant(&app, json!({"grant_type": "refresh_token", "refresh_token": first})).await.json().await.unwrap();
        let second = rotated["refresh_token"].as_str().unwrap();
        assert_ne!(first, second);
        assert!(rotated["access_token"].is_string());
        assert_eq!(grant(&app, json!({"grant_type": "refresh_token", "refresh_token": second})).await.status(), 200);
    }

    async fn reusing_a_refresh_token_revokes_the_whole_session(app) {
        let tokens = app.register_and_sign_in("sam@example.org").await;
        let stolen = tokens["refresh_token"].as_str().unwrap().to_string();
        let rotated: Value = grant(&app, json!({"grant_type": "refresh_token", "refresh_token": stolen})).await.json().await.unwrap();
        let reuse = grant(&app, json!({"grant_type": "refresh_token", "refresh_token": stolen})).await;
        assert_eq!(problem(reuse).await["code"], "invalid_grant");
        // The legitimate holder's newer token died with the session.
        let newer = grant(&app, json!({"grant_type": "refresh_token", "refresh_token": rotated["refresh_token"]})).await;
        assert_eq!(newer.status(), 401);
    }

    async fn logout_ends_the_session(app) {
        let tokens = app.register_and_sign_in("sam@example.org").await;
        let logout = app.post_json("/api/v1/auth/logout", &json!({"refresh_token": tokens["refresh_token"]})).send().await.unwrap();
        assert_eq!(logout.status(), 204);
        let refresh = grant(&app, json!({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})).await;
        assert_eq!(refresh.status(), 401);
        let unknown = app.post_json("/api/v1/auth/logout", &json!({"refresh_token": "nothing"})).send().await.unwrap();
        assert_eq!(unknown.status(), 204);
    }

    async fn registration_lists_every_bad_field_at_once(app) {
        let response = register(&app, json!({"email": "not-an-email", "full_name": " ", "password": "short"})).await;
        assert_eq!(response.status(), 422);
        let body = problem(response).await;
        assert_eq!(error_fields(&body), ["email", "full_name", "password"]);
        assert_eq!(body["errors"][2]["code"], "too_short");
    }

    async fn unknown_grant_type_names_the_field(app) {
        let response = grant(&app, json!({"grant_type": "client_credentials"})).await;
        assert_eq!(response.status(), 422);
        let body = problem(response).await;
        assert_eq!(body["errors"][0]["code"], "invalid_choice");
    }
}

both_backends! {
    async fn expired_magic_link_is_refused(app, |s| s.auth.magic_link_ttl_secs = 0) {
        register(&app, json!({"email": "sam@example.org", "full_name": "Sam"})).await;
        let token = app.link_token_sent_to("sam@example.org").await;
        let response = grant(&app, json!({"grant_type": "magic_link", "token": token})).await;
        assert_eq!(response.status(), 401);
    }
}

#[tokio::test]
async fn sign_in_requests_are_limited_per_address() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.rate_limit.per_email_per_hour = 2)
        .await
        .unwrap();
    for _ in 0..2 {
        let ok = app
            .post_json(
                "/api/v1/auth/magic-link",
                &json!({"email": "sam@example.org"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 202);
    }
    let limited = app
        .post_json(
            "/api/v1/auth/magic-link",
            &json!({"email": "Sam@example.org"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    let wait: u64 = limited
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1);
    assert_eq!(problem(limited).await["code"], "rate_limited");
    let other = app
        .post_json(
            "/api/v1/auth/magic-link",
            &json!({"email": "alex@example.org"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 202);
}

#[tokio::test]
async fn sign_in_requests_are_limited_per_ip() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.rate_limit.per_ip_per_minute = 3)
        .await
        .unwrap();
    for n in 0..3 {
        let body = json!({"email": format!("person{n}@example.org"), "full_name": "P"});
        assert_eq!(register(&app, body).await.status(), 202);
    }
    let limited = grant(&app, json!({"grant_type": "magic_link", "token": "x"})).await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
}

/// Asks for a sign-in link for a fresh address as if from `client` behind the proxy.
async fn magic_link_forwarded_for(app: &TestApp, client: &str, n: u32) -> u16 {
    app.post_json(
        "/api/v1/auth/magic-link",
        &json!({"email": format!("person{n}@example.org")}),
    )
    .header("x-forwarded-for", client)
    .send()
    .await
    .unwrap()
    .status()
    .as_u16()
}

#[tokio::test]
async fn clients_behind_a_trusted_proxy_get_an_ip_limit_each() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.rate_limit.per_ip_per_minute = 1;
        s.server.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await
    .unwrap();
    assert_eq!(magic_link_forwarded_for(&app, "203.0.113.1", 1).await, 202);
    assert_eq!(magic_link_forwarded_for(&app, "203.0.113.1", 2).await, 429);
    assert_eq!(magic_link_forwarded_for(&app, "203.0.113.2", 3).await, 202);
}

#[tokio::test]
async fn forwarded_header_from_an_untrusted_peer_does_not_split_the_ip_limit() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.rate_limit.per_ip_per_minute = 1)
        .await
        .unwrap();
    assert_eq!(magic_link_forwarded_for(&app, "203.0.113.1", 1).await, 202);
    assert_eq!(magic_link_forwarded_for(&app, "203.0.113.2", 2).await, 429);
}

fn claims_of(access_token: &str) -> Value {
    use base64::Engine;
    let payload = access_token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

async fn deactivate(app: &TestApp, email: &str) {
    let email = email.to_string();
    app.state
        .db
        .write(move |conn| {
            diesel::sql_query("UPDATE users SET status = 'deactivated' WHERE email = $1")
                .bind::<diesel::sql_types::Text, _>(&email)
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
}

/// Fires the same request `n` times at once; returns the statuses.
async fn at_once(app: &TestApp, n: usize, path: &str, body: Value) -> Vec<u16> {
    let requests = (0..n).map(|_| app.post_json(path, &body).send());
    futures_util::future::join_all(requests)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect()
}

both_backends! {
    async fn access_token_carries_the_roles_and_session_of_the_account(app) {
        let tokens = app.register_and_sign_in("sam@example.org").await;
        let claims = claims_of(tokens["access_token"].as_str().unwrap());
        assert_eq!(claims["roles"], json!(["applicant"]));
        assert_eq!(claims["sub"], tokens["user"]["id"]);
        assert_eq!(claims["typ"], "access");
        assert!(claims["sid"].as_str().is_some_and(|sid| !sid.is_empty()));
    }

    async fn a_magic_link_spent_ten_times_at_once_signs_in_once(app) {
        register(&app, json!({"email": "sam@example.org", "full_name": "Sam"})).await;
        let token = app.link_token_sent_to("sam@example.org").await;
        let statuses = at_once(&app, 10, "/api/v1/auth/token", json!({"grant_type": "magic_link", "token": token})).await;
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s == 200 || *s == 401 || *s == 503), "{statuses:?}");
    }

    async fn a_refresh_token_rotated_ten_times_at_once_rotates_once(app) {
        let tokens = app.register_and_sign_in("sam@example.org").await;
        let body = json!({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]});
        let statuses = at_once(&app, 10, "/api/v1/auth/token", body).await;
        assert!(statuses.iter().filter(|s| **s == 200).count() <= 1, "{statuses:?}");
    }

    async fn deactivated_accounts_cannot_sign_in_in_any_way(app) {
        register(&app, json!({"email": "gone@example.org", "full_name": "Gone", "password": "a long enough passphrase"})).await;
        let old_link = app.link_token_sent_to("gone@example.org").await;
        deactivate(&app, "gone@example.org").await;
        let by_link = grant(&app, json!({"grant_type": "magic_link", "token": old_link})).await;
        assert_eq!(by_link.status(), 401);
        let by_password = grant(&app, json!({"grant_type": "password", "email": "gone@example.org", "password": "a long enough passphrase"})).await;
        assert_eq!(by_password.status(), 401);
        let before = app.emails_to("gone@example.org").len();
        app.post_json("/api/v1/auth/magic-link", &json!({"email": "gone@example.org"})).send().await.unwrap();
        app.drain_outbox().await;
        assert_eq!(app.emails_to("gone@example.org").len(), before, "no new link for a deactivated account");
    }
}
#[tokio::test]
async fn access_token_roles_come_from_the_signed_in_account() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let coordinator = app.signed_in(Role::Coordinator).await;
    let me: Value = app
        .get_as(&coordinator, "/api/v1/me")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["roles"], json!(["coordinator"]));
}
