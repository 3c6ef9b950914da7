//! Fresh stores for tests: a temporary SQLite file, or a new PostgreSQL database that is
//! dropped afterwards. PostgreSQL tests skip with a message when no server answers, unless
//! `ROUGE_REQUIRE_SERVICES=1` (as on CI), where a missing server fails the run.

use rouge_store::PgStore;
use rouge_store::SqliteStore;
use sqlx::Connection;

/// Where the PostgreSQL tests connect: `ROUGE_TEST_POSTGRES_URL`, or the local server.
pub fn postgres_admin_url() -> String {
    std::env::var("ROUGE_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn services_required() -> bool {
    std::env::var("ROUGE_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

pub struct TempSqlite {
    pub store: SqliteStore,
    pub url: String,
    _dir: TempDir,
}

/// A directory removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("rouge-test-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn sqlite() -> TempSqlite {
    let dir = TempDir::new();
    let url = format!("sqlite://{}", dir.0.join("rouge.db").display());
    let store = SqliteStore::connect(&url).await.expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    TempSqlite { store, url, _dir: dir }
}

pub struct TempPostgres {
    pub store: PgStore,
    pub url: String,
    name: String,
}

/// A new, migrated PostgreSQL database; `None` (with a note on stderr) when no server answers
/// and services are not required.
pub async fn postgres() -> Option<TempPostgres> {
    let db = empty_postgres().await?;
    db.store.migrate().await.expect("migrate postgres");
    // A restarted server migrates again: that must find every migration applied.
    db.store.migrate().await.expect("migrating an up-to-date database changes nothing");
    Some(db)
}

/// A new PostgreSQL database with nothing in it (not migrated).
pub async fn empty_postgres() -> Option<TempPostgres> {
    let admin_url = postgres_admin_url();
    let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
        Ok(c) => c,
        Err(e) if !services_required() => {
            // Straight to stderr: libtest captures `eprintln!`, and a skip must be seen.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "SKIPPED: PostgreSQL test, no server at {admin_url}: {e}");
            return None;
        }
        Err(e) => panic!("PostgreSQL is required (ROUGE_REQUIRE_SERVICES=1) but {admin_url} failed: {e}"),
    };
    let name = format!("rouge_test_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let url = match admin_url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("ROUGE_TEST_POSTGRES_URL needs a database path"),
    };
    let store = PgStore::connect(&url).await.expect("connect to test database");
    Some(TempPostgres { store, url, name })
}

impl TempPostgres {
    /// Closes the pool and drops the database.
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Ok(mut admin) = sqlx::PgConnection::connect(&postgres_admin_url()).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)))
                .execute(&mut admin)
                .await;
        }
    }
}

/// Where tests reach Redis: `ROUGE_TEST_REDIS_URL`, or the local server. `None` (with a note
/// on stderr) when nothing answers and services are not required.
pub async fn redis_url() -> Option<String> {
    let url = std::env::var("ROUGE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let addr = url.trim_start_matches("redis://").split('/').next().unwrap_or_default().to_owned();
    answering("Redis", url, &addr).await
}

/// Where tests reach RabbitMQ: `ROUGE_TEST_AMQP_URL`, or the local broker (guest/guest).
/// `None` (with a note on stderr) when nothing answers and services are not required.
pub async fn amqp_url() -> Option<String> {
    let url = std::env::var("ROUGE_TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let addr = url.split('@').next_back().unwrap_or_default().split('/').next().unwrap_or_default().to_owned();
    answering("RabbitMQ", url, &addr).await
}

/// `url` when something listens at `addr`; otherwise a skip (noted on stderr), or a failure
/// when services are required.
async fn answering(what: &str, url: String, addr: &str) -> Option<String> {
    match tokio::net::TcpStream::connect(addr).await {
        Ok(_) => Some(url),
        Err(e) if !services_required() => {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "SKIPPED: {what} test, nothing answers at {addr}: {e}");
            None
        }
        Err(e) => panic!("{what} is required (ROUGE_REQUIRE_SERVICES=1) but {addr} failed: {e}"),
    }
}
