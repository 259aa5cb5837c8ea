//! Adding and changing elements. Spec changes are a JSON merge patch (RFC 7396) over the
//! element, checked in full afterwards; status changes follow the element state machine.

use actix_web::{HttpResponse, patch, post, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ElementView, element_view, visible_project};
use crate::auth::AuthUser;
use crate::checked_in_handler;
use crate::db::queries::outbox as outbox_queries;
use crate::db::queries::partnership as queries;
use crate::db::queries::{matching, users};
use crate::domain::Invalid;
use crate::domain::partnership::{ElementSpec, ElementStatus};
use crate::domain::role::Role;
use crate::error::{AppError, Problem};
use crate::routes::extract::{ValidJson, parse, reject_problems};
use crate::routes::matching::assignments::{
    Cancelled, close_cancelled_element, close_invitations_of_started_element, refill_freed_seat,
};
use crate::routes::matching::spec_of;
use crate::routes::requests::triage::insert_element;
use crate::state::AppState;

checked_in_handler!(ElementSpec, ElementPatch);

/// Add an element to a project (coordinators, and the project's partner contacts).
#[utoipa::path(tag = "projects", security(("bearer" = [])), params(("id" = String, Path)), request_body = ElementSpec, responses(
    (status = 201, body = ElementView),
    (status = 403, description = "Coordinators and the project's partners only", body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/elements")]
pub async fn add_element(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: ValidJson<ElementSpec>,
) -> Result<HttpResponse, AppError> {
    user.require_any(&[Role::Coordinator, Role::Partner])?;
    let spec = body.0;
    reject_problems(spec.problems(&state.catalogue, ""))?;
    let view = state
        .db
        .write(move |conn| {
            let project = visible_project(conn, &user, &id)?;
            let position = queries::next_position(conn, &project.id)?;
            element_view(insert_element(
                conn,
                &project.id,
                position,
                &spec,
                Utc::now().naive_utc(),
            )?)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Any element fields to change (a JSON merge patch), and/or `status`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object, example = json!({"people_needed": 4, "status": "filled"}))]
pub struct ElementPatch(pub serde_json::Map<String, serde_json::Value>);

/// Change an element. Coordinators change anything, including `status` (open → filled →
/// in_progress → completed, filled → open, or cancelled: invitations lapse, people booked are
/// withdrawn unless it was under way, and each is told); partner contacts edit their open elements
/// while nobody is booked on them. Places never drop below the people booked; added places go to
/// the waiting list first.
#[utoipa::path(tag = "projects", security(("bearer" = [])), params(("id" = String, Path)), request_body = ElementPatch, responses(
    (status = 200, body = ElementView),
    (status = 403, description = "Partners cannot change status or edit elements that are no longer open", body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Not a legal status change, or (`people_booked`) a partner changing an element people are booked on", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[patch("/{id}")]
pub async fn update_element(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: ValidJson<ElementPatch>,
) -> Result<web::Json<ElementView>, AppError> {
    user.require_any(&[Role::Coordinator, Role::Partner])?;
    let mut changes = body.0.0;
    let new_status = match changes.remove("status") {
        None => None,
        Some(serde_json::Value::String(code)) => {
            Some(ElementStatus::parse(&code).ok_or_else(|| {
                AppError::invalid_field(
                    "status",
                    Invalid::new(
                        "invalid_choice",
                        "Choose one of: open, filled, in_progress, completed, cancelled.",
                    ),
                )
            })?)
        }
        Some(_) => {
            return Err(AppError::invalid_field(
                "status",
                Invalid::new("invalid_type", "The status is a word such as \"filled\"."),
            ));
        }
    };
    let app = state.clone();
    let view = state
        .db
        .write(move |conn| {
            let found = queries::find_element(conn, &id)?.ok_or(AppError::NotFound)?;
            visible_project(conn, &user, &found.project_id)?;
            let mut staff = Vec::new();
            if matches!(
                new_status,
                Some(ElementStatus::Cancelled | ElementStatus::InProgress | ElementStatus::Completed)
            ) {
                // People are told: before the element, an erasure under way ends first and is
                // seen; one that starts waits, then deletes what this queued to its person.
                outbox_queries::no_erasure_meanwhile(conn)?;
                if new_status == Some(ElementStatus::Cancelled) {
                    staff = users::staff(conn)?;
                }
            }
            let now = Utc::now().naive_utc();
            // Under the lock accept takes, so seats are counted against what is booked now.
            matching::lock_element(conn, &found.id)?;
            let mut element = queries::find_element(conn, &found.id)?.ok_or(AppError::NotFound)?;
            let current = ElementStatus::parse(&element.status)
                .ok_or_else(|| AppError::Internal(anyhow::anyhow!("unknown element status")))?;
            let coordinator = user.has_role(Role::Coordinator);
            if !coordinator && new_status.is_some() {
                return Err(AppError::Forbidden);
            }
            if !coordinator && current != ElementStatus::Open {
                return Err(AppError::conflict(
                    "element_not_open",
                    format!(
                        "This element is {}, so only coordinators can change it now.",
                        current.as_str().replace('_', " ")
                    ),
                ));
            }
            let booked = matching::seats_taken(conn, &element.id)?;
            if !coordinator && booked > 0 && !changes.is_empty() {
                return Err(AppError::conflict(
                    "people_booked",
                    "People are already booked on this element, so only coordinators can change it now. \
                     Please ask a coordinator, who will tell the people booked.",
                ));
            }
            let seats_before = element.people_needed;
            if !changes.is_empty() {
                let unchanged_rate = changes.get("pay_rate_pence_per_hour").is_none();
                let spec = merged_spec(&element.spec, changes)?;
                let mut problems = spec.problems(&app.catalogue, "");
                // A rate stored before the cap existed must not block editing something else.
                if unchanged_rate {
                    problems.retain(|(field, _)| field != "pay_rate_pence_per_hour");
                }
                reject_problems(problems)?;
                if i64::from(spec.people_needed) < booked {
                    return Err(AppError::invalid_field(
                        "people_needed",
                        Invalid::new(
                            "fewer_than_booked",
                            format!(
                                "{booked} people are already booked on this element, so it needs at least {booked} places. \
                                 Withdraw someone first if it needs fewer."
                            ),
                        ),
                    ));
                }
                element.spec = serde_json::to_string(&spec).map_err(|e| AppError::Internal(e.into()))?;
                element.mode = spec.mode.as_str().into();
                element.people_needed = spec.people_needed;
                element.updated_at = now;
                if !queries::update_element(conn, &element)? {
                    return Err(AppError::conflict(
                        "element_changed",
                        "Someone changed this element meanwhile. Reload it to see the latest version.",
                    ));
                }
                let sessions: Vec<_> = spec
                    .sessions
                    .iter()
                    .map(|s| (s.starts_at.naive_utc(), s.ends_at.naive_utc()))
                    .collect();
                queries::replace_sessions(conn, &element.id, &sessions)?;
            }
            if let Some(next) = new_status.filter(|next| *next != current) {
                if !current.can_become(next) {
                    return Err(AppError::conflict(
                        "invalid_transition",
                        format!(
                            "This element is {}, so it cannot become {}.",
                            current.as_str().replace('_', " "),
                            next.as_str().replace('_', " ")
                        ),
                    ));
                }
                if !queries::move_element(conn, &element.id, current.as_str(), next.as_str(), now)? {
                    return Err(AppError::conflict(
                        "invalid_transition",
                        "Someone changed this element meanwhile. Reload it to see the latest version.",
                    ));
                }
                if next == ElementStatus::Cancelled {
                    // Sessions begun count even where nobody moved it to in progress.
                    let begun = spec_of(&element)?
                        .sessions
                        .iter()
                        .any(|session| session.starts_at.naive_utc() <= now);
                    let cancelled = Cancelled {
                        under_way: current == ElementStatus::InProgress || begun,
                        actor: &user.id,
                        staff: std::mem::take(&mut staff),
                    };
                    close_cancelled_element(conn, &app, &element, cancelled, now)?;
                }
                if next == ElementStatus::InProgress || next == ElementStatus::Completed {
                    let why = if next == ElementStatus::InProgress { "under_way" } else { "finished" };
                    close_invitations_of_started_element(conn, &app, &element, why, now)?;
                }
            }
            if element.people_needed != seats_before {
                // More places go to the waiting list first; either way open/filled follows.
                refill_freed_seat(conn, &app, &element.id, now)?;
            }
            element_view(queries::find_element(conn, &element.id)?.ok_or(AppError::NotFound)?)
        })
        .await?;
    state.outbox.wake();
    Ok(web::Json(view))
}

/// The element's stored spec with `changes` merged in, parsed as a whole.
fn merged_spec(
    stored: &str,
    changes: serde_json::Map<String, serde_json::Value>,
) -> Result<ElementSpec, AppError> {
    let mut merged: serde_json::Value =
        serde_json::from_str(stored).map_err(|e| AppError::Internal(e.into()))?;
    merge_patch(&mut merged, serde_json::Value::Object(changes));
    let bytes = serde_json::to_vec(&merged).map_err(|e| AppError::Internal(e.into()))?;
    parse(&bytes)
}

/// RFC 7396: objects merge key by key, `null` removes, anything else replaces.
fn merge_patch(target: &mut serde_json::Value, patch: serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(target), serde_json::Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(&key);
                } else {
                    merge_patch(target.entry(key).or_insert(serde_json::Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut target = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2]});
        merge_patch(
            &mut target,
            json!({"a": null, "b": {"c": 5}, "e": [9], "f": "new"}),
        );
        assert_eq!(target, json!({"b": {"c": 5, "d": 3}, "e": [9], "f": "new"}));
    }
}
