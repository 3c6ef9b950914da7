//! PostgreSQL, for production: one schema per service, found through the search path.

use crate::{Dialect, Store};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Pool, Postgres};
use std::str::FromStr;
use std::time::Duration;

impl Dialect for Postgres {
    const NEXT_ORDER_NUMBER: &'static str = "nextval('orders.order_number_seq')";
    const WRITABLE_CTE: bool = true;
    const LOCAL: bool = false;
    const SYSTEM: &'static str = "postgresql";
    /// The writers' advisory lock (see the migration) is taken by the insert itself and held
    /// to the commit, so it is taken as late as possible and costs no round trip of its own.
    const OUTBOX_INSERT: (&'static str, &'static str) = (
        "WITH writers AS (SELECT pg_advisory_xact_lock(8245938529681502050)) \
         INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, occurred_at, trace) \
         SELECT e.* FROM writers, (",
        ") AS e (id, aggregate_type, aggregate_id, event_type, payload, occurred_at, trace)",
    );

    plumbing!();

    /// PostgreSQL locks rows as they are written.
    fn write_tx(p: &Pool<Self>) -> impl Future<Output = Result<sqlx::Transaction<'static, Self>, sqlx::Error>> + Send {
        p.begin()
    }

    fn duplicate(e: &sqlx::Error) -> Option<String> {
        let db = e.as_database_error().filter(|d| d.is_unique_violation())?;
        Some(db.constraint().unwrap_or_default().to_owned())
    }
}

rows!(sqlx::postgres::PgRow, sqlx::postgres::PgQueryResult);

impl Store<Postgres> {
    /// Connects to the database at `url` (`postgres://…`).
    ///
    /// # Errors
    /// When the URL is malformed or the server does not answer.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        // `public` comes first: that is where sqlx keeps its migration table, and a `CREATE
        // TABLE IF NOT EXISTS` of it must find the existing one rather than create a second.
        let opts = PgConnectOptions::from_str(url)?
            .application_name("rouge")
            .options([("search_path", "public,catalog,identity,inventory,orders,gateway,messaging")]);
        // No ping before each use: it is one more round trip per query outside a transaction
        // (about a third of a checkout's). A connection the server dropped fails its next
        // query instead, which answers 503 and is retried by the client (or the consumer);
        // connections are also retired after `max_lifetime` and when idle.
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .test_before_acquire(false)
            .idle_timeout(Duration::from_secs(60))
            // A launch-day queue for connections may wait this long; an outage is cut short by
            // the server's store watchdog instead (503 within about 2 s).
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        Ok(Self::new(pool))
    }

    /// Applies the schema migrations that have not run yet.
    ///
    /// # Errors
    /// When a migration fails.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        sqlx::migrate!("../../migrations/postgres").run(&self.pool).await
    }
}
