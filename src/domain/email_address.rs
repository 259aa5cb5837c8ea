use validator::ValidateEmail;

use super::Invalid;

/// A syntactically valid email address, trimmed and lower-cased so one person has one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let normalised = raw.trim().to_lowercase();
        if normalised.is_empty() {
            return Err(Invalid::new("required", "Enter your email address."));
        }
        if normalised.len() > 254 || !normalised.validate_email() {
            return Err(Invalid::new(
                "invalid_email",
                "Enter an email address in the right format, like name@example.com.",
            ));
        }
        Ok(Self(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after `@`, which is all that logs may show.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lower_cased() {
        let email =
            EmailAddress::parse("  Sam.Jones@Example.ORG ").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(email.as_str(), "sam.jones@example.org");
        assert_eq!(email.domain(), "example.org");
    }

    #[test]
    fn empty_address_is_required() {
        assert_eq!(
            EmailAddress::parse("  ").err().map(|e| e.code),
            Some("required")
        );
    }

    #[test]
    fn malformed_address_is_refused() {
        for bad in ["sam", "sam@", "@example.org", "sam@@example.org"] {
            assert_eq!(
                EmailAddress::parse(bad).err().map(|e| e.code),
                Some("invalid_email"),
                "{bad}"
            );
        }
    }
}
