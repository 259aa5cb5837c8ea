//! `GET /invitations/{id}`: what the invitee is invited to, in the app as in the email: the
//! element, its sessions and pay, why they were suggested, and what their access needs mean for
//! it. The invitee's own; 404 for anyone else.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::adjustments::needs_of;
use super::{load_element, spec_of};
use crate::auth::AuthUser;
use crate::crypto::Field;
use crate::db::models::matching::InvitationRow;
use crate::db::queries::{matching as queries, partnership};
use crate::domain::partnership::{Mode, Session};
use crate::domain::pounds_an_hour;
use crate::error::{AppError, Problem};
use crate::matching::adjustments::{Adjustment, adjustments};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitedTo {
    pub element_id: String,
    pub title: String,
    pub description: String,
    pub project_title: String,
    pub mode: Mode,
    pub location: Option<String>,
    /// In UTC.
    pub sessions: Vec<Session>,
    /// Hours each person is expected to give, in total.
    pub hours_estimate: i32,
    pub pay_rate_pence_per_hour: i64,
    /// The rate for people to read, e.g. "£25.00 an hour".
    pub pay: String,
    /// Difficult subjects to know about in advance.
    pub content_notes: Option<String>,
}

/// One factor of the score, as stored with the invitation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SuggestedBecause {
    pub factor: String,
    pub points: f64,
    pub max: f64,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationDetails {
    pub id: String,
    /// `invited`, `accepted`, `waitlisted`, `declined` or `expired`.
    pub status: String,
    pub respond_by: DateTime<Utc>,
    /// The coordinator's message, if they wrote one.
    pub message: Option<String>,
    pub invited_to: InvitedTo,
    /// Why you were suggested, factor by factor (the factors that counted).
    pub why_you_were_suggested: Vec<SuggestedBecause>,
    /// What each of your access needs means for this element: `met` by what it provides, or
    /// `to_arrange` with what will be done.
    pub adjustments: Vec<Adjustment>,
}

/// Why the invitation's person was suggested, factor by factor: sealed, or in plain text on
/// invitations made before reasons were sealed.
pub(crate) fn why_suggested<T: serde::de::DeserializeOwned>(
    app: &AppState,
    invitation: &InvitationRow,
) -> Result<Vec<T>, AppError> {
    match &invitation.sealed_breakdown {
        Some(sealed) => app
            .cipher
            .decrypt_json(&invitation.id, Field::InvitationReasons, sealed)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("invitation reasons: {e}"))),
        None => Ok(serde_json::from_str(&invitation.breakdown).unwrap_or_default()),
    }
}

/// An invitation of yours, with what it is for.
#[utoipa::path(tag = "matching", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = InvitationDetails),
    (status = 404, description = "Not yours, or no such invitation", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}")]
pub async fn invitation_details(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<web::Json<InvitationDetails>, AppError> {
    let app = state.clone();
    let details = state
        .db
        .read(move |conn| {
            let invitation = queries::find_invitation(conn, &id)?
                .filter(|i| i.coproducer_id == user.id)
                .ok_or(AppError::NotFound)?;
            let row = partnership::find_element(conn, &invitation.element_id)?
                .ok_or(AppError::NotFound)?;
            let spec = spec_of(&row)?;
            let project =
                partnership::find_project(conn, &row.project_id)?.ok_or(AppError::NotFound)?;
            let reasons: Vec<SuggestedBecause> = why_suggested(&app, &invitation)?;
            // Their own passport: no audit row.
            let needs = needs_of(conn, &app, &user.id)?;
            let element = load_element(conn, &row)?;
            Ok(InvitationDetails {
                id: invitation.id,
                status: invitation.status,
                respond_by: invitation.respond_by.and_utc(),
                message: invitation.message,
                why_you_were_suggested: reasons.into_iter().filter(|f| f.points > 0.0).collect(),
                adjustments: adjustments(&needs, &element, &app.catalogue),
                invited_to: InvitedTo {
                    element_id: row.id,
                    pay: pounds_an_hour(spec.pay_rate_pence_per_hour),
                    title: spec.title,
                    description: spec.description,
                    project_title: project.title,
                    mode: spec.mode,
                    location: spec.location,
                    sessions: spec.sessions,
                    hours_estimate: spec.hours_estimate,
                    pay_rate_pence_per_hour: spec.pay_rate_pence_per_hour,
                    content_notes: spec.content_notes,
                },
            })
        })
        .await?;
    Ok(web::Json(details))
}
