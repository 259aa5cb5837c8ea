//! A booking's adjustment plan (DOMAIN.md: record once, arrange in advance): what each of the
//! person's access needs means for the element, and what coordinators have arranged. The person
//! is told as each one is arranged; coordinators are reminded of what is still to arrange before
//! a booking starts (`jobs::send_adjustment_reminders`).
//!
//! What was arranged is sealed per booking (which needs a person has is special-category data),
//! and a coordinator's read of a plan is audited as a read of the access passport.

use std::collections::BTreeMap;

use actix_web::{get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::assignments::{hold_coproducer, visible_assignment};
use super::{load_element, spec_of};
use crate::auth::AuthUser;
use crate::crypto::Field;
use crate::db::DbConn;
use crate::db::models::matching::AssignmentRow;
use crate::db::models::partnership::ElementRow;
use crate::db::queries::{adjustments as queries, audit, matching, partnership, users};
use crate::domain::assignment::AssignmentStatus;
use crate::domain::partnership::ElementStatus;
use crate::domain::profile::AccessPassport;
use crate::domain::role::Role;
use crate::domain::{Invalid, non_blank};
use crate::email::{Email, Recipient};
use crate::error::{AppError, FieldError, Problem};
use crate::matching::adjustments::{
    Adjustment, AdjustmentStatus, Arrangement, adjustments, plan, still_to_arrange,
};
use crate::matching::model::Element;
use crate::routes::extract::{FieldErrors, ValidJson, Validate};
use crate::state::AppState;

const PLAN_ROUTE: &str = "GET /api/v1/assignments/{id}/adjustments";
const ARRANGE_ROUTE: &str = "POST /api/v1/assignments/{id}/arrangements";

/// What is stored of one arrangement: the view's, and who made it (kept for the record, not
/// shown).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    note: Option<String>,
    by: String,
    at: DateTime<Utc>,
}

type StoredPlan = BTreeMap<String, Stored>;

fn arranged_so_far(
    app: &AppState,
    assignment_id: &str,
    sealed: Option<&[u8]>,
) -> Result<StoredPlan, AppError> {
    sealed.map_or(Ok(StoredPlan::new()), |sealed| {
        app.cipher
            .decrypt_json(assignment_id, Field::AdjustmentArrangements, sealed)
            .map_err(|e| AppError::Internal(e.into()))
    })
}

fn as_arrangements(stored: &StoredPlan) -> BTreeMap<String, Arrangement> {
    stored
        .iter()
        .map(|(need, s)| {
            let shown = Arrangement {
                note: s.note.clone(),
                arranged_at: s.at,
            };
            (need.clone(), shown)
        })
        .collect()
}

/// The person's access needs, by code; none without a passport.
pub(crate) fn needs_of(
    conn: &mut DbConn,
    app: &AppState,
    person_id: &str,
) -> Result<Vec<String>, AppError> {
    let Some((owner, sealed, _)) = matching::passports_of(conn, &[person_id.to_string()])?
        .into_iter()
        .next()
    else {
        return Ok(Vec::new());
    };
    let passport: AccessPassport = app
        .cipher
        .decrypt_json(&owner, Field::AccessPassport, &sealed)
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(passport.needs.into_iter().map(|n| n.code).collect())
}

/// What has been arranged for a booking, by need code.
pub(crate) fn arrangements_of(
    conn: &mut DbConn,
    app: &AppState,
    assignment_id: &str,
) -> Result<BTreeMap<String, Arrangement>, AppError> {
    let sealed = queries::sealed_of(conn, assignment_id)?;
    let stored = arranged_so_far(app, assignment_id, sealed.as_deref())?;
    Ok(as_arrangements(&stored))
}

