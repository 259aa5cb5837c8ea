//! What changed because of an element's work (DOMAIN.md: after an element ends, contributors
//! hear what changed). Written by a coordinator or the project's partner once the element is
//! completed; the first time, everyone who did the work is emailed it.

use actix_web::{HttpResponse, get, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::visible_project;
use crate::auth::AuthUser;
use crate::db::DbConn;
use crate::db::models::partnership::{ElementRow, OutcomeRow};
use crate::db::models::user::UserRow;
use crate::db::queries::{matching, outbox as outbox_queries, partnership as queries, users};
use crate::domain::assignment::AssignmentStatus;
use crate::domain::non_blank;
use crate::domain::partnership::ElementStatus;
use crate::domain::role::Role;
use crate::email::{Email, Recipient};
use crate::error::{AppError, FieldError, Problem};
use crate::routes::extract::{FieldErrors, ValidJson, Validate};
use crate::routes::matching::spec_of;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WhatChangedInput {
    /// What changed because of the work, written for the people who did it.
    #[schema(max_length = 4000)]
    pub summary: String,
    /// The same in easy read: short sentences, one idea each. People who chose easy-read email
    /// get this one (or the summary when there is none).
    #[schema(max_length = 2000)]
    pub easy_read: Option<String>,
}

pub struct ValidWhatChanged {
    summary: String,
    easy_read: Option<String>,
}

impl Validate for WhatChangedInput {
    type Valid = ValidWhatChanged;

    fn validate(self) -> Result<ValidWhatChanged, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        errors.text("summary", &self.summary, 4000);
        errors.optional_text("easy_read", self.easy_read.as_deref(), 2000);
        errors.finish(ValidWhatChanged {
            summary: self.summary.trim().to_string(),
            easy_read: non_blank(self.easy_read),
        })
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WhatChangedView {
    pub element_id: String,
    pub summary: String,
    pub easy_read: Option<String>,
    /// When it was first written (and the people who did the work were told).
    pub written_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<OutcomeRow> for WhatChangedView {
    fn from(row: OutcomeRow) -> Self {
        Self {
            element_id: row.element_id,
            summary: row.summary,
            easy_read: row.easy_read,
            written_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
}

/// Say what changed because of a completed element's work (coordinators, or the project's
/// partner contacts). The first time, 201, and each person whose booking was completed is
/// emailed it (standard or easy read, as they chose). Later, 200: the words are corrected and
/// nobody is emailed again.
#[utoipa::path(tag = "projects", security(("bearer" = [])), params(("id" = String, Path)), request_body = WhatChangedInput, responses(
    (status = 200, description = "Corrected", body = WhatChangedView),
    (status = 201, description = "Written, and the people who did the work told", body = WhatChangedView),
    (status = 403, description = "Coordinators and partners only", body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`element_not_completed`", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[put("/{id}/what-changed")]
pub async fn write_what_changed(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: ValidJson<WhatChangedInput>,
) -> Result<HttpResponse, AppError> {
    user.require_any(&[Role::Coordinator, Role::Partner])?;
    let input = body.0;
    let app = state.clone();
    let (first, view) = state
        .db
        .write(move |conn| {
            user.still_signed_in(conn)?;
            let element = queries::find_element(conn, &id)?.ok_or(AppError::NotFound)?;
            visible_project(conn, &user, &element.project_id)?;
            if element.status != ElementStatus::Completed.as_str() {
                return Err(AppError::conflict(
                    "element_not_completed",
                    "You can say what changed once the element is completed. A coordinator marks it completed when the work has ended.",
                ));
            }
            let now = Utc::now().naive_utc();
            let row = OutcomeRow {
                element_id: element.id.clone(),
                summary: input.summary,
                easy_read: input.easy_read,
                written_by: user.id.clone(),
                created_at: now,
                updated_at: now,
            };
            // Before anyone is told: an erasure under way ends first, and the next waits.
            outbox_queries::no_erasure_meanwhile(conn)?;
            let first = queries::save_outcome(conn, &row)?;
            if first {
                let titles = Titles::of(conn, &element)?;
                let completed = AssignmentStatus::Completed.as_str();
                for assignment in matching::assignments_of_element(conn, &element.id)? {
                    // Held, then read again: a booking being completed now is seen here once it
                    // is, or, completed after this, is told when it is (`tell_closed`).
                    matching::lock_assignment(conn, &assignment.id)?;
                    let now_completed = matching::find_assignment(conn, &assignment.id)?
                        .is_some_and(|a| a.status == completed);
                    if now_completed {
                        tell_what_changed(conn, &app, &assignment.coproducer_id, &titles, &row)?;
                    }
                }
            }
            let stored = queries::outcome_of(conn, &element.id)?.ok_or(AppError::NotFound)?;
            Ok((first, WhatChangedView::from(stored)))
        })
        .await?;
    state.outbox.wake();
    Ok(if first {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

/// The element's and its project's titles, as the what-changed email names them.
pub(crate) struct Titles {
    element: String,
    project: String,
}

impl Titles {
    pub(crate) fn of(conn: &mut DbConn, element: &ElementRow) -> Result<Self, AppError> {
        let project =
            queries::find_project(conn, &element.project_id)?.ok_or(AppError::NotFound)?;
        Ok(Self {
            element: spec_of(element)?.title,
            project: project.title,
        })
    }
}

/// Emails `person_id`, if their account is still active, what changed because of the work
/// `titles` names.
pub(crate) fn tell_what_changed(
    conn: &mut DbConn,
    app: &AppState,
    person_id: &str,
    titles: &Titles,
    outcome: &OutcomeRow,
) -> Result<(), AppError> {
    let Some(person) = users::find_by_id(conn, person_id)?.filter(UserRow::is_active) else {
        return Ok(());
    };
    let email = Email::WhatChanged {
        name: person.display_name().to_string(),
        element_title: titles.element.clone(),
        project_title: titles.project.clone(),
        summary: outcome.summary.clone(),
        easy_read: outcome.easy_read.clone().unwrap_or_default(),
        link: app.settings.server.link("/me/assignments"),
    };
    app.outbox
        .enqueue(conn, &Recipient::user(&person), &email)?;
    Ok(())
}

/// What changed because of the element's work (coordinators, or the project's partner
/// contacts; the people who did it see it with their bookings). 404 until it is written.
#[utoipa::path(tag = "projects", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = WhatChangedView),
    (status = 403, description = "Coordinators and partners only", body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/what-changed")]
pub async fn read_what_changed(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<web::Json<WhatChangedView>, AppError> {
    user.require_any(&[Role::Coordinator, Role::Partner])?;
    let view = state
        .db
        .read(move |conn| {
            let element = queries::find_element(conn, &id)?.ok_or(AppError::NotFound)?;
            visible_project(conn, &user, &element.project_id)?;
            let outcome = queries::outcome_of(conn, &element.id)?.ok_or(AppError::NotFound)?;
            Ok(WhatChangedView::from(outcome))
        })
        .await?;
    Ok(web::Json(view))
}
