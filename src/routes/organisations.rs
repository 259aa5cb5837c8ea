//! Partner organisations: coordinators add them; partner contacts see their own.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::db::queries::partnership as queries;
use crate::domain::catalogue::List;
use crate::domain::email_address::EmailAddress;
use crate::domain::role::Role;
use crate::error::{AppError, FieldError, Problem};
use crate::routes::extract::{FieldErrors, ValidJson, Validate, reject_problems};
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

impl Validate for NewOrganisation {
    type Valid = Self;

    fn validate(self) -> Result<Self, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        errors.text("name", &self.name, 200);
        errors.check("contact_email", EmailAddress::parse(&self.contact_email));
        errors.finish(self)
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Organisation {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub contact_email: String,
    pub created_at: DateTime<Utc>,
}

/// Add a partner organisation.
#[utoipa::path(tag = "partners", security(("bearer" = [])), request_body = NewOrganisation, responses(
    (status = 201, body = Organisation),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/organisations")]
pub async fn create_organisation(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ValidJson<NewOrganisation>,
) -> Result<HttpResponse, AppError> {
    user.require_any(&[Role::Coordinator])?;
    let new = body.0;
    let kind_problem = state
        .catalogue
        .check_code(List::OrganisationKinds, &new.kind)
        .err();
    reject_problems(
        kind_problem
            .map(|p| ("kind".to_string(), p))
            .into_iter()
            .collect(),
    )?;
    let organisation = Organisation {
        id: uuid::Uuid::now_v7().to_string(),
        name: new.name.trim().to_string(),
        kind: new.kind,
        contact_email: new.contact_email.trim().to_lowercase(),
        created_at: Utc::now(),
    };
    let row = (
        organisation.id.clone(),
        organisation.name.clone(),
        organisation.kind.clone(),
        organisation.contact_email.clone(),
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
#[get("/organisations")]
pub async fn list_organisations(
    state: web::Data<AppState>,
    user: AuthUser,
    page: web::Query<PageQuery>,
) -> Result<web::Json<Page<Organisation>>, AppError> {
    user.require_any(&[Role::Coordinator, Role::Partner, Role::Coproducer])?;
    let rows = state
        .db
        .read(move |conn| {
            if user.has_role(Role::Coordinator) || user.has_role(Role::Coproducer) {
                return Ok(queries::list_organisations(conn, None)?);
            }
            let mine = queries::memberships(conn, &user.id)?;
            Ok(queries::list_organisations(conn, Some(&mine))?)
        })
        .await?;
    let all = rows
        .into_iter()
        .map(|(id, name, kind, contact_email, created_at)| Organisation {
            id,
            name,
            kind,
            contact_email,
            created_at: created_at.and_utc(),
        })
        .collect();
    Ok(web::Json(Page::of(all, &page, |o| o.id.clone())?))
}
