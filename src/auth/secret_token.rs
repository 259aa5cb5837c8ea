//! Bearer secrets sent by email or held by clients (magic links, refresh tokens, invitations):
//! 256 random bits, base64url; only their SHA-256 is stored, so a database leak reveals none.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub struct SecretToken {
    /// Given to the person once; never stored or logged.
    pub plain: String,
    pub hash: String,
}

pub fn generate() -> SecretToken {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let plain = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&plain);
    SecretToken { plain, hash }
}

pub fn hash(plain: &str) -> String {
    Sha256::digest(plain.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_256_bits_and_differ() {
        let a = generate();
        let b = generate();
        assert_eq!(
            URL_SAFE_NO_PAD.decode(&a.plain).map(|v| v.len()).ok(),
            Some(32)
        );
        assert_ne!(a.plain, b.plain);
    }

    #[test]
    fn stored_hash_is_sha256_of_the_plain_token() {
        let token = generate();
        assert_eq!(token.hash, hash(&token.plain));
        assert_eq!(token.hash.len(), 64);
        assert_ne!(token.hash, token.plain);
    }
}
