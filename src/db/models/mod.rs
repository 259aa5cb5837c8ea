//! Rows as stored, one file per table family.

pub mod auth;
pub mod claims;
pub mod matching;
pub mod outbox;
pub mod partnership;
pub mod recruitment;
pub mod user;
