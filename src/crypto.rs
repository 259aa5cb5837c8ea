//! Encryption at rest for special-category data (access passports, lived experience, EO answers)
//! and for what derives from them or repeats them (unsent email, why someone was suggested).
//!
//! XChaCha20-Poly1305 with a random 192-bit nonce per write. The associated data binds each
//! ciphertext to its owner and field, so a row copied onto another person or field fails to open.
//! Stored form: `key id (8 bytes) || nonce (24) || ciphertext+tag`. Keys rotate by making a new
//! `crypto.data_key` and moving the old one to `crypto.previous_keys`; `coproduce reencrypt`
//! rewrites every row under the current key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

const KEY_ID_LEN: usize = 8;
const NONCE_LEN: usize = 24;

/// What a ciphertext holds; part of the associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    AccessPassport,
    LivedExperience,
    EqualOpportunities,
    /// An outbox row's body; the owner is the row's id.
    EmailBody,
    /// Why someone was suggested for an element; the owner is the invitation's id.
    InvitationReasons,
    /// What was arranged of a booking's access adjustments; the owner is the assignment's id.
    AdjustmentArrangements,
}

impl Field {
    pub const ALL: [Field; 6] = [
        Field::AccessPassport,
        Field::LivedExperience,
        Field::EqualOpportunities,
        Field::EmailBody,
        Field::InvitationReasons,
        Field::AdjustmentArrangements,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::AccessPassport => "access_passport",
            Field::LivedExperience => "lived_experience",
            Field::EqualOpportunities => "equal_opportunities",
            Field::EmailBody => "email_body",
            Field::InvitationReasons => "invitation_reasons",
            Field::AdjustmentArrangements => "adjustment_arrangements",
        }
    }
}

struct Key {
    id: [u8; KEY_ID_LEN],
    cipher: XChaCha20Poly1305,
}

impl Key {
    fn from_base64(encoded: &str, setting: &str) -> Result<Self, String> {
        let bytes = STANDARD.decode(encoded.trim()).map_err(|_| {
            format!("{setting}: must be base64 (for example from `openssl rand -base64 32`)")
        })?;
        if bytes.len() != 32 {
            return Err(format!(
                "{setting}: must be 32 bytes of base64, got {} bytes",
                bytes.len()
            ));
        }
        let digest = Sha256::digest(&bytes);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        let cipher =
            XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| format!("{setting}: bad key"))?;
        Ok(Self { id, cipher })
    }
}

pub struct DataCipher {
    current: Key,
    previous: Vec<Key>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("the stored value is too short to be a ciphertext")]
    Malformed,
    #[error("the stored value was encrypted with a key that is not configured")]
    UnknownKey,
    #[error("the stored value does not open with its key (tampered, or moved between records)")]
    Tampered,
    #[error("encryption failed")]
    Encrypt,
}

impl DataCipher {
    pub fn new(current: &str, previous: &[String]) -> Result<Self, String> {
        Ok(Self {
            current: Key::from_base64(current, "crypto.data_key")?,
            previous: previous
                .iter()
                .map(|key| Key::from_base64(key, "crypto.previous_keys"))
                .collect::<Result<_, _>>()?,
        })
    }

    pub fn encrypt(
        &self,
        owner: &str,
        field: Field,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = associated_data(owner, field);
        let sealed = self
            .current
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Encrypt)?;
        let mut stored = Vec::with_capacity(KEY_ID_LEN + NONCE_LEN + sealed.len());
        stored.extend_from_slice(&self.current.id);
        stored.extend_from_slice(&nonce);
        stored.extend_from_slice(&sealed);
        Ok(stored)
    }

    pub fn decrypt(
        &self,
        owner: &str,
        field: Field,
        stored: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        if stored.len() < KEY_ID_LEN + NONCE_LEN + 16 {
            return Err(CryptoError::Malformed);
        }
        let (id, rest) = stored.split_at(KEY_ID_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id == id)
            .ok_or(CryptoError::UnknownKey)?;
        let aad = associated_data(owner, field);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Malformed)?;
        key.cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Tampered)
    }

    /// True when `stored` was written under an older key (for `coproduce reencrypt`).
    pub fn needs_reencryption(&self, stored: &[u8]) -> bool {
        stored.get(..KEY_ID_LEN) != Some(&self.current.id[..])
    }

    pub fn encrypt_json<T: serde::Serialize>(
        &self,
        owner: &str,
        field: Field,
        value: &T,
    ) -> Result<Vec<u8>, CryptoError> {
        let plaintext = serde_json::to_vec(value).map_err(|_| CryptoError::Encrypt)?;
        self.encrypt(owner, field, &plaintext)
    }

    pub fn decrypt_json<T: serde::de::DeserializeOwned>(
        &self,
        owner: &str,
        field: Field,
        stored: &[u8],
    ) -> Result<T, CryptoError> {
        let plaintext = self.decrypt(owner, field, stored)?;
        serde_json::from_slice(&plaintext).map_err(|_| CryptoError::Malformed)
    }
}

