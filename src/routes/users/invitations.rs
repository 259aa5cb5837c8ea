//! Staff and partner invitations: admins invite coordinators, reviewers and admins; coordinators
//! invite partner contacts of an organisation. The emailed link grants the role.

use actix_web::{HttpResponse, post, web};
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::auth::secret_token;
use crate::auth::session;
use crate::checked_in_handler;
use crate::db::models::auth::StaffInvitationRow;
use crate::db::models::user::UserRow;
use crate::db::queries::{auth as queries, organisations, users};
use crate::domain::Invalid;
use crate::domain::email_address::EmailAddress;
use crate::domain::email_format::EmailFormat;
use crate::domain::person_name::PersonName;
use crate::domain::role::Role;
use crate::email::{Email, Mention, Recipient};
use crate::error::{AppError, FieldError, Problem};
use crate::routes::auth::{TokenResponse, token_response};
use crate::routes::extract::{FieldErrors, ValidJson, Validate, with_problems_of};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationRequest {
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    /// `coordinator`, `reviewer` or `admin` (admins invite these) or `partner` (coordinators).
    #[schema(pattern = "^(coordinator|reviewer|admin|partner)$")]
    pub role: String,
    /// Required for `partner`, not allowed otherwise.
    #[schema(format = "uuid")]
    pub organisation_id: Option<String>,
}

pub struct ValidInvitation {
    email: EmailAddress,
    role: Role,
    organisation_id: Option<String>,
}

checked_in_handler!(InvitationRequest);

/// The roles someone can be invited to.
fn invitable(role: &str) -> Option<Role> {
    match role.parse::<Role>() {
        Ok(role @ (Role::Coordinator | Role::Reviewer | Role::Admin | Role::Partner)) => Some(role),
        _ => None,
    }
}

