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
