use std::sync::Once;

use chrono::Utc;
use coproduce::db::models::user::UserRow;
use coproduce::db::queries::users;
use coproduce::domain::role::Role;
use coproduce::settings::Settings;
use coproduce::startup::Application;
use coproduce::state::AppState;
use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::Value;

/// Defines one test per backend: `<name>::sqlite` and `<name>::postgres`.
macro_rules! both_backends {
    ($( $(#[$meta:meta])* async fn $name:ident($app:ident) $body:block )*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                #[tokio::test]
                async fn sqlite() {
                    let $app = $crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await
                        .expect("SQLite is always available");
                    $body
                }

                #[tokio::test]
                async fn postgres() {
                    let Some($app) = $crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await else {
                        return;
                    };
                    $body
                }
            }
        )*
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database made for one test and removed after it.
pub enum TestDatabase {
    /// Held so the folder (and the file in it) is removed when the test ends.
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDatabase {
    /// A fresh database and its URL; `None` for PostgreSQL when TEST_DATABASE_URL is unset.
    pub fn create(backend: Backend) -> Option<(TestDatabase, String)> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Some((TestDatabase::Sqlite(dir), url))
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url()?;
                let name = format!("coproduce_test_{}", uuid::Uuid::now_v7().simple());
                let mut admin = PgConnection::establish(&admin_url)
                    .unwrap_or_else(|e| panic!("TEST_DATABASE_URL does not answer: {e}"));
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .expect("create test database");
                let url = with_database_name(&admin_url, &name);
                Some((TestDatabase::Postgres { admin_url, name }, url))
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres { admin_url, name } = self
            && let Ok(mut admin) = PgConnection::establish(admin_url)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin);
        }
    }
}

/// TEST_DATABASE_URL, or `None` (after saying so once) when PostgreSQL tests are off.
pub fn postgres_admin_url() -> Option<String> {
    static NOTICE: Once = Once::new();
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            NOTICE.call_once(|| {
                eprintln!(
                    "TEST_DATABASE_URL is not set: PostgreSQL variants of the tests are skipped"
                );
            });
            None
        }
    }
}

/// Replaces the database name in a postgres:// URL, keeping any query string.
pub fn with_database_name(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let server = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub backend: Backend,
    pub database_url: String,
    _database: TestDatabase,
}

pub struct TestUser {
    pub id: String,
    pub email: String,
    pub token: String,
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

/// Spawns the application with test settings, changed by `customise`.
pub async fn spawn_app_with(
    backend: Backend,
    customise: impl FnOnce(&mut Settings),
) -> Option<TestApp> {
    let (database, database_url) = TestDatabase::create(backend)?;
    let mut settings = Settings::default();
    settings.server.port = 0;
    settings.server.workers = 1;
    settings.database.url = database_url.clone();
    settings.database.pool_size = 4;
    settings.database.pool_timeout_ms = 500;
    customise(&mut settings);
    let application = Application::build(settings)
        .await
        .expect("application starts");
    let address = format!("http://127.0.0.1:{}", application.port());
    let state = application.state().clone();
    tokio::spawn(application.run_until_stopped());
    Some(TestApp {
        address,
        client: reqwest::Client::new(),
        state,
        backend,
        database_url,
        _database: database,
    })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub fn get_as(&self, user: &TestUser, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(&user.token)
    }

    pub fn patch_as(&self, user: &TestUser, path: &str) -> reqwest::RequestBuilder {
        self.client.patch(self.url(path)).bearer_auth(&user.token)
    }

    /// A stored user holding `role`, with a valid access token: one line in a test.
    pub async fn signed_in(&self, role: Role) -> TestUser {
        let id = uuid::Uuid::now_v7().to_string();
        let email = format!("{}.{}@example.org", role.as_str(), &id[id.len() - 8..]);
        let now = Utc::now().naive_utc();
        let row = UserRow {
            id: id.clone(),
            email: email.clone(),
            full_name: format!("Test {role}"),
            preferred_name: None,
            password_hash: None,
            status: "active".into(),
            created_at: now,
            updated_at: now,
        };
        self.state
            .db
            .write(move |conn| {
                users::insert(conn, &row)?;
                users::grant_role(conn, &row.id, role)?;
                Ok(())
            })
            .await
            .expect("test user stored");
        let token = self
            .state
            .jwt
            .issue_access_token(&id, &[role], "test-session")
            .expect("token issued")
            .token;
        TestUser { id, email, token }
    }
}

/// Reads a problem+json answer, checking its content type and status member.
pub async fn problem(response: reqwest::Response) -> Value {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(content_type, "application/problem+json", "status {status}");
    let body: Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["status"], status);
    body
}

/// The `field` members of a 422 problem's `errors`.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}
