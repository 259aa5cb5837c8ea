use std::collections::BTreeMap;

use actix_web::{get, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{load_candidates, load_element};
use crate::auth::AuthUser;
use crate::crypto::Field;
use crate::db::queries::matching::Pool;
use crate::db::queries::{audit, partnership};
use crate::domain::Invalid;
use crate::domain::role::Role;
use crate::error::{AppError, Problem};
use crate::matching::adjustments::Adjustment;
use crate::matching::rank::rank;
use crate::matching::score::Factor;
use crate::routes::extract::Query;
use crate::state::AppState;

const ROUTE: &str = "GET /api/v1/elements/{id}/candidates";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CandidateQuery {
    /// How many to return, 1 to 200 (default 20).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
    /// Lottery seed for ties; the same seed gives the same order.
    pub seed: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CandidateView {
    pub coproducer_id: String,
    pub display_name: String,
    pub score: f64,
    pub breakdown: Vec<Factor>,
    pub adjustments: Vec<Adjustment>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Candidates {
    pub items: Vec<CandidateView>,
    /// How many people were left out, by reason code.
    #[schema(value_type = Object)]
    pub excluded: BTreeMap<&'static str, usize>,
}

/// Who fits an element best, and why: each candidate's score factor by factor, and the access
/// adjustments the element would need for them. The matcher suggests; a coordinator decides.
#[utoipa::path(tag = "matching", security(("bearer" = [])), params(("id" = String, Path), CandidateQuery), responses(
    (status = 200, body = Candidates),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/candidates")]
pub async fn candidates(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    query: Query<CandidateQuery>,
) -> Result<web::Json<Candidates>, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=200).contains(&limit) {
        return Err(AppError::invalid_field(
            "limit",
            Invalid::new("out_of_range", "Choose a limit from 1 to 200."),
        ));
    }
    let app = state.clone();
    let result = state
        .db
        .write(move |conn| {
            let row = partnership::find_element(conn, &id)?.ok_or(AppError::NotFound)?;
            let element = load_element(conn, &row)?;
            let now = Utc::now().naive_utc();
            let pool = load_candidates(conn, &app, now, Pool::Everyone)?;
            let seed = query
                .seed
                .unwrap_or_else(|| crate::matching::rank::lottery(0, &element.id));
            let ranking = rank(
                &element,
                &pool,
                &app.settings.matching.weights,
                &app.catalogue,
                seed,
                limit,
            );
            // The reasons and adjustments shown reveal lived experience and access needs.
            let shown: Vec<String> = ranking
                .items
                .iter()
                .map(|ranked| ranked.candidate.id.clone())
                .collect();
            for field in [Field::LivedExperience, Field::AccessPassport] {
                audit::record_reads(conn, &user.id, &shown, field, ROUTE)?;
            }
            Ok(Candidates {
                items: ranking
                    .items
                    .into_iter()
                    .map(|r| CandidateView {
                        coproducer_id: r.candidate.id.clone(),
                        display_name: r.candidate.display_name.clone(),
                        score: r.score,
                        breakdown: r.breakdown,
                        adjustments: r.adjustments,
                    })
                    .collect(),
                excluded: ranking.excluded,
            })
        })
        .await?;
    Ok(web::Json(result))
}
