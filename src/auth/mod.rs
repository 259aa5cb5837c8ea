//! Authentication: access tokens, password hashing, and the `AuthUser` extractor with role guards.

pub mod client_ip;
pub mod extractor;
pub mod jwt;
pub mod magic_link;
pub mod password;
pub mod rate_limit;
pub mod secret_token;
pub mod session;
pub mod session_recheck;
pub mod verified_tokens;

pub use extractor::{AuthUser, MaybeSignedIn};
