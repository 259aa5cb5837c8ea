//! Claims for time worked and expenses (DOMAIN.md: co-producers log time and expenses; pay
//! promptly). The co-producer claims on their own assignment; coordinators approve or reject,
//! then record payment. Each step is emailed to the person.

pub mod create;
pub mod decide;
pub mod payment_runs;
pub mod payments;
pub mod read;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::DbConn;
use crate::db::models::claims::ClaimRow;
use crate::db::queries::{matching, partnership};
use crate::error::AppError;
use crate::routes::matching::spec_of;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClaimView {
    pub id: String,
    pub assignment_id: String,
    pub element_id: String,
    pub element_title: String,
    pub coproducer_id: String,
    pub minutes_worked: i32,
    /// Worked out from the element's hourly rate when the claim was made; 0 for people who
    /// decline fees or take expenses only.
    pub fee_pence: i64,
    pub expenses_pence: i64,
    pub total_pence: i64,
    pub expenses_note: Option<String>,
    pub note: Option<String>,
    /// `submitted`, `approved`, `rejected` or `paid`.
    pub status: String,
    /// Why it was rejected, or anything else the coordinator said.
    pub decision_note: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The claim with the element it is for.
fn view_of(conn: &mut DbConn, claim: ClaimRow) -> Result<ClaimView, AppError> {
    let assignment =
        matching::find_assignment(conn, &claim.assignment_id)?.ok_or(AppError::NotFound)?;
    let element =
        partnership::find_element(conn, &assignment.element_id)?.ok_or(AppError::NotFound)?;
    Ok(ClaimView {
        id: claim.id,
        assignment_id: claim.assignment_id,
        element_id: element.id.clone(),
        element_title: spec_of(&element)?.title,
        coproducer_id: claim.coproducer_id,
        minutes_worked: claim.minutes_worked,
        fee_pence: claim.fee_pence,
        expenses_pence: claim.expenses_pence,
        total_pence: claim.fee_pence.saturating_add(claim.expenses_pence),
        expenses_note: claim.expenses_note,
        note: claim.note,
        status: claim.status,
        decision_note: claim.decision_note,
        decided_at: claim.decided_at.map(|at| at.and_utc()),
        paid_at: claim.paid_at.map(|at| at.and_utc()),
        created_at: claim.created_at.and_utc(),
    })
}
