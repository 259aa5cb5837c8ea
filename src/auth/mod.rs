//! Authentication: access tokens, password hashing, and the `AuthUser` extractor with role guards.

pub mod extractor;
pub mod jwt;
pub mod password;

pub use extractor::AuthUser;
