//! `ValidJson<T>`: a JSON body, deserialised with the path of any bad field, then validated.
//! Malformed JSON → 400; wrong type, missing or unknown field → 422 naming the field;
//! too large → 413; every validation error at once → 422.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::ResponseError;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest, web};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::domain::Invalid;
use crate::error::{AppError, FieldError};
use crate::state::AppState;

const DEFAULT_LIMIT_BYTES: usize = 256 * 1024;
const DEFAULT_BODY_TIMEOUT_MS: u64 = 15_000;

/// Implemented by request bodies: turns the raw body into its checked form, reporting every
/// problem at once ("parse, don't validate").
pub trait Validate: Sized {
    type Valid;
    fn validate(self) -> Result<Self::Valid, Vec<FieldError>>;
}

/// A JSON body, parsed into `T::Valid`.
pub struct ValidJson<T: Validate>(pub T::Valid);

/// Turns domain problems into a 422, or `Ok` when there are none.
pub fn reject_problems(problems: Vec<(String, Invalid)>) -> Result<(), AppError> {
    if problems.is_empty() {
        return Ok(());
    }
    Err(AppError::Validation(
        problems
            .into_iter()
            .map(|(field, invalid)| FieldError::from_invalid(field, invalid))
            .collect(),
    ))
}

/// Both values, or the field problems of both reported together (API.md: every invalid field
/// at once); any other error of `first` wins.
pub fn with_problems_of<T, U>(
    first: Result<T, AppError>,
    second: Result<U, AppError>,
) -> Result<(T, U), AppError> {
    match (first, second) {
        (Err(AppError::Validation(mut errors)), Err(AppError::Validation(more))) => {
            errors.extend(more);
            Err(AppError::Validation(errors))
        }
        (Err(error), _) => Err(error),
        (Ok(_), Err(error)) => Err(error),
        (Ok(first), Ok(second)) => Ok((first, second)),
    }
}

/// Bodies checked only by their types here (the handler checks them against the catalogue).
#[macro_export]
macro_rules! checked_in_handler {
    ($($body:ty),* $(,)?) => {
        $(
            impl $crate::routes::extract::Validate for $body {
                type Valid = Self;

                fn validate(self) -> Result<Self, Vec<$crate::error::FieldError>> {
                    Ok(self)
                }
            }
        )*
    };
}

/// Collects field problems while parsing a body.
#[derive(Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// Keeps the value, or records the problem under `field`.
    pub fn check<T>(&mut self, field: &str, result: Result<T, Invalid>) -> Option<T> {
        result
            .map_err(|invalid| self.0.push(FieldError::from_invalid(field, invalid)))
            .ok()
    }

    /// Required text of at most `max_chars` characters.
    pub fn text(&mut self, field: &str, value: &str, max_chars: usize) {
        if value.trim().is_empty() {
            self.add(field, Invalid::new("required", "This cannot be empty."));
        } else {
            self.optional_text(field, Some(value), max_chars);
        }
    }

    /// Optional text of at most `max_chars` characters.
    pub fn optional_text(&mut self, field: &str, value: Option<&str>, max_chars: usize) {
        if value.is_some_and(|v| v.chars().count() > max_chars) {
            self.add(
                field,
                Invalid::new(
                    "too_long",
                    format!("Keep this to {max_chars} characters or fewer."),
                ),
            );
        }
    }

    /// An optional whole number from `min` to `max`.
    pub fn range(&mut self, field: &str, value: Option<i32>, min: i32, max: i32) {
        if value.is_some_and(|v| !(min..=max).contains(&v)) {
            self.add(
                field,
                Invalid::new(
                    "out_of_range",
                    format!("Choose a number from {min} to {max}."),
                ),
            );
        }
    }

    pub fn add(&mut self, field: &str, invalid: Invalid) {
        self.0.push(FieldError::from_invalid(field, invalid));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    /// `Ok(value)` when nothing was recorded, else every problem.
    pub fn finish<T>(self, value: T) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.0)
        }
    }
}

impl<T> FromRequest for ValidJson<T>
where
    T: DeserializeOwned + Validate + 'static,
    T::Valid: 'static,
{
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = checked_body::<T>(req, payload, false);
        Box::pin(async move {
            body.await?
                .map(ValidJson)
                .ok_or_else(|| AppError::BadRequest("the request needs a JSON body".into()))
        })
    }
}

/// A JSON body that may be left out (API.md shows it as optional, e.g. `{reason?}`): no body at
/// all is `None`; a body that is sent is checked exactly as [`ValidJson`] checks it.
pub struct OptionalJson<T: Validate>(pub Option<T::Valid>);

impl<T> FromRequest for OptionalJson<T>
where
    T: DeserializeOwned + Validate + 'static,
    T::Valid: 'static,
{
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = checked_body::<T>(req, payload, true);
        Box::pin(async move { body.await.map(OptionalJson) })
    }
}

type Checked<V> = Pin<Box<dyn Future<Output = Result<Option<V>, AppError>>>>;

