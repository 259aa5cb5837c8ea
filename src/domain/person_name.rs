use super::Invalid;

const MAX_CHARS: usize = 200;

/// A name as the person writes it: any script, trimmed, not empty, not absurdly long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(Invalid::new("required", "Enter a name."));
        }
        if trimmed.chars().count() > MAX_CHARS {
            return Err(Invalid::new(
                "too_long",
                format!("Names can be up to {MAX_CHARS} characters."),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(Invalid::new(
                "invalid_characters",
                "Names cannot contain line breaks or control characters.",
            ));
        }
        Ok(Self(trimmed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_any_script_are_kept_as_written() {
        for name in ["Siobhán Ní Bhriain", "أحمد", "李小龙", "O'Neil-Smith"] {
            assert_eq!(PersonName::parse(name).map(|n| n.0), Ok(name.to_string()));
        }
    }

    #[test]
    fn blank_name_is_required() {
        assert_eq!(
            PersonName::parse(" \t").err().map(|e| e.code),
            Some("required")
        );
    }

    #[test]
    fn over_long_name_is_refused() {
        let long = "a".repeat(MAX_CHARS + 1);
        assert_eq!(
            PersonName::parse(&long).err().map(|e| e.code),
            Some("too_long")
        );
    }

    #[test]
    fn control_characters_are_refused() {
        assert_eq!(
            PersonName::parse("Sam\nJones").err().map(|e| e.code),
            Some("invalid_characters")
        );
    }
}
