use std::io::Write;
use std::sync::Once;

use coproduce::auth::session;
use coproduce::db::models::user::UserRow;
use coproduce::db::queries::users;
use coproduce::domain::role::Role;
use coproduce::email::OutgoingEmail;
use coproduce::settings::{EmailTransport, Settings};
use coproduce::startup::Application;
use coproduce::state::AppState;
use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::Value;

/// Defines one test per backend: `<name>::sqlite` and `<name>::postgres`. An optional
/// `|settings| change` after the app's name adjusts its settings.
macro_rules! both_backends {
    (@settings) => { |_: &mut coproduce::settings::Settings| {} };
    (@settings |$s:ident| $change:expr) => { |$s: &mut coproduce::settings::Settings| { $change; } };
    ($( $(#[$meta:meta])* async fn $name:ident($app:ident $(, |$s:ident| $change:expr)?) $body:block )*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                #[tokio::test]
                async fn sqlite() {
                    let settings = both_backends!(@settings $(|$s| $change)?);
                    let $app = $crate::helpers::spawn_app_with($crate::helpers::Backend::Sqlite, settings).await
                        .expect("SQLite is always available");
                    $body
                }

                #[tokio::test]
                async fn postgres() {
                    let settings = both_backends!(@settings $(|$s| $change)?);
                    let Some($app) = $crate::helpers::spawn_app_with($crate::helpers::Backend::Postgres, settings).await else {
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

/// TEST_DATABASE_URL, or `None` when PostgreSQL tests are off. Under CI (`CI` set) a missing
/// TEST_DATABASE_URL is an error, so the PostgreSQL variants can never pass by being skipped.
pub fn postgres_admin_url() -> Option<String> {
    static NOTICE: Once = Once::new();
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(without_tls_unless_asked(url)),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but TEST_DATABASE_URL is not"
            );
            NOTICE.call_once(|| {
                // Straight to stderr: the test harness captures eprintln! of passing tests.
                let _ = std::io::stderr().write_all(
                    b"note: TEST_DATABASE_URL is not set; the PostgreSQL variants (::postgres) are skipped\n",
                );
            });
            None
        }
    }
}

/// The test URL with `sslmode=disable` unless it names a mode. Apps of finished tests leave
/// threads holding connections until the process ends; over TLS, libpq's OpenSSL frees its
/// globals in an atexit handler while those threads still use them, which once aborted a whole
/// passing run with "double free or corruption" (openssl/openssl#17469).
fn without_tls_unless_asked(url: String) -> String {
    if url.contains("sslmode=") {
        url
    } else if url.contains('?') {
        format!("{url}&sslmode=disable")
    } else {
        format!("{url}?sslmode=disable")
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
    pub session_id: String,
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
    settings.email.transport = EmailTransport::Memory;
    // Tests drain the outbox themselves, so what was sent is known when they look.
    settings.email.worker = false;
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

    /// An erasure caught half way, on a connection of its own, as `DELETE /me` runs it: the
    /// account is taken and the person's data gone, not yet committed.
    pub fn erasure_in_flight(&self, user: &TestUser) -> coproduce::db::DbConn {
        let mut conn = self.transaction_of_its_own();
        let now = chrono::Utc::now().naive_utc();
        coproduce::db::queries::privacy::erase_person(
            &mut conn,
            &user.id,
            &user.email,
            "Test Person",
            now,
        )
        .unwrap();
        conn
    }

    /// A writer's transaction begun on a connection of its own, to stop "another request" half
    /// way (on SQLite it holds the write lock). Dropped without `COMMIT`, it rolls back.
    pub fn transaction_of_its_own(&self) -> coproduce::db::DbConn {
        use coproduce::db::DbConn;
        use diesel::connection::SimpleConnection;
        let url = coproduce::db::url::DatabaseUrl::parse(&self.database_url).unwrap();
        let mut conn = coproduce::db::pool::DbConnectionManager::new(url, 5_000)
            .establish()
            .unwrap();
        let begin = match &conn {
            DbConn::Sqlite(_) => "BEGIN IMMEDIATE",
            DbConn::Postgres(_) => "BEGIN",
        };
        conn.batch_execute(begin).unwrap();
        conn
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub fn post_json(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.client.post(self.url(path)).json(body)
    }

    pub fn post_as(&self, user: &TestUser, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path)).bearer_auth(&user.token)
    }

    /// Runs the outbox worker until nothing is due; returns how many emails were sent.
    pub async fn drain_outbox(&self) -> usize {
        let worker = self.state.outbox_worker();
        let mut sent = 0;
        loop {
            let report = worker.drain_once().await.expect("outbox drains");
            sent += report.sent;
            if report.claimed == 0 {
                return sent;
            }
        }
    }

    /// Emails the memory mailer has sent to `address`, oldest first.
    pub fn emails_to(&self, address: &str) -> Vec<OutgoingEmail> {
        self.state
            .mailer
            .sent()
            .into_iter()
            .filter(|e| e.to == address)
            .collect()
    }

    /// Drains the outbox and returns the token of the newest link sent to `address`.
    pub async fn link_token_sent_to(&self, address: &str) -> String {
        self.drain_outbox().await;
        let email = self
            .emails_to(address)
            .pop()
            .unwrap_or_else(|| panic!("no email to {address}"));
        token_in(&email.text)
    }

    /// Registers through the API and signs in with the emailed link.
    pub async fn register_and_sign_in(&self, email: &str) -> Value {
        let response = self
            .post_json(
                "/api/v1/auth/register",
                &serde_json::json!({"email": email, "full_name": "Sam Jones"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        let token = self.link_token_sent_to(email).await;
        let response = self
            .post_json(
                "/api/v1/auth/token",
                &serde_json::json!({"grant_type": "magic_link", "token": token}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub fn get_as(&self, user: &TestUser, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(&user.token)
    }

    pub fn patch_as(&self, user: &TestUser, path: &str) -> reqwest::RequestBuilder {
        self.client.patch(self.url(path)).bearer_auth(&user.token)
    }

    pub fn delete_as(&self, user: &TestUser, path: &str) -> reqwest::RequestBuilder {
        self.client.delete(self.url(path)).bearer_auth(&user.token)
    }

    /// A stored user holding `role`, with a valid access token: one line in a test.
    pub async fn signed_in(&self, role: Role) -> TestUser {
        let suffix = uuid::Uuid::now_v7().simple().to_string();
        let email = format!(
            "{}.{}@example.org",
            role.as_str(),
            &suffix[suffix.len() - 8..]
        );
        let row = UserRow::new_active(&email, &format!("Test {role}"), None);
        let id = row.id.clone();
        let session_id = self
            .state
            .db
            .write(move |conn| {
                users::insert(conn, &row)?;
                users::grant_role(conn, &row.id, role)?;
                // Long-lived, so retention tests that move the clock keep the session.
                Ok(session::start(conn, &row.id, 3650)?.session_id)
            })
            .await
            .expect("test user stored");
        let token = self
            .state
            .jwt
            .issue_access_token(&id, &[role], &session_id)
            .expect("token issued")
            .token;
        TestUser {
            id,
            email,
            token,
            session_id,
        }
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

/// The `token=` value of the first link in `text`.
pub fn token_in(text: &str) -> String {
    let start = text.find("token=").expect("a link with a token") + "token=".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// The `items` of a paged list answer (`{"items": [...], "next_cursor": ...}`).
pub async fn items(response: reqwest::Response) -> Vec<Value> {
    let page: Value = response.json().await.expect("a page");
    assert!(page.get("next_cursor").is_some(), "a paged list: {page}");
    page["items"].as_array().cloned().unwrap_or_default()
}

/// Sends `request` while `holder`'s transaction is open: it must not be answered meanwhile.
/// Then commits that transaction and returns the answer.
pub async fn answered_after_commit<F: std::future::Future>(
    mut holder: coproduce::db::DbConn,
    request: F,
) -> F::Output {
    use diesel::connection::SimpleConnection;
    tokio::pin!(request);
    let early = tokio::time::timeout(std::time::Duration::from_millis(300), &mut request).await;
    assert!(
        early.is_err(),
        "it went ahead while the other transaction was open"
    );
    holder.batch_execute("COMMIT").unwrap();
    request.await
}
