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

    /// The email format other than the standard one that the contact formats someone chose in
    /// their profile ask for: easy read before plain text, since someone who ticks easy read
    /// needs it whatever else they tick. None otherwise: ticking "standard" never takes away an
    /// easy-read or plain-text choice made elsewhere.
    pub fn from_contact_formats(formats: &[String]) -> Option<Self> {
        [Self::EasyRead, Self::PlainText]
            .into_iter()
            .find(|format| formats.iter().any(|chosen| chosen == format.as_str()))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(codes: &[&str]) -> Vec<String> {
        codes.iter().map(|c| (*c).to_string()).collect()
    }

    #[test]
    fn easy_read_in_the_profile_wins_over_the_other_email_formats() {
        assert_eq!(
            EmailFormat::from_contact_formats(&chosen(&["standard", "easy_read", "plain_text"])),
            Some(EmailFormat::EasyRead)
        );
        assert_eq!(
            EmailFormat::from_contact_formats(&chosen(&["large_print", "plain_text"])),
            Some(EmailFormat::PlainText)
        );
    }

    #[test]
    fn formats_that_are_not_about_email_leave_it_as_it_was() {
        assert_eq!(
            EmailFormat::from_contact_formats(&chosen(&["large_print", "audio"])),
            None
        );
        assert_eq!(
            EmailFormat::from_contact_formats(&chosen(&["standard"])),
            None,
            "never takes easy read away"
        );
    }
}
