//! Command-line tasks besides serving: `migrate` and `create-admin`.

use crate::auth::password;
use crate::db::models::user::UserRow;
use crate::db::queries::{auth as auth_queries, users};
use crate::db::{Database, migrations, write_transaction};
use crate::domain::email_address::EmailAddress;
use crate::domain::password::NewPassword;
use crate::domain::role::Role;
use crate::settings::{DatabaseSettings, Settings};

/// Applies pending migrations and reports what was applied.
pub fn migrate(settings: &Settings) -> anyhow::Result<Vec<String>> {
    let database = Database::connect(&DatabaseSettings {
        run_migrations: false,
        ..settings.database.clone()
    })?;
    let mut conn = database.pool().get()?;
    migrations::run_pending(&mut conn)
}

/// Creates an administrator with a password, or makes an existing account one and resets
/// its password. Running it twice is harmless.
pub fn create_admin(
    settings: &Settings,
    email: &str,
    password: &str,
) -> anyhow::Result<AdminOutcome> {
    let email =
        EmailAddress::parse(email).map_err(|e| anyhow::anyhow!("--email: {}", e.message))?;
    let password =
        NewPassword::parse(password).map_err(|e| anyhow::anyhow!("--password: {}", e.message))?;
    let hash = password::hash(&password)?;
    let database = Database::connect(&settings.database)?;
    let mut conn = database.pool().get()?;
    write_transaction(&mut conn, |conn| {
        let (user_id, outcome) = match users::find_by_email(conn, email.as_str())? {
            Some(existing) => (existing.id, AdminOutcome::Promoted),
            None => {
                let row = UserRow::new_active(email.as_str(), "Administrator", None);
                users::insert(conn, &row)?;
                (row.id, AdminOutcome::Created)
            }
        };
        users::set_password_hash(conn, &user_id, &hash)?;
        users::grant_role(conn, &user_id, Role::Admin)?;
        // New password and role: sessions opened before must sign in again.
        auth_queries::revoke_sessions_of_user(
            conn,
            &user_id,
            "password reset",
            chrono::Utc::now().naive_utc(),
        )?;
        Ok::<_, anyhow::Error>(outcome)
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminOutcome {
    Created,
    Promoted,
}
