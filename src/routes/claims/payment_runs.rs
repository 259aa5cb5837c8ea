//! Payment runs: a coordinator takes every approved claim waiting into one run, pays them from
//! the run's file, and records the run as paid. A claim is in one run at most, and a claim in a
//! run is recorded paid only with its run, so a file downloaded twice cannot lead to paying
//! anyone twice.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::decide::{Step, take_step};
use super::payments::{csv_download, payment_lines};
use crate::auth::AuthUser;
use crate::db::DbConn;
use crate::db::models::claims::PaymentRunRow;
use crate::db::queries::claims;
use crate::domain::Invalid;
use crate::domain::claim::ClaimStatus;
use crate::domain::role::Role;
use crate::error::{AppError, FieldError, Problem};
use crate::routes::extract::{FieldErrors, OptionalJson, Query, Validate};
use crate::routes::pagination::{Page, PageQuery};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PaymentRunView {
    pub id: String,
    /// `open` while its claims are being paid; `paid` once recorded as paid.
    pub status: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// How many claims the run holds.
    pub claims: usize,
    /// What they come to: fees and expenses, in pence.
    pub total_pence: i64,
    /// How many of them are recorded as paid.
    pub paid_claims: usize,
    pub paid_by: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    /// The file to pay from (CSV): the run's claims, those already paid marked so. Claims
    /// sent back with `not_paid` leave the run and its file.
    pub file: String,
}

fn run_view(conn: &mut DbConn, run: PaymentRunRow) -> Result<PaymentRunView, AppError> {
    let held = claims::in_run(conn, &run.id)?;
    let paid = ClaimStatus::Paid.as_str();
    Ok(PaymentRunView {
        file: format!("/api/v1/claims/payment-runs/{}/payments.csv", run.id),
        status: if run.paid_at.is_some() {
            "paid"
        } else {
            "open"
        }
        .into(),
        claims: held.len(),
        total_pence: held.iter().fold(0i64, |sum, claim| {
            sum.saturating_add(claim.fee_pence)
                .saturating_add(claim.expenses_pence)
        }),
        paid_claims: held.iter().filter(|claim| claim.status == paid).count(),
        id: run.id,
        created_by: run.created_by,
        created_at: run.created_at.and_utc(),
        paid_by: run.paid_by,
        paid_at: run.paid_at.map(|at| at.and_utc()),
    })
}

fn find_run(conn: &mut DbConn, id: &str) -> Result<PaymentRunRow, AppError> {
    claims::find_run(conn, id)?.ok_or(AppError::NotFound)
}

