//! Rouge's store on PostgreSQL, for production: JSONB documents, one schema per service.

/// The SQL expression that draws the next order number (shared `orders.rs`).
macro_rules! next_order_number {
    () => {
        "nextval('orders.order_number_seq')"
    };
}

mod audit;
mod catalog;
#[path = "../../store-sqlite/src/deliveries.rs"]
mod deliveries;
#[path = "../../store-sqlite/src/idempotency.rs"]
mod idempotency;
mod identity;
#[path = "../../store-sqlite/src/inventory.rs"]
mod inventory;
#[path = "../../store-sqlite/src/orders.rs"]
mod orders;
mod outbox;
mod staff;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    /// The health probe's own connection (made again after a failure).
    probe: std::sync::Arc<tokio::sync::Mutex<Option<sqlx::PgConnection>>>,
    /// Run after each commit that added outbox events.
    hook: rouge_kernel::CommitHook,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://…`).
    ///
    /// # Errors
    /// When the URL is malformed or the server does not answer.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        // Tables of the modules shared with SQLite are found through the search path. `public`
        // comes first: that is where sqlx keeps its migration table, and a `CREATE TABLE IF NOT
        // EXISTS` of it must find the existing one rather than create a second elsewhere.
        let opts = PgConnectOptions::from_str(url)?
            .application_name("rouge")
            .options([("search_path", "public,inventory,orders,gateway,messaging")]);
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
        Ok(Self { pool, probe: Default::default(), hook: Default::default() })
    }

    /// Applies the schema migrations that have not run yet.
    ///
    /// # Errors
    /// When a migration fails.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        sqlx::migrate!("./migrations").run(&self.pool).await
    }

    pub fn pool(&self) -> &PgPool {
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

impl rouge_kernel::Ping for PgStore {
    async fn ping(&self) -> rouge_kernel::StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ()).map_err(crate::unavailable)
    }

    async fn probe(&self) -> rouge_kernel::StoreResult<()> {
        use sqlx::Connection;
        if self.pool.is_closed() {
            return Err(rouge_kernel::StoreError::Unavailable("the store is closed".into()));
        }
        let mut slot = self.probe.lock().await;
        if slot.is_none() {
            let opts = self.pool.connect_options();
            *slot = Some(sqlx::PgConnection::connect_with(&opts).await.map_err(crate::unavailable)?);
        }
        let conn = slot.as_mut().expect("connected above");
        match sqlx::query("SELECT 1").execute(&mut *conn).await {
            Ok(_) => Ok(()),
            Err(e) => {
                *slot = None;
                Err(crate::unavailable(e))
            }
        }
    }
}

/// The database and store the modules shared with the SQLite store are compiled for.
pub(crate) type Db = sqlx::Postgres;
/// Whether a `WITH … AS (UPDATE …)` may feed another statement (PostgreSQL: yes); the shared
/// modules then write in one statement what would otherwise take two round trips.
pub(crate) const WRITABLE_CTE: bool = true;
pub(crate) type Backend = PgStore;

/// A transaction that writes (PostgreSQL locks rows as they are written).
pub(crate) async fn write_tx(pool: &PgPool) -> Result<sqlx::Transaction<'static, Db>, sqlx::Error> {
    pool.begin().await
}

/// A store failure, as the repositories report it.
pub(crate) fn unavailable(e: sqlx::Error) -> rouge_catalog::RepoError {
    rouge_catalog::RepoError::Unavailable(e.to_string())
}
