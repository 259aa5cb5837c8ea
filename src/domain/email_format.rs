use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How a person wants email written (DOMAIN.md: formats of contact).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmailFormat {
    /// Plain English, with an HTML part.
    Standard,
    /// Short sentences, one idea per line, the key action first.
    EasyRead,
    /// Text only, no HTML part (screen readers, simple mail programs).
    PlainText,
}

impl EmailFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::EasyRead => "easy_read",
            Self::PlainText => "plain_text",
        }
    }

    /// Reads a stored value; anything unknown falls back to the standard format.
    pub fn from_stored(value: &str) -> Self {
        match value {
            "easy_read" => Self::EasyRead,
            "plain_text" => Self::PlainText,
            _ => Self::Standard,
        }
    }
}
