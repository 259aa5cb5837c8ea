//! Rows as stored, one file per table family.

pub mod user;
