//! How bad input is answered: problem+json naming the field, and nothing half-written.

use coproduce::domain::role::Role;
use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use serde_json::json;

use crate::helpers::*;

both_backends! {
    async fn malformed_json_is_400(app) {
        let user = app.signed_in(Role::Applicant).await;
        let response = app.patch_as(&user, "/api/v1/me")
            .header("content-type", "application/json")
            .body(r#"{"full_name": "#)
            .send().await.unwrap();
        assert_eq!(response.status(), 400);
        assert_eq!(problem(response).await["code"], "malformed_request");
    }

    async fn body_that_is_not_json_is_400(app) {
        let user = app.signed_in(Role::Applicant).await;
        let response = app.patch_as(&user, "/api/v1/me")
            .header("content-type", "text/plain")
            .body("full_name=Sam")
            .send().await.unwrap();
        assert_eq!(response.status(), 400);
        let body = problem(response).await;
        assert!(body["detail"].as_str().unwrap().contains("application/json"));
    }

    async fn unknown_field_is_422_naming_it(app) {
        let user = app.signed_in(Role::Applicant).await;
        let response = app.patch_as(&user, "/api/v1/me")
            .json(&json!({"full_nam": "Sam"}))
            .send().await.unwrap();
        assert_eq!(response.status(), 422);
        let body = problem(response).await;
        assert_eq!(body["code"], "validation_failed");
        assert_eq!(error_fields(&body), ["full_nam"]);
        assert_eq!(body["errors"][0]["code"], "unknown_field");
    }

    async fn wrong_type_is_422_naming_the_field(app) {
        let user = app.signed_in(Role::Applicant).await;
        let response = app.patch_as(&user, "/api/v1/me")
            .json(&json!({"full_name": 42}))
            .send().await.unwrap();
        let body = problem(response).await;
        assert_eq!(error_fields(&body), ["full_name"]);
        assert_eq!(body["errors"][0]["code"], "invalid_type");
    }

    async fn every_invalid_field_is_reported_at_once_and_nothing_is_stored(app) {
        let user = app.signed_in(Role::Applicant).await;
        let response = app.patch_as(&user, "/api/v1/me")
            .json(&json!({"full_name": "   ", "preferred_name": "x".repeat(201)}))
            .send().await.unwrap();
        assert_eq!(response.status(), 422);
        let body = problem(response).await;
        assert_eq!(error_fields(&body), ["full_name", "preferred_name"]);
        assert_eq!(body["errors"][0]["message"], "Enter a name.");

        let me: serde_json::Value = app.get_as(&user, "/api/v1/me").send().await.unwrap().json().await.unwrap();
        assert_eq!(me["full_name"], "Test applicant");
    }
}

both_backends! {
    async fn body_over_the_limit_is_413(app) {
        let user = app.signed_in(Role::Applicant).await;
        let limit = app.state.settings.server.json_limit_bytes;
        let response = app.patch_as(&user, "/api/v1/me")
            .json(&json!({"full_name": "x".repeat(limit)}))
            .send().await.unwrap();
        assert_eq!(response.status(), 413);
        assert_eq!(problem(response).await["code"], "payload_too_large");
    }
}

#[tokio::test]
async fn locked_sqlite_database_answers_503_with_retry_after_and_loses_nothing() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.database.busy_timeout_ms = 100)
        .await
        .unwrap();
    let user = app.signed_in(Role::Applicant).await;
    let path = app.database_url.trim_start_matches("sqlite://").to_string();

    // Another writer holds the write lock for the whole request.
    let mut other = SqliteConnection::establish(&path).unwrap();
    other.batch_execute("BEGIN IMMEDIATE").unwrap();
    let response = app
        .patch_as(&user, "/api/v1/me")
        .json(&json!({"full_name": "Changed While Locked"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers().get("retry-after").unwrap(), "1");
    assert_eq!(problem(response).await["code"], "database_busy");
    other.batch_execute("ROLLBACK").unwrap();

    let me: serde_json::Value = app
        .get_as(&user, "/api/v1/me")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["full_name"], "Test applicant");
    let retried = app
        .patch_as(&user, "/api/v1/me")
        .json(&json!({"full_name": "Changed After"}))
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), 200);
}

#[tokio::test]
async fn sqlite_writers_of_one_process_queue_instead_of_answering_503() {
    // 1 ms of busy_timeout: a writer that met another's lock in SQLite would give up at once,
    // as the test above shows for a writer outside the process.
    let app = spawn_app_with(Backend::Sqlite, |s| s.database.busy_timeout_ms = 1)
        .await
        .unwrap();
    let db = app.state.db.clone();
    db.write(|conn| Ok(conn.batch_execute("CREATE TABLE queue_probe (n INTEGER NOT NULL)")?))
        .await
        .unwrap();
    let writes = (0..32).map(|n| {
        let db = db.clone();
        async move {
            db.write(move |conn| {
                conn.batch_execute(&format!("INSERT INTO queue_probe (n) VALUES ({n})"))?;
                // Hold the write lock well past busy_timeout while the others wait.
                std::thread::sleep(std::time::Duration::from_millis(5));
                Ok(())
            })
            .await
        }
    });
    let failures: Vec<String> = futures_util::future::join_all(writes)
        .await
        .into_iter()
        .filter_map(|result| result.err().map(|e| format!("{e:?}")))
        .collect();
    assert_eq!(failures, Vec::<String>::new());
    let committed: i64 = db
        .read(|conn| {
            use diesel::RunQueryDsl;
            use diesel::dsl::sql;
            use diesel::sql_types::BigInt;
            Ok(
                diesel::select(sql::<BigInt>("(SELECT COUNT(DISTINCT n) FROM queue_probe)"))
                    .get_result(conn)?,
            )
        })
        .await
        .unwrap();
    assert_eq!(committed, 32);
}

