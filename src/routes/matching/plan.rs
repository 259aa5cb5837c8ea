use actix_web::{post, web};
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;

use super::{load_candidates, load_element, open};
use crate::auth::AuthUser;
use crate::crypto::Field;
use crate::db::DbConn;
use crate::db::models::partnership::ElementRow;
use crate::db::queries::matching::Pool;
use crate::db::queries::{audit, partnership};
use crate::domain::role::Role;
use crate::error::{AppError, Problem};
use crate::matching::plan::{Limits, Pair, solve_together};
use crate::matching::score::{cannot_also_do, exclusion, score};
use crate::routes::projects::visible_project;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Proposal {
    pub element_id: String,
    pub project_id: String,
    /// Best first.
    pub coproducer_ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Unfilled {
    pub element_id: String,
    pub project_id: String,
    pub seats_left: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MatchPlan {
    pub proposals: Vec<Proposal>,
    pub total_score: f64,
    pub unfilled: Vec<Unfilled>,
}

/// The best plan for all of a project's open elements at once: the highest total score within
/// each element's seats and each person's limit, a second seat for one person costing more.
/// Nothing is sent: a coordinator invites from it.
#[utoipa::path(tag = "matching", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = MatchPlan),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/match-plan")]
pub async fn match_plan(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<web::Json<MatchPlan>, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let app = state.clone();
    let reader = user.id.clone();
    let plan = state
        .db
        .read(move |conn| {
            let project = visible_project(conn, &user, &id)?;
            let rows: Vec<_> = partnership::elements_of(conn, &project.id)?
                .into_iter()
                .filter(open)
                .collect();
            plan_for(conn, &app, &rows)
        })
        .await?;
    audit_proposed(
        &state,
        reader,
        &plan,
        "POST /api/v1/projects/{id}/match-plan",
    )
    .await?;
    Ok(web::Json(plan))
}

/// The best plan across every open element of every project at once, so one person's limit and
/// their sessions hold across projects too. Otherwise as a project's plan: nothing is sent.
#[utoipa::path(tag = "matching", security(("bearer" = [])), responses(
    (status = 200, body = MatchPlan),
    (status = 403, description = "Coordinators only", body = Problem, content_type = "application/problem+json"),
))]
#[post("")]
pub async fn match_plan_all(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<web::Json<MatchPlan>, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let app = state.clone();
    let reader = user.id.clone();
    let plan = state
        .db
        .read(move |conn| {
            let rows = partnership::open_elements(conn)?;
            plan_for(conn, &app, &rows)
        })
        .await?;
    audit_proposed(&state, reader, &plan, "POST /api/v1/match-plan").await?;
    Ok(web::Json(plan))
}

/// The optimal plan for `rows`, all open elements.
fn plan_for(conn: &mut DbConn, app: &AppState, rows: &[ElementRow]) -> Result<MatchPlan, AppError> {
    let elements = rows
        .iter()
        .map(|row| load_element(conn, row))
        .collect::<Result<Vec<_>, _>>()?;
    let pool = load_candidates(conn, app, Utc::now().naive_utc(), Pool::Everyone)?;
    let weights = &app.settings.matching.weights;
    let mut pairs = Vec::new();
    for (e, element) in elements.iter().enumerate() {
        for (p, candidate) in pool.iter().enumerate() {
            if exclusion(candidate, element).is_none() {
                pairs.push(Pair {
                    person: p,
                    element: e,
                    score: score(candidate, element, weights).0,
                });
            }
        }
    }
    let seats: Vec<u32> = elements.iter().map(|e| e.seats_left).collect();
    let limits = Limits {
        per_person: app.settings.matching.per_person_limit,
        extra_seat_penalty: app.settings.matching.extra_seat_penalty,
    };
    let solution = solve_together(pool.len(), &seats, &pairs, limits, |p, chosen| {
        let chosen: Vec<_> = chosen.iter().map(|e| &elements[*e]).collect();
        cannot_also_do(&pool[p], &chosen)
    });
    let mut chosen: Vec<Vec<(f64, String)>> = vec![Vec::new(); elements.len()];
    for i in &solution.chosen {
        let pair = pairs[*i];
        chosen[pair.element].push((pair.score, pool[pair.person].id.clone()));
    }
    let mut proposals = Vec::new();
    let mut unfilled = Vec::new();
    for ((row, element), mut people) in rows.iter().zip(&elements).zip(chosen) {
        people.sort_by(|a, b| b.0.total_cmp(&a.0));
        let left = element
            .seats_left
            .saturating_sub(u32::try_from(people.len()).unwrap_or(u32::MAX));
        if left > 0 {
            unfilled.push(Unfilled {
                element_id: element.id.clone(),
                project_id: row.project_id.clone(),
                seats_left: left,
            });
        }
        proposals.push(Proposal {
            element_id: element.id.clone(),
            project_id: row.project_id.clone(),
            coproducer_ids: people.into_iter().map(|(_, id)| id).collect(),
        });
    }
    Ok(MatchPlan {
        proposals,
        total_score: solution.total_score,
        unfilled,
    })
}

/// Who is proposed, and on what total, follows from their lived experience. Recorded after the
/// solve, so the slow part does not hold SQLite's write lock.
async fn audit_proposed(
    state: &AppState,
    reader: String,
    plan: &MatchPlan,
    route: &'static str,
) -> Result<(), AppError> {
    let proposed: Vec<String> = plan
        .proposals
        .iter()
        .flat_map(|p| p.coproducer_ids.iter().cloned())
        .collect();
    state
        .db
        .write(move |conn| {
            proposed.chunks(500).try_for_each(|people| {
                audit::record_reads(conn, &reader, people, Field::LivedExperience, route)
            })?;
            Ok(())
        })
        .await
}
