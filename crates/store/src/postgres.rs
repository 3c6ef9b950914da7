//! PostgreSQL, for production: one schema per service, found through the search path.

use crate::{Dialect, Read, Store, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::query_builder::Separated;
use sqlx::{Executor, Pool, Postgres, QueryBuilder};
use std::str::FromStr;
use std::time::Duration;

impl Dialect for Postgres {
    const NEXT_ORDER_NUMBER: &'static str = "nextval('orders.order_number_seq')";
    const WRITABLE_CTE: bool = true;
    const LOCAL: bool = false;
    /// The writers' advisory lock (see the migration) is taken by the insert itself and held
    /// to the commit, so it is taken as late as possible and costs no round trip of its own.
    const OUTBOX_INSERT: (&'static str, &'static str) = (
        "WITH writers AS (SELECT pg_advisory_xact_lock(8245938529681502050)) \
         INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, occurred_at) \
         SELECT e.* FROM writers, (",
        ") AS e (id, aggregate_type, aggregate_id, event_type, payload, occurred_at)",
    );

    fn bind<'t, V: Value<'t>>(q: Query<'_, Self, Self::Arguments>, v: V) -> Query<'_, Self, Self::Arguments> {
        q.bind(v)
    }

    fn push_bind<'t, V: Value<'t>>(b: &mut QueryBuilder<Self>, v: V) {
        b.push_bind(v);
    }

    fn push_bind_separated<'t, V: Value<'t>>(b: &mut Separated<'_, Self, &'static str>, v: V) {
        b.push_bind(v);
    }

    fn on(c: &mut Self::Connection) -> impl Executor<'_, Database = Self> {
        c
    }

    fn pool(p: &Pool<Self>) -> impl Executor<'_, Database = Self> {
        p
    }

    /// PostgreSQL locks rows as they are written.
    fn write_tx(p: &Pool<Self>) -> impl Future<Output = Result<sqlx::Transaction<'static, Self>, sqlx::Error>> + Send {
        p.begin()
    }

    fn duplicate(e: &sqlx::Error) -> Option<String> {
        let db = e.as_database_error().filter(|d| d.is_unique_violation())?;
        Some(db.constraint().unwrap_or_default().to_owned())
    }
}

impl Read for PgRow {
    fn get<'r, T: crate::Column<'r>>(&'r self, column: &str) -> T {
        sqlx::Row::get(self, column)
    }
}

impl crate::Changed for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        self.rows_affected()
    }
}

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
