//! Password hashing with argon2id at the OWASP minimum (19 MiB, 2 passes, 1 lane).

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

use crate::domain::password::NewPassword;

const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

fn hasher() -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None)
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) with a fresh random salt.
pub fn hash(password: &NewPassword) -> anyhow::Result<String> {
    let hash = hasher()?
        .hash_password(password.expose().as_bytes())
        .map_err(|e| anyhow::anyhow!("hashing a password failed: {e}"))?;
    Ok(hash.to_string())
}

/// True when `password` matches `stored`; a malformed stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    hasher().is_ok_and(|h| h.verify_password(password.as_bytes(), stored).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy_password(raw: &str) -> NewPassword {
        NewPassword::parse(raw).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn hash_uses_argon2id_at_owasp_minimum() {
        let stored = hash(&policy_password("correct horse battery")).unwrap_or_default();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
    }

    #[test]
    fn right_password_verifies_and_wrong_does_not() {
        let stored = hash(&policy_password("correct horse battery")).unwrap_or_default();
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("correct horse batterY", &stored));
    }

    #[test]
    fn same_password_gets_a_different_salt_each_time() {
        let password = policy_password("correct horse battery");
        assert_ne!(hash(&password).ok(), hash(&password).ok());
    }

    #[test]
    fn malformed_stored_hash_never_matches() {
        assert!(!verify("anything", "not-a-hash"));
    }
}
