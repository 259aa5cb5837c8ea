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
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")).execute(pg)?;
            result
        },
        sqlite: |lite| lite.run_pending_migrations(SQLITE_MIGRATIONS).map(versions),
    );
    applied.map_err(|e| anyhow::anyhow!("migration failed: {e}"))
}

fn versions(applied: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    applied.iter().map(ToString::to_string).collect()
}
