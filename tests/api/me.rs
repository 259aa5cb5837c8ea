use coproduce::domain::role::Role;
use serde_json::json;

use crate::helpers::*;

both_backends! {
    async fn me_without_a_token_is_401(app) {
        let response = app.get("/api/v1/me").await;
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers().get("www-authenticate").unwrap(), "Bearer");
        assert_eq!(problem(response).await["code"], "unauthorized");
    }

    async fn signed_in_user_sees_their_own_account_and_roles(app) {
        let coordinator = app.signed_in(Role::Coordinator).await;
        let response = app.get_as(&coordinator, "/api/v1/me").send().await.unwrap();
        assert_eq!(response.status(), 200);
        let me: serde_json::Value = response.json().await.unwrap();
        assert_eq!(me["id"], coordinator.id.as_str());
        assert_eq!(me["email"], coordinator.email.as_str());
        assert_eq!(me["roles"], json!(["coordinator"]));
    }

    async fn patch_me_changes_names_and_keeps_what_is_left_out(app) {
        let user = app.signed_in(Role::Applicant).await;
        let response = app.patch_as(&user, "/api/v1/me")
            .json(&json!({"full_name": "  Amara Okafor ", "preferred_name": "Amara"}))
            .send().await.unwrap();
        assert_eq!(response.status(), 200);
        let me: serde_json::Value = response.json().await.unwrap();
        assert_eq!(me["full_name"], "Amara Okafor");
        assert_eq!(me["preferred_name"], "Amara");

        let response = app.patch_as(&user, "/api/v1/me")
            .json(&json!({"preferred_name": null}))
            .send().await.unwrap();
        let me: serde_json::Value = response.json().await.unwrap();
        assert_eq!(me["full_name"], "Amara Okafor");
        assert_eq!(me["preferred_name"], serde_json::Value::Null);
    }
}

both_backends! {
    async fn notification_preferences_default_to_standard_and_can_change(app) {
        let user = app.signed_in(Role::Applicant).await;
        let prefs: serde_json::Value = app.get_as(&user, "/api/v1/me/notification-preferences").send().await.unwrap().json().await.unwrap();
        assert_eq!(prefs, json!({"format": "standard", "digest": false}));
        let response = app.client.put(app.url("/api/v1/me/notification-preferences")).bearer_auth(&user.token)
            .json(&json!({"format": "easy_read", "digest": true})).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let prefs: serde_json::Value = app.get_as(&user, "/api/v1/me/notification-preferences").send().await.unwrap().json().await.unwrap();
        assert_eq!(prefs, json!({"format": "easy_read", "digest": true}));
    }

    async fn unknown_notification_format_is_422_naming_the_field(app) {
        let user = app.signed_in(Role::Applicant).await;
        let response = app.client.put(app.url("/api/v1/me/notification-preferences")).bearer_auth(&user.token)
            .json(&json!({"format": "large_print", "digest": false})).send().await.unwrap();
        let body = problem(response).await;
        assert_eq!(error_fields(&body), ["format"]);
        assert_eq!(body["errors"][0]["code"], "invalid_choice");
    }

    async fn sign_in_email_follows_the_chosen_format(app) {
        let tokens = app.register_and_sign_in("sam@example.org").await;
        let access = tokens["access_token"].as_str().unwrap();
        for (format, has_html, phrase) in [("easy_read", true, "The link works 1 time."), ("plain_text", false, "The link works once")] {
            app.client.put(app.url("/api/v1/me/notification-preferences")).bearer_auth(access)
                .json(&json!({"format": format, "digest": false})).send().await.unwrap();
            app.post_json("/api/v1/auth/magic-link", &json!({"email": "sam@example.org"})).send().await.unwrap();
            app.drain_outbox().await;
            let email = app.emails_to("sam@example.org").pop().unwrap();
            assert_eq!(email.html.is_some(), has_html, "{format}");
            assert!(email.text.contains(phrase), "{format}: {}", email.text);
        }
    }
}
