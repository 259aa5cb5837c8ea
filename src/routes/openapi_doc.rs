//! Finishing the OpenAPI document once the route table has added its operations.
//!
//! The problem+json answers that come from extractors and middleware rather than from a
//! handler are documented here once, for every operation they apply to, so no route can forget
//! them. A route's own `responses(...)` wins where it describes the same status.
//!
//! - signed-in routes: 401 (no, expired or bad token)
//! - a JSON body: 400 (malformed), 408 (too slow), 413 (too large), 422 (invalid fields)
//! - path parameters: 404 (no such thing, or not yours)
//! - query parameters: 400 (a NUL character), 422 (a value of the wrong type or out of range)
//! - everything under the API prefix: 503 (database busy), with `Retry-After`
//! - signed-in POSTs: the optional `Idempotency-Key` header, with its 409 and 422

use utoipa::openapi::content::Content;
use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema};
use utoipa::openapi::{Object, OpenApi, Ref, RefOr, Required, Type};

use serde_json::Value;

use super::API_PREFIX;
use crate::domain::catalogue::{Catalogue, List};

const PROBLEM_JSON: &str = "application/problem+json";

/// (status, component name, description, headers it always carries)
const RESPONSES: [(&str, &str, &str, &[&str]); 8] = [
    (
        "400",
        "BadRequest",
        "Malformed request: the JSON or the query string could not be read (`malformed_request`)",
        &[],
    ),
    (
        "401",
        "Unauthorized",
        "Not signed in, or the access token expired (`unauthorized`)",
        &["WWW-Authenticate"],
    ),
    (
        "404",
        "NotFound",
        "No such thing, or it is not shared with you (`not_found`)",
        &[],
    ),
    (
        "408",
        "RequestTimeout",
        "The body did not arrive within `server.body_timeout_ms` (`request_timeout`)",
        &[],
    ),
    (
        "413",
        "PayloadTooLarge",
        "The body is larger than `server.json_limit_bytes` (`payload_too_large`)",
        &[],
    ),
    (
        "422",
        "ValidationFailed",
        "Invalid fields, each named in `errors` (`validation_failed`)",
        &[],
    ),
    (
        "429",
        "RateLimited",
        "Too many attempts; `Retry-After` says how many seconds to wait (`rate_limited`)",
        &["Retry-After"],
    ),
    (
        "503",
        "Unavailable",
        "The database is busy or cannot be reached; `Retry-After` says when to try again",
        &["Retry-After"],
    ),
];

/// Fields holding catalogue codes: (schema, property, list). The codes themselves come from
/// the catalogue the server checks against, so the document lists exactly what is accepted.
const CATALOGUE_FIELDS: [(&str, &str, List); 14] = [
    ("Contact", "preferred_channel", List::ContactChannels),
    ("Contact", "formats", List::ContactFormats),
    ("Skill", "code", List::Skills),
    ("Profile", "interests", List::Interests),
    ("Profile", "lived_experience", List::LivedExperience),
    ("Availability", "region", List::Regions),
    ("Payment", "method", List::PaymentMethods),
    ("Need", "code", List::AccessNeeds),
    ("NewOrganisation", "kind", List::OrganisationKinds),
    ("ElementSpec", "skills_required", List::Skills),
    ("ElementSpec", "skills_desired", List::Skills),
    (
        "ElementSpec",
        "lived_experience_wanted",
        List::LivedExperience,
    ),
    ("ElementSpec", "interests", List::Interests),
    ("ElementSpec", "features", List::Features),
];

/// The document served: the route table's operations, the standard answers, the catalogue's
/// codes, and flattened request bodies opened up for the responses that extend them.
pub fn complete(mut openapi: OpenApi, catalogue: &Catalogue) -> OpenApi {
    document_idempotency_key(&mut openapi);
    add_standard_responses(&mut openapi);
    open_flattened_strict_schemas(&mut openapi);
    list_catalogue_codes(openapi, catalogue)
}

/// Adds `enum` to each field in `CATALOGUE_FIELDS` (its items, for a list; `null` too where
/// the field may be empty). Done on the JSON form, where each shape is plain to see.
fn list_catalogue_codes(openapi: OpenApi, catalogue: &Catalogue) -> OpenApi {
    let Ok(mut document) = serde_json::to_value(&openapi) else {
        return openapi;
    };
    for (schema, property, list) in CATALOGUE_FIELDS {
        let Some(field) = document.pointer_mut(&format!(
            "/components/schemas/{schema}/properties/{property}"
        )) else {
            continue;
        };
        let codes: Vec<Value> = catalogue.codes(list).into_iter().map(Value::from).collect();
        let target = match field.get("type") {
            Some(Value::String(kind)) if kind == "array" => field.get_mut("items"),
            _ => Some(field),
        };
        let Some(Value::Object(target)) = target else {
            continue;
        };
        let nullable = target
            .get("type")
            .and_then(Value::as_array)
            .is_some_and(|types| types.iter().any(|t| t == "null"));
        let mut allowed = codes;
        if nullable {
            allowed.push(Value::Null);
        }
        target.insert("enum".into(), Value::Array(allowed));
    }
    serde_json::from_value(document).unwrap_or(openapi)
}

fn add_standard_responses(openapi: &mut OpenApi) {
    let components = openapi.components.get_or_insert_with(Default::default);
    for (_, name, description, headers) in RESPONSES {
        let mut response = ResponseBuilder::new().description(description).content(
            PROBLEM_JSON,
            Content::new(Some(Ref::from_schema_name("Problem"))),
        );
        for header in headers {
            response = response.header(*header, Header::new(Object::with_type(Type::String)));
        }
        components
            .responses
            .insert(name.to_string(), response.build().into());
    }
    for (path, item) in openapi.paths.paths.iter_mut() {
        let under_api = path.starts_with(API_PREFIX);
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            for status in statuses_of(operation, under_api) {
                add_missing(operation, status);
            }
            add_standard_headers(operation);
        }
    }
}

