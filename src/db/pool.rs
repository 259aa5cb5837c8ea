//! Connections: the `MultiConnection` enum, its r2d2 manager (backend picked by URL scheme,
//! SQLite pragmas on every connection) and the unit-of-work runners.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::{ConnectionError, ConnectionResult, PgConnection, SqliteConnection};

use super::group_commit::GroupCommit;
use super::migrations;
use super::url::DatabaseUrl;
use crate::auth::verified_tokens;
use crate::error::AppError;
use crate::settings::DatabaseSettings;

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Opens connections for the pool; unlike `DbConn::establish` it never guesses the backend.
#[derive(Debug, Clone)]
pub struct DbConnectionManager {
    url: DatabaseUrl,
    busy_timeout_ms: u64,
}

impl DbConnectionManager {
    pub fn new(url: DatabaseUrl, busy_timeout_ms: u64) -> Self {
        Self {
            url,
            busy_timeout_ms,
        }
    }

    pub fn establish(&self) -> ConnectionResult<DbConn> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(folder).map_err(|e| {
                        ConnectionError::BadConnection(format!(
                            "cannot create the folder {}: {e}",
                            folder.display()
                        ))
                    })?;
                }
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
                // busy_timeout first: switching to WAL needs the lock. Savepoints journal in
                // memory: a batch of writers (`group_commit`) otherwise spills each one's
                // journal past 64 KiB into a temporary file.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                     PRAGMA temp_store = MEMORY;",
                    self.busy_timeout_ms
                ))
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConn::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => PgConnection::establish(url).map(DbConn::Postgres),
        }
    }
}

impl ManageConnection for DbConnectionManager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        self.establish().map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

pub type DbPool = r2d2::Pool<DbConnectionManager>;

/// The pool plus what it points at. Cheap to clone.
#[derive(Clone)]
pub struct Database {
    pool: DbPool,
    url: DatabaseUrl,
    /// SQLite has one writer at a time. Writers of this process queue here and are committed
    /// together (see `group_commit`), instead of polling the file lock in SQLite's busy handler,
    /// which sleeps in steps of milliseconds. Other processes still meet `busy_timeout`.
    /// `None` on PostgreSQL, whose writers run side by side.
    sqlite_writers: Option<Arc<GroupCommit>>,
}

impl Database {
    /// Opens the database (creating an SQLite file if needed), runs pending migrations when
    /// configured, and builds the pool. Errors carry the driver's own message.
    pub fn connect(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        // Connect once by hand: r2d2 reports any failure as a bare timeout.
        drop(connect_once(settings)?);
        let url = DatabaseUrl::parse(&settings.url).map_err(anyhow::Error::msg)?;
        let manager = DbConnectionManager::new(url.clone(), settings.busy_timeout_ms);
        let pool = r2d2::Pool::builder()
            .max_size(settings.pool_size)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_millis(settings.pool_timeout_ms))
            .test_on_check_out(false)
            .build(manager)
            .with_context(|| format!("cannot open a connection pool to {}", url.describe()))?;
        let sqlite_writers = matches!(url, DatabaseUrl::Sqlite(_)).then(Arc::default);
        Ok(Self {
            pool,
            url,
            sqlite_writers,
        })
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// Runs `work` with one pooled connection on the blocking thread pool.
    pub async fn read<T, F>(&self, work: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        // Logs from inside the unit of work carry the request's id.
        let request_id = crate::middleware::request_id_to_carry();
        tokio::task::spawn_blocking(move || {
            crate::middleware::carrying_request_id(request_id, || work(&mut *pool.get()?))
        })
        .await?
    }

    /// Like [`Database::read`], inside one write transaction (see [`write_transaction`]); on
    /// SQLite, possibly committed together with other writers' (see `group_commit`). Answers
    /// only once the transaction has committed. `work` must pass on database errors it does not
    /// expect: on SQLite some end the whole transaction, and what runs after them is not in it.
    pub async fn write<T, F>(&self, work: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let Some(writers) = self.sqlite_writers.clone() else {
            return self
                .read(move |conn| {
                    let revocations = verified_tokens::revocation_epoch();
                    let written = write_transaction(conn, work);
                    verified_tokens::note_commit(revocations);
                    written
                })
                .await;
        };
        let pool = self.pool.clone();
        let request_id = crate::middleware::request_id_to_carry();
        tokio::task::spawn_blocking(move || writers.run(&pool, request_id, work)).await?
    }
}

/// One connection, with pending migrations run when configured, and no pool: for command-line
/// tasks, which must not exit while a pool thread is still opening a connection (libpq and
/// OpenSSL tear down under it, and the process crashes on exit).
pub fn connect_once(settings: &DatabaseSettings) -> anyhow::Result<DbConn> {
    let url = DatabaseUrl::parse(&settings.url)
        .map_err(|problem| anyhow::anyhow!("database.url: {problem}"))?;
    let manager = DbConnectionManager::new(url.clone(), settings.busy_timeout_ms);
    let mut conn = manager
        .establish()
        .with_context(|| format!("cannot connect to {}", url.describe()))?;
    if settings.run_migrations {
        migrations::run_pending(&mut conn)?;
    }
    Ok(conn)
}

/// A transaction that will write. On SQLite it starts with `BEGIN IMMEDIATE`, taking the write
/// lock up front: a deferred transaction that reads then writes can fail with "database is
/// locked" without waiting for `busy_timeout`. Call it at the top of a unit of work.
pub fn write_transaction<T, E, F>(conn: &mut DbConn, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let DbConn::Sqlite(sqlite) = conn else {
        return conn.transaction(work);
    };
    // Already inside a transaction (a unit of work calling this, or a command's): nest as a
    // savepoint, as PostgreSQL does.
    let depth = AnsiTransactionManager::transaction_manager_status_mut(sqlite).transaction_depth();
    if matches!(depth, Ok(Some(_))) {
        return conn.transaction(work);
    }
    begin_write(conn)?;
    match work(conn) {
        Ok(value) => {
            <DbConn as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => {
            // The work's error is what matters (a 503 must stay a 503); a failed rollback leaves
            // the connection broken, and the pool discards it.
            if let Err(rollback) =
                <DbConn as Connection>::TransactionManager::rollback_transaction(conn)
            {
                tracing::error!(error = %rollback, "rollback failed");
            }
            Err(error)
        }
    }
}

/// Begins a transaction that will write: on SQLite `BEGIN IMMEDIATE` (see [`write_transaction`]).
pub(super) fn begin_write(conn: &mut DbConn) -> diesel::QueryResult<()> {
    match conn {
        DbConn::Sqlite(sqlite) => {
            AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")
        }
        DbConn::Postgres(_) => <DbConn as Connection>::TransactionManager::begin_transaction(conn),
    }
}
