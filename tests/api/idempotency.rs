//! Creating POSTs with an Idempotency-Key: a retry gets the first answer back.

use coproduce::db::queries::privacy;
use coproduce::domain::role::Role;
use serde_json::{Value, json};

use crate::helpers::*;

fn organisation(name: &str) -> Value {
    json!({"name": name, "kind": "charity", "contact_email": "hello@org.example"})
}

async fn post(
    app: &TestApp,
    who: &TestUser,
    path: &str,
    key: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = app.post_as(who, path).json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.unwrap()
}

async fn organisations(app: &TestApp, who: &TestUser) -> usize {
    items(
        app.get_as(who, "/api/v1/organisations")
            .send()
            .await
            .unwrap(),
    )
    .await
    .len()
}

both_backends! {
    async fn a_retry_with_the_same_key_gets_the_first_answer_and_creates_nothing(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let first = post(&app, &coordinator, "/api/v1/organisations", Some("key-1"), &organisation("Northside")).await;
        assert_eq!(first.status(), 201);
        let first: Value = first.json().await.unwrap();
        let retry = post(&app, &coordinator, "/api/v1/organisations", Some("key-1"), &organisation("Northside")).await;
        assert_eq!(retry.status(), 201);
        assert_eq!(retry.headers().get("x-content-type-options").unwrap(), "nosniff");
        assert_eq!(retry.json::<Value>().await.unwrap(), first);
        assert_eq!(organisations(&app, &coordinator).await, 1);
    }

    async fn a_retry_after_the_session_ended_is_refused_not_replayed(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let first = post(&app, &coordinator, "/api/v1/organisations", Some("key-9"), &organisation("Northside")).await;
        assert_eq!(first.status(), 201);
        let session_id = coordinator.session_id.clone();
        app.state.db.write(move |conn| {
            Ok(coproduce::db::queries::auth::revoke_session(conn, &session_id, "logout", chrono::Utc::now().naive_utc())?)
        }).await.unwrap();
        let retry = post(&app, &coordinator, "/api/v1/organisations", Some("key-9"), &organisation("Northside")).await;
        assert_eq!(retry.status(), 401);
    }

    async fn without_a_key_each_post_creates(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        post(&app, &coordinator, "/api/v1/organisations", None, &organisation("A")).await;
        post(&app, &coordinator, "/api/v1/organisations", None, &organisation("A")).await;
        assert_eq!(organisations(&app, &coordinator).await, 2);
    }

    async fn a_key_used_for_another_request_is_refused(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        post(&app, &coordinator, "/api/v1/organisations", Some("key-2"), &organisation("A")).await;
        let other = post(&app, &coordinator, "/api/v1/rounds", Some("key-2"), &json!({})).await;
        assert_eq!(other.status(), 422);
        let body = problem(other).await;
        assert_eq!(error_fields(&body), ["Idempotency-Key"]);
        assert_eq!(body["errors"][0]["code"], "reused");
    }

    async fn a_failed_first_attempt_frees_the_key_for_a_corrected_retry(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let bad = post(&app, &coordinator, "/api/v1/organisations", Some("key-3"), &json!({"name": "", "kind": "charity", "contact_email": "x"})).await;
        assert_eq!(bad.status(), 422);
        let good = post(&app, &coordinator, "/api/v1/organisations", Some("key-3"), &organisation("Fixed")).await;
        assert_eq!(good.status(), 201);
        assert_eq!(organisations(&app, &coordinator).await, 1);
    }

    async fn sign_in_routes_ignore_the_key_so_no_token_is_stored(app) {
        let signed_in = app.register_and_sign_in("river@example.org").await;
        let access = signed_in["access_token"].as_str().unwrap();
        let refresh = json!({"grant_type": "refresh_token", "refresh_token": signed_in["refresh_token"]});
        let response = app.post_json("/api/v1/auth/token", &refresh).bearer_auth(access).header("Idempotency-Key", "token-1").send().await.unwrap();
        assert_eq!(response.status(), 200);
        let me: Value = app.client.get(app.url("/api/v1/me")).bearer_auth(access).send().await.unwrap().json().await.unwrap();
        let user_id = me["id"].as_str().unwrap().to_string();
        let stored = app.state.db.read(move |conn| Ok(privacy::idempotency_keys_of(conn, &user_id)?)).await.unwrap();
        assert!(stored.is_empty(), "{stored:?}");
    }

    async fn keys_belong_to_one_person(app) {
        let first = app.signed_in(Role::Coordinator).await;
        let second = app.signed_in(Role::Coordinator).await;
        post(&app, &first, "/api/v1/organisations", Some("shared"), &organisation("One")).await;
        let theirs = post(&app, &second, "/api/v1/organisations", Some("shared"), &organisation("Two")).await;
        assert_eq!(theirs.status(), 201);
        assert_eq!(theirs.json::<Value>().await.unwrap()["name"], "Two");
    }
}
