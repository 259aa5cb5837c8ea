//! Embedded migrations, one set per backend with identical folder names.

use diesel::RunQueryDsl;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::DbConn;
use crate::per_backend;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Any constant works; it only has to be the same for every replica.
const MIGRATION_LOCK_KEY: i64 = 0x636f_7072_6f64;

/// Applies pending migrations and returns the versions applied. On PostgreSQL an advisory
/// lock keeps replicas that start together from migrating at the same time.
pub fn run_pending(conn: &mut DbConn) -> anyhow::Result<Vec<String>> {
    let applied = per_backend!(conn,
        postgres: |pg| {
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")).execute(pg)?;
            let result = pg.run_pending_migrations(POSTGRES_MIGRATIONS).map(versions);
            let unlocked = diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")).execute(pg);
            if let Err(error) = unlocked {
                // The session ends with the connection, releasing the lock anyway.
                tracing::warn!(error = %error, "releasing the migration lock failed");
            }
            result
        },
        sqlite: |lite| run_sqlite(lite),
    );
    applied.map_err(|e| anyhow::anyhow!("migration failed: {e}"))
}

/// SQLite can only rebuild a table (its way to alter most things) with foreign keys off:
/// otherwise dropping the old table cascades into its children. The pragma cannot change
/// inside a transaction, so it is switched around the run, then the keys are checked.
fn run_sqlite(
    conn: &mut diesel::SqliteConnection,
) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
    diesel::sql_query("PRAGMA foreign_keys = OFF").execute(conn)?;
    let result = conn.run_pending_migrations(SQLITE_MIGRATIONS).map(versions);
    diesel::sql_query("PRAGMA foreign_keys = ON").execute(conn)?;
    let broken: Vec<ForeignKeyViolation> =
        diesel::sql_query("PRAGMA foreign_key_check").load(conn)?;
    if let Some(first) = broken.first() {
        return Err(format!(
            "{} rows break foreign keys after migrating (first in table {})",
            broken.len(),
            first.table
        )
        .into());
    }
    result
}

#[derive(diesel::QueryableByName)]
struct ForeignKeyViolation {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table: String,
}

fn versions(applied: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    applied.iter().map(ToString::to_string).collect()
}