/// Reads, parses and validates the body; `None` only when it is empty and `may_be_empty`.
fn checked_body<T>(
    req: &HttpRequest,
    payload: &mut Payload,
    may_be_empty: bool,
) -> Checked<T::Valid>
where
    T: DeserializeOwned + Validate + 'static,
    T::Valid: 'static,
{
    let is_json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim();
            mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
        });
    // The same limit the PayloadConfig registered at start-up enforces.
    let (limit, timeout_ms) = req.app_data::<web::Data<AppState>>().map_or(
        (DEFAULT_LIMIT_BYTES, DEFAULT_BODY_TIMEOUT_MS),
        |state| {
            let server = &state.settings.server;
            (server.json_limit_bytes, server.body_timeout_ms)
        },
    );
    let body = Bytes::from_request(req, payload);
    Box::pin(async move {
        let arrived = tokio::time::timeout(Duration::from_millis(timeout_ms), body)
            .await
            .map_err(|_| AppError::BodyTimeout {
                seconds: timeout_ms.div_ceil(1000),
            })?;
        let bytes = arrived.map_err(|error| match error.as_error::<PayloadError>() {
            Some(PayloadError::Overflow) => AppError::PayloadTooLarge { limit_bytes: limit },
            _ => AppError::BadRequest("the request body could not be read".into()),
        })?;
        if bytes.is_empty() && may_be_empty {
            return Ok(None);
        }
        if !is_json {
            return Err(AppError::BadRequest(
                "send the body as JSON with the header Content-Type: application/json".into(),
            ));
        }
        let value: T = parse(&bytes)?;
        value.validate().map(Some).map_err(AppError::Validation)
    })
}

/// A NUL character (`%00`) in the URL: in the path it names nothing (404); in the query it is
/// refused (400). PostgreSQL cannot compare text holding one, so it must not reach a query.
pub async fn refuse_nul_in_url(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let uri = req.uri();
    let refusal = if holds_nul(uri.path()) {
        Some(AppError::NotFound)
    } else if uri.query().is_some_and(holds_nul) {
        Some(AppError::BadRequest(
            "the query string holds a NUL character (%00); remove it".into(),
        ))
    } else {
        None
    };
    match refusal {
        Some(error) => Ok(req.into_response(error.error_response())),
        None => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body),
    }
}

fn holds_nul(raw: &str) -> bool {
    raw.contains("%00") || raw.contains('\0')
}

/// A query string parsed into `T`. A value of the wrong type is a 422 naming its parameter
/// (actix's `web::Query` gives a 400 that names nothing).
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Query<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(Query))
    }
}

pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    let pairs = form_urlencoded::parse(query.as_bytes());
    serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(pairs)).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        let problem = if let Some(name) = message.strip_prefix("duplicate field ") {
            let name = name.trim_matches('`');
            FieldError::new(name, "duplicate", format!("Give “{name}” once."))
        } else if ["integer", "digit", "number too"]
            .iter()
            .any(|w| message.contains(w))
        {
            FieldError::new(
                path,
                "invalid_type",
                "This should be a whole number in digits, 0 or more.",
            )
        } else {
            describe_data_error(&path, &message)
        };
        AppError::Validation(vec![problem])
    })
}

/// Distinguishes "absent" (`None`) from "null" (`Some(None)`) for PATCH bodies.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if !inner.is_data() {
            return AppError::BadRequest(format!(
                "the JSON is not well formed (line {}, column {})",
                inner.line(),
                inner.column()
            ));
        }
        AppError::Validation(vec![describe_data_error(&path, &inner.to_string())])
    })?;
    deserializer
        .end()
        .map_err(|_| AppError::BadRequest("there is more after the JSON value".into()))?;
    reject_nul_characters(bytes)?;
    Ok(value)
}

/// PostgreSQL cannot store the NUL character in text, and no one types it: a string holding
/// one (`\u0000` in JSON) is refused up front, naming each field, on every backend alike.
fn reject_nul_characters(bytes: &[u8]) -> Result<(), AppError> {
    let escaped_nul = bytes
        .windows(6)
        .any(|window| window.eq_ignore_ascii_case(b"\\u0000"));
    if !escaped_nul {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Ok(());
    };
    let mut fields = Vec::new();
    collect_nul_paths(&value, "", &mut fields);
    fields.sort();
    if fields.is_empty() {
        return Ok(());
    }
    Err(AppError::Validation(
        fields
            .into_iter()
            .map(|field| {
                FieldError::new(
                    field,
                    "invalid_character",
                    "This contains a NUL character (\\u0000), which we cannot store. Remove it.",
                )
            })
            .collect(),
    ))
}

fn collect_nul_paths(value: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    use serde_json::Value;
    match value {
        Value::String(text) if text.contains('\0') => out.push(path.to_string()),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                collect_nul_paths(item, &format!("{path}[{index}]"), out);
            }
        }
        Value::Object(members) => {
            for (key, member) in members {
                let member_path = join(path, key);
                if key.contains('\0') {
                    out.push(member_path.clone());
                }
                collect_nul_paths(member, &member_path, out);
            }
        }
        _ => {}
    }
}

