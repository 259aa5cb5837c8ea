//! Partner organisations: coordinators add them; partner contacts see their own.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::db::queries::partnership::{self as queries, OrganisationRow};
use crate::domain::catalogue::{Catalogue, List};
use crate::domain::email_address::EmailAddress;
use crate::domain::role::Role;
use crate::error::{AppError, FieldError, Problem};
use crate::routes::extract::{FieldErrors, Query, ValidJson, Validate};
use crate::routes::pagination::{Page, PageQuery};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganisation {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// An `organisation_kinds` code.
    pub kind: String,
    #[schema(format = "email", max_length = 254)]
    pub contact_email: String,
}

crate::checked_in_handler!(NewOrganisation);

impl NewOrganisation {
    /// Every problem at once, the kind against the catalogue included.
    fn check(self, catalogue: &Catalogue) -> Result<Self, AppError> {
        let mut errors = FieldErrors::default();
        errors.text("name", &self.name, 200);
        errors.check(
            "kind",
            catalogue.check_code(List::OrganisationKinds, &self.kind),
        );
        errors.check("contact_email", EmailAddress::parse(&self.contact_email));
        errors.finish(self).map_err(AppError::Validation)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganisationChanges {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[schema(format = "email", max_length = 254)]
    pub contact_email: Option<String>,
}

impl Validate for OrganisationChanges {
    type Valid = Self;

    fn validate(self) -> Result<Self, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        if let Some(name) = &self.name {
            errors.text("name", name, 200);
        }
        if let Some(contact_email) = &self.contact_email {
            errors.check("contact_email", EmailAddress::parse(contact_email));
        }
        errors.finish(self)
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Organisation {
    pub id: String,
    pub name: String,
    pub kind: String,
    /// Shown to coordinators and the organisation's own contacts only: co-producers see the
    /// list to declare conflicts of interest, which needs no one's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<String>,
    /// True when the contact address was removed because its owner deleted their account and
    /// nobody else could take over: `contact_email` is then a placeholder that cannot receive
    /// email, until a coordinator sets a new one.
    pub contact_needed: bool,
    pub created_at: DateTime<Utc>,
}

impl From<OrganisationRow> for Organisation {
    fn from((id, name, kind, contact_email, created_at): OrganisationRow) -> Self {
        Self {
            id,
            name,
            kind,
            contact_needed: contact_email == queries::NO_CONTACT_EMAIL,
            contact_email: Some(contact_email),
            created_at: created_at.and_utc(),
        }
    }
}

/// Add a partner organisation.
#[utoipa::path(tag = "partners", security(("bearer" = [])), request_body = NewOrganisation, responses(
    (status = 201, body = Organisation),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("")]
pub async fn create_organisation(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ValidJson<NewOrganisation>,
) -> Result<HttpResponse, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let new = body.0.check(&state.catalogue)?;
    let contact_email = new.contact_email.trim().to_lowercase();
    let organisation = Organisation {
        id: uuid::Uuid::now_v7().to_string(),
        name: new.name.trim().to_string(),
        kind: new.kind,
        contact_email: Some(contact_email.clone()),
        contact_needed: false,
        created_at: Utc::now(),
    };
    let row = (
        organisation.id.clone(),
        organisation.name.clone(),
        organisation.kind.clone(),
        contact_email,
    );
    let now = organisation.created_at.naive_utc();
    state
        .db
        .write(move |conn| {
            Ok(queries::insert_organisation(
                conn, &row.0, &row.1, &row.2, &row.3, now,
            )?)
        })
        .await?;
    Ok(HttpResponse::Created().json(organisation))
}

/// Organisations: all of them for coordinators and co-producers (to declare conflicts of
/// interest), your own for partner contacts.
#[utoipa::path(tag = "partners", security(("bearer" = [])), params(PageQuery), responses(
    (status = 200, body = Page<Organisation>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("")]
pub async fn list_organisations(
    state: web::Data<AppState>,
    user: AuthUser,
    page: Query<PageQuery>,
) -> Result<web::Json<Page<Organisation>>, AppError> {
    user.require_any(&[Role::Coordinator, Role::Partner, Role::Coproducer])?;
    let (rows, mine) = state
        .db
        .read(move |conn| {
            if user.has_role(Role::Coordinator) {
                return Ok((queries::list_organisations(conn, None)?, None));
            }
            let mine = queries::memberships(conn, &user.id)?;
            if user.has_role(Role::Coproducer) {
                return Ok((queries::list_organisations(conn, None)?, Some(mine)));
            }
            Ok((queries::list_organisations(conn, Some(&mine))?, Some(mine)))
        })
        .await?;
    let all = rows
        .into_iter()
        .map(Organisation::from)
        .map(|mut organisation| {
            if mine
                .as_ref()
                .is_some_and(|mine| !mine.contains(&organisation.id))
            {
                organisation.contact_email = None;
            }
            organisation
        })
        .collect();
    Ok(web::Json(Page::of(all, &page, |o| o.id.clone())?))
}

/// Change an organisation's name or contact address, for example when it is `contact_needed`.
#[utoipa::path(tag = "partners", security(("bearer" = [])), params(("id" = String, Path)), request_body = OrganisationChanges, responses(
    (status = 200, body = Organisation),
    (status = 403, description = "Coordinators only", body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[patch("/{id}")]
pub async fn update_organisation(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
    body: ValidJson<OrganisationChanges>,
) -> Result<web::Json<Organisation>, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let changes = body.0;
    let row = state
        .db
        .write(move |conn| {
            queries::find_organisation(conn, &id)?.ok_or(AppError::NotFound)?;
            if let Some(name) = &changes.name {
                queries::rename_organisation(conn, &id, name.trim())?;
            }
            if let Some(contact_email) = &changes.contact_email {
                queries::set_contact_email(conn, &id, &contact_email.trim().to_lowercase())?;
            }
            queries::find_organisation(conn, &id)?.ok_or(AppError::NotFound)
        })
        .await?;
    Ok(web::Json(Organisation::from(row)))
}
