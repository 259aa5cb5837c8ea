//! Persistence: one code base over SQLite (embedded default) and PostgreSQL (scale path).
//!
//! Handlers hand a whole unit of work to [`Database::read`] or [`Database::write`]; it runs on
//! the blocking pool with one pooled connection, inside a transaction for writes (on SQLite,
//! writers queued together commit together: `group_commit`).

mod group_commit;
pub mod migrations;
pub mod models;
pub mod pool;
pub mod prepared;
pub mod queries;
pub mod schema;
pub mod url;

pub use pool::{Database, DbConn, connect_once, write_transaction};

/// The current time at the precision both backends keep (PostgreSQL: microseconds), so a view
/// built from a row still in memory is the same as one built from the row read back.
pub fn now() -> chrono::NaiveDateTime {
    use chrono::SubsecRound;
    chrono::Utc::now().naive_utc().trunc_subsecs(6)
}

/// Runs the same code against the concrete connection of either backend (for dialect-only
/// features such as upserts), or different code per backend with the two-arm form.
///
/// Also the fast path for queries on every request: through `MultiConnection` diesel writes the
/// SQL text afresh on each execution (quoting every identifier), while a concrete connection
/// finds the prepared statement by the query's type and writes nothing (docs/PERFORMANCE.md).
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Postgres($c) => $body,
            $crate::db::DbConn::Sqlite($c) => $body,
        }
    };
    ($conn:expr, postgres: |$pg:ident| $pg_body:expr, sqlite: |$lite:ident| $lite_body:expr $(,)?) => {
        match $conn {
            $crate::db::DbConn::Postgres($pg) => $pg_body,
            $crate::db::DbConn::Sqlite($lite) => $lite_body,
        }
    };
}
