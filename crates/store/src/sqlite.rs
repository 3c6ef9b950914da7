//! SQLite, the embedded default: one file, WAL journal, writers take turns.

use crate::{Dialect, Store};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite};
use std::str::FromStr;
use std::time::Duration;

impl Dialect for Sqlite {
    /// Writers take turns on SQLite, so one more than the highest is never drawn twice.
    const NEXT_ORDER_NUMBER: &'static str = "(SELECT COALESCE(MAX(number), 1000) + 1 FROM orders)";
    const WRITABLE_CTE: bool = false;
    const LOCAL: bool = true;
    const SYSTEM: &'static str = "sqlite";
    /// Writers take turns already (the write lock is taken at `BEGIN`).
    const OUTBOX_INSERT: (&'static str, &'static str) =
        ("INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, occurred_at, trace) ", "");

    plumbing!();

    /// SQLite takes the write lock at `BEGIN IMMEDIATE`, so two writers queue (for up to the
    /// busy time-out) instead of one failing when it upgrades.
    fn write_tx(p: &Pool<Self>) -> impl Future<Output = Result<sqlx::Transaction<'static, Self>, sqlx::Error>> + Send {
        p.begin_with("BEGIN IMMEDIATE")
    }

    /// From the message: `UNIQUE constraint failed: skus.sku`.
    fn duplicate(e: &sqlx::Error) -> Option<String> {
        let db = e.as_database_error().filter(|d| d.is_unique_violation())?;
        Some(db.message().rsplit(": ").next().unwrap_or_default().to_owned())
    }
}

rows!(sqlx::sqlite::SqliteRow, sqlx::sqlite::SqliteQueryResult);

impl Store<Sqlite> {
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
        Ok(Self::new(pool))
    }

    /// Applies the schema migrations that have not run yet.
    ///
    /// # Errors
    /// When a migration fails.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        sqlx::migrate!("../../migrations/sqlite").run(&self.pool).await
    }
}
