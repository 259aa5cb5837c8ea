use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{CHECK_YOUR_EMAIL, Message, client_ip, queue_sign_in_email};
use crate::auth::password;
use crate::db::models::user::UserRow;
use crate::db::queries::users;
use crate::domain::email_address::EmailAddress;
use crate::domain::password::NewPassword;
use crate::domain::person_name::PersonName;
use crate::domain::role::Role;
use crate::email::Email;
use crate::error::{AppError, FieldError, Problem};
use crate::routes::extract::{FieldErrors, ValidJson, Validate};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    #[schema(min_length = 1, max_length = 200)]
    pub full_name: String,
    #[schema(max_length = 200)]
    pub preferred_name: Option<String>,
    /// Optional: you can always sign in with an emailed link instead. At least 12 characters.
    #[schema(min_length = 12, max_length = 128)]
    pub password: Option<String>,
}

pub struct Registration {
    email: EmailAddress,
    full_name: PersonName,
    preferred_name: Option<PersonName>,
    password: Option<NewPassword>,
}

impl Validate for RegisterRequest {
    type Valid = Registration;

    fn validate(self) -> Result<Registration, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        let email = errors.check("email", EmailAddress::parse(&self.email));
        let full_name = errors.check("full_name", PersonName::parse(&self.full_name));
        let preferred_name = self
            .preferred_name
            .map(|n| errors.check("preferred_name", PersonName::parse(&n)));
        let password = self
            .password
            .map(|p| errors.check("password", NewPassword::parse(&p)));
        match (email, full_name, preferred_name, password) {
            (Some(email), Some(full_name), preferred_name, password) if errors.is_empty() => {
                Ok(Registration {
                    email,
                    full_name,
                    preferred_name: preferred_name.flatten(),
                    password: password.flatten(),
                })
            }
            _ => Err(errors.into_vec()),
        }
    }
}

/// Create an account and get a sign-in link by email. Answers the same whether or not the
/// address already has an account; its owner gets a "you already have an account" email.
#[utoipa::path(tag = "auth", request_body = RegisterRequest, responses(
    (status = 202, body = Message),
    (status = 422, body = Problem, content_type = "application/problem+json"),
    (status = 429, body = Problem, content_type = "application/problem+json"),
))]
#[post("/register")]
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ValidJson<RegisterRequest>,
) -> Result<HttpResponse, AppError> {
    let registration = body.0;
    state.sign_in_limits.check(
        client_ip(&req, &state.trusted_proxies),
        Some(registration.email.as_str()),
    )?;
    // Hash before looking the address up, so both answers take the same time.
    let password_hash = match registration.password {
        Some(password) => {
            Some(tokio::task::spawn_blocking(move || password::hash(&password)).await??)
        }
        None => None,
    };
    let app = state.clone();
    state
        .db
        .write(move |conn| {
            let settings = &app.settings;
            let mut user = UserRow::new_active(
                registration.email.as_str(),
                registration.full_name.as_str(),
                registration.preferred_name.as_ref().map(PersonName::as_str),
            );
            user.password_hash = password_hash;
            // Insert-if-absent: a concurrent registration of the same address lands here too,
            // and is answered like any existing account (never with a revealing 409).
            if !users::insert_if_email_free(conn, &user)? {
                let existing = users::find_by_email(conn, registration.email.as_str())?
                    .ok_or(AppError::DatabaseBusy)?;
                let make = |name, link, minutes| Email::AlreadyRegistered {
                    name,
                    link,
                    minutes,
                };
                return queue_sign_in_email(conn, settings, &app.outbox, &existing, make);
            }
            users::grant_role(conn, &user.id, Role::Applicant)?;
            let make = |name, link, minutes| Email::SignInLink {
                name,
                link,
                minutes,
            };
            queue_sign_in_email(conn, settings, &app.outbox, &user, make)
        })
        .await?;
    state.outbox.wake();
    Ok(HttpResponse::Accepted().json(Message {
        message: CHECK_YOUR_EMAIL.into(),
    }))
}