fn associated_data(owner: &str, field: Field) -> Vec<u8> {
    format!("coproduce/v1/{}/{owner}", field.as_str()).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const KEY_B: &str = "HxwdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

    fn cipher(current: &str, previous: &[&str]) -> DataCipher {
        let previous: Vec<String> = previous.iter().map(|k| (*k).to_string()).collect();
        DataCipher::new(current, &previous).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn round_trip_gives_the_plaintext_and_stores_no_plaintext() {
        let c = cipher(KEY_A, &[]);
        let stored = c
            .encrypt("user-1", Field::AccessPassport, b"bsl_interpreter")
            .unwrap_or_default();
        assert!(!stored.windows(3).any(|w| w == b"bsl"));
        assert_eq!(
            c.decrypt("user-1", Field::AccessPassport, &stored).ok(),
            Some(b"bsl_interpreter".to_vec())
        );
    }

    #[test]
    fn same_plaintext_encrypts_differently_each_time() {
        let c = cipher(KEY_A, &[]);
        assert_ne!(
            c.encrypt("u", Field::LivedExperience, b"x").ok(),
            c.encrypt("u", Field::LivedExperience, b"x").ok()
        );
    }

    #[test]
    fn ciphertext_moved_to_another_person_or_field_does_not_open() {
        let c = cipher(KEY_A, &[]);
        let stored = c
            .encrypt("user-1", Field::AccessPassport, b"secret")
            .unwrap_or_default();
        assert_eq!(
            c.decrypt("user-2", Field::AccessPassport, &stored),
            Err(CryptoError::Tampered)
        );
        assert_eq!(
            c.decrypt("user-1", Field::LivedExperience, &stored),
            Err(CryptoError::Tampered)
        );
    }

    #[test]
    fn flipped_bit_is_detected() {
        let c = cipher(KEY_A, &[]);
        let mut stored = c
            .encrypt("u", Field::AccessPassport, b"secret")
            .unwrap_or_default();
        let last = stored.len() - 1;
        stored[last] ^= 1;
        assert_eq!(
            c.decrypt("u", Field::AccessPassport, &stored),
            Err(CryptoError::Tampered)
        );
    }

    #[test]
    fn rotated_key_still_opens_old_rows_and_flags_them() {
        let old = cipher(KEY_A, &[]);
        let stored = old
            .encrypt("u", Field::EqualOpportunities, b"data")
            .unwrap_or_default();
        let rotated = cipher(KEY_B, &[KEY_A]);
        assert_eq!(
            rotated
                .decrypt("u", Field::EqualOpportunities, &stored)
                .ok(),
            Some(b"data".to_vec())
        );
        assert!(rotated.needs_reencryption(&stored));
        let fresh = rotated
            .encrypt("u", Field::EqualOpportunities, b"data")
            .unwrap_or_default();
        assert!(!rotated.needs_reencryption(&fresh));
        assert_eq!(
            cipher(KEY_B, &[]).decrypt("u", Field::EqualOpportunities, &stored),
            Err(CryptoError::UnknownKey)
        );
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert!(DataCipher::new("not base64!", &[]).is_err());
        assert!(DataCipher::new("c2hvcnQ=", &[]).is_err());
    }
}
