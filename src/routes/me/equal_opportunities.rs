//! Equal-opportunities answers: every question optional, stored apart and encrypted, and
//! never shown to anyone but the person (reports use aggregates only).

use actix_web::{get, put, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::checked_in_handler;
use crate::crypto::Field;
use crate::db::queries::people;
use crate::domain::profile::{EqualOpportunities, equal_opportunities_problems};
use crate::error::{AppError, Problem};
use crate::routes::extract::{ValidJson, reject_problems};
use crate::state::AppState;

/// Question code → answer code, from the `eo` catalogue; leave out what you do not want to answer.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(example = json!({"age_band": "25_34", "disability": "prefer_not_to_say"}))]
pub struct EqualOpportunitiesAnswers(pub EqualOpportunities);

checked_in_handler!(EqualOpportunitiesAnswers);

/// Your equal-opportunities answers (empty when you have given none).
#[utoipa::path(tag = "me", security(("bearer" = [])), responses((status = 200, body = EqualOpportunitiesAnswers)))]
#[get("/equal-opportunities")]
pub async fn get_equal_opportunities(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<web::Json<EqualOpportunitiesAnswers>, AppError> {
    let owner = user.id.clone();
    let stored = state
        .db
        .read(move |conn| Ok(people::equal_opportunities_of(conn, &user.id)?))
        .await?;
    let answers = match stored {
        Some(ciphertext) => state
            .cipher
            .decrypt_json(&owner, Field::EqualOpportunities, &ciphertext)
            .map_err(|e| AppError::Internal(e.into()))?,
        None => EqualOpportunities::new(),
    };
    Ok(web::Json(EqualOpportunitiesAnswers(answers)))
}

/// Give or change your answers. Answers you leave out are removed.
#[utoipa::path(tag = "me", security(("bearer" = [])), request_body = EqualOpportunitiesAnswers, responses(
    (status = 200, body = EqualOpportunitiesAnswers),
    (status = 422, description = "Unknown questions or answers, named", body = Problem, content_type = "application/problem+json"),
))]
#[put("/equal-opportunities")]
pub async fn put_equal_opportunities(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ValidJson<EqualOpportunitiesAnswers>,
) -> Result<web::Json<EqualOpportunitiesAnswers>, AppError> {
    let answers = body.0;
    reject_problems(equal_opportunities_problems(&answers.0, &state.catalogue))?;
    let ciphertext = state
        .cipher
        .encrypt_json(&user.id, Field::EqualOpportunities, &answers.0)
        .map_err(|e| AppError::Internal(e.into()))?;
    state
        .db
        .write(move |conn| {
            user.still_signed_in(conn)?;
            Ok(people::save_equal_opportunities(
                conn,
                &user.id,
                &ciphertext,
                Utc::now().naive_utc(),
            )?)
        })
        .await?;
    Ok(web::Json(answers))
}
