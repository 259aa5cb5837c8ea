use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpResponse, get, web};
use chrono::Utc;

use super::view_of;
use crate::auth::AuthUser;
use crate::db::DbConn;
use crate::db::models::claims::ClaimRow;
use crate::db::queries::{claims, people, users};
use crate::domain::claim::ClaimStatus;
use crate::domain::payment_run::{PaymentLine, payments_csv};
use crate::domain::role::Role;
use crate::error::{AppError, Problem};
use crate::routes::me::profile::Document;
use crate::state::AppState;

/// Coordinators: the approved claims in no payment run yet, oldest decision first, as a CSV file
/// (name, email, payment method, element, minutes, fee, expenses and total in pounds, and a
/// note). A preview, each line saying so: to pay, start a payment run (`POST
/// /claims/payment-runs`) and pay from its file.
#[utoipa::path(tag = "claims", security(("bearer" = [])), responses(
    (status = 200, description = "The claims waiting for a payment run", content_type = "text/csv", body = String),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/payments.csv")]
pub async fn payments_file(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let lines = state
        .db
        .read(|conn| {
            let waiting = claims::approved_outside_runs(conn)?;
            let mut lines = payment_lines(conn, waiting)?;
            for line in &mut lines {
                line.preview = true;
            }
            Ok(lines)
        })
        .await?;
    let name = format!("coproduce-payments-preview-{}.csv", Utc::now().date_naive());
    Ok(csv_download(&name, &lines))
}

/// Each claim as a line of the payment file, with who to pay and how.
pub(super) fn payment_lines(
    conn: &mut DbConn,
    claims: Vec<ClaimRow>,
) -> Result<Vec<PaymentLine>, AppError> {
    let mut lines = Vec::with_capacity(claims.len());
    for claim in claims {
        let approved_on = claim.decided_at.unwrap_or(claim.updated_at).date();
        let paid_on = claim
            .paid_at
            .filter(|_| claim.status == ClaimStatus::Paid.as_str())
            .map(|at| at.date());
        let person = users::find_by_id(conn, &claim.coproducer_id)?;
        let payment_method = people::profile_document(conn, &claim.coproducer_id)?
            .and_then(|document| serde_json::from_str::<Document>(&document).ok())
            .map(|document| document.payment.method)
            .unwrap_or_default();
        let view = view_of(conn, claim)?;
        // An erased account's address is a tombstone: nobody to write to.
        let account_deleted = person.as_ref().is_none_or(|p| p.status != "active");
        lines.push(PaymentLine {
            claim_id: view.id,
            approved_on,
            name: person
                .as_ref()
                .map(|p| p.full_name.clone())
                .unwrap_or_default(),
            email: person
                .filter(|_| !account_deleted)
                .map(|p| p.email)
                .unwrap_or_default(),
            account_deleted,
            paid_on,
            preview: false,
            payment_method,
            element: view.element_title,
            minutes_worked: view.minutes_worked,
            fee_pence: view.fee_pence,
            expenses_pence: view.expenses_pence,
        });
    }
    Ok(lines)
}

/// The lines as a CSV file to save as `name`.
pub(super) fn csv_download(name: &str, lines: &[PaymentLine]) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .body(payments_csv(lines))
}
