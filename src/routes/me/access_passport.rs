//! The access passport: access needs recorded once, encrypted at rest.

use actix_web::{get, put, web};
use chrono::Utc;

use crate::auth::AuthUser;
use crate::checked_in_handler;
use crate::crypto::Field;
use crate::db::queries::people;
use crate::domain::profile::AccessPassport;
use crate::domain::uk_time;
use crate::error::{AppError, Problem};
use crate::routes::extract::{ValidJson, reject_problems};
use crate::routes::matching::adjustments::forget_needs_no_longer_held;
use crate::state::AppState;

checked_in_handler!(AccessPassport);

/// Your access passport.
#[utoipa::path(tag = "me", security(("bearer" = [])), responses(
    (status = 200, body = AccessPassport),
    (status = 404, description = "No access passport yet", body = Problem, content_type = "application/problem+json"),
))]
#[get("/access-passport")]
pub async fn get_access_passport(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<web::Json<AccessPassport>, AppError> {
    let stored = state
        .db
        .read(move |conn| {
            people::access_passport_of(conn, &user.id)?
                .ok_or(AppError::NotFound)
                .map(|c| (user.id, c))
        })
        .await?;
    let (owner, ciphertext) = stored;
    let passport = state
        .cipher
        .decrypt_json(&owner, Field::AccessPassport, &ciphertext)
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(web::Json(passport))
}

/// Record or replace your access needs; every match you get uses them to plan adjustments. What
/// was arranged for a need you no longer list is forgotten.
#[utoipa::path(tag = "me", security(("bearer" = [])), request_body = AccessPassport, responses(
    (status = 200, body = AccessPassport),
    (status = 422, description = "Each invalid field, named", body = Problem, content_type = "application/problem+json"),
))]
#[put("/access-passport")]
pub async fn put_access_passport(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ValidJson<AccessPassport>,
) -> Result<web::Json<AccessPassport>, AppError> {
    let passport = body.0;
    reject_problems(passport.problems(&state.catalogue))?;
    let ciphertext = state
        .cipher
        .encrypt_json(&user.id, Field::AccessPassport, &passport)
        .map_err(|e| AppError::Internal(e.into()))?;
    let share = passport.share_with_project_teams;
    let review_by = passport.review_by;
    let needs: Vec<String> = passport.needs.iter().map(|n| n.code.clone()).collect();
    let app = state.clone();
    state
        .db
        .write(move |conn| {
            user.still_signed_in(conn)?;
            let now = Utc::now().naive_utc();
            let reminded_at = match people::passport_review(conn, &user.id)? {
                // The same date: its reminder, sent or not, stands.
                Some((before, reminded_at)) if before == review_by => reminded_at,
                // A new date already come counts as checked now; a later one is reminded then.
                _ => review_by
                    .filter(|date| *date <= uk_time::in_uk(now).date())
                    .map(|_| now),
            };
            people::save_access_passport(
                conn,
                &user.id,
                &ciphertext,
                share,
                (review_by, reminded_at),
                now,
            )?;
            forget_needs_no_longer_held(conn, &app, &user.id, &needs)
        })
        .await?;
    Ok(web::Json(passport))
}
