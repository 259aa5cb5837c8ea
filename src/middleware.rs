//! Per-request context: a request id (on every log line of the request, in the `X-Request-Id`
//! header and in any 500 body), one log line per request without PII, and Prometheus
//! observations.
//!
//! The id travels as a task-local, and into the blocking pool with the unit of work, rather than
//! as a tracing span: creating a span, and entering and leaving it at every poll, cost about a
//! tenth of a small request (docs/PERFORMANCE.md).

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use crate::state::AppState;

tokio::task_local! {
    static REQUEST_ID: Arc<str>;
}

thread_local! {
    /// The id a unit of work brought with it to a blocking-pool thread.
    static CARRIED_REQUEST_ID: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
}

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the request being handled here, if any.
pub fn current_request_id() -> Option<String> {
    with_request_id(|id| id.map(str::to_string))
}

/// Calls `f` with the id of the request being handled here: on the request's task, or on a
/// blocking-pool thread running a unit of work for it.
pub fn with_request_id<R>(f: impl FnOnce(Option<&str>) -> R) -> R {
    f(request_id_to_carry().as_deref())
}

/// The id to hand to another thread with work done for this request.
pub fn request_id_to_carry() -> Option<Arc<str>> {
    // `try_with`: a line logged while this thread shuts down has no id, rather than a panic.
    CARRIED_REQUEST_ID
        .try_with(|carried| carried.borrow().clone())
        .ok()
        .flatten()
        .or_else(|| REQUEST_ID.try_with(Arc::clone).ok())
}

/// Runs `work` on this thread as part of the request `id` (from [`request_id_to_carry`]).
pub fn carrying_request_id<R>(id: Option<Arc<str>>, work: impl FnOnce() -> R) -> R {
    /// Puts back what the thread carried before, even if `work` panics.
    struct Restore(Option<Arc<str>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            CARRIED_REQUEST_ID.with(|carried| *carried.borrow_mut() = previous);
        }
    }
    let _restore = Restore(CARRIED_REQUEST_ID.with(|carried| carried.replace(id)));
    work()
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id: Arc<str> = uuid::Uuid::now_v7().to_string().into();
    let method = metric_method(req.method().as_str());
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.metrics.clone());
    let started = Instant::now();

    // An inner service may fail instead of answering (a middleware, say). Its error is
    // rendered here, inside the request's scope, so a 500 still carries the id.
    let outcome = REQUEST_ID
        .scope(request_id.clone(), async move {
            next.call(req)
                .await
                .map_err(|error| (error.to_string(), error.error_response()))
        })
        .await;

    let elapsed = started.elapsed();
    // The route pattern, not the path: paths carry ids and would explode metric labels.
    // Asked after routing, which recorded the match; before, actix would match the path again.
    let (status, route) = match &outcome {
        Ok(response) => (response.status(), response.request().match_pattern()),
        Err((_, response)) => (response.status(), None),
    };
    let route = route.unwrap_or_else(|| "unmatched".into());
    REQUEST_ID.sync_scope(request_id.clone(), || {
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

    #[tokio::test]
    async fn a_unit_of_work_on_the_blocking_pool_knows_its_request() {
        let seen = REQUEST_ID
            .scope("0192-abc".into(), async {
                let carried = request_id_to_carry();
                tokio::task::spawn_blocking(move || {
                    carrying_request_id(carried, current_request_id)
                })
                .await
            })
            .await;
        assert_eq!(seen.ok().flatten().as_deref(), Some("0192-abc"));
    }

    #[tokio::test]
    async fn a_thread_forgets_the_request_once_its_work_is_done() {
        let during = carrying_request_id(Some("0192-abc".into()), current_request_id);
        assert_eq!(during.as_deref(), Some("0192-abc"));
        assert_eq!(current_request_id(), None);
    }

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
