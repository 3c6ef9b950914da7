//! Rouge's store: every context's repository written once, in SQL that SQLite (the embedded
//! default) and PostgreSQL (production) both speak. [`Store`] is generic over a [`Dialect`],
//! the small seam where the two databases differ: how a value is bound and a column read,
//! how a writing transaction starts, how an order number is drawn, whether a writable CTE
//! may feed another statement, and how a broken constraint is named. Tables have the same
//! names on both (PostgreSQL finds them in its per-service schemas through the search path)
//! and ids are one type on each (a 16-byte BLOB on SQLite, `uuid` on PostgreSQL).

/// What both dialects implement alike: sqlx's generic methods, for a concrete database.
macro_rules! plumbing {
    () => {
        fn bind<'t, V: $crate::Value<'t>>(
            q: sqlx::query::Query<'_, Self, Self::Arguments>,
            v: V,
        ) -> sqlx::query::Query<'_, Self, Self::Arguments> {
            q.bind(v)
        }

        fn push_bind<'t, V: $crate::Value<'t>>(b: &mut sqlx::QueryBuilder<Self>, v: V) {
            b.push_bind(v);
        }

        fn push_bind_separated<'t, V: $crate::Value<'t>>(
            b: &mut sqlx::query_builder::Separated<'_, Self, &'static str>,
            v: V,
        ) {
            b.push_bind(v);
        }

        fn on(c: &mut Self::Connection) -> impl sqlx::Executor<'_, Database = Self> {
            c
        }

        fn pool(p: &sqlx::Pool<Self>) -> impl sqlx::Executor<'_, Database = Self> {
            p
        }
    };
}

/// Reading rows and results, for a concrete database.
macro_rules! rows {
    ($row:ty, $result:ty) => {
        impl $crate::Read for $row {
            fn get<'r, T: $crate::Column<'r>>(&'r self, column: &str) -> T {
                sqlx::Row::get(self, column)
            }
        }

        impl $crate::Changed for $result {
            fn rows_affected(&self) -> u64 {
                self.rows_affected()
            }
        }
    };
}

mod audit;
mod behaviour;
mod boxes;
mod catalog;
mod deliveries;
mod idempotency;
mod identity;
mod inventory;
mod orders;
mod outbox;
mod postgres;
pub use postgres::{SHARED, migration_owner};
mod promotions;
mod replenishment;
mod reviews;
mod sqlite;
mod staff;
mod subscriptions;
mod webhooks;

/// Now, in ms since the epoch (the time the store stamps on what it writes itself).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// What every repository module uses.
mod prelude {
    pub(crate) use crate::{Arg, Changed, Dialect, PushArg, PushIn, Read, Statement, Store};
}

use rouge_kernel::{DomainEvent, StoreError, StoreResult};
use sqlx::query::Query;
use sqlx::query_builder::Separated;
use sqlx::{Connection, Database, Decode, Encode, Executor, IntoArguments, Pool, Postgres, QueryBuilder, Sqlite, Type};
use std::sync::Arc;

/// The store on SQLite: one file, WAL journal.
pub type SqliteStore = Store<Sqlite>;
/// The store on PostgreSQL: one schema per service.
pub type PgStore = Store<Postgres>;

/// A value both databases can bind.
pub trait Value<'t>: Send + Encode<'t, Sqlite> + Type<Sqlite> + Encode<'t, Postgres> + Type<Postgres> {}
impl<'t, T> Value<'t> for T where T: Send + Encode<'t, Sqlite> + Type<Sqlite> + Encode<'t, Postgres> + Type<Postgres> {}

/// A column type both databases can read.
pub trait Column<'r>: Decode<'r, Sqlite> + Type<Sqlite> + Decode<'r, Postgres> + Type<Postgres> {}
impl<'r, T> Column<'r> for T where T: Decode<'r, Sqlite> + Type<Sqlite> + Decode<'r, Postgres> + Type<Postgres> {}

/// Reads a column of a result row by name.
pub trait Read {
    /// # Panics
    /// When the column is missing or of another type: the SQL beside the call is wrong.
    fn get<'r, T: Column<'r>>(&'r self, column: &str) -> T;
}

/// How many rows a statement changed.
pub trait Changed {
    fn rows_affected(&self) -> u64;
}

/// Where SQLite and PostgreSQL differ, and nothing else.
pub trait Dialect: Database<Arguments: IntoArguments<Self>, Row: Read, QueryResult: Changed> {
    /// The SQL expression that draws the next order number.
    const NEXT_ORDER_NUMBER: &'static str;
    /// Whether `WITH … AS (UPDATE …)` may feed another statement (then one statement does
    /// what would otherwise take two round trips).
    const WRITABLE_CTE: bool;
    /// Whether the database is a local file (it cannot go away while its pool is open).
    const LOCAL: bool;
    /// The database, as OpenTelemetry names it (`db.system` of store spans).
    const SYSTEM: &'static str;
    /// What goes before and after the `VALUES` of an outbox insert: writers must commit in
    /// the order their events are numbered, so that the relay never skips one.
    const OUTBOX_INSERT: (&'static str, &'static str);

