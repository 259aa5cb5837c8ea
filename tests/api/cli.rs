//! The binary itself: help, configuration failures as one clear line, migrate, create-admin.

use std::process::{Command, Output};

use diesel::sql_types::Text;
use diesel::{Connection, RunQueryDsl, SqliteConnection};

fn coproduce(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_coproduce"));
    command.current_dir(env!("CARGO_MANIFEST_DIR")).args(args);
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("APP_")) {
        command.env_remove(name);
    }
    command.env("RUST_LOG", "warn");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_one_clear_line(output: &Output, must_contain: &[&str]) {
    assert!(!output.status.success());
    let text = stderr(output);
    assert!(!text.contains("panicked"), "{text}");
    let line = text.lines().last().unwrap_or_default();
    assert!(line.starts_with("error: "), "{text}");
    for needle in must_contain {
        assert!(line.contains(needle), "{needle:?} not in {line:?}");
    }
}

#[test]
fn help_explains_each_subcommand() {
    let output = coproduce(&["--help"], &[]);
    let text = String::from_utf8_lossy(&output.stdout);
    for word in [
        "serve",
        "migrate",
        "worker",
        "create-admin",
        "APP_DATABASE__URL",
    ] {
        assert!(text.contains(word), "{word} missing from --help:\n{text}");
    }
    let output = coproduce(&["create-admin", "--help"], &[]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("--email") && text.contains("--password"),
        "{text}"
    );
}

#[test]
fn unsupported_database_url_stops_start_up_naming_the_accepted_forms() {
    let output = coproduce(
        &["serve"],
        &[("APP_DATABASE__URL", "mysql://root@localhost/coproduce")],
    );
    assert_one_clear_line(&output, &["database.url", "sqlite://", "postgres://"]);
}

#[test]
fn bare_path_as_database_url_is_refused_and_creates_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bare.db");
    let output = coproduce(
        &["migrate"],
        &[("APP_DATABASE__URL", path.to_str().unwrap())],
    );
    assert_one_clear_line(&output, &["database.url"]);
    assert!(!path.exists());
}

#[test]
fn unknown_configuration_key_stops_start_up_naming_it() {
    let output = coproduce(&["serve"], &[("APP_SERVER__PROT", "8080")]);
    assert_one_clear_line(&output, &["prot"]);
}

#[test]
fn bad_configuration_value_stops_start_up_naming_the_key() {
    let output = coproduce(&["serve"], &[("APP_SERVER__PORT", "eighty")]);
    assert_one_clear_line(&output, &["server.port"]);
}

#[test]
fn production_without_a_secret_stops_start_up() {
    let output = coproduce(&["serve"], &[("APP_ENV", "production")]);
    assert_one_clear_line(&output, &["auth.jwt_secret"]);
}

#[test]
fn unreachable_postgres_gives_the_drivers_own_error() {
    let output = coproduce(
        &["migrate"],
        &[(
            "APP_DATABASE__URL",
            "postgres://postgres@127.0.0.1:1/coproduce",
        )],
    );
    assert_one_clear_line(&output, &["127.0.0.1", "1"]);
    let text = stderr(&output);
    assert!(
        text.contains("refused") || text.contains("connection to server"),
        "{text}"
    );
}

#[test]
fn migrate_creates_the_sqlite_file_then_reports_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("new/folder/c.db").display());
    let first = coproduce(&["migrate"], &[("APP_DATABASE__URL", &url)]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(String::from_utf8_lossy(&first.stdout).contains("Applied"));
    let second = coproduce(&["migrate"], &[("APP_DATABASE__URL", &url)]);
    assert!(String::from_utf8_lossy(&second.stdout).contains("up to date"));
}

#[derive(diesel::QueryableByName)]
struct Admin {
    #[diesel(sql_type = Text)]
    role: String,
    #[diesel(sql_type = Text)]
    password_hash: String,
}

#[test]
fn create_admin_creates_an_administrator_with_an_argon2id_password() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.db");
    let url = format!("sqlite://{}", file.display());
    let env = [("APP_DATABASE__URL", url.as_str())];
    let output = coproduce(
        &[
            "create-admin",
            "--email",
            "Admin@Example.org",
            "--password",
            "a long admin passphrase",
        ],
        &env,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let again = coproduce(
        &[
            "create-admin",
            "--email",
            "admin@example.org",
            "--password",
            "another long passphrase",
        ],
        &env,
    );
    assert!(again.status.success(), "{}", stderr(&again));

    let mut conn = SqliteConnection::establish(file.to_str().unwrap()).unwrap();
    let admins: Vec<Admin> = diesel::sql_query(
        "SELECT r.role, u.password_hash FROM users u JOIN user_roles r ON r.user_id = u.id WHERE u.email = 'admin@example.org'",
    )
    .load(&mut conn)
    .unwrap();
    assert_eq!(admins.len(), 1);
    assert_eq!(admins[0].role, "admin");
    assert!(admins[0].password_hash.starts_with("$argon2id$"));
    assert!(coproduce::auth::password::verify(
        "another long passphrase",
        &admins[0].password_hash
    ));
}

#[test]
fn create_admin_takes_the_password_from_the_environment_instead_of_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    let env = [
        ("APP_DATABASE__URL", url.as_str()),
        ("COPRODUCE_ADMIN_PASSWORD", "a long admin passphrase"),
    ];
    let output = coproduce(&["create-admin", "--email", "admin@example.org"], &env);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn serve_prints_where_it_listens_and_which_database_it_uses() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_coproduce"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("APP_DATABASE__URL", &url)
        .env("APP_SERVER__PORT", "0")
        .env("APP_EMAIL__FILE_DIR", dir.path().join("mail"))
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        line.starts_with("coproduce listening on http://127.0.0.1:"),
        "{line}"
    );
    assert!(
        line.contains("SQLite file") && line.contains("s.db"),
        "{line}"
    );
}

#[test]
fn create_admin_refuses_a_short_password() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    let output = coproduce(
        &[
            "create-admin",
            "--email",
            "a@example.org",
            "--password",
            "short",
        ],
        &[("APP_DATABASE__URL", &url)],
    );
    assert_one_clear_line(&output, &["--password", "12 characters"]);
}
