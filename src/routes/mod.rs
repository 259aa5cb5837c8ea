//! The one route table. Every route is registered through utoipa-actix-web, so the OpenAPI
//! document is generated from this table and cannot drift from it.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

pub mod admin;
pub mod applications;
pub mod auth;
pub mod catalogue;
pub mod claims;
pub mod coproducers;
pub mod extract;
pub mod matching;
pub mod me;
pub mod openapi_doc;
pub mod organisations;
pub mod pagination;
pub mod projects;
pub mod reports;
pub mod requests;
pub mod rounds;
pub mod service;
pub mod users;

pub const API_PREFIX: &str = "/api/v1";
pub const OPENAPI_PATH: &str = "/api-docs/openapi.json";

/// Grouped by the first segment of the path: a request meets a few scope prefixes, then only
/// its resource's own routes (actix tries each route's pattern in turn, a regex for each one
/// with an id in it).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(service::live)
        .service(service::ready)
        .service(service::metrics)
        .service(
            scope::scope(API_PREFIX)
                .service(
                    scope::scope("/auth")
                        .service(auth::register::register)
                        .service(auth::magic_link_request::request_magic_link)
                        .service(auth::token::token)
                        .service(auth::logout::logout),
                )
                .service(
                    scope::scope("/me")
                        .service(me::get_me)
                        .service(me::patch_me)
                        .service(me::delete::delete_me)
                        .service(me::export::export)
                        .service(me::notification_preferences::get_preferences)
                        .service(me::notification_preferences::put_preferences)
                        .service(me::profile::get_profile)
                        .service(me::profile::put_profile)
                        .service(me::access_passport::get_access_passport)
                        .service(me::access_passport::put_access_passport)
                        .service(me::equal_opportunities::get_equal_opportunities)
                        .service(me::equal_opportunities::put_equal_opportunities)
                        .service(me::applications::my_applications)
                        .service(me::conflicts::list_conflicts)
                        .service(me::conflicts::declare_conflict)
                        .service(me::conflicts::withdraw_conflict)
                        .service(matching::invitations::my_invitations)
                        .service(matching::assignments::my_assignments)
                        .service(claims::read::my_claims),
                )
                .service(scope::scope("/catalogue").service(catalogue::get_catalogue))
                .service(
                    scope::scope("/rounds")
                        .service(rounds::manage::create_round)
                        .service(rounds::read::list_rounds)
                        .service(rounds::read::get_round)
                        .service(rounds::manage::update_round)
                        .service(rounds::manage::close_round)
                        .service(rounds::manage::set_reviewers)
                        .service(rounds::applications::start_application)
                        .service(rounds::applications::list_applications),
                )
                .service(
                    scope::scope("/applications")
                        .service(applications::own::get_application)
                        .service(applications::own::update_draft)
                        .service(applications::own::submit)
                        .service(applications::own::withdraw)
                        .service(applications::own::history)
                        .service(applications::review::review)
                        .service(applications::review::decide),
                )
                .service(
                    scope::scope("/organisations")
                        .service(organisations::create_organisation)
                        .service(organisations::list_organisations)
                        .service(organisations::update_organisation),
                )
                .service(
                    scope::scope("/requests")
                        .service(requests::create::create_request)
                        .service(requests::create::resubmit_request)
                        .service(requests::read::list_requests)
                        .service(requests::read::get_request)
                        .service(requests::triage::triage),
                )
                .service(
                    scope::scope("/projects")
                        .service(projects::read::list_projects)
                        .service(projects::read::get_project)
                        .service(projects::elements::add_element)
                        .service(matching::plan::match_plan),
                )
                .service(scope::scope("/match-plan").service(matching::plan::match_plan_all))
                .service(
                    scope::scope("/elements")
                        .service(projects::elements::update_element)
                        .service(matching::candidates::candidates)
                        .service(matching::invitations::invite)
                        .service(matching::assignments::element_assignments)
                        .service(projects::what_changed::write_what_changed)
                        .service(projects::what_changed::read_what_changed),
                )
                .service(
                    scope::scope("/coproducers")
                        .service(coproducers::list_pool)
                        .service(coproducers::place::archive)
                        .service(coproducers::place::reinstate),
                )
                .service(
                    scope::scope("/invitations")
                        .service(matching::invitation_details::invitation_details)
                        .service(matching::invitations::accept)
                        .service(matching::invitations::decline),
                )
                .service(
                    scope::scope("/assignments")
                        .service(matching::assignments::withdraw)
                        .service(matching::assignments::complete)
                        .service(matching::assignments::no_show)
                        .service(matching::assignments::history)
                        .service(matching::adjustments::adjustment_plan)
                        .service(matching::adjustments::arrange)
                        .service(claims::create::create_claim),
                )
                .service(
                    scope::scope("/claims")
                        .service(claims::read::list_claims)
                        .service(claims::payments::payments_file)
                        .service(claims::payment_runs::start_run)
                        .service(claims::payment_runs::list_runs)
                        .service(claims::payment_runs::read_run)
                        .service(claims::payment_runs::run_file)
                        .service(claims::payment_runs::pay_run)
                        .service(claims::decide::decide_claim)
                        .service(claims::decide::mark_claim_paid),
                )
                .service(
                    scope::scope("/users")
                        .service(users::invitations::create_invitation)
                        .service(users::invitations::accept_invitation),
                )
                .service(
                    scope::scope("/reports")
                        .service(reports::equal_opportunities::equal_opportunities_report),
                )
                .service(
                    scope::scope("/admin")
                        .service(admin::outbox::list_outbox)
                        .service(admin::outbox::retry_outbox),
                ),
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
