//! Rouge's store on SQLite, the embedded default: one file, WAL journal.

/// The SQL expression that draws the next order number (`orders.rs`): writers take turns on
/// SQLite, so one more than the highest is never drawn twice.
macro_rules! next_order_number {
    () => {
        "(SELECT COALESCE(MAX(number), 1000) + 1 FROM orders)"
    };
}

mod audit;
mod catalog;
mod deliveries;
mod idempotency;
mod identity;
mod inventory;
mod orders;
mod outbox;
mod staff;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Run after each commit that added outbox events.
    hook: rouge_kernel::CommitHook,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path` or `sqlite::memory:`).
    ///
    /// # Errors
    /// When the URL is malformed or the file cannot be opened.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        if let Some(path) = url.strip_prefix("sqlite://").map(|p| p.split('?').next().unwrap_or(p))
            && let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        }
        let memory = url.contains(":memory:");
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(if memory { SqliteJournalMode::Memory } else { SqliteJournalMode::Wal })
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // An in-memory database lives in one connection; a file is shared by several readers.
        // A local file needs no liveness ping before each use (it costs a hand-off to the
        // connection's worker thread).
        let pool = SqlitePoolOptions::new()
            .max_connections(if memory { 1 } else { 8 })
            .test_before_acquire(false)
            .connect_with(opts)
            .await?;
        Ok(Self { pool, hook: Default::default() })
    }

    /// Applies the schema migrations that have not run yet.
    ///
    /// # Errors
    /// When a migration fails.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        sqlx::migrate!("./migrations").run(&self.pool).await
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// After a commit that added outbox events: wake whoever waits for them.
    pub(crate) fn committed(&self) {
        self.hook.fire();
    }
}

impl rouge_kernel::Ping for SqliteStore {
    async fn ping(&self) -> rouge_kernel::StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ()).map_err(crate::unavailable)
    }

    /// A local file does not go away while its pool is open.
    async fn probe(&self) -> rouge_kernel::StoreResult<()> {
        if self.pool.is_closed() {
            Err(rouge_kernel::StoreError::Unavailable("the store is closed".into()))
        } else {
            Ok(())
        }
    }
}

/// The database and store the modules shared with the PostgreSQL store are compiled for.
pub(crate) type Db = sqlx::Sqlite;
/// Whether a `WITH … AS (UPDATE …)` may feed another statement (SQLite: no); the shared
/// modules then write in one statement what would otherwise take two round trips.
pub(crate) const WRITABLE_CTE: bool = false;
pub(crate) type Backend = SqliteStore;

/// A transaction that writes: SQLite takes the write lock at `BEGIN IMMEDIATE`, so two
/// writers queue (for up to the busy time-out) instead of one failing when it upgrades.
pub(crate) async fn write_tx(pool: &SqlitePool) -> Result<sqlx::Transaction<'static, Db>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// A store failure, as the repositories report it.
pub(crate) fn unavailable(e: sqlx::Error) -> rouge_catalog::RepoError {
    rouge_catalog::RepoError::Unavailable(e.to_string())
}

/// An id stored as text.
pub(crate) fn uuid(s: &str) -> Result<uuid::Uuid, rouge_catalog::RepoError> {
    s.parse().map_err(|e| rouge_catalog::RepoError::Unavailable(format!("corrupt id `{s}`: {e}")))
}
