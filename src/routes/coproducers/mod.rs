//! The co-producer pool, for coordinators.

pub mod place;

use std::collections::BTreeMap;

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthUser;
use crate::crypto::Field;
use crate::db::queries::audit;
use crate::db::queries::pool::{self, PoolFilter, PoolRow};
use crate::domain::Invalid;
use crate::domain::catalogue::List;
use crate::domain::partnership::CoproducerStatus;
use crate::domain::profile::Skill;
use crate::domain::role::Role;
use crate::error::{AppError, Problem};
use crate::routes::extract::{Query, reject_problems};
use crate::routes::pagination::{Page, PageQuery};
use crate::state::AppState;

const POOL_ROUTE: &str = "GET /api/v1/coproducers";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PoolQuery {
    /// A `skills` code.
    pub skill: Option<String>,
    /// An `interests` code.
    pub interest: Option<String>,
    /// A `lived_experience` code (each person shown is recorded in the audit log).
    pub lived_experience: Option<String>,
    /// `remote`, `in_person` or `hybrid` (either).
    #[param(pattern = "^(remote|in_person|hybrid)$")]
    pub mode: Option<String>,
    /// `active`, `paused` or `archived`.
    #[param(pattern = "^(active|paused|archived)$")]
    pub status: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PoolEntry {
    pub user_id: String,
    pub display_name: String,
    pub status: CoproducerStatus,
    pub paused_until: Option<DateTime<Utc>>,
    pub archived_reason: Option<String>,
    pub skills: Vec<Skill>,
    pub interests: Vec<String>,
    pub remote: Option<bool>,
    pub in_person: Option<bool>,
    pub hours_per_month: Option<i32>,
    /// Organisations the person has declared a conflict of interest with.
    pub conflicts_with: Vec<String>,
}

/// The co-producer pool, filtered and paged.
#[utoipa::path(tag = "coproducers", security(("bearer" = [])), params(PoolQuery, PageQuery), responses(
    (status = 200, body = Page<PoolEntry>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "An unknown code, named", body = Problem, content_type = "application/problem+json"),
))]
#[get("")]
pub async fn list_pool(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<PoolQuery>,
    page: Query<PageQuery>,
) -> Result<web::Json<Page<PoolEntry>>, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let query = query.into_inner();
    let mut problems = Vec::new();
    for (field, list, value) in [
        ("skill", List::Skills, &query.skill),
        ("interest", List::Interests, &query.interest),
        (
            "lived_experience",
            List::LivedExperience,
            &query.lived_experience,
        ),
    ] {
        if let Some(code) = value
            && let Err(invalid) = state.catalogue.check_code(list, code)
        {
            problems.push((field.to_string(), invalid));
        }
    }
    if query
        .mode
        .as_deref()
        .is_some_and(|m| !["remote", "in_person", "hybrid"].contains(&m))
    {
        problems.push((
            "mode".into(),
            Invalid::new(
                "invalid_choice",
                "Choose one of: remote, in_person, hybrid.",
            ),
        ));
    }
    if query
        .status
        .as_deref()
        .is_some_and(|s| !["active", "paused", "archived"].contains(&s))
    {
        problems.push((
            "status".into(),
            Invalid::new("invalid_choice", "Choose one of: active, paused, archived."),
        ));
    }
    reject_problems(problems)?;
    let limit = page.limit()?;
    let after = page.into_inner().cursor;
    let app = state.clone();
    let page = state
        .db
        .write(move |conn| {
            let now = Utc::now().naive_utc();
            let by_lived_experience = query.lived_experience.clone();
            let filter = PoolFilter {
                skill: query.skill,
                interest: query.interest,
                mode: query.mode,
                status: query.status,
                after,
                // Lived experience is encrypted, so that filter runs here, over every match.
                limit: by_lived_experience.is_none().then_some(limit + 1),
            };
            let mut rows: Vec<PoolRow> = pool::pool(conn, &filter, now)?;
            if let Some(wanted) = &by_lived_experience {
                let mut kept = Vec::new();
                for row in rows {
                    let Some(ciphertext) = &row.lived_experience else {
                        continue;
                    };
                    let codes: Vec<String> = app
                        .cipher
                        .decrypt_json(&row.user_id, Field::LivedExperience, ciphertext)
                        .map_err(|e| AppError::Internal(e.into()))?;
                    if codes.contains(wanted) {
                        kept.push(row);
                    }
                    if kept.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
                        break;
                    }
                }
                rows = kept;
            }
            let page = Page::from_rows(rows, limit, |row| row.user_id.clone());
            let ids: Vec<String> = page.items.iter().map(|r| r.user_id.clone()).collect();
            if by_lived_experience.is_some() {
                // Being listed under a lived-experience filter reveals it: audit each person shown.
                audit::record_reads(conn, &user.id, &ids, Field::LivedExperience, POOL_ROUTE)?;
            }
            let mut skills: BTreeMap<String, Vec<Skill>> = BTreeMap::new();
            for (user_id, code, level) in pool::skills_of(conn, &ids)? {
                skills
                    .entry(user_id)
                    .or_default()
                    .push(Skill::from_stored((code, level)));
            }
            let mut interests: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (user_id, code) in pool::interests_of(conn, &ids)? {
                interests.entry(user_id).or_default().push(code);
            }
            let mut conflicts: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (user_id, organisation) in pool::conflicts_of(conn, &ids)? {
                conflicts.entry(user_id).or_default().push(organisation);
            }
            let items = page
                .items
                .into_iter()
                .map(|row| PoolEntry {
                    status: CoproducerStatus::effective(&row.status, row.paused_until, now),
                    display_name: row.preferred_name.unwrap_or(row.full_name),
                    paused_until: row.paused_until.map(|at| at.and_utc()),
                    archived_reason: row.archived_reason,
                    skills: skills.remove(&row.user_id).unwrap_or_default(),
                    interests: interests.remove(&row.user_id).unwrap_or_default(),
                    conflicts_with: conflicts.remove(&row.user_id).unwrap_or_default(),
                    remote: row.remote,
                    in_person: row.in_person,
                    hours_per_month: row.hours_per_month,
                    user_id: row.user_id,
                })
                .collect();
            Ok(Page {
                items,
                next_cursor: page.next_cursor,
            })
        })
        .await?;
    Ok(web::Json(page))
}