const IDEMPOTENCY_KEY: &str = "Optional. Makes a retry safe: a repeat of this request with the same key, \
by the same signed-in person within a day (`retention.idempotency_key_hours`), gets the first answer back \
instead of acting twice. 1 to 255 characters after trimming, for example a UUID. Use a new key for each \
new request: a key already used on another path answers 422 (`reused`), and one whose first request is \
still being handled answers 409 (`request_in_progress`). A first attempt that fails frees its key. \
If an account was deleted while the first request ran, its answer (which might name that person) is \
not kept: a retry answers 409 (`answer_not_kept`) and does not act again.";

/// The `Idempotency-Key` header on every signed-in POST that honours it (`idempotency.rs`),
/// with the 409 and 422 it can answer.
fn document_idempotency_key(openapi: &mut OpenApi) {
    let components = openapi.components.get_or_insert_with(Default::default);
    components.responses.insert(
        "RequestInProgress".to_string(),
        ResponseBuilder::new()
            .description("A request with the same Idempotency-Key is still being handled (`request_in_progress`), or was carried out but its answer was not kept (`answer_not_kept`)")
            .content(
                PROBLEM_JSON,
                Content::new(Some(Ref::from_schema_name("Problem"))),
            )
            .build()
            .into(),
    );
    let max_length = crate::idempotency::MAX_KEY_LEN;
    for (path, item) in openapi.paths.paths.iter_mut() {
        let Some(operation) = item.post.as_mut() else {
            continue;
        };
        let signed_in = operation
            .security
            .as_ref()
            .is_some_and(|security| !security.is_empty());
        if !signed_in || !crate::idempotency::honoured_on(path) {
            continue;
        }
        let header = ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(IDEMPOTENCY_KEY))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(max_length)),
            ))
            .build();
        operation
            .parameters
            .get_or_insert_with(Vec::new)
            .push(header);
        // An operation with 409s of its own keeps them, and names the key's two as well.
        match operation.responses.responses.entry("409".to_string()) {
            std::collections::btree_map::Entry::Vacant(vacant) => {
                vacant.insert(RefOr::Ref(Ref::from_response_name("RequestInProgress")));
            }
            std::collections::btree_map::Entry::Occupied(mut own) => {
                if let RefOr::T(response) = own.get_mut() {
                    response.description.push_str(
                        "; with an Idempotency-Key, `request_in_progress` or `answer_not_kept`",
                    );
                }
            }
        }
        add_missing(operation, "422");
    }
}

fn statuses_of(operation: &Operation, under_api: bool) -> Vec<&'static str> {
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let has = |place: ParameterIn| parameters.iter().any(|p| p.parameter_in == place);
    let signed_in = operation
        .security
        .as_ref()
        .is_some_and(|security| !security.is_empty());
    let mut statuses = Vec::new();
    if signed_in {
        statuses.push("401");
    }
    if operation.request_body.is_some() {
        statuses.extend(["400", "408", "413", "422"]);
    }
    if has(ParameterIn::Path) {
        statuses.push("404");
    }
    if has(ParameterIn::Query) {
        statuses.extend(["400", "422"]);
    }
    if under_api {
        statuses.push("503");
    }
    statuses
}

fn add_missing(operation: &mut Operation, status: &str) {
    let Some((_, name, ..)) = RESPONSES.iter().find(|(code, ..)| *code == status) else {
        return;
    };
    operation
        .responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
}

/// Every 401 carries `WWW-Authenticate` and every 429 and 503 `Retry-After` (see
/// `AppError::error_response`), including those a route describes in its own words.
fn add_standard_headers(operation: &mut Operation) {
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let Some((.., headers)) = RESPONSES.iter().find(|(code, ..)| code == status) else {
            continue;
        };
        for header in *headers {
            response
                .headers
                .entry((*header).to_string())
                .or_insert_with(|| Header::new(Object::with_type(Type::String)));
        }
    }
}

/// A request body refuses unknown fields (`additionalProperties: false`). A response that
/// flattens it (`ElementView` = `ElementSpec` + id, status, …) becomes `allOf: [$ref, {…}]`,
/// and under `allOf` that `false` would forbid the response's own fields: such items are
/// replaced by a copy of the body's schema without the restriction.
fn open_flattened_strict_schemas(openapi: &mut OpenApi) {
    let Some(components) = openapi.components.as_mut() else {
        return;
    };
    let strict: Vec<(String, Object)> = components
        .schemas
        .iter()
        .filter_map(|(name, schema)| match schema {
            RefOr::T(Schema::Object(object))
                if matches!(
                    object.additional_properties.as_deref(),
                    Some(AdditionalProperties::FreeForm(false))
                ) =>
            {
                let mut open = object.clone();
                open.additional_properties = None;
                Some((format!("#/components/schemas/{name}"), open))
            }
            _ => None,
        })
        .collect();
    for schema in components.schemas.values_mut() {
        let RefOr::T(Schema::AllOf(all_of)) = schema else {
            continue;
        };
        for item in &mut all_of.items {
            let RefOr::Ref(reference) = item else {
                continue;
            };
            if let Some((_, open)) = strict
                .iter()
                .find(|(location, _)| *location == reference.ref_location)
            {
                *item = RefOr::T(Schema::Object(open.clone()));
            }
        }
    }
}
