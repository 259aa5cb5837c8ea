use actix_web::{get, web};

use crate::domain::catalogue::Catalogue;
use crate::state::AppState;

/// Every catalogue: access needs, features, skills, interests, lived experience, payment,
/// contact, regions, kinds of organisation, and the equal-opportunities questions. Public.
#[utoipa::path(tag = "catalogue", responses((status = 200, body = Catalogue)))]
#[get("")]
pub async fn get_catalogue(state: web::Data<AppState>) -> web::Json<Catalogue> {
    web::Json(state.catalogue.as_ref().clone())
}
