//! The one route table. Every route is registered through utoipa-actix-web, so the OpenAPI
//! document is generated from this table and cannot drift from it.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

pub mod extract;
pub mod me;
pub mod service;

pub const API_PREFIX: &str = "/api/v1";
pub const OPENAPI_PATH: &str = "/api-docs/openapi.json";

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(service::live)
        .service(service::ready)
        .service(service::metrics)
        .service(
            scope::scope(API_PREFIX)
                .service(me::get_me)
                .service(me::patch_me),
        );
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "coproduce",
        description = "Recruitment and matching of freelance co-producers. Errors are RFC 9457 problem+json.",
    ),
    modifiers(&BearerAuth),
    components(schemas(crate::error::Problem, crate::error::FieldError)),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}
