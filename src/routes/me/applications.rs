use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::db::queries::recruitment as queries;
use crate::domain::recruitment::{ApplicationStatus, answer_by};
use crate::error::AppError;
use crate::routes::extract::Query;
use crate::routes::pagination::{Page, PageQuery};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MyApplication {
    pub id: String,
    pub round_id: String,
    pub round_title: String,
    pub status: Option<ApplicationStatus>,
    pub submitted_at: Option<DateTime<Utc>>,
    /// When you will hear back at the latest.
    pub answer_by: DateTime<Utc>,
}

/// Your applications, oldest first.
#[utoipa::path(tag = "me", security(("bearer" = [])), params(PageQuery), responses((status = 200, body = Page<MyApplication>)))]
#[get("/applications")]
pub async fn my_applications(
    state: web::Data<AppState>,
    user: AuthUser,
    page: Query<PageQuery>,
) -> Result<web::Json<Page<MyApplication>>, AppError> {
    let items = state
        .db
        .read(move |conn| {
            let mut items = Vec::new();
            for application in queries::applications_of_user(conn, &user.id)? {
                let round =
                    queries::find_round(conn, &application.round_id)?.ok_or(AppError::NotFound)?;
                items.push(MyApplication {
                    status: ApplicationStatus::parse(&application.status),
                    submitted_at: application.submitted_at.map(|at| at.and_utc()),
                    answer_by: application
                        .answer_by
                        .unwrap_or_else(|| {
                            answer_by(round.closes_at, round.closed_at, round.answer_by_days)
                        })
                        .and_utc(),
                    round_title: round.title,
                    round_id: application.round_id,
                    id: application.id,
                });
            }
            Ok(items)
        })
        .await?;
    Ok(web::Json(Page::of(items, &page, |a| a.id.clone())?))
}
