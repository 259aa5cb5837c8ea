use actix_web::{get, put, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::db::queries::{outbox, users};
use crate::domain::email_format::EmailFormat;
use crate::error::{AppError, FieldError, Problem};
use crate::routes::extract::{ValidJson, Validate};
use crate::state::AppState;

/// How you want email written, and whether to get routine updates as one digest.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationPreferences {
    pub format: EmailFormat,
    pub digest: bool,
}

impl Validate for NotificationPreferences {
    type Valid = Self;

    fn validate(self) -> Result<Self, Vec<FieldError>> {
        Ok(self)
    }
}

/// Your email preferences.
#[utoipa::path(tag = "me", security(("bearer" = [])), responses(
    (status = 200, body = NotificationPreferences),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
#[get("/notification-preferences")]
pub async fn get_preferences(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<web::Json<NotificationPreferences>, AppError> {
    let row = state
        .db
        .read(move |conn| users::find_by_id(conn, &user.id)?.ok_or(AppError::NotFound))
        .await?;
    Ok(web::Json(NotificationPreferences {
        format: EmailFormat::from_stored(&row.email_format),
        digest: row.email_digest,
    }))
}

/// Change your email preferences; every email from now on uses them. Turning the digest off
/// sends what was held for it straight away.
#[utoipa::path(tag = "me", security(("bearer" = [])), request_body = NotificationPreferences, responses(
    (status = 200, body = NotificationPreferences),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[put("/notification-preferences")]
pub async fn put_preferences(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ValidJson<NotificationPreferences>,
) -> Result<web::Json<NotificationPreferences>, AppError> {
    let preferences = body.0;
    let (format, digest) = (preferences.format, preferences.digest);
    let released = state
        .db
        .write(move |conn| {
            user.still_signed_in_to_change_account(conn)?;
            users::set_notification_preferences(conn, &user.id, format.as_str(), digest)?;
            if digest {
                return Ok(0);
            }
            Ok(outbox::release_held(
                conn,
                &user.id,
                Utc::now().naive_utc(),
            )?)
        })
        .await?;
    if released > 0 {
        state.outbox.wake();
    }
    Ok(web::Json(preferences))
}
