both_backends! {
    async fn openapi_document_is_3_1_and_covers_the_routes(app) {
        let response = app.get("/api-docs/openapi.json").await;
        assert_eq!(response.status(), 200);
        let doc: serde_json::Value = response.json().await.unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        for path in [
            "/health/live", "/health/ready", "/metrics", "/api/v1/me",
            "/api/v1/auth/register", "/api/v1/auth/magic-link", "/api/v1/auth/token", "/api/v1/auth/logout",
            "/api/v1/me/notification-preferences", "/api/v1/users/invitations", "/api/v1/users/invitations/accept",
            "/api/v1/admin/outbox", "/api/v1/admin/outbox/{id}/retry",
            "/api/v1/catalogue", "/api/v1/me/profile", "/api/v1/me/access-passport", "/api/v1/me/equal-opportunities",
            "/api/v1/me/applications", "/api/v1/rounds", "/api/v1/rounds/{id}", "/api/v1/rounds/{id}/close",
            "/api/v1/rounds/{id}/reviewers", "/api/v1/rounds/{id}/applications", "/api/v1/applications/{id}",
            "/api/v1/applications/{id}/submit", "/api/v1/applications/{id}/withdraw", "/api/v1/applications/{id}/history",
            "/api/v1/applications/{id}/reviews", "/api/v1/applications/{id}/decision",
            "/api/v1/organisations", "/api/v1/requests", "/api/v1/requests/{id}", "/api/v1/requests/{id}/triage",
            "/api/v1/projects", "/api/v1/projects/{id}", "/api/v1/projects/{id}/elements", "/api/v1/elements/{id}",
            "/api/v1/coproducers", "/api/v1/coproducers/{id}/archive", "/api/v1/me/conflicts", "/api/v1/me/conflicts/{organisation_id}",
            "/api/v1/elements/{id}/candidates", "/api/v1/projects/{id}/match-plan", "/api/v1/elements/{id}/invitations",
            "/api/v1/invitations/{id}/accept", "/api/v1/invitations/{id}/decline", "/api/v1/me/invitations",
            "/api/v1/me/assignments", "/api/v1/elements/{id}/assignments",
        ] {
            assert!(doc["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
        }
        assert!(doc["paths"]["/api/v1/me"].get("patch").is_some());
        assert!(doc["components"]["schemas"].get("Problem").is_some());
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    }

    async fn swagger_ui_is_served_without_the_internet(app) {
        let redirect = app.client.get(app.url("/docs")).send().await.unwrap();
        assert_eq!(redirect.url().path(), "/docs/", "GET /docs leads to the UI");
        let page = app.get("/docs/").await;
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("swagger-ui"));
        let script = app.get("/docs/swagger-ui-bundle.js").await;
        assert_eq!(script.status(), 200);
    }
}
