use actix_web::{HttpResponse, post, web};
use chrono::Utc;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{ClaimView, view_of};
use crate::auth::AuthUser;
use crate::db::models::claims::ClaimRow;
use crate::db::queries::{claims, matching, partnership, people};
use crate::domain::assignment::AssignmentStatus;
use crate::domain::claim::{ClaimAmounts, ClaimStatus};
use crate::domain::non_blank;
use crate::error::{AppError, FieldError, Problem};
use crate::routes::extract::{FieldErrors, ValidJson, Validate};
use crate::routes::matching::spec_of;
use crate::routes::me::profile::Document;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimInput {
    /// Time worked, in minutes (at most `domain::claim::MAX_MINUTES`).
    #[schema(minimum = 0, maximum = 10000)]
    pub minutes_worked: i32,
    /// Expenses in pence (travel, childcare, …), at most `domain::claim::MAX_EXPENSES_PENCE`.
    #[schema(minimum = 0, maximum = 1000000)]
    #[serde(default)]
    pub expenses_pence: i64,
    /// What the expenses were for; required with any expenses.
    #[schema(max_length = 500)]
    pub expenses_note: Option<String>,
    /// Anything the coordinator should know.
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

pub struct ValidClaim {
    amounts: ClaimAmounts,
    note: Option<String>,
}

impl Validate for ClaimInput {
    type Valid = ValidClaim;

    fn validate(self) -> Result<ValidClaim, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        errors.optional_text("expenses_note", self.expenses_note.as_deref(), 500);
        errors.optional_text("note", self.note.as_deref(), 2000);
        let amounts =
            match ClaimAmounts::parse(self.minutes_worked, self.expenses_pence, self.expenses_note)
            {
                Ok(amounts) => Some(amounts),
                Err(problems) => {
                    for (field, invalid) in problems {
                        errors.add(field, invalid);
                    }
                    None
                }
            };
        let note = non_blank(self.note);
        match amounts {
            Some(amounts) if errors.is_empty() => Ok(ValidClaim { amounts, note }),
            _ => Err(errors.into_vec()),
        }
    }
}

/// The co-producer on the assignment: claim for time worked and expenses. Claims are for
/// bookings that stand or work done (confirmed or completed); the fee is worked out from the
/// element's hourly rate, and is 0 for people who decline fees or take expenses only.
#[utoipa::path(tag = "claims", security(("bearer" = [])), params(("id" = String, Path)), request_body = ClaimInput, responses(
    (status = 201, body = ClaimView),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`assignment_not_claimable`: the booking was withdrawn or missed", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/claims")]
pub async fn create_claim(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: ValidJson<ClaimInput>,
) -> Result<HttpResponse, AppError> {
    let ValidClaim { amounts, note } = body.0;
    let view = state
        .db
        .write(move |conn| {
            // The account first, then the booking, as withdrawing and erasure take them: an
            // erasure under way finishes first (401), and a withdrawal committed first is seen.
            user.still_signed_in(conn)?;
            let assignment = matching::hold_assignment(conn, &id)?
                .filter(|a| a.coproducer_id == user.id)
                .ok_or(AppError::NotFound)?;
            let status = AssignmentStatus::parse(&assignment.status);
            if !matches!(
                status,
                Some(AssignmentStatus::Confirmed | AssignmentStatus::Completed)
            ) {
                return Err(AppError::conflict(
                    "assignment_not_claimable",
                    format!(
                        "You can only claim for work you are booked on or have done. This booking was {}.",
                        status.map_or("closed", AssignmentStatus::words)
                    ),
                ));
            }
            let element = partnership::find_element(conn, &assignment.element_id)?
                .ok_or(AppError::NotFound)?;
            let rate = spec_of(&element)?.pay_rate_pence_per_hour;
            let method = match people::load_profile(conn, &user.id)? {
                Some(profile) => {
                    serde_json::from_str::<Document>(&profile.document)
                        .map_err(|e| AppError::Internal(e.into()))?
                        .payment
                        .method
                }
                None => String::new(),
            };
            let now = Utc::now().naive_utc();
            let claim = ClaimRow {
                id: uuid::Uuid::now_v7().to_string(),
                assignment_id: assignment.id,
                coproducer_id: user.id.clone(),
                minutes_worked: amounts.minutes_worked,
                fee_pence: amounts.fee_pence(rate, &method),
                expenses_pence: amounts.expenses_pence,
                expenses_note: amounts.expenses_note,
                note,
                status: ClaimStatus::Submitted.as_str().into(),
                decided_by: None,
                decision_note: None,
                decided_at: None,
                paid_by: None,
                paid_at: None,
                created_at: now,
                updated_at: now,
            };
            claims::insert(conn, &claim)?;
            view_of(conn, claim)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}
