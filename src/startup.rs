//! Builds the application from settings: database, state, route table, HTTP server.
//! Tests drive the same path with port 0 and their own database.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, from_fn};
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
            .app_data(web::QueryConfig::default().error_handler(|error, _| {
                AppError::BadRequest(format!("the query string is not valid: {error}")).into()
            }))
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
            .wrap(
                DefaultHeaders::new()
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("X-Frame-Options", "DENY"))
                    .add(("Referrer-Policy", "no-referrer")),
            )
            .wrap(from_fn(request_context))
    })
    .workers(workers)
    .listen(listener)?
    .run();
    Ok(server)
}
