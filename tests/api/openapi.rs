both_backends! {
    async fn openapi_document_is_3_1_and_covers_the_routes(app) {
        let response = app.get("/api-docs/openapi.json").await;
        assert_eq!(response.status(), 200);
        let doc: serde_json::Value = response.json().await.unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        for path in ["/health/live", "/health/ready", "/metrics", "/api/v1/me"] {
            assert!(doc["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
        }
        assert!(doc["paths"]["/api/v1/me"].get("patch").is_some());
        assert!(doc["components"]["schemas"].get("Problem").is_some());
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    }

    async fn swagger_ui_is_served_without_the_internet(app) {
        let page = app.get("/docs/").await;
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("swagger-ui"));
        let script = app.get("/docs/swagger-ui-bundle.js").await;
        assert_eq!(script.status(), 200);
    }
}
