//! Queries by resource. Each function takes the connection of the caller's unit of work.

pub mod users;
