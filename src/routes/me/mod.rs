//! The signed-in user's own account.

pub mod access_passport;
pub mod applications;
pub mod conflicts;
pub mod delete;
pub mod equal_opportunities;
pub mod export;
pub mod notification_preferences;
pub mod profile;

use actix_web::{get, patch, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use chrono::{NaiveDate, Utc};

use crate::auth::AuthUser;
use crate::db::queries::pool;
use crate::db::queries::users;
use crate::domain::Invalid;
use crate::domain::partnership::CoproducerStatus;
use crate::domain::person_name::PersonName;
use crate::domain::role::Role;
use crate::error::{AppError, FieldError, Problem};
use crate::routes::extract::{FieldErrors, ValidJson, Validate};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub id: String,
    pub email: String,
    pub full_name: String,
    pub preferred_name: Option<String>,
    #[schema(value_type = Vec<String>, example = json!(["applicant"]))]
    pub roles: Vec<Role>,
    /// For co-producers: `active`, `paused` or `archived`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coproducer_status: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMe {
    /// New full name; leave out to keep it.
    #[schema(min_length = 1, max_length = 200)]
    pub full_name: Option<String>,
    /// The name to use when talking to you; `null` clears it, leaving it out keeps it.
    #[serde(default, deserialize_with = "crate::routes::extract::nullable")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub preferred_name: Option<Option<String>>,
    /// Co-producers: `paused` to stop being matched for a while, `active` to come back.
    pub coproducer_status: Option<PoolChoice>,
    /// With `paused`: the day the pause ends by itself (`YYYY-MM-DD`).
    pub paused_until: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PoolChoice {
    Active,
    Paused,
}

/// A checked `UpdateMe`.
pub struct NameChange {
    full_name: Option<PersonName>,
    preferred_name: Option<Option<PersonName>>,
    pool: Option<(PoolChoice, Option<NaiveDate>)>,
}

impl Validate for UpdateMe {
    type Valid = NameChange;

    fn validate(self) -> Result<NameChange, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        let full_name = self
            .full_name
            .map(|name| errors.check("full_name", PersonName::parse(&name)));
        let preferred_name = self.preferred_name.map(|value| {
            value.map(|name| errors.check("preferred_name", PersonName::parse(&name)))
        });
        match (self.coproducer_status, self.paused_until) {
            (Some(PoolChoice::Paused), Some(until)) if until <= Utc::now().date_naive() => {
                errors.add(
                    "paused_until",
                    Invalid::new(
                        "in_the_past",
                        "Choose a day after today for the pause to end.",
                    ),
                );
            }
            (Some(PoolChoice::Active) | None, Some(_)) => {
                errors.add(
                    "paused_until",
                    Invalid::new(
                        "not_allowed",
                        "An end date only goes with \"coproducer_status\": \"paused\".",
                    ),
                );
            }
            _ => {}
        }
        if !errors.is_empty() {
            return Err(errors.into_vec());
        }
        Ok(NameChange {
            full_name: full_name.flatten(),
            preferred_name: preferred_name.map(Option::flatten),
            pool: self
                .coproducer_status
                .map(|choice| (choice, self.paused_until)),
        })
    }
}

/// Your account.
#[utoipa::path(tag = "me", security(("bearer" = [])), responses(
    (status = 200, body = Me),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
#[get("")]
pub async fn get_me(state: web::Data<AppState>, user: AuthUser) -> Result<web::Json<Me>, AppError> {
    let me = state.db.read(move |conn| load_me(conn, &user.id)).await?;
    Ok(web::Json(me))
}

/// Change your names.
#[utoipa::path(tag = "me", security(("bearer" = [])), request_body = UpdateMe, responses(
    (status = 200, body = Me),
    (status = 409, description = "`not_a_coproducer` or `archived`: the pool status cannot change", body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[patch("")]
pub async fn patch_me(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ValidJson<UpdateMe>,
) -> Result<web::Json<Me>, AppError> {
    let update = body.0;
    let me = state
        .db
        .write(move |conn| {
            user.still_signed_in_to_change_account(conn)?;
            let current = users::find_by_id(conn, &user.id)?.ok_or(AppError::NotFound)?;
            let full_name = update
                .full_name
                .as_ref()
                .map_or(current.full_name.as_str(), PersonName::as_str);
            let preferred_name = match &update.preferred_name {
                Some(value) => value.as_ref().map(PersonName::as_str),
                None => current.preferred_name.as_deref(),
            };
            users::update_names(conn, &user.id, full_name, preferred_name)?;
            if let Some((choice, until)) = update.pool {
                set_pool_status(conn, &user.id, choice, until)?;
            }
            load_me(conn, &user.id)
        })
        .await?;
    Ok(web::Json(me))
}

/// Pauses or resumes the co-producer; archived co-producers talk to a coordinator instead.
fn set_pool_status(
    conn: &mut crate::db::DbConn,
    user_id: &str,
    choice: PoolChoice,
    until: Option<NaiveDate>,
) -> Result<(), AppError> {
    let Some((stored, _)) = pool::status_of(conn, user_id)? else {
        return Err(AppError::conflict(
            "not_a_coproducer",
            "Only co-producers can pause or resume being matched.",
        ));
    };
    if stored == CoproducerStatus::Archived.as_str() {
        return Err(AppError::conflict(
            "archived",
            "Your place in the pool is archived, so you cannot resume it yourself. Please talk to a coordinator.",
        ));
    }
    let (status, paused_until) = match choice {
        PoolChoice::Active => (CoproducerStatus::Active, None),
        PoolChoice::Paused => (
            CoproducerStatus::Paused,
            until.and_then(|day| day.and_hms_opt(0, 0, 0)),
        ),
    };
    if !pool::set_status(
        conn,
        user_id,
        status.as_str(),
        paused_until,
        None,
        Utc::now().naive_utc(),
    )? {
        return Err(AppError::conflict(
            "archived",
            "Your place in the pool is archived, so you cannot resume it yourself. Please talk to a coordinator.",
        ));
    }
    Ok(())
}

fn load_me(conn: &mut crate::db::DbConn, user_id: &str) -> Result<Me, AppError> {
    let row = users::find_by_id(conn, user_id)?.ok_or(AppError::NotFound)?;
    let roles = users::roles_of(conn, user_id)?;
    let coproducer_status = pool::status_of(conn, user_id)?.map(|(stored, until)| {
        CoproducerStatus::effective(&stored, until, Utc::now().naive_utc())
            .as_str()
            .to_string()
    });
    Ok(Me {
        coproducer_status,
        id: row.id,
        email: row.email,
        full_name: row.full_name,
        preferred_name: row.preferred_name,
        roles,
    })
}
