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
            .options([("search_path", "public,catalog,identity,inventory,orders,gateway,messaging,audit")]);
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

    /// Applies the migrations of the services owning `schemas`: the base every service starts
    /// from, the shared schemas' and their own (see [`migration_owner`]); other services'
    /// migrations are left to their own deploys.
    ///
    /// # Errors
    /// When a migration fails.
    pub async fn migrate_schemas(&self, schemas: &[&str]) -> Result<(), sqlx::migrate::MigrateError> {
        let mut m = sqlx::migrate!("../../migrations/postgres");
        let mine: Vec<_> = m
            .migrations
            .iter()
            .filter(|x| match migration_owner(x.version, x.sql.as_str()) {
                None | Some(SHARED) => true,
                Some(owner) => schemas.contains(&owner),
            })
            .cloned()
            .collect();
        m.migrations = std::borrow::Cow::Owned(mine);
        // Another service's migrations may be applied already: they are not this one's to check.
        m.set_ignore_missing(true);
        m.run(&self.pool).await
    }

    /// Creates the role a service connects as (`role`, if missing, able to log in) and grants
    /// it its `schema` (if it has one) and the shared ones (`messaging`, `gateway`, `audit`: events,
    /// idempotency keys, the audit trail), tables and sequences, and nothing else: the
    /// database refuses it every other service's tables. Run after each migration (new tables
    /// are granted then). With `password`, the role logs in with it (else its password, where
    /// one is needed, is set out of band).
    ///
    /// # Errors
    /// When the connection may not create roles or grant.
    pub async fn grant_service_role(
        &self,
        role: &str,
        schema: Option<&str>,
        password: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let ident = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let r = ident(role);
        // Roles belong to the cluster: another database's migration may be creating it now.
        let mut statements = vec![format!(
            "DO $$ BEGIN CREATE ROLE {r} LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )];
        if let Some(p) = password {
            // ALTER ROLE takes no parameters: a literal, its quotes doubled.
            statements.push(format!("ALTER ROLE {r} PASSWORD '{}'", p.replace('\'', "''")));
        }
        for s in schema.into_iter().chain(["messaging", "gateway", "audit"]) {
            let s = ident(s);
            statements.push(format!("GRANT USAGE ON SCHEMA {s} TO {r}"));
            statements.push(format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}"));
            statements.push(format!("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {s} TO {r}"));
        }
        let mut tx = self.pool.begin().await?;
        for sql in statements {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await?;
        }
        tx.commit().await
    }
}

/// What a migration's first line names as its owner (`-- service: orders`): `shared` for the
/// shared schemas', a schema's name for that service's. Those before services could be
/// deployed apart (up to 17) name none: they are the base every service starts from.
pub fn migration_owner(version: i64, sql: &str) -> Option<&str> {
    if version <= 17 {
        return None;
    }
    let owner = sql.lines().next()?.strip_prefix("-- service:")?.trim();
    Some(owner)
}

/// The owner of the shared schemas' migrations.
pub const SHARED: &str = "shared";

#[cfg(test)]
mod tests {
    #[test]
    fn every_migration_after_the_base_names_its_owner() {
        let m = sqlx::migrate!("../../migrations/postgres");
        for x in m.migrations.iter().filter(|x| x.version > 17) {
            let owner = super::migration_owner(x.version, x.sql.as_str());
            assert!(
                matches!(owner, Some("shared" | "catalog" | "identity" | "inventory" | "orders")),
                "migration {} must start with `-- service: <shared|catalog|identity|inventory|orders>`",
                x.version
            );
        }
    }
}
