//! `GET /reports/equal-opportunities`: how the pool, the applicants or the people placed answered
//! the equal-opportunities questions, counted, with small counts hidden (`domain::eo_report`).

use std::collections::HashSet;

use actix_web::{get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthUser;
use crate::crypto::Field;
use crate::db::queries::{audit, recruitment, reports};
use crate::domain::Invalid;
use crate::domain::eo_report::{EoCounts, count};
use crate::domain::profile::EqualOpportunities;
use crate::domain::role::Role;
use crate::error::{AppError, Problem};
use crate::routes::extract::Query;
use crate::state::AppState;

const ROUTE: &str = "GET /api/v1/reports/equal-opportunities";
/// Audit rows written per statement: each binds 7 values, and SQLite binds at most 32,766 in one.
const AUDIT_BATCH: usize = 4_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Population {
    /// Co-producers in the pool now (active or paused).
    Pool,
    /// People who sent an application (in `round_id`, or in any round).
    Applicants,
    /// People ever booked on an element.
    Placed,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// Whom to count: `pool` (the default), `applicants` or `placed`.
    pub population: Option<Population>,
    /// Only with `population=applicants`: the applicants of one round.
    pub round_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EoReport {
    pub population: Population,
    pub round_id: Option<String>,
    #[serde(flatten)]
    pub counts: EoCounts,
    /// How to read the counts.
    pub note: &'static str,
}

const NOTE: &str = "Counts under 5 show as \"<5\". The others, the total too, are rounded to the \
                    nearest 5, so they cannot be subtracted to give a small count exactly. A count \
                    that leaves fewer than 5 people out shows as \"hidden\", as it would tell how \
                    nearly everyone answered, and where a question has only one count not shown, \
                    its smallest other count is hidden too. So nobody can be picked out.";

/// Equal-opportunities answers in aggregate (coordinators). Each person counted is recorded in
/// the audit log as having had their answers read, and sees it in their export.
#[utoipa::path(tag = "reports", security(("bearer" = [])), params(ReportQuery), responses(
    (status = 200, body = EoReport),
    (status = 403, description = "Coordinators only", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "`population` unknown, or `round_id` unknown or given without `population=applicants`", body = Problem, content_type = "application/problem+json"),
))]
#[get("/equal-opportunities")]
pub async fn equal_opportunities_report(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ReportQuery>,
) -> Result<web::Json<EoReport>, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let ReportQuery {
        population,
        round_id,
    } = query.into_inner();
    let population = population.unwrap_or(Population::Pool);
    if round_id.is_some() && population != Population::Applicants {
        return Err(AppError::invalid_field(
            "round_id",
            Invalid::new(
                "not_applicants",
                "A round can only be given with population=applicants.",
            ),
        ));
    }
    let app = state.clone();
    let round = round_id.clone();
    let counts = state
        .db
        .write(move |conn| {
            if let Some(round_id) = &round
                && recruitment::find_round(conn, round_id)?.is_none()
            {
                return Err(AppError::invalid_field(
                    "round_id",
                    Invalid::new("unknown_round", "There is no round with this id."),
                ));
            }
            let members: HashSet<String> = match population {
                Population::Pool => reports::pool(conn)?,
                Population::Applicants => reports::applicants(conn, round.as_deref())?,
                Population::Placed => reports::placed(conn)?,
            }
            .into_iter()
            .collect();
            let mut read = Vec::new();
            let mut answers: Vec<EqualOpportunities> = Vec::with_capacity(members.len());
            for (person, sealed) in reports::equal_opportunities(conn)? {
                if !members.contains(&person) {
                    continue;
                }
                let given: EqualOpportunities = app
                    .cipher
                    .decrypt_json(&person, Field::EqualOpportunities, &sealed)
                    .map_err(|e| AppError::Internal(e.into()))?;
                answers.push(given);
                read.push(person);
            }
            answers.resize_with(members.len(), EqualOpportunities::new);
            for batch in read.chunks(AUDIT_BATCH) {
                audit::record_reads(conn, &user.id, batch, Field::EqualOpportunities, ROUTE)?;
            }
            Ok(count(&app.catalogue.eo, &answers))
        })
        .await?;
    Ok(web::Json(EoReport {
        population,
        round_id,
        counts,
        note: NOTE,
    }))
}