    fn bind<'t, V: Value<'t>>(q: Query<'_, Self, Self::Arguments>, v: V) -> Query<'_, Self, Self::Arguments>;
    fn push_bind<'t, V: Value<'t>>(b: &mut QueryBuilder<Self>, v: V);
    fn push_bind_separated<'t, V: Value<'t>>(b: &mut Separated<'_, Self, &'static str>, v: V);
    /// A connection (or a transaction's) as something to run statements on.
    fn on(c: &mut Self::Connection) -> impl Executor<'_, Database = Self>;
    fn pool(p: &Pool<Self>) -> impl Executor<'_, Database = Self>;
    /// Begins a transaction that writes.
    fn write_tx(p: &Pool<Self>) -> impl Future<Output = Result<sqlx::Transaction<'static, Self>, sqlx::Error>> + Send;
    /// The constraint a statement broke by inserting a duplicate: its name on PostgreSQL,
    /// `table.column` on SQLite.
    fn duplicate(e: &sqlx::Error) -> Option<String>;
}

/// A statement with its arguments, on either database.
pub(crate) type Statement<'q, D> = Query<'q, D, <D as Database>::Arguments>;

/// `.arg(v)`: binds a value on either database.
pub trait Arg {
    #[must_use]
    fn arg<'t, V: Value<'t>>(self, v: V) -> Self;
}

impl<D: Dialect> Arg for Query<'_, D, D::Arguments> {
    fn arg<'t, V: Value<'t>>(self, v: V) -> Self {
        D::bind(self, v)
    }
}

/// `.push_arg(v)`: binds a value into a statement being built, on either database.
pub trait PushArg {
    fn push_arg<'t, V: Value<'t>>(&mut self, v: V) -> &mut Self;
}

impl<D: Dialect> PushArg for QueryBuilder<D> {
    fn push_arg<'t, V: Value<'t>>(&mut self, v: V) -> &mut Self {
        D::push_bind(self, v);
        self
    }
}

/// `.push_in(values)`: ` IN (v1, v2, …)`, each value bound.
pub trait PushIn {
    fn push_in<'t, V: Value<'t>>(&mut self, values: impl IntoIterator<Item = V>) -> &mut Self;
}

impl<D: Dialect> PushIn for QueryBuilder<D> {
    fn push_in<'t, V: Value<'t>>(&mut self, values: impl IntoIterator<Item = V>) -> &mut Self {
        self.push(" IN (");
        let mut list = self.separated(", ");
        for v in values {
            list.push_arg(v);
        }
        self.push(")");
        self
    }
}

impl<D: Dialect> PushArg for Separated<'_, D, &'static str> {
    fn push_arg<'t, V: Value<'t>>(&mut self, v: V) -> &mut Self {
        D::push_bind_separated(self, v);
        self
    }
}

/// Rouge's repositories on one database.
#[derive(Debug)]
pub struct Store<D: Dialect> {
    pool: Pool<D>,
    /// The health probe's own connection (made again after a failure).
    probe: Arc<tokio::sync::Mutex<Option<D::Connection>>>,
    /// Run after each commit that added outbox events.
    hook: rouge_kernel::CommitHook,
}

impl<D: Dialect> Clone for Store<D> {
    fn clone(&self) -> Self {
        Self { pool: self.pool.clone(), probe: self.probe.clone(), hook: self.hook.clone() }
    }
}

impl<D: Dialect> Store<D> {
    fn new(pool: Pool<D>) -> Self {
        Self { pool, probe: Default::default(), hook: Default::default() }
    }

    pub fn pool(&self) -> &Pool<D> {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Something to run one statement on, outside a transaction.
    fn db(&self) -> impl Executor<'_, Database = D> {
        D::pool(&self.pool)
    }

    /// Outside a transaction: the row `q` selects, if any.
    async fn optional(&self, q: Statement<'_, D>) -> StoreResult<Option<D::Row>> {
        q.fetch_optional(self.db()).await.map_err(unavailable)
    }

    /// Outside a transaction: every row `q` selects.
    async fn all(&self, q: Statement<'_, D>) -> StoreResult<Vec<D::Row>> {
        q.fetch_all(self.db()).await.map_err(unavailable)
    }

    /// Outside a transaction: the one row `q` selects.
    async fn one(&self, q: Statement<'_, D>) -> StoreResult<D::Row> {
        q.fetch_one(self.db()).await.map_err(unavailable)
    }

    /// Outside a transaction: runs `q`, for what it changed.
    async fn run(&self, q: Statement<'_, D>) -> StoreResult<D::QueryResult> {
        q.execute(self.db()).await.map_err(unavailable)
    }

    /// Outside a transaction: runs `q` for its effect.
    async fn exec(&self, q: Statement<'_, D>) -> StoreResult<()> {
        self.run(q).await.map(|_| ())
    }

    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, D>, sqlx::Error> {
        D::write_tx(&self.pool).await
    }

    /// Adds `events` to the outbox and commits; then, if there were any, wakes whoever waits
    /// for them.
    async fn commit(&self, mut tx: sqlx::Transaction<'static, D>, events: &[DomainEvent]) -> Result<(), sqlx::Error> {
        outbox::append::<D>(&mut tx, events).await?;
        tx.commit().await?;
        if !events.is_empty() {
            self.hook.fire();
        }
        Ok(())
    }
}

impl<D: Dialect> rouge_kernel::Ping for Store<D> {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(self.db()).await.map(|_| ()).map_err(unavailable)
    }

    /// On its own connection, so that a pool busy with a launch-day queue still answers.
    async fn probe(&self) -> StoreResult<()> {
        if self.pool.is_closed() {
            return Err(StoreError::Unavailable("the store is closed".into()));
        }
        if D::LOCAL {
            return Ok(());
        }
        let mut slot = self.probe.lock().await;
        if slot.is_none() {
            let opts = self.pool.connect_options();
            *slot = Some(D::Connection::connect_with(&opts).await.map_err(unavailable)?);
        }
        let conn = slot.as_mut().expect("connected above");
        match sqlx::query("SELECT 1").execute(D::on(conn)).await {
            Ok(_) => Ok(()),
            Err(e) => {
                *slot = None;
                Err(unavailable(e))
            }
        }
    }
}

/// A store failure, as the repositories report it.
fn unavailable(e: sqlx::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}
