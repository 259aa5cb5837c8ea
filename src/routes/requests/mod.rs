//! Partner requests: a partner organisation asks for co-producers for the elements of a project.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::db::DbConn;
use crate::db::models::partnership::RequestRow;
use crate::db::models::user::UserRow;
use crate::db::queries::{partnership as queries, users};
use crate::domain::Invalid;
use crate::domain::email_format::EmailFormat;
use crate::domain::partnership::{
    ElementSpec, EngagementLevel, QualityRules, RequestStatus, Warning, quality_warnings,
};
use crate::domain::role::Role;
use crate::email::{Email, Recipient};
use crate::error::{AppError, FieldError};
use crate::routes::extract::FieldErrors;
use crate::state::AppState;

pub mod create;
pub mod read;
pub mod triage;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestInput {
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    #[schema(min_length = 1, max_length = 2000)]
    pub summary: String,
    pub engagement_level: EngagementLevel,
    /// The whole budget, in pence.
    #[schema(minimum = 0)]
    pub budget_pence: Option<i64>,
    /// Money set aside for access adjustments (interpreters, taxis, support workers), in pence.
    #[schema(minimum = 0)]
    pub access_budget_pence: Option<i64>,
    /// Needed only if you are a contact of more than one organisation.
    pub organisation_id: Option<String>,
    #[schema(min_items = 1)]
    pub elements: Vec<ElementSpec>,
}

crate::checked_in_handler!(RequestInput);

fn top_level_errors(input: &RequestInput) -> Vec<FieldError> {
    let mut errors = FieldErrors::default();
    errors.text("title", &input.title, 200);
    errors.text("summary", &input.summary, 2000);
    for (field, value) in [
        ("budget_pence", input.budget_pence),
        ("access_budget_pence", input.access_budget_pence),
    ] {
        if value.is_some_and(|v| v < 0) {
            errors.add(
                field,
                Invalid::new("out_of_range", "Amounts cannot be below zero."),
            );
        }
    }
    if input.elements.is_empty() {
        errors.add(
            "elements",
            Invalid::new(
                "required",
                "Describe at least one element: a part of the project co-producers would do.",
            ),
        );
    }
    errors.into_vec()
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RequestStep {
    pub status: String,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RequestView {
    pub id: String,
    pub organisation_id: String,
    pub title: String,
    pub summary: String,
    pub engagement_level: EngagementLevel,
    pub budget_pence: Option<i64>,
    pub access_budget_pence: Option<i64>,
    pub elements: Vec<ElementSpec>,
    pub status: RequestStatus,
    /// Suggestions from the quality check; they never stop a request.
    pub quality_warnings: Vec<Warning>,
    /// Set once the request is accepted.
    pub project_id: Option<String>,
    pub history: Vec<RequestStep>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn rules(state: &AppState) -> QualityRules {
    let s = &state.settings.requests;
    QualityRules {
        minimum_hourly_rate_pence: s.minimum_hourly_rate_pence,
        notice_days: s.notice_days,
        long_commitment_hours: s.long_commitment_hours,
    }
}

/// Every problem with a request, its fields and its elements (against the catalogue), as one 422.
pub fn check_request(state: &AppState, input: &RequestInput) -> Result<(), AppError> {
    let mut errors = top_level_errors(input);
    errors.extend(
        input
            .elements
            .iter()
            .enumerate()
            .flat_map(|(i, element)| element.problems(&state.catalogue, &format!("elements[{i}]")))
            .map(|(field, invalid)| FieldError::from_invalid(field, invalid)),
    );
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(errors))
    }
}

pub fn elements_of(row: &RequestRow) -> Result<Vec<ElementSpec>, AppError> {
    serde_json::from_str(&row.elements).map_err(|e| AppError::Internal(e.into()))
}

pub fn view(conn: &mut DbConn, state: &AppState, row: RequestRow) -> Result<RequestView, AppError> {
    let elements = elements_of(&row)?;
    // Measured from the (re)submission, so the hints match what the partner was emailed.
    let warnings = quality_warnings(
        &elements,
        row.access_budget_pence,
        &rules(state),
        row.updated_at.and_utc(),
    );
    let history = queries::request_events(conn, &row.id)?
        .into_iter()
        .map(|(status, _actor, note, at)| RequestStep {
            status,
            note,
            at: at.and_utc(),
        })
        .collect();
    Ok(RequestView {
        project_id: queries::project_of_request(conn, &row.id)?,
        engagement_level: serde_json::from_value(serde_json::Value::String(
            row.engagement_level.clone(),
        ))
        .map_err(|e| AppError::Internal(e.into()))?,
        status: RequestStatus::parse(&row.status)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("unknown request status")))?,
        id: row.id,
        organisation_id: row.organisation_id,
        title: row.title,
        summary: row.summary,
        budget_pence: row.budget_pence,
        access_budget_pence: row.access_budget_pence,
        elements,
        quality_warnings: warnings,
        history,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    })
}

