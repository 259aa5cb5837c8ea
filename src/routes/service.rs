//! Service endpoints: liveness, readiness, metrics.

use actix_web::{HttpResponse, get, web};
use diesel::RunQueryDsl;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::queries::outbox;
use crate::error::{AppError, Problem};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `live` or `ready`.
    pub status: &'static str,
    /// `sqlite` or `postgres` (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
}

/// The process is up.
#[utoipa::path(tag = "service", responses((status = 200, body = Health)))]
#[get("/health/live")]
pub async fn live() -> web::Json<Health> {
    web::Json(Health {
        status: "live",
        database: None,
    })
}

/// The process can reach its database.
#[utoipa::path(tag = "service", responses(
    (status = 200, body = Health),
    (status = 503, description = "The database does not answer", body = Problem, content_type = "application/problem+json"),
))]
#[get("/health/ready")]
pub async fn ready(state: web::Data<AppState>) -> Result<web::Json<Health>, AppError> {
    state
        .db
        .read(|conn| {
            diesel::sql_query("SELECT 1")
                .execute(conn)
                .map_err(|e| AppError::Unavailable(format!("readiness query failed: {e}")))
        })
        .await
        .map_err(|error| match error {
            AppError::DatabaseBusy => {
                AppError::Unavailable("no database connection available".into())
            }
            other => other,
        })?;
    Ok(web::Json(Health {
        status: "ready",
        database: Some(state.db.url().backend_name()),
    }))
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(tag = "service", responses(
    (status = 200, content_type = "text/plain", body = String),
    (status = 503, description = "The database does not answer (the outbox depth needs it)", body = Problem, content_type = "application/problem+json"),
))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let pool = state.db.pool().state();
    state
        .metrics
        .set_pool_state(pool.connections, pool.idle_connections);
    let counts = state
        .db
        .read(|conn| Ok(outbox::count_by_status(conn)?))
        .await?;
    state.metrics.set_outbox_depth(&outbox::STATUSES, &counts);
    let text = state
        .metrics
        .render()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("rendering metrics failed: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
