use crate::helpers::*;

both_backends! {
    async fn live_answers_200(app) {
        let response = app.get("/health/live").await;
        assert_eq!(response.status(), 200);
    }

    async fn ready_names_the_backend_it_reached(app) {
        let response = app.get("/health/ready").await;
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        let expected = match app.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        assert_eq!(body["database"], expected);
    }

    async fn every_response_carries_a_request_id_and_security_headers(app) {
        let response = app.get("/health/live").await;
        let headers = response.headers();
        let id = headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "request id {id:?}");
        assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff");
        assert_eq!(headers.get("x-frame-options").unwrap(), "DENY");
    }

    async fn unknown_route_is_a_problem_json_404(app) {
        let body = problem(app.get("/api/v1/no-such-thing").await).await;
        assert_eq!(body["code"], "not_found");
    }

    async fn metrics_count_requests_by_route_pattern(app) {
        app.get("/health/live").await;
        app.get("/api/v1/me").await;
        let response = app.get("/metrics").await;
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        assert!(
            text.contains(r#"coproduce_http_requests_total{method="GET",route="/health/live",status="200"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"route="/api/v1/me",status="401""#), "{text}");
        assert!(text.contains("coproduce_http_request_duration_seconds_bucket"));
        assert!(text.contains("coproduce_db_pool_connections"));
        assert!(text.contains(r#"coproduce_outbox_emails{status="dead"} 0"#), "{text}");
    }
}

both_backends! {
    async fn metrics_report_the_outbox_depth_by_status(app) {
        app.post_json("/api/v1/auth/register", &serde_json::json!({"email": "a@example.org", "full_name": "A"}))
            .send().await.unwrap();
        let text = app.get("/metrics").await.text().await.unwrap();
        assert!(text.contains(r#"coproduce_outbox_emails{status="pending"} 1"#), "{text}");
        app.drain_outbox().await;
        let text = app.get("/metrics").await.text().await.unwrap();
        assert!(text.contains(r#"coproduce_outbox_emails{status="sent"} 1"#), "{text}");
        assert!(text.contains(r#"coproduce_outbox_emails{status="pending"} 0"#), "{text}");
    }

    async fn ready_answers_503_when_no_database_connection_can_be_had(app) {
        // Hold every pooled connection: the readiness check cannot reach the database.
        let pool = app.state.db.pool().clone();
        let held = tokio::task::spawn_blocking(move || {
            (0..pool.max_size()).map(|_| pool.get().unwrap()).collect::<Vec<_>>()
        })
        .await
        .unwrap();
        let response = app.get("/health/ready").await;
        assert_eq!(response.status(), 503);
        assert!(response.headers().contains_key("retry-after"));
        let body = problem(response).await;
        assert_eq!(body["code"], "service_unavailable");
        drop(held);
        assert_eq!(app.get("/health/ready").await.status(), 200);
    }
}
