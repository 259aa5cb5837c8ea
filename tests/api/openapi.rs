//! The OpenAPI document says what the server does: every status an operation can answer, and
//! the limits its request bodies are checked against. scripts/schemathesis.py holds the server
//! to it by fuzzing; these tests pin the parts a change could quietly drop.

use serde_json::Value;

use crate::helpers::*;

async fn document(app: &TestApp) -> Value {
    app.get("/api-docs/openapi.json")
        .await
        .json()
        .await
        .unwrap()
}

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            found.push((method.to_uppercase(), path.clone(), operation));
        }
    }
    found
}

fn statuses(operation: &Value) -> Vec<&str> {
    operation["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

/// The schema of `property` in the component `schema`.
fn property<'a>(doc: &'a Value, schema: &str, property: &str) -> &'a Value {
    let found = &doc["components"]["schemas"][schema]["properties"][property];
    assert!(
        found.is_object(),
        "{schema}.{property} is not in the document"
    );
    found
}

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
            "/api/v1/coproducers", "/api/v1/coproducers/{id}/archive", "/api/v1/coproducers/{id}/reinstate", "/api/v1/me/conflicts", "/api/v1/me/conflicts/{organisation_id}",
            "/api/v1/elements/{id}/candidates", "/api/v1/projects/{id}/match-plan", "/api/v1/match-plan", "/api/v1/elements/{id}/invitations",
            "/api/v1/invitations/{id}/accept", "/api/v1/invitations/{id}/decline", "/api/v1/me/invitations",
            "/api/v1/me/assignments", "/api/v1/elements/{id}/assignments",
        ] {
            assert!(doc["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
        }
        assert!(doc["paths"]["/api/v1/me"].get("patch").is_some());
        assert!(doc["components"]["schemas"].get("Problem").is_some());
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    }

    async fn every_operation_documents_the_problems_its_extractors_can_answer(app) {
        let doc = document(&app).await;
        for (method, path, operation) in operations(&doc) {
            let statuses = statuses(operation);
            let name = format!("{method} {path}");
            if operation.get("security").is_some_and(|s| s.as_array().is_some_and(|s| !s.is_empty())) {
                assert!(statuses.contains(&"401"), "{name} is signed-in but does not document 401");
            }
            if operation.get("requestBody").is_some() {
                for status in ["400", "413", "422"] {
                    assert!(statuses.contains(&status), "{name} takes a body but does not document {status}");
                }
            }
            let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
            if parameters.iter().any(|p| p["in"] == "path") {
                assert!(statuses.contains(&"404"), "{name} has path parameters but does not document 404");
            }
            if path.starts_with("/api/v1") {
                assert!(statuses.contains(&"503"), "{name} does not document 503");
            }
        }
    }

    async fn signed_in_posts_document_the_idempotency_key_header(app) {
        let doc = document(&app).await;
        let header = |method: &str, path: &str| {
            doc["paths"][path][method]["parameters"].as_array().cloned().unwrap_or_default().into_iter().find(|p| p["name"] == "Idempotency-Key")
        };
        let key = header("post", "/api/v1/organisations").expect("POST /organisations documents Idempotency-Key");
        assert_eq!(key["in"], "header");
        assert_eq!(key["required"], false);
        assert_eq!((key["schema"]["minLength"].as_u64(), key["schema"]["maxLength"].as_u64()), (Some(1), Some(255)));
        let withdraw = &doc["paths"]["/api/v1/assignments/{id}/withdraw"]["post"];
        for status in ["409", "422"] {
            assert!(statuses(withdraw).contains(&status), "{status}");
        }
        let own_conflicts = withdraw["responses"]["409"]["description"].as_str().unwrap_or_default();
        assert!(own_conflicts.contains("invalid_transition") && own_conflicts.contains("answer_not_kept"), "{own_conflicts}");
        assert!(header("get", "/api/v1/organisations").is_none(), "only POSTs");
        assert!(header("post", "/api/v1/auth/token").is_none(), "sign-in routes ignore it");
        assert!(header("post", "/api/v1/users/invitations/accept").is_none(), "sign-in routes ignore it");
    }

    async fn the_export_documents_why_you_were_suggested_as_a_list_of_factors(app) {
        let doc = document(&app).await;
        let field = property(&doc, "WorkInvitation", "why_you_were_suggested");
        assert_eq!(field["type"], "array", "{field}");
        assert_eq!(field["items"]["$ref"], "#/components/schemas/Factor");
    }

    async fn every_problem_response_is_problem_json_with_the_problem_schema(app) {
        let doc = document(&app).await;
        let shared = &doc["components"]["responses"];
        for (method, path, operation) in operations(&doc) {
            for (status, response) in operation["responses"].as_object().unwrap() {
                if !status.starts_with('4') && !status.starts_with('5') {
                    continue;
                }
                let response = match response["$ref"].as_str() {
                    Some(reference) => &shared[reference.trim_start_matches("#/components/responses/")],
                    None => response,
                };
                let schema = &response["content"]["application/problem+json"]["schema"]["$ref"];
                assert_eq!(schema, "#/components/schemas/Problem", "{method} {path} {status}");
            }
        }
        let register = &doc["paths"]["/api/v1/auth/register"]["post"]["responses"]["429"];
        assert!(register["headers"].get("Retry-After").is_some(), "a route's own 429 says when to retry");
        assert!(shared["Unavailable"]["headers"].get("Retry-After").is_some());
        assert!(shared["Unauthorized"]["headers"].get("WWW-Authenticate").is_some());
    }

    async fn request_schemas_carry_the_limits_the_server_checks(app) {
        let doc = document(&app).await;
        let register_name = property(&doc, "RegisterRequest", "full_name");
        assert_eq!(register_name["minLength"], 1);
        assert_eq!(register_name["maxLength"], 200);
        let password = property(&doc, "RegisterRequest", "password");
        assert_eq!(password["minLength"], coproduce::domain::password::MIN_CHARS);
        assert_eq!(password["maxLength"], coproduce::domain::password::MAX_CHARS);
        assert_eq!(property(&doc, "RegisterRequest", "email")["format"], "email");
        assert_eq!(property(&doc, "NewRound", "title")["maxLength"], 200);
        assert_eq!(property(&doc, "RoundChanges", "title")["maxLength"], 200);
        let places = property(&doc, "NewRound", "places");
        assert_eq!((places["minimum"].clone(), places["maximum"].clone()), (1.into(), 10_000.into()));
        let score = property(&doc, "ScoreInput", "score");
        assert_eq!((score["minimum"].clone(), score["maximum"].clone()), (0.into(), 4.into()));
        assert_eq!(property(&doc, "ElementSpec", "people_needed")["maximum"], 100);
        assert_eq!(property(&doc, "Slot", "from")["pattern"], "^([01][0-9]|2[0-3]):[0-5][0-9]$");
        assert_eq!(property(&doc, "InviteInput", "coproducer_ids")["minItems"], 1);
        assert_eq!(property(&doc, "RequestInput", "elements")["minItems"], 1);
        assert_eq!(doc["components"]["schemas"]["RegisterRequest"]["additionalProperties"], false, "unknown fields are refused");
        let round_status = doc["paths"]["/api/v1/rounds"]["get"]["parameters"]
            .as_array().unwrap().iter().find(|p| p["name"] == "status").unwrap();
        assert_eq!(round_status["schema"]["pattern"], "^(scheduled|open|closed)$");
    }

    async fn request_bodies_the_document_calls_too_long_are_refused(app) {
        // The other direction: a limit in the document is one the server enforces.
        let doc = document(&app).await;
        let max = property(&doc, "RegisterRequest", "full_name")["maxLength"].as_u64().unwrap() as usize;
        let body = serde_json::json!({"email": "long.name@example.org", "full_name": "x".repeat(max + 1)});
        let response = app.post_json("/api/v1/auth/register", &body).send().await.unwrap();
        assert_eq!(response.status(), 422);
        assert_eq!(error_fields(&problem(response).await), ["full_name"]);
    }

    async fn catalogue_codes_are_listed_as_the_only_accepted_values(app) {
        let doc = document(&app).await;
        let catalogue = &app.state.catalogue;
        let skills: Vec<&str> = catalogue.codes(coproduce::domain::catalogue::List::Skills);
        assert!(!skills.is_empty());
        assert_eq!(property(&doc, "Skill", "code")["enum"], serde_json::json!(skills));
        assert_eq!(property(&doc, "ElementSpec", "skills_required")["items"]["enum"], serde_json::json!(skills));
        let region = property(&doc, "Availability", "region")["enum"].as_array().unwrap().clone();
        assert_eq!(region.last(), Some(&Value::Null), "a region may be left empty");
    }

    async fn a_response_extending_a_strict_body_allows_its_own_fields(app) {
        // ElementView flattens ElementSpec, which refuses unknown fields as a request body.
        let doc = document(&app).await;
        let parts = doc["components"]["schemas"]["ElementView"]["allOf"].as_array().unwrap();
        assert!(parts.iter().all(|part| part.get("additionalProperties") != Some(&Value::Bool(false))));
        assert!(parts.iter().all(|part| part.get("$ref").is_none()), "the strict schema is not referenced");
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
