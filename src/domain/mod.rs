//! Pure domain types and rules ("parse, don't validate"). No actix, no diesel.

pub mod assignment;
pub mod catalogue;
pub mod email_address;
pub mod email_format;
pub mod erasure;
pub mod partnership;
pub mod password;
pub mod person_name;
pub mod profile;
pub mod recruitment;
pub mod role;

/// Why a value was refused: a stable code and a plain-English message for the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub code: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}
