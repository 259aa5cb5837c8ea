//! Per-request context: a request id (in the log span, the `X-Request-Id` header and any
//! 500 body), one log line per request without PII, and Prometheus observations.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use tracing::Instrument;

use crate::state::AppState;

tokio::task_local! {
    static REQUEST_ID: String;
}

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the request being handled on this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = uuid::Uuid::now_v7().to_string();
    // The route pattern, not the path: paths carry ids and would explode metric labels.
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.metrics.clone());
    let span =
        tracing::info_span!("request", request_id = %request_id, method = %method, route = %route);
    let started = Instant::now();

    let result = REQUEST_ID
        .scope(request_id.clone(), next.call(req))
        .instrument(span.clone())
        .await;

    let elapsed = started.elapsed();
    let status = match &result {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request finished"
        );
    });
    if let Some(metrics) = metrics {
        metrics.observe_request(&method, &route, status.as_u16(), elapsed);
    }
    let mut response = result?;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::{App, test, web};

    use super::*;
    use crate::error::AppError;

    #[actix_web::test]
    async fn server_error_body_carries_the_request_id_of_the_response_header() {
        let app = test::init_service(App::new().wrap(from_fn(request_context)).route(
            "/boom",
            web::get().to(|| async {
                Err::<actix_web::HttpResponse, _>(AppError::Internal(anyhow::anyhow!(
                    "secret detail"
                )))
            }),
        ))
        .await;
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/boom").to_request()).await;
        assert_eq!(response.status(), 500);
        let header = response
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
            .unwrap_or_default();
        let body: serde_json::Value = test::read_body_json(response).await;
        assert!(!header.is_empty());
        assert_eq!(body["request_id"], header.as_str());
        assert!(!body.to_string().contains("secret detail"));
    }

    #[actix_web::test]
    async fn client_errors_carry_no_request_id_in_the_body() {
        let app = test::init_service(App::new().wrap(from_fn(request_context)).route(
            "/gone",
            web::get().to(|| async { Err::<actix_web::HttpResponse, _>(AppError::NotFound) }),
        ))
        .await;
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/gone").to_request()).await;
        let body: serde_json::Value = test::read_body_json(response).await;
        assert!(body.get("request_id").is_none());
    }
}
