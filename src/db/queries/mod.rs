//! Queries by resource. Each function takes the connection of the caller's unit of work.

pub mod adjustments;
pub mod audit;
pub mod auth;
pub mod claims;
pub mod idempotency;
pub mod matching;
pub mod organisations;
pub mod outbox;
pub mod owner_views;
pub mod partnership;
pub mod people;
pub mod pool;
pub mod privacy;
pub mod recruitment;
pub mod reports;
pub mod users;

/// `text` for a LIKE pattern with `\` as the escape character.
fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The answer of a `pg_try_advisory_xact_lock…(…) AS taken`: whether the lock was free and is now
/// held.
#[derive(diesel::QueryableByName)]
pub struct LockTaken {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub taken: bool,
}
