use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{CHECK_YOUR_EMAIL, Message, client_ip, queue_sign_in_email};
use crate::db::queries::users;
use crate::domain::email_address::EmailAddress;
use crate::email::Email;
use crate::error::{AppError, FieldError, Problem};
use crate::routes::extract::{FieldErrors, ValidJson, Validate};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MagicLinkRequest {
    #[schema(format = "email", max_length = 254)]
    pub email: String,
}

impl Validate for MagicLinkRequest {
    type Valid = EmailAddress;

    fn validate(self) -> Result<EmailAddress, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        errors
            .check("email", EmailAddress::parse(&self.email))
            .ok_or_else(|| errors.into_vec())
    }
}

/// Ask for a sign-in link. Always 202, whether or not the address has an account.
#[utoipa::path(tag = "auth", request_body = MagicLinkRequest, responses(
    (status = 202, body = Message),
    (status = 422, body = Problem, content_type = "application/problem+json"),
    (status = 429, body = Problem, content_type = "application/problem+json"),
))]
#[post("/magic-link")]
pub async fn request_magic_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ValidJson<MagicLinkRequest>,
) -> Result<HttpResponse, AppError> {
    let email = body.0;
    state.sign_in_limits.check(
        client_ip(&req, &state.trusted_proxies),
        Some(email.as_str()),
    )?;
    let app = state.clone();
    state
        .db
        .write(
            move |conn| match users::find_by_email(conn, email.as_str())? {
                Some(user) if user.is_active() => {
                    let make = |name, link, minutes| Email::SignInLink {
                        name,
                        link,
                        minutes,
                    };
                    queue_sign_in_email(conn, &app.settings, &app.outbox, &user, make)
                }
                _ => Ok(()),
            },
        )
        .await?;
    state.outbox.wake();
    Ok(HttpResponse::Accepted().json(Message {
        message: CHECK_YOUR_EMAIL.into(),
    }))
}
