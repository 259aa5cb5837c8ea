use actix_web::{post, web};
use chrono::{NaiveDateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{ClaimView, view_of};
use crate::auth::AuthUser;
use crate::db::DbConn;
use crate::db::models::claims::ClaimRow;
use crate::db::queries::claims::{self, Move};
use crate::db::queries::users;
use crate::domain::claim::ClaimStatus;
use crate::domain::role::Role;
use crate::domain::{Invalid, non_blank, pounds};
use crate::email::{Email, Recipient};
use crate::error::{AppError, FieldError, Problem};
use crate::routes::extract::{FieldErrors, ValidJson, Validate};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    /// `approve` or `reject`.
    #[schema(pattern = "^(approve|reject)$")]
    pub decision: String,
    /// Required to reject: the person reads why, in the email and on the claim.
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

pub struct ValidDecision {
    approve: bool,
    note: Option<String>,
}

impl Validate for DecisionInput {
    type Valid = ValidDecision;

    fn validate(self) -> Result<ValidDecision, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        let approve = match self.decision.as_str() {
            "approve" => Some(true),
            "reject" => Some(false),
            _ => {
                errors.add(
                    "decision",
                    Invalid::new("invalid_choice", "Choose approve or reject."),
                );
                None
            }
        };
        errors.optional_text("note", self.note.as_deref(), 2000);
        let note = non_blank(self.note);
        if approve == Some(false) && note.is_none() {
            errors.add(
                "note",
                Invalid::new(
                    "required",
                    "Say why the claim cannot be approved, so the person can put it right.",
                ),
            );
        }
        errors.finish(ValidDecision {
            approve: approve.unwrap_or(false),
            note,
        })
    }
}

/// Coordinators: approve or reject a submitted claim. The person is emailed either way, with
/// the note.
#[utoipa::path(tag = "claims", security(("bearer" = [])), params(("id" = String, Path)), request_body = DecisionInput, responses(
    (status = 200, body = ClaimView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`claim_already_decided`; `own_claim`: coordinators do not decide their own", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/decision")]
pub async fn decide_claim(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: ValidJson<DecisionInput>,
) -> Result<web::Json<ClaimView>, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let ValidDecision { approve, note } = body.0;
    let to = if approve {
        ClaimStatus::Approved
    } else {
        ClaimStatus::Rejected
    };
    step(
        state,
        user,
        id.into_inner(),
        ClaimStatus::Submitted,
        to,
        note,
    )
    .await
}

/// Coordinators: record that an approved claim has been paid, one on its own (a claim in a
/// payment run is recorded with its run). The person is emailed.
#[utoipa::path(tag = "claims", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = ClaimView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`claim_not_approved`: only an approved claim can be paid; `own_claim`: coordinators do not pay their own; `claim_in_payment_run`: record its run as paid instead", body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/paid")]
pub async fn mark_claim_paid(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<web::Json<ClaimView>, AppError> {
    user.require_any(&[Role::Coordinator])?;
    step(
        state,
        user,
        id.into_inner(),
        ClaimStatus::Approved,
        ClaimStatus::Paid,
        None,
    )
    .await
}

async fn step(
    state: web::Data<AppState>,
    user: AuthUser,
    id: String,
    from: ClaimStatus,
    to: ClaimStatus,
    note: Option<String>,
) -> Result<web::Json<ClaimView>, AppError> {
    let app = state.clone();
    let view = state
        .db
        .write(move |conn| {
            let claim = claims::find(conn, &id)?.ok_or(AppError::NotFound)?;
            if to == ClaimStatus::Paid
                && let Some(run) = claims::run_of(conn, &claim.id)?
            {
                // Its run's file may already have been paid: one record of payment, the run's.
                return Err(AppError::conflict(
                    "claim_in_payment_run",
                    format!(
                        "This claim is in payment run {run}. Record the run as paid instead, listing this claim in not_paid if it was not paid."
                    ),
                ));
            }
            let change = Step {
                from,
                to,
                actor: &user.id,
                note,
                now: Utc::now().naive_utc(),
            };
            take_step(conn, &app, claim, change)
        })
        .await?;
    state.outbox.wake();
    Ok(web::Json(view))
}

/// A coordinator's step on a claim.
pub(super) struct Step<'a> {
    pub from: ClaimStatus,
    pub to: ClaimStatus,
    pub actor: &'a str,
    pub note: Option<String>,
    pub now: NaiveDateTime,
}

/// Moves the claim if it is still at `change.from`, and emails the person.
pub(super) fn take_step(
    conn: &mut DbConn,
    app: &AppState,
    claim: ClaimRow,
    change: Step<'_>,
) -> Result<ClaimView, AppError> {
    if claim.coproducer_id == change.actor {
        return Err(AppError::conflict(
            "own_claim",
            "You cannot decide or pay your own claim. Please ask another coordinator.",
        ));
    }
    // A claim stays payable after its person deleted their account (the totals need it),
    // without a note about them or an email.
    let still_here = users::hold_if_active(conn, &claim.coproducer_id)?;
    let note = change.note.filter(|_| still_here);
    let guarded = Move {
        id: &claim.id,
        from: change.from.as_str(),
        to: change.to.as_str(),
        actor: change.actor,
        note: note.as_deref(),
        now: change.now,
    };
    let moved = if change.to == ClaimStatus::Paid {
        claims::mark_paid(conn, &guarded)?
    } else {
        claims::decide(conn, &guarded)?
    };
    if !moved {
        let current = claims::find(conn, &claim.id)?.map_or(claim.status, |c| c.status);
        return Err(cannot_step(&claim.id, &current, change.to));
    }
    let claim = claims::find(conn, &claim.id)?.ok_or(AppError::NotFound)?;
    let view = view_of(conn, claim.clone())?;
    if still_here {
        tell(conn, app, &claim, &view)?;
    }
    Ok(view)
}

fn cannot_step(id: &str, current: &str, to: ClaimStatus) -> AppError {
    if to == ClaimStatus::Paid {
        AppError::conflict(
            "claim_not_approved",
            format!("Only an approved claim can be marked as paid. Claim {id} is {current}."),
        )
    } else {
        AppError::conflict(
            "claim_already_decided",
            format!("Claim {id} has already been decided: it is {current}."),
        )
    }
}

fn tell(
    conn: &mut DbConn,
    app: &AppState,
    claim: &ClaimRow,
    view: &ClaimView,
) -> Result<(), AppError> {
    let person = users::find_by_id(conn, &claim.coproducer_id)?.ok_or(AppError::NotFound)?;
    app.outbox.enqueue(
        conn,
        &Recipient::user(&person),
        &Email::ClaimUpdate {
            name: person.display_name().to_string(),
            element_title: view.element_title.clone(),
            outcome: claim.status.clone(),
            fee: pounds(claim.fee_pence),
            expenses: pounds(claim.expenses_pence),
            total: pounds(view.total_pence),
            note: claim.decision_note.clone().unwrap_or_default(),
            link: app.settings.server.link("/me/claims"),
        },
    )?;
    Ok(())
}
