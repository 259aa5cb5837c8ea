//! The person's profile, recorded once and reused by every application and match.

use actix_web::{get, put, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::auth::AuthUser;
use crate::checked_in_handler;
use crate::crypto::Field;
use crate::db::queries::people::{self, ProfileWrite};
use crate::db::queries::users;
use crate::domain::email_format::EmailFormat;
use crate::domain::profile::{Availability, Contact, Payment, Profile, Skill};
use crate::error::{AppError, Problem};
use crate::routes::extract::{ValidJson, reject_problems};
use crate::state::AppState;

checked_in_handler!(Profile);

/// The non-sensitive part, stored as one JSON document.
#[derive(Serialize, Deserialize)]
pub struct Document {
    pub contact: Contact,
    pub availability: Availability,
    pub payment: Payment,
}

/// Your profile.
#[utoipa::path(tag = "me", security(("bearer" = [])), responses(
    (status = 200, body = Profile),
    (status = 404, description = "No profile yet", body = Problem, content_type = "application/problem+json"),
))]
#[get("/profile")]
pub async fn get_profile(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<web::Json<Profile>, AppError> {
    let app = state.clone();
    let profile = state
        .db
        .read(move |conn| load(conn, &app, &user.id)?.ok_or(AppError::NotFound))
        .await?;
    Ok(web::Json(profile))
}

/// Record or replace your profile. Lived experience is encrypted at rest. `contact.formats`
/// that come to include `easy_read` or `plain_text` also set how email is written to you (easy
/// read first), as `PUT /me/notification-preferences` does.
#[utoipa::path(tag = "me", security(("bearer" = [])), request_body = Profile, responses(
    (status = 200, body = Profile),
    (status = 422, description = "Each invalid field, named", body = Problem, content_type = "application/problem+json"),
))]
#[put("/profile")]
pub async fn put_profile(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ValidJson<Profile>,
) -> Result<web::Json<Profile>, AppError> {
    let profile = body.0;
    reject_problems(profile.problems(&state.catalogue))?;
    let document = serde_json::to_string(&Document {
        contact: profile.contact.clone(),
        availability: profile.availability.clone(),
        payment: profile.payment.clone(),
    })
    .map_err(|e| AppError::Internal(e.into()))?;
    let lived_experience = state
        .cipher
        .encrypt_json(&user.id, Field::LivedExperience, &profile.lived_experience)
        .map_err(|e| AppError::Internal(e.into()))?;
    let skills: Vec<(String, i32)> = profile
        .skills
        .iter()
        .map(|s| (s.code.clone(), i32::from(s.level)))
        .collect();
    let interests = profile.interests.clone();
    let formats = profile.contact.formats.clone();
    let (remote, in_person) = (profile.availability.remote, profile.availability.in_person);
    let hours = i32::try_from(profile.availability.hours_per_month).unwrap_or(i32::MAX);
    state
        .db
        .write(move |conn| {
            user.still_signed_in_to_change_account(conn)?;
            // Record once: contact formats that ask for another email format set it; a later
            // choice in the notification preferences stays until they ask for another again.
            let asked_before = stored_document(conn, &user.id)?
                .and_then(|d| EmailFormat::from_contact_formats(&d.contact.formats));
            let asked = EmailFormat::from_contact_formats(&formats);
            if let Some(format) = asked.filter(|_| asked != asked_before) {
                users::set_email_format(conn, &user.id, format.as_str())?;
            }
            Ok(people::save_profile(
                conn,
                &ProfileWrite {
                    user_id: &user.id,
                    document: &document,
                    lived_experience: &lived_experience,
                    remote,
                    in_person,
                    hours_per_month: hours,
                    skills: &skills,
                    interests: &interests,
                    now: Utc::now().naive_utc(),
                },
            )?)
        })
        .await?;
    Ok(web::Json(profile))
}

/// The stored document of `user_id`'s profile, if they have one.
fn stored_document(
    conn: &mut crate::db::DbConn,
    user_id: &str,
) -> Result<Option<Document>, AppError> {
    people::load_profile(conn, user_id)?
        .map(|stored| serde_json::from_str(&stored.document))
        .transpose()
        .map_err(|e| AppError::Internal(e.into()))
}

/// The owner's profile, decrypted (no audit: it is their own).
pub(crate) fn load(
    conn: &mut crate::db::DbConn,
    state: &AppState,
    user_id: &str,
) -> Result<Option<Profile>, AppError> {
    let Some(stored) = people::load_profile(conn, user_id)? else {
        return Ok(None);
    };
    let document: Document =
        serde_json::from_str(&stored.document).map_err(|e| AppError::Internal(e.into()))?;
    let lived_experience = state
        .cipher
        .decrypt_json(user_id, Field::LivedExperience, &stored.lived_experience)
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(Some(Profile {
        contact: document.contact,
        skills: stored.skills.into_iter().map(Skill::from_stored).collect(),
        interests: stored.interests,
        lived_experience,
        availability: document.availability,
        payment: document.payment,
    }))
}
