use actix_web::{get, web};

use super::{ProjectView, project_view, visible_project};
use crate::auth::AuthUser;
use crate::db::queries::partnership as queries;
use crate::domain::role::Role;
use crate::error::{AppError, Problem};
use crate::routes::extract::Query;
use crate::routes::pagination::{Page, PageQuery};
use crate::state::AppState;

/// Projects: your organisation's if you are a partner contact; all of them for coordinators.
#[utoipa::path(tag = "projects", security(("bearer" = [])), params(PageQuery), responses(
    (status = 200, body = Page<ProjectView>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("")]
pub async fn list_projects(
    state: web::Data<AppState>,
    user: AuthUser,
    page: Query<PageQuery>,
) -> Result<web::Json<Page<ProjectView>>, AppError> {
    user.require_any(&[Role::Coordinator, Role::Partner])?;
    let views = state
        .db
        .read(move |conn| {
            let projects = if user.has_role(Role::Coordinator) {
                queries::list_projects(conn, None)?
            } else {
                let mine = queries::memberships(conn, &user.id)?;
                queries::list_projects(conn, Some(&mine))?
            };
            let projects = Page::of(projects, &page, |p| p.id.clone())?;
            let items = projects
                .items
                .into_iter()
                .map(|p| project_view(conn, p))
                .collect::<Result<_, AppError>>()?;
            Ok(Page {
                items,
                next_cursor: projects.next_cursor,
            })
        })
        .await?;
    Ok(web::Json(views))
}

/// One project with its elements.
#[utoipa::path(tag = "projects", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = ProjectView),
    (status = 404, description = "No such project, or not your organisation's", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}")]
pub async fn get_project(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<web::Json<ProjectView>, AppError> {
    let view = state
        .db
        .read(move |conn| {
            let project = visible_project(conn, &user, &id)?;
            project_view(conn, project)
        })
        .await?;
    Ok(web::Json(view))
}
