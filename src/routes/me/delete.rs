//! `DELETE /me`: erase your account, in one transaction. What is deleted and what is kept (for
//! counts, with nothing that names you) is decided per table in `db::queries::privacy` and
//! written down in docs/SECURITY.md, "Data rights and retention".

use actix_web::{HttpResponse, delete, web};
use chrono::Utc;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::db::queries::{outbox as outbox_queries, privacy, users};
use crate::domain::Invalid;
use crate::domain::email_format::EmailFormat;
use crate::email::{Email, Recipient};
use crate::error::{AppError, FieldError, Problem};
use crate::routes::extract::{FieldErrors, OptionalJson, Validate};
use crate::routes::matching::assignments::refill_freed_seat;
use crate::state::AppState;

/// The words that confirm an erasure when a body is sent (a form that asks for them, say).
pub const CONFIRMATION: &str = "delete my account";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccount {
    /// Exactly `delete my account`.
    #[schema(example = "delete my account")]
    pub confirm: Option<String>,
}

impl Validate for DeleteAccount {
    type Valid = ();

    fn validate(self) -> Result<(), Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        let confirmed = self
            .confirm
            .is_some_and(|words| words.trim().eq_ignore_ascii_case(CONFIRMATION));
        if !confirmed {
            errors.add(
                "confirm",
                Invalid::new(
                    "confirmation_needed",
                    format!(
                        "Deleting your account cannot be undone. To go ahead, send \"confirm\": \"{CONFIRMATION}\"."
                    ),
                ),
            );
        }
        errors.finish(())
    }
}

/// Delete your account and everything that names you. Applications you sent stay as
/// anonymous counts; a last email confirms it. An organisation whose contact address was yours
/// takes another contact's address, or is marked `contact_needed`. Cannot be undone. The body
/// may be left out (API.md); one that is sent must confirm with the words.
#[utoipa::path(tag = "me", security(("bearer" = [])), request_body = Option<DeleteAccount>, responses(
    (status = 204, description = "Deleted; your access token no longer works"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "You are the last active administrator", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "A body was sent without the confirming words", body = Problem, content_type = "application/problem+json"),
))]
#[delete("")]
pub async fn delete_me(
    state: web::Data<AppState>,
    user: AuthUser,
    _confirmed: OptionalJson<DeleteAccount>,
) -> Result<HttpResponse, AppError> {
    let app = state.clone();
    let _turn = state.erasure_turn.lock().await;
    let freed = state
        .db
        .write(move |conn| {
            // Erasures take turns, then the account is taken, and only then read: two at once
            // (two contacts of one organisation, or the same person twice) each see the other's
            // result, and a write to the person's data under way finishes first.
            outbox_queries::one_erasure_at_a_time(conn)?;
            users::for_erasure(conn, &user.id)?;
            let person = users::find_by_id(conn, &user.id)?
                .filter(|u| u.is_active())
                .ok_or(AppError::NotFound)?;
            if users::roles_of(conn, &person.id)?.contains(&crate::domain::role::Role::Admin)
                && privacy::other_active_admins(conn, &person.id)? == 0
            {
                return Err(AppError::conflict(
                    "last_admin",
                    "You are the only active administrator, so your account cannot be deleted yet. \
                     Make someone else an administrator first, then try again.",
                ));
            }
            let now = Utc::now().naive_utc();
            let erasure =
                privacy::erase_person(conn, &person.id, &person.email, &person.full_name, now)?;
            app.outbox.forget(conn, &person)?;
            for element_id in &erasure.freed_elements {
                refill_freed_seat(conn, &app, element_id, now)?;
            }
            // Coordinators check a replaced contact address, or ask for a new one.
            for change in &erasure.contact_changes {
                for coordinator in users::staff(conn)? {
                    app.outbox.enqueue(
                        conn,
                        &Recipient::user(&coordinator),
                        &Email::OrganisationContactChanged {
                            name: coordinator.display_name().to_string(),
                            organisation: change.organisation.clone(),
                            new_contact: change.new_contact.clone().unwrap_or_default(),
                            link: app
                                .settings
                                .server
                                .link(&format!("/organisations/{}", change.organisation_id)),
                        },
                    )?;
                }
            }
            // Queued after the scrub, which would otherwise remove it; its address is cleared
            // when it is sent (see outbox::mark_sent), or the row deleted if it cannot be.
            let farewell = Recipient {
                user_id: None,
                address: &person.email,
                format: EmailFormat::from_stored(&person.email_format),
                digest: false,
            };
            app.outbox.enqueue(
                conn,
                &farewell,
                &Email::AccountDeleted {
                    name: person.display_name().to_string(),
                    link: app.settings.server.link("/"),
                },
            )?;
            Ok(erasure.freed_elements.len())
        })
        .await?;
    state.outbox.wake();
    tracing::info!(freed_seats = freed, "account erased");
    Ok(HttpResponse::NoContent().finish())
}
