//! Command-line tasks besides serving: `migrate` and `create-admin`.

use crate::auth::password;
use crate::crypto::{DataCipher, Field};
use crate::db::models::user::UserRow;
use crate::db::queries::{auth as auth_queries, matching, people, users};
use crate::db::{DbConn, connect_once, migrations, write_transaction};
use crate::domain::email_address::EmailAddress;
use crate::domain::password::NewPassword;
use crate::domain::role::Role;
use crate::settings::{DatabaseSettings, Settings};

/// Applies pending migrations and reports what was applied.
pub fn migrate(settings: &Settings) -> anyhow::Result<Vec<String>> {
    let mut conn = connect_once(&DatabaseSettings {
        run_migrations: false,
        ..settings.database.clone()
    })?;
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
    let mut conn = connect_once(&settings.database)?;
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

/// Rewrites every special-category value, unsent email body and invitation's reasons under the
/// current `crypto.data_key` (values under `crypto.previous_keys` are opened with those), and
/// seals the email and reasons stored before they were sealed. Returns how many values were
/// written. Works a page at a time (see [`ROTATION_PAGE`]).
pub fn reencrypt(settings: &Settings) -> anyhow::Result<usize> {
    reencrypt_in_pages(settings, ROTATION_PAGE)
}

/// [`reencrypt`], `rows_per_page` rows to a transaction.
pub fn reencrypt_in_pages(settings: &Settings, rows_per_page: i64) -> anyhow::Result<usize> {
    let cipher = DataCipher::new(&settings.crypto.data_key, &settings.crypto.previous_keys)
        .map_err(anyhow::Error::msg)?;
    let mut conn = connect_once(&settings.database)?;
    let mut rewritten = 0;
    for field in Field::ALL {
        rewritten += page_by_page(&mut conn, |conn, after| {
            let page = people::ciphertexts(conn, field, after, rows_per_page)?;
            let mut changed = 0;
            for (owner, stored) in &page {
                if !cipher.needs_reencryption(stored) {
                    continue;
                }
                let plaintext = cipher.decrypt(owner, field, stored).map_err(|e| {
                    anyhow::anyhow!(
                        "a {} value does not open with any configured key: {e}",
                        field.as_str()
                    )
                })?;
                let fresh = cipher
                    .encrypt(owner, field, &plaintext)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                // A value saved meanwhile is already under the current key.
                if people::replace_ciphertext(conn, field, owner, stored, &fresh)? {
                    changed += 1;
                }
            }
            Ok((changed, page.last().map(|(owner, _)| owner.clone())))
        })?;
    }
    // Email queued and invitations made before these were sealed: sealed now.
    rewritten += page_by_page(&mut conn, |conn, after| {
        Ok(crate::email::outbox::seal_plain_bodies(
            conn,
            &cipher,
            after,
            rows_per_page,
        )?)
    })?;
    rewritten += page_by_page(&mut conn, |conn, after| {
        let page = matching::plain_breakdowns(conn, after, rows_per_page)?;
        let mut sealed = 0;
        for (id, plain) in &page {
            let bytes = cipher
                .encrypt(id, Field::InvitationReasons, plain.as_bytes())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            sealed += matching::seal_breakdown(conn, id, plain, &bytes)?;
        }
        Ok((sealed, page.last().map(|(id, _)| id.clone())))
    })?;
    Ok(rewritten)
}

/// Rows rewritten per transaction by `reencrypt`: on a large database it neither holds SQLite's
/// write lock (every request that writes waits for it) nor keeps every value in memory for
/// long. Each row is replaced only if unchanged, so the pages need not be one transaction, and
/// a run stopped half way is finished by running it again.
const ROTATION_PAGE: i64 = 500;

/// Runs `page` in a transaction of its own again and again, each time after the last key the
/// one before returned, until one returns none; adds up the counts.
fn page_by_page(
    conn: &mut DbConn,
    mut page: impl FnMut(&mut DbConn, &str) -> anyhow::Result<(usize, Option<String>)>,
) -> anyhow::Result<usize> {
    let mut after = String::new();
    let mut total = 0;
    loop {
        let (count, last) = write_transaction(conn, |conn| page(conn, &after))?;
        total += count;
        match last {
            Some(key) => after = key,
            None => return Ok(total),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminOutcome {
    Created,
    Promoted,
}