#[tokio::test]
async fn a_coordinator_reading_applications_queues_with_writers_instead_of_answering_503() {
    // Their reads of lived experience are audited, which writes: it must wait its turn.
    let app = spawn_app_with(Backend::Sqlite, |s| s.database.busy_timeout_ms = 1)
        .await
        .unwrap();
    let coordinator = app.signed_in(Role::Coordinator).await;
    let round = crate::recruitment::create_round(&app, &coordinator).await;
    let (_, application) = crate::recruitment::submitted(&app, &round).await;
    let single = format!(
        "/api/v1/applications/{}",
        application["id"].as_str().unwrap()
    );
    let list = format!(
        "/api/v1/rounds/{}/applications",
        round["id"].as_str().unwrap()
    );
    let db = app.state.db.clone();
    // Writers holding the lock well past busy_timeout, while the coordinator reads.
    let writers = futures_util::future::join_all((0..8).map(|_| {
        let db = db.clone();
        async move {
            db.write(|_| {
                std::thread::sleep(std::time::Duration::from_millis(20));
                Ok(())
            })
            .await
        }
    }));
    let reads = async {
        let mut statuses = Vec::new();
        for path in [&single, &list, &single, &list] {
            let response = app.get_as(&coordinator, path).send().await.unwrap();
            statuses.push(response.status().as_u16());
        }
        statuses
    };
    let (written, statuses) = tokio::join!(writers, reads);
    assert!(written.iter().all(Result::is_ok));
    assert_eq!(statuses, vec![200, 200, 200, 200]);
}

// Found by fuzzing the OpenAPI document (scripts/schemathesis.py): each class of input that
// once reached the database or an actix default answer instead of a problem+json.
both_backends! {
    async fn nul_character_in_a_json_string_is_422_naming_the_field_and_nothing_is_stored(app) {
        let user = app.signed_in(Role::Applicant).await;
        let response = app.patch_as(&user, "/api/v1/me")
            .header("content-type", "application/json")
            .body(r#"{"full_name": "Sam\u0000Jones", "preferred_name": "Sam"}"#)
            .send().await.unwrap();
        assert_eq!(response.status(), 422);
        let body = problem(response).await;
        assert_eq!(error_fields(&body), ["full_name"]);
        assert_eq!(body["errors"][0]["code"], "invalid_character");

        let me: serde_json::Value = app.get_as(&user, "/api/v1/me").send().await.unwrap().json().await.unwrap();
        assert_eq!(me["full_name"], "Test applicant");
    }

    async fn nul_character_in_a_path_id_is_404(app) {
        let user = app.signed_in(Role::Coordinator).await;
        for path in ["/api/v1/rounds/%00", "/api/v1/projects/a%00b", "/api/v1/requests/%00"] {
            let response = app.get_as(&user, path).send().await.unwrap();
            assert_eq!(response.status(), 404, "{path}");
            assert_eq!(problem(response).await["code"], "not_found");
        }
    }

    async fn nul_character_in_a_query_value_is_400(app) {
        let user = app.signed_in(Role::Coordinator).await;
        for path in ["/api/v1/rounds?cursor=%00", "/api/v1/coproducers?skill=%00", "/api/v1/requests?cursor=a%00"] {
            let response = app.get_as(&user, path).send().await.unwrap();
            assert_eq!(response.status(), 400, "{path}");
            assert_eq!(problem(response).await["code"], "malformed_request");
        }
    }

    async fn query_values_of_the_wrong_type_are_422_naming_the_parameter(app) {
        let user = app.signed_in(Role::Coordinator).await;
        for path in ["/api/v1/rounds?limit=ten", "/api/v1/rounds?limit=99999999999999999999", "/api/v1/coproducers?limit=1.5"] {
            let response = app.get_as(&user, path).send().await.unwrap();
            assert_eq!(response.status(), 422, "{path}");
            let body = problem(response).await;
            assert_eq!(error_fields(&body), ["limit"], "{path}");
            assert_eq!(body["errors"][0]["message"], "This should be a whole number in digits, 0 or more.");
        }
    }

    async fn numbers_too_big_for_their_field_are_422_naming_it(app) {
        let user = app.signed_in(Role::Coordinator).await;
        let response = app.post_as(&user, "/api/v1/rounds")
            .header("content-type", "application/json")
            .body(r#"{"title":"t","summary":"s","description":"d","opens_at":"2030-01-01T00:00:00Z","closes_at":"2030-02-01T00:00:00Z","places":99999999999999999999,"questions":[]}"#)
            .send().await.unwrap();
        assert_eq!(response.status(), 422);
        assert_eq!(error_fields(&problem(response).await), ["places"]);
    }
}
