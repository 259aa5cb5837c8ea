//! Both migration sets give the same schema, every migration goes up → down → up, and
//! `src/db/schema.rs` names exactly the migrated tables and columns.

use std::collections::BTreeMap;

use coproduce::db::migrations::{POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
use diesel::migration::{MigrationConnection, MigrationSource};
use diesel::sql_types::{Nullable, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use diesel_migrations::MigrationHarness;

use crate::helpers::*;

type Schema = BTreeMap<String, Vec<String>>;

#[derive(QueryableByName)]
struct TableColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    _kind: Option<String>,
}

fn collect(rows: Vec<TableColumn>) -> Schema {
    let mut schema = Schema::new();
    for row in rows {
        if row.table_name != "__diesel_schema_migrations" {
            schema
                .entry(row.table_name)
                .or_default()
                .push(row.column_name);
        }
    }
    for columns in schema.values_mut() {
        columns.sort();
    }
    schema
}

fn sqlite_schema(conn: &mut SqliteConnection) -> Schema {
    collect(
        diesel::sql_query(
            "SELECT m.name AS table_name, p.name AS column_name, p.type AS _kind \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
        )
        .load(conn)
        .unwrap(),
    )
}

fn postgres_schema(conn: &mut PgConnection) -> Schema {
    collect(
        diesel::sql_query(
            "SELECT table_name::text AS table_name, column_name::text AS column_name, data_type::text AS _kind \
             FROM information_schema.columns WHERE table_schema = 'public'",
        )
        .load(conn)
        .unwrap(),
    )
}

/// Tables and columns as `src/db/schema.rs` declares them.
fn declared_schema() -> Schema {
    let text = include_str!("../../src/db/schema.rs");
    let mut schema = Schema::new();
    let mut table: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_suffix('{').map(str::trim)
            && let Some((name, _key)) = rest.split_once(' ')
            && rest.contains('(')
        {
            table = Some(name.to_string());
            schema.entry(name.to_string()).or_default();
        } else if let (Some(name), Some((column, _type))) = (&table, line.split_once(" -> ")) {
            schema
                .get_mut(name)
                .unwrap()
                .push(column.trim().to_string());
        } else if line == "}" {
            table = None;
        }
    }
    for columns in schema.values_mut() {
        columns.sort();
    }
    schema
}

fn migrated_sqlite() -> (tempfile::TempDir, SqliteConnection) {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = SqliteConnection::establish(&dir.path().join("m.db").to_string_lossy()).unwrap();
    conn.run_pending_migrations(SQLITE_MIGRATIONS).unwrap();
    (dir, conn)
}

#[test]
fn migration_sets_have_the_same_folder_names() {
    let names = |source: &dyn MigrationSource<diesel::sqlite::Sqlite>| -> Vec<String> {
        source
            .migrations()
            .unwrap()
            .iter()
            .map(|m| m.name().to_string())
            .collect()
    };
    let pg_names: Vec<String> = MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES_MIGRATIONS)
        .unwrap()
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    assert_eq!(names(&SQLITE_MIGRATIONS), pg_names);
}

#[test]
fn schema_rs_declares_exactly_the_sqlite_tables_and_columns() {
    let (_dir, mut conn) = migrated_sqlite();
    assert_eq!(sqlite_schema(&mut conn), declared_schema());
}

#[test]
fn every_sqlite_migration_goes_up_down_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = SqliteConnection::establish(&dir.path().join("m.db").to_string_lossy()).unwrap();
    up_down_up(&mut conn, SQLITE_MIGRATIONS, sqlite_schema);
    assert_eq!(sqlite_schema(&mut conn), declared_schema());
}

/// Applies each migration, reverts it, checks the schema is back where it was, applies it again.
fn up_down_up<DB, C>(
    conn: &mut C,
    source: diesel_migrations::EmbeddedMigrations,
    schema_of: fn(&mut C) -> Schema,
) where
    DB: diesel::backend::Backend,
    C: MigrationHarness<DB> + MigrationConnection,
    diesel_migrations::EmbeddedMigrations: MigrationSource<DB>,
{
    conn.setup().unwrap();
    let migrations = source.migrations().unwrap();
    for migration in &migrations {
        let before = schema_of(conn);
        conn.run_migration(migration)
            .unwrap_or_else(|e| panic!("{} up: {e}", migration.name()));
        let after = schema_of(conn);
        conn.revert_migration(migration)
            .unwrap_or_else(|e| panic!("{} down: {e}", migration.name()));
        assert_eq!(
            schema_of(conn),
            before,
            "{} down does not undo up",
            migration.name()
        );
        conn.run_migration(migration)
            .unwrap_or_else(|e| panic!("{} up again: {e}", migration.name()));
        assert_eq!(
            schema_of(conn),
            after,
            "{} up again differs",
            migration.name()
        );
    }
}

#[test]
fn every_postgres_migration_goes_up_down_up() {
    let Some((_db, url)) = TestDatabase::create(Backend::Postgres) else {
        return;
    };
    let mut conn = PgConnection::establish(&url).unwrap();
    up_down_up(&mut conn, POSTGRES_MIGRATIONS, postgres_schema);
    assert_eq!(postgres_schema(&mut conn), declared_schema());
}

#[test]
fn sqlite_and_postgres_migrations_give_the_same_tables_and_columns() {
    let Some((_db, url)) = TestDatabase::create(Backend::Postgres) else {
        return;
    };
    let mut pg = PgConnection::establish(&url).unwrap();
    pg.run_pending_migrations(POSTGRES_MIGRATIONS).unwrap();
    let (_dir, mut lite) = migrated_sqlite();
    assert_eq!(postgres_schema(&mut pg), sqlite_schema(&mut lite));
}
