//! Builds the application from settings: database, state, route table, HTTP server.
//! Tests drive the same path with port 0 and their own database.

use std::net::TcpListener;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::db::Database;
use crate::error::AppError;
use crate::middleware::request_context;
use crate::routes::{self, ApiDoc, OPENAPI_PATH};
use crate::settings::Settings;
use crate::state::AppState;

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let database_settings = settings.database.clone();
        let db = tokio::task::spawn_blocking(move || Database::connect(&database_settings))
            .await
            .context("opening the database was interrupted")??;
        let address = (settings.server.host.as_str(), settings.server.port);
        let listener = TcpListener::bind(address).with_context(|| {
            format!(
                "cannot listen on {}:{}",
                settings.server.host, settings.server.port
            )
        })?;
        let port = listener.local_addr()?.port();
        // Printed as well as logged: it must show whatever the log level.
        println!(
            "coproduce listening on http://{}:{port} (database: {})",
            settings.server.host,
            db.url().describe()
        );
        let state = AppState::new(db, settings)?;
        tokio::spawn(crate::auth::session_recheck::run(state.clone()));
        if state.settings.email.worker {
            tokio::spawn(state.outbox_worker().run());
            tokio::spawn(crate::jobs::run(state.clone()));
        }
        let server = serve(listener, state.clone())?;
        Ok(Self {
            port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Runs until SIGINT/SIGTERM (graceful) or the server handle is stopped.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn serve(listener: TcpListener, state: AppState) -> anyhow::Result<Server> {
    let workers = match state.settings.server.workers {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    let json_limit = state.settings.server.json_limit_bytes;
    let server = HttpServer::new(move || {
        let (app, openapi) = App::new()
            .into_utoipa_app()
            .openapi(ApiDoc::openapi())
            .app_data(web::Data::new(state.clone()))
            .app_data(web::PayloadConfig::new(json_limit))
            .app_data(web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into()))
            .configure(routes::configure)
            .split_for_parts();
        let openapi = routes::openapi_doc::complete(openapi, &state.catalogue);
        app.service(web::redirect("/docs", "/docs/"))
            .service(SwaggerUi::new("/docs/{_:.*}").url(OPENAPI_PATH, openapi))
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(AppError::NotFound)
            }))
            .wrap(from_fn(routes::extract::refuse_nul_in_url))
            // Inside the security headers and request id, so replayed answers get them too.
            .wrap(from_fn(crate::idempotency::idempotency))
            .wrap(from_fn(security_headers))
            .wrap(from_fn(request_context))
    })
    .workers(workers)
    .listen(listener)?
    .run();
    Ok(server)
}

/// The JSON API is never a page: it loads nothing and may not be framed.
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// Swagger UI runs its own scripts and styles and fetches the OpenAPI document, all from here.
const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'";
const DOCS_PREFIX: &str = "/docs";

/// Security headers on every answer, errors included (SECURITY.md lists them and why).
async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let docs = req.path() == DOCS_PREFIX || req.path().starts_with("/docs/");
    let https = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.settings.server.public_url.starts_with("https://"));
    match next.call(req).await {
        Ok(mut response) => {
            add_security_headers(response.headers_mut(), docs, https);
            Ok(response)
        }
        Err(error) => {
            let mut response = error.error_response();
            add_security_headers(response.headers_mut(), docs, https);
            Err(InternalError::from_response(error.to_string(), response).into())
        }
    }
}

fn add_security_headers(headers: &mut HeaderMap, docs: bool, https: bool) {
    let set = |headers: &mut HeaderMap, name, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        if docs { DOCS_CSP } else { API_CSP },
    );
    // Answers carry tokens and personal data: no shared or browser cache may keep them.
    // The documentation's static files are the same for everyone and may be cached.
    if !docs && !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
    // Only over https: sent over http it would be ignored, and it would pin a test host.
    if https {
        set(
            headers,
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
}