/// The request, if `user` may see it: coordinators see all; partners their organisations'. 404 otherwise.
pub fn visible_request(
    conn: &mut DbConn,
    user: &AuthUser,
    id: &str,
) -> Result<RequestRow, AppError> {
    let row = queries::find_request(conn, id)?.ok_or(AppError::NotFound)?;
    if user.has_role(Role::Coordinator)
        || queries::memberships(conn, &user.id)?.contains(&row.organisation_id)
    {
        Ok(row)
    } else {
        Err(AppError::NotFound)
    }
}

/// Emails the partner who submitted the request about a step. If they have deleted their
/// account: the organisation's other contacts, or failing them its contact address, so the
/// request is not left with nobody told while someone can be.
pub fn tell_partner(
    conn: &mut DbConn,
    state: &AppState,
    row: &RequestRow,
    step: &str,
    note: &str,
    link: String,
) -> Result<(), AppError> {
    let addressees = who_hears_of(conn, row)?;
    if addressees.is_empty() {
        return Ok(());
    }
    let warnings: Vec<String> = if step == "received" {
        quality_warnings(
            &elements_of(row)?,
            row.access_budget_pence,
            &rules(state),
            row.updated_at.and_utc(),
        )
        .into_iter()
        .map(|w| w.message)
        .collect()
    } else {
        Vec::new()
    };
    for addressee in &addressees {
        let email = Email::RequestUpdate {
            name: addressee.name.clone(),
            request_title: row.title.clone(),
            step: step.into(),
            note: note.into(),
            warnings: warnings.clone(),
            link: link.clone(),
        };
        let to = Recipient {
            user_id: addressee.user_id.as_deref(),
            address: &addressee.address,
            format: addressee.format,
            digest: addressee.digest,
        };
        state.outbox.enqueue(conn, &to, &email)?;
    }
    Ok(())
}

/// Someone told about a request: a partner contact, or the organisation's own address.
struct Addressee {
    user_id: Option<String>,
    name: String,
    address: String,
    format: EmailFormat,
    digest: bool,
}

impl From<UserRow> for Addressee {
    fn from(user: UserRow) -> Self {
        Self {
            name: user.display_name().to_string(),
            format: EmailFormat::from_stored(&user.email_format),
            digest: user.email_digest,
            address: user.email,
            user_id: Some(user.id),
        }
    }
}

/// Each account, and the organisation's row, is held before it is read, so an erasure under
/// way (which removes a contact, and their address from the organisation) is seen or waits.
fn who_hears_of(conn: &mut DbConn, row: &RequestRow) -> Result<Vec<Addressee>, AppError> {
    if users::hold_if_active(conn, &row.submitted_by)? {
        let sender = users::find_by_id(conn, &row.submitted_by)?;
        return Ok(sender.into_iter().map(Addressee::from).collect());
    }
    let contacts = queries::contacts_of(conn, &row.organisation_id)?;
    let active: Vec<String> = users::hold_those_active(conn, &contacts)?
        .into_iter()
        .collect();
    if !active.is_empty() {
        let found = users::find_by_ids(conn, &active)?;
        return Ok(found.into_iter().map(Addressee::from).collect());
    }
    let organisation = queries::hold_organisation(conn, &row.organisation_id)?;
    Ok(organisation
        .filter(|(_, _, _, contact, _)| contact != queries::NO_CONTACT_EMAIL)
        .map(|(_, name, _, contact, _)| Addressee {
            user_id: None,
            name,
            address: contact,
            format: EmailFormat::Standard,
            digest: false,
        })
        .into_iter()
        .collect())
}
