use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::session;
use crate::error::{AppError, FieldError};
use crate::routes::extract::{ValidJson, Validate};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    pub refresh_token: String,
}

impl Validate for LogoutRequest {
    type Valid = String;

    fn validate(self) -> Result<String, Vec<FieldError>> {
        Ok(self.refresh_token)
    }
}

/// Sign out: ends the session the refresh token belongs to. Always 204.
#[utoipa::path(tag = "auth", request_body = LogoutRequest, responses((status = 204)))]
#[post("/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    body: ValidJson<LogoutRequest>,
) -> Result<HttpResponse, AppError> {
    let refresh_token = body.0;
    state
        .db
        .write(move |conn| Ok(session::end(conn, &refresh_token)?))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