/// Coordinators: start a payment run with every approved claim not yet in one. Download its
/// file, pay, then record the run as paid. 409 `nothing_to_pay` when no approved claim waits.
#[utoipa::path(tag = "claims", security(("bearer" = [])), responses(
    (status = 201, body = PaymentRunView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`nothing_to_pay`: no approved claim is waiting", body = Problem, content_type = "application/problem+json"),
))]
#[post("/payment-runs")]
pub async fn start_run(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let view = state
        .db
        .write(move |conn| {
            let run = PaymentRunRow {
                id: uuid::Uuid::now_v7().to_string(),
                created_by: user.id.clone(),
                created_at: crate::db::now(),
                paid_by: None,
                paid_at: None,
            };
            if claims::start_run(conn, &run)? == 0 {
                return Err(AppError::conflict(
                    "nothing_to_pay",
                    "Every approved claim is already in a payment run (or none is approved yet), so there is nothing to put in a new one.",
                ));
            }
            run_view(conn, run)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Coordinators: payment runs, newest first.
#[utoipa::path(tag = "claims", security(("bearer" = [])), params(PageQuery), responses(
    (status = 200, body = Page<PaymentRunView>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[get("/payment-runs")]
pub async fn list_runs(
    state: web::Data<AppState>,
    user: AuthUser,
    page: Query<PageQuery>,
) -> Result<web::Json<Page<PaymentRunView>>, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let limit = page.limit()?;
    let cursor = page.into_inner().cursor;
    let page = state
        .db
        .read(move |conn| {
            let rows = claims::runs(conn, cursor.as_deref(), limit + 1)?;
            let page = Page::from_rows(rows, limit, |run| run.id.clone());
            page.try_map(|run| run_view(conn, run))
        })
        .await?;
    Ok(web::Json(page))
}

/// Coordinators: one payment run.
#[utoipa::path(tag = "claims", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = PaymentRunView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/payment-runs/{id}")]
pub async fn read_run(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<web::Json<PaymentRunView>, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let view = state
        .db
        .read(move |conn| {
            let run = find_run(conn, &id)?;
            run_view(conn, run)
        })
        .await?;
    Ok(web::Json(view))
}

/// Coordinators: the run's claims as a CSV file to pay from, the same columns as
/// `/claims/payments.csv`. Claims approved later wait for the next run; once the run is
/// recorded as paid, every line says "Already paid … do not pay again".
#[utoipa::path(tag = "claims", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, description = "The run's payment file", content_type = "text/csv", body = String),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/payment-runs/{id}/payments.csv")]
pub async fn run_file(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let (run, lines) = state
        .db
        .read(move |conn| {
            let run = find_run(conn, &id)?;
            let held = claims::in_run(conn, &run.id)?;
            Ok((run, payment_lines(conn, held)?))
        })
        .await?;
    let name = format!(
        "coproduce-payment-run-{}-{}.csv",
        run.created_at.date(),
        run.id
            .get(run.id.len().saturating_sub(6)..)
            .unwrap_or(&run.id)
    );
    Ok(csv_download(&name, &lines))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayRunInput {
    /// Claims in the run that could not be paid (bank details wrong, say): they leave the run
    /// and wait for the next one. Leave out to record every claim in the run as paid.
    #[serde(default)]
    #[schema(max_items = 1000)]
    pub not_paid: Vec<String>,
}

const MAX_NOT_PAID: usize = 1000;

impl Validate for PayRunInput {
    type Valid = Self;

    fn validate(self) -> Result<Self, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        if self.not_paid.len() > MAX_NOT_PAID {
            errors.add(
                "not_paid",
                Invalid::new(
                    "too_many",
                    format!("List at most {MAX_NOT_PAID} claims that were not paid."),
                ),
            );
        }
        errors.finish(self)
    }
}

/// Coordinators: record that the run has been paid. Every approved claim in it is marked paid
/// and its person emailed, except those listed in `not_paid`, which go back to wait for the next
/// run. All or nothing: if any claim cannot be recorded, none is.
#[utoipa::path(tag = "claims", security(("bearer" = [])), params(("id" = String, Path)), request_body = Option<PayRunInput>, responses(
    (status = 200, body = PaymentRunView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`payment_run_already_paid`; `own_claim`: the run holds your own claim", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "`not_paid[i]`: a claim not waiting in this run; `not_paid`: more than 1000", body = Problem, content_type = "application/problem+json"),
))]
#[post("/payment-runs/{id}/paid")]
pub async fn pay_run(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: OptionalJson<PayRunInput>,
) -> Result<web::Json<PaymentRunView>, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let not_paid = body.0.unwrap_or_default().not_paid;
    let app = state.clone();
    let view = state
        .db
        .write(move |conn| {
            let run = find_run(conn, &id)?;
            let now = crate::db::now();
            if !claims::close_run(conn, &run.id, &user.id, now)? {
                let on = run.paid_at.map(|at| format!(" on {}", at.date()));
                return Err(AppError::conflict(
                    "payment_run_already_paid",
                    format!(
                        "This payment run was already recorded as paid{}.",
                        on.unwrap_or_default()
                    ),
                ));
            }
            let approved = ClaimStatus::Approved.as_str();
            let (waiting, settled): (Vec<_>, Vec<_>) = claims::in_run(conn, &run.id)?
                .into_iter()
                .partition(|claim| claim.status == approved);
            let mut errors = FieldErrors::default();
            for (i, listed) in not_paid.iter().enumerate() {
                if waiting.iter().any(|claim| &claim.id == listed) {
                    continue;
                }
                let why = if settled.iter().any(|claim| &claim.id == listed) {
                    "This claim is already recorded as paid"
                } else {
                    "This claim is not in this payment run"
                };
                errors.add(
                    &format!("not_paid[{i}]"),
                    Invalid::new(
                        "not_waiting_in_run",
                        format!("{why}, so it cannot be listed as not paid."),
                    ),
                );
            }
            if !errors.is_empty() {
                return Err(AppError::Validation(errors.into_vec()));
            }
            claims::leave_run(conn, &run.id, &not_paid)?;
            let to_pay: Vec<_> = waiting
                .into_iter()
                .filter(|claim| !not_paid.contains(&claim.id))
                .collect();
            if let Some(own) = to_pay.iter().find(|claim| claim.coproducer_id == user.id) {
                return Err(AppError::conflict(
                    "own_claim",
                    format!(
                        "This run holds your own claim {}, and nobody records their own payment. Please ask another coordinator to record this run as paid.",
                        own.id
                    ),
                ));
            }
            for claim in to_pay {
                let step = Step {
                    from: ClaimStatus::Approved,
                    to: ClaimStatus::Paid,
                    actor: &user.id,
                    note: None,
                    now,
                };
                take_step(conn, &app, claim, step)?;
            }
            let run = find_run(conn, &run.id)?;
            run_view(conn, run)
        })
        .await?;
    state.outbox.wake();
    Ok(web::Json(view))
}
