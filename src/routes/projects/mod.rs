//! Projects (accepted requests) and their elements.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::db::DbConn;
use crate::db::models::partnership::{ElementRow, ProjectRow};
use crate::db::queries::partnership as queries;
use crate::domain::partnership::{ElementSpec, ElementStatus};
use crate::domain::role::Role;
use crate::error::AppError;

pub mod elements;
pub mod read;
pub mod what_changed;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ElementView {
    pub id: String,
    pub project_id: String,
    pub position: i32,
    pub status: ElementStatus,
    #[serde(flatten)]
    pub spec: ElementSpec,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProjectView {
    pub id: String,
    pub request_id: String,
    pub organisation_id: String,
    pub title: String,
    pub summary: String,
    pub created_at: DateTime<Utc>,
    pub elements: Vec<ElementView>,
}

pub fn element_view(row: ElementRow) -> Result<ElementView, AppError> {
    Ok(ElementView {
        spec: serde_json::from_str(&row.spec).map_err(|e| AppError::Internal(e.into()))?,
        status: ElementStatus::parse(&row.status)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("unknown element status")))?,
        id: row.id,
        project_id: row.project_id,
        position: row.position,
        updated_at: row.updated_at.and_utc(),
    })
}

pub fn project_view(conn: &mut DbConn, project: ProjectRow) -> Result<ProjectView, AppError> {
    let elements = queries::elements_of(conn, &project.id)?
        .into_iter()
        .map(element_view)
        .collect::<Result<_, _>>()?;
    Ok(ProjectView {
        id: project.id,
        request_id: project.request_id,
        organisation_id: project.organisation_id,
        title: project.title,
        summary: project.summary,
        created_at: project.created_at.and_utc(),
        elements,
    })
}

/// The project, if `user` may see it: coordinators all, partners their organisations'. 404 otherwise.
pub fn visible_project(
    conn: &mut DbConn,
    user: &AuthUser,
    id: &str,
) -> Result<ProjectRow, AppError> {
    let project = queries::find_project(conn, id)?.ok_or(AppError::NotFound)?;
    if user.has_role(Role::Coordinator)
        || queries::memberships(conn, &user.id)?.contains(&project.organisation_id)
    {
        Ok(project)
    } else {
        Err(AppError::NotFound)
    }
}