impl InvitationRequest {
    /// Every problem with the fields themselves (whether the organisation exists is the
    /// handler's to check).
    fn check(self) -> Result<ValidInvitation, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        let email = errors.check("email", EmailAddress::parse(&self.email));
        let role = match invitable(&self.role) {
            Some(role) => Some(role),
            None => {
                errors.add(
                    "role",
                    Invalid::new(
                        "invalid_choice",
                        "Choose one of: coordinator, reviewer, admin, partner.",
                    ),
                );
                None
            }
        };
        match (role, &self.organisation_id) {
            (Some(Role::Partner), None) => errors.add(
                "organisation_id",
                Invalid::new(
                    "required",
                    "Say which organisation the partner contact belongs to.",
                ),
            ),
            (Some(role), Some(_)) if role != Role::Partner => errors.add(
                "organisation_id",
                Invalid::new(
                    "not_allowed",
                    "Only partner invitations name an organisation.",
                ),
            ),
            _ => {}
        }
        match (email, role) {
            (Some(email), Some(role)) if errors.is_empty() => Ok(ValidInvitation {
                email,
                role,
                organisation_id: self.organisation_id,
            }),
            _ => Err(errors.into_vec()),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Invitation {
    pub id: String,
    pub email: String,
    pub role: String,
    pub organisation_id: Option<String>,
    pub expires_at: chrono::DateTime<Utc>,
}

/// Invite someone to a staff or partner role; they are emailed a link that grants it.
#[utoipa::path(tag = "users", security(("bearer" = [])), request_body = InvitationRequest, responses(
    (status = 201, body = Invitation),
    (status = 403, description = "Your role cannot invite to that role", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/invitations")]
pub async fn create_invitation(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ValidJson<InvitationRequest>,
) -> Result<HttpResponse, AppError> {
    let request = body.0;
    let may_invite = match invitable(&request.role) {
        Some(Role::Partner) => user.has_role(Role::Coordinator),
        Some(_) => user.has_role(Role::Admin),
        None => true, // an unknown role is a problem with the body, reported with the others
    };
    if !may_invite {
        return Err(AppError::Forbidden);
    }
    let partners_organisation = match invitable(&request.role) {
        Some(Role::Partner) => request.organisation_id.clone(),
        _ => None,
    };
    let checked = match (request.check(), &partners_organisation) {
        // Nothing to look up: bad fields are answered without a transaction.
        (Err(errors), None) => return Err(AppError::Validation(errors)),
        (checked, _) => checked.map_err(AppError::Validation),
    };
    let app = state.clone();
    let created = state
        .db
        .write(move |conn| {
            let organisation = match &partners_organisation {
                Some(id) => organisations::name_of(conn, id)?.map(Some).ok_or_else(|| {
                    AppError::invalid_field(
                        "organisation_id",
                        Invalid::new("not_found", "There is no organisation with that id."),
                    )
                }),
                None => Ok(None),
            };
            let (invitation, organisation) = with_problems_of(checked, organisation)?;
            let inviter = users::find_by_id(conn, &user.id)?.ok_or(AppError::Unauthorized)?;
            let invitee = users::find_by_email(conn, invitation.email.as_str())?;
            let now = Utc::now().naive_utc();
            let days = app.settings.auth.invitation_ttl_days;
            let secret = secret_token::generate();
            let row = StaffInvitationRow {
                id: uuid::Uuid::now_v7().to_string(),
                email: invitation.email.as_str().to_string(),
                role: invitation.role.as_str().to_string(),
                organisation_id: invitation.organisation_id.clone(),
                invited_by: inviter.id.clone(),
                token_hash: secret.hash,
                expires_at: now + Duration::days(i64::try_from(days).unwrap_or(7).min(365)),
                accepted_at: None,
                accepted_by: None,
                created_at: now,
            };
            queries::insert_invitation(conn, &row)?;
            let link = app
                .settings
                .server
                .link(&format!("/accept-invitation?token={}", secret.plain));
            let email = Email::StaffInvitation {
                inviter: Mention::of(&inviter),
                role_label: role_label(invitation.role).into(),
                organisation,
                link,
                days,
            };
            let to = Recipient {
                user_id: invitee.as_ref().map(|u| u.id.as_str()),
                address: invitation.email.as_str(),
                format: invitee.as_ref().map_or(EmailFormat::Standard, |u| {
                    EmailFormat::from_stored(&u.email_format)
                }),
                digest: false,
            };
            app.outbox.enqueue(conn, &to, &email)?;
            Ok(Invitation {
                id: row.id,
                email: row.email,
                role: row.role,
                organisation_id: row.organisation_id,
                expires_at: row.expires_at.and_utc(),
            })
        })
        .await?;
    state.outbox.wake();
    Ok(HttpResponse::Created().json(created))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    /// The token from the emailed link.
    pub token: String,
    /// Needed when the address has no account yet.
    #[schema(min_length = 1, max_length = 200)]
    pub full_name: Option<String>,
    #[schema(max_length = 200)]
    pub preferred_name: Option<String>,
}

pub struct Acceptance {
    token: String,
    full_name: Option<PersonName>,
    preferred_name: Option<PersonName>,
}

impl Validate for AcceptInvitationRequest {
    type Valid = Acceptance;

    fn validate(self) -> Result<Acceptance, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        let full_name = self
            .full_name
            .map(|n| errors.check("full_name", PersonName::parse(&n)));
        let preferred_name = self
            .preferred_name
            .map(|n| errors.check("preferred_name", PersonName::parse(&n)));
        if !errors.is_empty() {
            return Err(errors.into_vec());
        }
        Ok(Acceptance {
            token: self.token,
            full_name: full_name.flatten(),
            preferred_name: preferred_name.flatten(),
        })
    }
}

/// Accept an invitation: grants its role (creating the account if needed) and signs you in.
/// Your other sessions end, because your roles changed.
#[utoipa::path(tag = "users", request_body = AcceptInvitationRequest, responses(
    (status = 200, body = TokenResponse),
    (status = 401, description = "invalid_grant: unknown, used or expired invitation", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/invitations/accept")]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    body: ValidJson<AcceptInvitationRequest>,
) -> Result<web::Json<TokenResponse>, AppError> {
    let acceptance = body.0;
    let app = state.clone();
    let response = state
        .db
        .write(move |conn| {
            let now = Utc::now().naive_utc();
            let token_hash = secret_token::hash(&acceptance.token);
            // An account already at the address is held before the invitation is spent, in the
            // erasure's order (the account, then its invitations): one being erased is finished
            // first (its invitations go with it), or waits for this.
            if let Some(email) = queries::open_invitation_email(conn, &token_hash, now)?
                && let Some(existing) = users::find_by_email(conn, &email)?
            {
                users::hold_if_active(conn, &existing.id)?;
            }
            let invitation =
                queries::accept_invitation(conn, &token_hash, now)?.ok_or_else(|| {
                    AppError::InvalidGrant("invitation unknown, used or expired".into())
                })?;
            let user = match users::find_by_email(conn, &invitation.email)? {
                Some(existing) if !existing.is_active() => {
                    return Err(AppError::InvalidGrant("account not active".into()));
                }
                Some(existing) => {
                    queries::revoke_sessions_of_user(conn, &existing.id, "roles changed", now)?;
                    existing
                }
                None => {
                    let full_name = acceptance.full_name.ok_or_else(|| {
                        AppError::invalid_field(
                            "full_name",
                            Invalid::new("required", "Enter your name to create your account."),
                        )
                    })?;
                    let user = UserRow::new_active(
                        &invitation.email,
                        full_name.as_str(),
                        acceptance.preferred_name.as_ref().map(PersonName::as_str),
                    );
                    users::insert(conn, &user)?;
                    user
                }
            };
            let role: Role = invitation.role.parse().map_err(|e: String| {
                AppError::Internal(anyhow::anyhow!("stored invitation role: {e}"))
            })?;
            users::grant_role(conn, &user.id, role)?;
            if let Some(organisation_id) = &invitation.organisation_id {
                organisations::add_member(conn, organisation_id, &user.id, now)?;
            }
            users::mark_email_verified(conn, &user.id, now)?;
            queries::set_invitation_accepted_by(conn, &invitation.id, &user.id)?;
            let signed_in =
                session::start(conn, &user.id, app.settings.auth.refresh_token_ttl_days)?;
            token_response(conn, &app.jwt, signed_in)
        })
        .await?;
    Ok(web::Json(response))
}

fn role_label(role: Role) -> &'static str {
    match role {
        Role::Coordinator => "a coordinator",
        Role::Reviewer => "a reviewer",
        Role::Admin => "an administrator",
        Role::Partner => "a partner contact",
        Role::Applicant => "an applicant",
        Role::Coproducer => "a co-producer",
    }
}
