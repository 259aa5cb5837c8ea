//! Per-request context: a request id (in the log span, the `X-Request-Id` header and any
//! 500 body), one log line per request without PII, and Prometheus observations.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
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
    let method = metric_method(req.method().as_str());
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.metrics.clone());
    // Only the id: the span's fields are formatted once and read back by every event in it.
    let span = tracing::info_span!("request", request_id = %request_id);
    let started = Instant::now();

    // An inner service may fail instead of answering (a middleware, say). Its error is
    // rendered here, inside the request's scope, so a 500 still carries the id.
    let outcome = REQUEST_ID
        .scope(request_id.clone(), async move {
            next.call(req)
                .await
                .map_err(|error| (error.to_string(), error.error_response()))
        })
        .instrument(span.clone())
        .await;

    let elapsed = started.elapsed();
    // The route pattern, not the path: paths carry ids and would explode metric labels.
    // Asked after routing, which recorded the match; before, actix would match the path again.
    let (status, route) = match &outcome {
        Ok(response) => (response.status(), response.request().match_pattern()),
        Err((_, response)) => (response.status(), None),
    };
    let route = route.unwrap_or_else(|| "unmatched".into());
    span.in_scope(|| {
        tracing::info!(
            method,
            route = route.as_str(),
            status = status.as_u16(),
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request finished"
        );
    });
    if let Some(metrics) = metrics {
        metrics.observe_request(method, &route, status.as_u16(), elapsed);
    }
    let id_header = (
        HeaderName::from_static(REQUEST_ID_HEADER),
        HeaderValue::from_str(&request_id).ok(),
    );
    match outcome {
        Ok(mut response) => {
            if let (name, Some(value)) = id_header {
                response.headers_mut().insert(name, value);
            }
            Ok(response)
        }
        Err((cause, mut response)) => {
            if let (name, Some(value)) = id_header {
                response.headers_mut().insert(name, value);
            }
            Err(InternalError::from_response(cause, response).into())
        }
    }
}

/// Methods outside the standard set share one label, so clients cannot mint metric series.
fn metric_method(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
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

    async fn failing_middleware(
        _req: ServiceRequest,
        _next: Next<impl MessageBody>,
    ) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
        Err::<ServiceResponse, _>(AppError::Internal(anyhow::anyhow!("inner failure")).into())
    }

    #[actix_web::test]
    async fn error_from_an_inner_middleware_still_carries_the_request_id() {
        let app = test::init_service(
            App::new()
                .wrap(from_fn(failing_middleware))
                .wrap(from_fn(request_context))
                .route("/ok", web::get().to(|| async { "fine" })),
        )
        .await;
        // The server renders a service error with its own `error_response`, as here.
        let request = test::TestRequest::get().uri("/ok").to_request();
        let Err(error) = test::try_call_service(&app, request).await else {
            panic!("the inner middleware fails");
        };
        let response = error.error_response();
        assert_eq!(response.status(), 500);
        let header = response
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
            .unwrap_or_default();
        let bytes = actix_web::body::to_bytes(response.into_body())
            .await
            .unwrap_or_default();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        assert!(!header.is_empty());
        assert_eq!(body["request_id"], header.as_str());
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
