use super::Invalid;

/// Long passphrases beat complexity rules (NIST SP 800-63B); the upper bound caps hashing cost.
pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 128;

/// A password that meets the policy. Never logged, never `Debug`-printed.
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let count = raw.chars().count();
        if count < MIN_CHARS {
            return Err(Invalid::new(
                "too_short",
                format!(
                    "Use a password of at least {MIN_CHARS} characters. A few unrelated words work well."
                ),
            ));
        }
        if count > MAX_CHARS {
            return Err(Invalid::new(
                "too_long",
                format!("Passwords can be up to {MAX_CHARS} characters."),
            ));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_password_is_refused() {
        assert_eq!(
            NewPassword::parse("short").err().map(|e| e.code),
            Some("too_short")
        );
    }

    #[test]
    fn passphrase_is_accepted() {
        assert!(NewPassword::parse("correct horse battery staple").is_ok());
    }

    #[test]
    fn over_long_password_is_refused() {
        let long = "x".repeat(MAX_CHARS + 1);
        assert_eq!(
            NewPassword::parse(&long).err().map(|e| e.code),
            Some("too_long")
        );
    }
}