/// The booking's plan from the person's needs, with what was arranged marked so.
pub(crate) fn plan_of(
    conn: &mut DbConn,
    app: &AppState,
    assignment_id: &str,
    needs: &[String],
    element: &Element,
) -> Result<Vec<Adjustment>, AppError> {
    let arranged = arrangements_of(conn, app, assignment_id)?;
    Ok(plan(adjustments(needs, element, &app.catalogue), &arranged))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdjustmentPlan {
    pub assignment_id: String,
    pub element_id: String,
    pub element_title: String,
    /// The booking's status: plans matter while it is `confirmed`.
    pub status: String,
    /// Each of the person's access needs that applies to this element: `met` by what it
    /// provides, `to_arrange` with the action, or `arranged` with what was done.
    pub adjustments: Vec<Adjustment>,
    pub still_to_arrange: usize,
}

/// The booking's plan before anything arranged is marked: the element's row, and what each of
/// the person's needs means for it.
fn unarranged_plan(
    conn: &mut DbConn,
    app: &AppState,
    assignment: &AssignmentRow,
    row: ElementRow,
) -> Result<(ElementRow, Vec<Adjustment>), AppError> {
    let element = load_element(conn, &row)?;
    let needs = needs_of(conn, app, &assignment.coproducer_id)?;
    Ok((row, adjustments(&needs, &element, &app.catalogue)))
}

fn plan_view(
    assignment: &AssignmentRow,
    row: &ElementRow,
    adjustments: Vec<Adjustment>,
) -> Result<AdjustmentPlan, AppError> {
    Ok(AdjustmentPlan {
        assignment_id: assignment.id.clone(),
        element_id: row.id.clone(),
        element_title: spec_of(row)?.title,
        status: assignment.status.clone(),
        still_to_arrange: still_to_arrange(&adjustments),
        adjustments,
    })
}

/// Stores a booking's arrangements (sealed), or forgets the row when none is left.
fn keep(
    conn: &mut DbConn,
    app: &AppState,
    assignment_id: &str,
    stored: &StoredPlan,
) -> Result<(), AppError> {
    if stored.is_empty() {
        queries::delete_of(conn, assignment_id)?;
        return Ok(());
    }
    let sealed = app
        .cipher
        .encrypt_json(assignment_id, Field::AdjustmentArrangements, stored)
        .map_err(|e| AppError::Internal(e.into()))?;
    queries::store(conn, assignment_id, &sealed, crate::db::now())?;
    Ok(())
}

/// A booking's adjustment plan, for the person booked and for coordinators (a coordinator's
/// read is audited). Someone else's booking is 404.
#[utoipa::path(tag = "matching", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = AdjustmentPlan),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/adjustments")]
pub async fn adjustment_plan(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<web::Json<AdjustmentPlan>, AppError> {
    let app = state.clone();
    let view = state
        .db
        .write(move |conn| {
            let assignment = visible_assignment(conn, &user, &id)?;
            audit::record_read(
                conn,
                &user.id,
                &assignment.coproducer_id,
                Field::AccessPassport,
                PLAN_ROUTE,
            )?;
            let row = partnership::find_element(conn, &assignment.element_id)?
                .ok_or(AppError::NotFound)?;
            let (row, unarranged) = unarranged_plan(conn, &app, &assignment, row)?;
            let arranged = arrangements_of(conn, &app, &assignment.id)?;
            plan_view(&assignment, &row, plan(unarranged, &arranged))
        })
        .await?;
    Ok(web::Json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArrangeInput {
    /// The access need on the plan (a catalogue code). In the body, not the address, so that
    /// access logs never hold it.
    #[schema(max_length = 64)]
    pub need: String,
    /// True once it is arranged; false when an arrangement fell through (it is to arrange again,
    /// and the person is told).
    pub arranged: bool,
    /// What was arranged, written for the person: they are emailed it. Project teams see only
    /// that it is arranged.
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

pub struct ValidArrangement {
    need: String,
    arranged: bool,
    note: Option<String>,
}

impl Validate for ArrangeInput {
    type Valid = ValidArrangement;

    fn validate(self) -> Result<ValidArrangement, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        errors.text("need", &self.need, 64);
        errors.optional_text("note", self.note.as_deref(), 1000);
        errors.finish(ValidArrangement {
            need: self.need,
            arranged: self.arranged,
            note: non_blank(self.note),
        })
    }
}

/// Coordinators: record that one of a booking's adjustments is arranged (the person is emailed,
/// with the note), or that an arrangement fell through and it is to arrange again (the person is
/// told). Only for a confirmed booking on an element going ahead, and a need the plan has to
/// arrange. Reading the plan is audited, whatever the answer.
#[utoipa::path(tag = "matching", security(("bearer" = [])), params(("id" = String, Path)), request_body = ArrangeInput, responses(
    (status = 200, body = AdjustmentPlan),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`booking_not_confirmed`; `element_not_going_ahead`; `person_left`", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "`need`: not an access need, not on this booking's plan, or already met by the element", body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/arrangements")]
pub async fn arrange(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: ValidJson<ArrangeInput>,
) -> Result<web::Json<AdjustmentPlan>, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let ValidArrangement {
        need,
        arranged,
        note,
    } = body.0;
    if state.catalogue.access_need(&need).is_none() {
        return Err(AppError::invalid_field(
            "need",
            Invalid::new(
                "unknown_code",
                "Choose an access need from the catalogue (GET /api/v1/catalogue).",
            ),
        ));
    }
    let app = state.clone();
    // The inner result: an answer refused once the plan was read still keeps its audit row.
    let view = state
        .db
        .write(move |conn| {
            if !matching::lock_assignment(conn, &id)? {
                return Err(AppError::NotFound);
            }
            let assignment = matching::find_assignment(conn, &id)?.ok_or(AppError::NotFound)?;
            let status = AssignmentStatus::parse(&assignment.status);
            if status != Some(AssignmentStatus::Confirmed) {
                return Err(AppError::conflict(
                    "booking_not_confirmed",
                    format!(
                        "Adjustments are arranged for bookings that stand. This booking was {}.",
                        status.map_or("closed", AssignmentStatus::words)
                    ),
                ));
            }
            let row = partnership::find_element(conn, &assignment.element_id)?
                .ok_or(AppError::NotFound)?;
            if !ElementStatus::going_ahead().contains(&row.status.as_str()) {
                return Err(AppError::conflict(
                    "element_not_going_ahead",
                    "This element is cancelled or finished, so there is nothing to arrange.",
                ));
            }
            hold_coproducer(conn, &assignment)?;
            audit::record_read(
                conn,
                &user.id,
                &assignment.coproducer_id,
                Field::AccessPassport,
                ARRANGE_ROUTE,
            )?;
            let (row, unarranged) = unarranged_plan(conn, &app, &assignment, row)?;
            let sealed = queries::sealed_of(conn, &assignment.id)?;
            let mut stored = arranged_so_far(&app, &assignment.id, sealed.as_deref())?;
            let on_plan = unarranged.iter().find(|a| a.need == need);
            let refused = match on_plan.map(|a| a.status) {
                None => Some(Invalid::new(
                    "not_on_plan",
                    "This need is not on the booking's plan: the person's access passport does not list it, or the way the element runs makes it unnecessary.",
                )),
                Some(AdjustmentStatus::Met) => Some(Invalid::new(
                    "already_met",
                    "The element already provides this, so there is nothing to arrange.",
                )),
                Some(AdjustmentStatus::ToArrange | AdjustmentStatus::Arranged) => None,
            };
            if let Some(invalid) = refused {
                return Ok(Err(AppError::invalid_field("need", invalid)));
            }
            // Only what the plan still has to arrange is kept: an arrangement for a need
            // removed, or met since, must not come back if the need returns.
            stored.retain(|code, _| {
                unarranged
                    .iter()
                    .any(|a| &a.need == code && a.status == AdjustmentStatus::ToArrange)
            });
            let was = stored.get(&need).map(|s| s.note.clone());
            let news = if arranged {
                stored.insert(
                    need.clone(),
                    Stored {
                        note: note.clone(),
                        by: user.id.clone(),
                        at: Utc::now(),
                    },
                );
                was != Some(note.clone())
            } else {
                stored.remove(&need).is_some()
            };
            keep(conn, &app, &assignment.id, &stored)?;
            let title = spec_of(&row)?.title;
            if news {
                let update = Update {
                    element_title: &title,
                    need: &need,
                    arranged,
                    note,
                };
                tell(conn, &app, &assignment, update)?;
            }
            let answer = plan(unarranged, &as_arrangements(&stored));
            Ok(Ok(plan_view(&assignment, &row, answer)?))
        })
        .await??;
    state.outbox.wake();
    Ok(web::Json(view))
}

/// What the person is told of one adjustment.
struct Update<'a> {
    element_title: &'a str,
    need: &'a str,
    arranged: bool,
    note: Option<String>,
}

fn tell(
    conn: &mut DbConn,
    app: &AppState,
    assignment: &AssignmentRow,
    update: Update<'_>,
) -> Result<(), AppError> {
    let person = users::find_by_id(conn, &assignment.coproducer_id)?.ok_or(AppError::NotFound)?;
    let label = app
        .catalogue
        .access_need(update.need)
        .map_or_else(|| update.need.to_string(), |n| n.label.clone());
    app.outbox.enqueue(
        conn,
        &Recipient::user(&person),
        &Email::AdjustmentUpdate {
            name: person.display_name().to_string(),
            element_title: update.element_title.to_string(),
            need: label,
            arranged: update.arranged,
            note: update.note.unwrap_or_default(),
            link: app.settings.server.link("/me/assignments"),
        },
    )?;
    Ok(())
}

/// Forgets what was arranged for needs the person no longer lists, on every booking of theirs,
/// so an arrangement never comes back with a need added again later.
pub(crate) fn forget_needs_no_longer_held(
    conn: &mut DbConn,
    app: &AppState,
    person_id: &str,
    needs: &[String],
) -> Result<(), AppError> {
    for (assignment_id, sealed) in queries::sealed_of_user(conn, person_id)? {
        let mut stored = arranged_so_far(app, &assignment_id, Some(&sealed))?;
        let before = stored.len();
        stored.retain(|code, _| needs.contains(code));
        if stored.len() == before {
            continue;
        }
        keep(conn, app, &assignment_id, &stored)?;
    }
    Ok(())
}
