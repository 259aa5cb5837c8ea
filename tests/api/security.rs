//! Security headers on every answer, and request bodies limited in size however they are sent.

use coproduce::domain::role::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// The headers every answer carries, whatever its status.
fn assert_common_headers(response: &reqwest::Response) {
    let headers = response.headers();
    let what = format!("{} {}", response.status(), response.url().path());
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(headers["x-frame-options"], "DENY", "{what}");
    assert_eq!(headers["referrer-policy"], "no-referrer", "{what}");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
}

/// Headers of a JSON API answer: nothing may load or be cached.
fn assert_api_headers(response: &reqwest::Response) {
    assert_common_headers(response);
    let what = format!("{} {}", response.status(), response.url().path());
    assert_eq!(
        response.headers()["content-security-policy"],
        API_CSP,
        "{what}"
    );
    assert_eq!(response.headers()["cache-control"], "no-store", "{what}");
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_none(),
        "{what}: HSTS only when the public URL is https"
    );
}

both_backends! {
    async fn a_personal_json_answer_carries_the_security_headers_and_is_not_cached(app) {
        let user = app.signed_in(Role::Applicant).await;
        let response = app.get_as(&user, "/api/v1/me").send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_api_headers(&response);
    }

    async fn error_answers_carry_the_security_headers(app) {
        let unauthorised = app.get("/api/v1/me").await;
        assert_eq!(unauthorised.status(), 401);
        assert_api_headers(&unauthorised);

        let unknown = app.get("/api/v1/no-such-thing").await;
        assert_eq!(unknown.status(), 404);
        assert_api_headers(&unknown);

        let user = app.signed_in(Role::Applicant).await;
        let invalid = app.patch_as(&user, "/api/v1/me").json(&serde_json::json!({"full_nam": "x"})).send().await.unwrap();
        assert_eq!(invalid.status(), 422);
        assert_api_headers(&invalid);

        let wrong_role = app.get_as(&user, "/api/v1/organisations").send().await.unwrap();
        assert_eq!(wrong_role.status(), 403);
        assert_api_headers(&wrong_role);
    }

    async fn public_answers_and_the_openapi_document_carry_the_security_headers(app) {
        for path in ["/health/live", "/api/v1/catalogue", "/api-docs/openapi.json", "/metrics"] {
            let response = app.get(path).await;
            assert_eq!(response.status(), 200, "{path}");
            assert_api_headers(&response);
        }
    }

    async fn the_swagger_ui_gets_a_looser_policy_that_still_forbids_framing(app) {
        for path in ["/docs/", "/docs/swagger-ui-bundle.js", "/docs/swagger-initializer.js"] {
            let response = app.get(path).await;
            assert_eq!(response.status(), 200, "{path}");
            assert_common_headers(&response);
            let csp = response.headers()["content-security-policy"].to_str().unwrap();
            assert!(csp.starts_with("default-src 'self'"), "{path}: {csp}");
            assert!(!csp.contains("script-src"), "{path}: scripts come from this server only: {csp}");
        }
        let redirect = app.client.get(app.url("/docs")).send().await.unwrap();
        assert_common_headers(&redirect);
    }

    async fn hsts_is_sent_when_the_public_url_is_https(app, |s| s.server.public_url = "https://coproduce.example".into()) {
        let response = app.get("/health/live").await;
        assert_eq!(
            response.headers()["strict-transport-security"],
            "max-age=31536000; includeSubDomains"
        );
        let error = app.get("/api/v1/me").await;
        assert!(error.headers().get("strict-transport-security").is_some());
    }

    async fn a_chunked_body_over_the_limit_is_refused_with_413_naming_the_limit(app, |s| s.server.json_limit_bytes = 4096) {
        let user = app.signed_in(Role::Applicant).await;
        // No Content-Length: the server cannot refuse up front and must stop reading at the limit.
        let address = app.address.trim_start_matches("http://").to_string();
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        let head = format!(
            "PATCH /api/v1/me HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            user.token
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let chunk = "x".repeat(1024);
        let mut body = String::from("{\"full_name\": \"");
        // 64 chunks of 1 KiB: sixteen times the limit. The server may close before all are sent.
        for _ in 0..64 {
            body.push_str(&chunk);
            let frame = format!("{:x}\r\n{body}\r\n", body.len());
            if stream.write_all(frame.as_bytes()).await.is_err() {
                break;
            }
            body.clear();
        }
        let _ = stream.write_all(b"0\r\n\r\n").await;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.to_ascii_lowercase().contains("content-type: application/problem+json"), "{answer}");
        assert!(answer.contains("4096 bytes"), "the answer names the limit: {answer}");

        let me: serde_json::Value = app.get_as(&user, "/api/v1/me").send().await.unwrap().json().await.unwrap();
        assert_eq!(me["full_name"], "Test applicant", "nothing was stored");
    }

    async fn a_body_that_stops_arriving_is_answered_408_and_nothing_is_stored(app, |s| s.server.body_timeout_ms = 1000) {
        let user = app.signed_in(Role::Applicant).await;
        let address = app.address.trim_start_matches("http://").to_string();
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        let body = r#"{"full_name": "Slow Sender"}"#;
        let head = format!(
            "PATCH /api/v1/me HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            user.token,
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        // Half the body, then nothing: the rest never comes.
        stream.write_all(&body.as_bytes()[..10]).await.unwrap();
        let started = std::time::Instant::now();
        let mut answer = vec![0; 4096];
        let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut answer)).await;
        let read = read.expect("no answer within 10 s: the connection is held").unwrap();
        let answer = String::from_utf8_lossy(&answer[..read]);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.to_ascii_lowercase().contains("content-type: application/problem+json"), "{answer}");
        assert!(answer.contains("request_timeout"), "{answer}");
        assert!(started.elapsed() >= std::time::Duration::from_millis(900), "answered before the timeout");

        let me: serde_json::Value = app.get_as(&user, "/api/v1/me").send().await.unwrap().json().await.unwrap();
        assert_eq!(me["full_name"], "Test applicant", "nothing was stored");
    }
}
