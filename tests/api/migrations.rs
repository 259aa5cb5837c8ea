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

/// The test app's database on a connection of its own, outside any transaction.
fn connection_of(app: &TestApp) -> coproduce::db::DbConn {
    let url = coproduce::db::url::DatabaseUrl::parse(&app.database_url).unwrap();
    coproduce::db::pool::DbConnectionManager::new(url, 5_000)
        .establish()
        .unwrap()
}

/// Reverts migrations, last first, up to and including `version`.
fn revert_through(conn: &mut coproduce::db::DbConn, version: &str) {
    use coproduce::db::DbConn;
    loop {
        let reverted = match conn {
            DbConn::Sqlite(c) => c.revert_last_migration(SQLITE_MIGRATIONS),
            DbConn::Postgres(c) => c.revert_last_migration(POSTGRES_MIGRATIONS),
        }
        .unwrap()
        .to_string();
        if reverted == version {
            return;
        }
    }
}

both_backends! {
    async fn the_migrations_mend_what_older_code_left(app) {
        // The element ends filled (one place, booked from the waiting list).
        use coproduce::db::schema::{assignment_events, elements, invitation_offers, invitations};
        use diesel::{ExpressionMethods, QueryDsl};
        use serde_json::{Value, json};
        use crate::matching::{accept, first_element, fitting_profile, invite};
        use crate::partners::{coproducer, patch_element, project};
        let (coordinator, _, project) = project(&app).await;
        let element = first_element(&project);
        assert_eq!(patch_element(&app, &coordinator, &element, json!({"people_needed": 1})).await.status(), 200);
        let booked = coproducer(&app, fitting_profile()).await;
        let waiting = coproducer(&app, fitting_profile()).await;
        let archived = coproducer(&app, fitting_profile()).await;
        let invited: Vec<Value> = invite(&app, &coordinator, &element, &[&booked.id, &waiting.id, &archived.id]).await.json().await.unwrap();
        let first: Value = accept(&app, &booked, invited[0]["id"].as_str().unwrap()).await.json().await.unwrap();
        accept(&app, &waiting, invited[1]["id"].as_str().unwrap()).await;
        let archive = app.post_as(&coordinator, &format!("/api/v1/coproducers/{}/archive", archived.id)).json(&json!({"reason": "Moved away"})).send().await.unwrap();
        assert_eq!(archive.status(), 200);
        let withdrawn = app.post_as(&booked, &format!("/api/v1/assignments/{}/withdraw", first["assignment"]["id"].as_str().unwrap())).json(&json!({})).send().await.unwrap();
        assert_eq!(withdrawn.status(), 200);

        // Back before migration 000022, with the data as older code left it: an archived
        // person's invitation still open, a waiting-list booking credited to whoever left.
        let mut conn = connection_of(&app);
        revert_through(&mut conn, "20261210000022");
        diesel::sql_query(format!("UPDATE invitations SET status = 'invited' WHERE coproducer_id = '{}'", archived.id)).execute(&mut conn).unwrap();
        diesel::sql_query(format!("UPDATE assignment_events SET actor_id = '{}' WHERE actor_id = 'service'", booked.id)).execute(&mut conn).unwrap();
        coproduce::db::migrations::run_pending(&mut conn).unwrap();

        let (archived_id, element_id) = (archived.id.clone(), element.clone());
        let (status, actors, offers, (status_changed, partner_told)) = app.state.db.read(move |conn| {
            let status: String = invitations::table.filter(invitations::coproducer_id.eq(&archived_id)).select(invitations::status).first(conn)?;
            let actors: Vec<String> = assignment_events::table
                .filter(assignment_events::note.eq("Booked from the waiting list when a place came up."))
                .select(assignment_events::actor_id)
                .load(conn)?;
            let offers: i64 = invitation_offers::table.count().get_result(conn)?;
            let dates: (Option<chrono::NaiveDateTime>, Option<chrono::NaiveDateTime>) = elements::table
                .find(&element_id)
                .select((elements::status_changed_at, elements::partner_told_filled_at))
                .first(conn)?;
            Ok((status, actors, offers, dates))
        }).await.unwrap();
        assert_eq!(status, "expired", "000022 closes an archived person's open invitation");
        assert_eq!(actors, ["service"], "000022 names the service on waiting-list bookings");
        assert_eq!(offers, 3, "000024 records each invitation's sending");
        assert!(status_changed.is_some(), "000026 dates the element's last move");
        assert!(partner_told.is_some(), "000027 counts an element already filled as told");
    }
}