/// Turns serde's wording into a field, a stable code and a plain-English message.
fn describe_data_error(path: &str, message: &str) -> FieldError {
    let quoted = |text: &str| text.split('`').nth(1).map(str::to_string);
    if message.starts_with("unknown field") {
        let name = quoted(message).unwrap_or_default();
        // serde_path_to_error's path already ends with the unknown field.
        let field = if path.is_empty() || path == "." {
            name.clone()
        } else {
            path.to_string()
        };
        return FieldError::new(
            field,
            "unknown_field",
            format!("“{name}” is not a field we accept here. Check the spelling."),
        );
    }
    if message.starts_with("missing field") {
        let name = quoted(message).unwrap_or_default();
        let field = join(path, &name);
        return FieldError::new(field, "required", format!("“{name}” is required."));
    }
    if message.starts_with("unknown variant") {
        let allowed = message
            .split("expected ")
            .nth(1)
            .unwrap_or("")
            .split(" at line")
            .next()
            .unwrap_or("");
        return FieldError::new(
            path,
            "invalid_choice",
            format!("Choose one of: {}.", allowed.replace('`', "")),
        );
    }
    let what = message.split(" at line").next().unwrap_or(message);
    FieldError::new(
        path,
        "invalid_type",
        format!("This value has the wrong type: {what}."),
    )
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() || path == "." {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Session {
        starts_at: String,
        hours: u32,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        title: String,
        sessions: Vec<Session>,
    }

    fn field_error(json: &str) -> FieldError {
        match parse::<Body>(json.as_bytes()) {
            Err(AppError::Validation(mut errors)) if errors.len() == 1 => errors.remove(0),
            other => panic!("expected one field error, got {other:?}"),
        }
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Page {
        limit: Option<i64>,
        cursor: Option<String>,
    }

    /// (field, code) of the one problem `query` has.
    fn query_problem(query: &str) -> (String, String) {
        match parse_query::<Page>(query) {
            Err(AppError::Validation(errors)) if errors.len() == 1 => {
                (errors[0].field.clone(), errors[0].code.clone())
            }
            other => panic!("expected one field error, got {other:?}"),
        }
    }

    #[test]
    fn a_query_value_of_the_wrong_type_names_its_parameter() {
        assert_eq!(
            query_problem("cursor=abc&limit=ten"),
            ("limit".into(), "invalid_type".into())
        );
    }

    #[test]
    fn a_query_parameter_given_twice_is_named() {
        assert_eq!(
            query_problem("limit=5&limit=6"),
            ("limit".into(), "duplicate".into())
        );
    }

    #[test]
    fn an_empty_number_is_named_as_not_a_number() {
        assert_eq!(
            query_problem("limit="),
            ("limit".into(), "invalid_type".into())
        );
    }

    #[test]
    fn a_query_parses_percent_encoded_values() {
        let page: Page = parse_query("limit=5&cursor=a%2Bb%20c")
            .map_err(|_| ())
            .unwrap();
        assert_eq!(
            (page.limit, page.cursor.as_deref()),
            (Some(5), Some("a+b c"))
        );
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        assert!(matches!(
            parse::<Body>(b"{\"title\": "),
            Err(AppError::BadRequest(_))
        ));
    }

    #[test]
    fn unknown_field_is_named_with_its_path() {
        let error =
            field_error(r#"{"title":"t","sessions":[{"starts_at":"x","hours":1,"room":"b"}]}"#);
        assert_eq!(error.field, "sessions[0].room");
        assert_eq!(error.code, "unknown_field");
    }

    #[test]
    fn wrong_type_is_named_with_its_path() {
        let error = field_error(r#"{"title":"t","sessions":[{"starts_at":"x","hours":"two"}]}"#);
        assert_eq!(error.field, "sessions[0].hours");
        assert_eq!(error.code, "invalid_type");
    }

    #[test]
    fn missing_field_is_required() {
        let error = field_error(r#"{"sessions":[]}"#);
        assert_eq!(error.field, "title");
        assert_eq!(error.code, "required");
    }

    #[test]
    fn nul_characters_are_refused_naming_each_field() {
        let result =
            parse::<Body>(br#"{"title":"a\u0000b","sessions":[{"starts_at":"\u0000","hours":1}]}"#);
        let Err(AppError::Validation(errors)) = result else {
            panic!("expected a 422, got {result:?}");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["sessions[0].starts_at", "title"]);
        assert!(errors.iter().all(|e| e.code == "invalid_character"));
    }

    #[test]
    fn an_escaped_backslash_before_u0000_is_not_a_nul() {
        assert!(parse::<Body>(br#"{"title":"C:\\u0000","sessions":[]}"#).is_ok());
    }

    #[test]
    fn trailing_content_is_a_bad_request() {
        assert!(matches!(
            parse::<Body>(br#"{"title":"t","sessions":[]} {}"#),
            Err(AppError::BadRequest(_))
        ));
    }
}
