//! Every row of every table, as text, for tests that look for what must not be stored.

use rouge_store::PgStore;
use rouge_store::SqliteStore;
use sqlx::Row;
use std::future::Future;

/// What both databases run alike.
macro_rules! same_on_both {
    () => {
        async fn raw_strings(&self, sql: &str) -> Vec<String> {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_all(self.pool()).await.unwrap()
        }

        async fn raw_exec(&self, sql: &str) {
            sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).execute(self.pool()).await.unwrap();
        }
    };
}

pub trait RawRows {
    /// All rows of all tables, each value as text (SQLite) or as the row's text form with
    /// binary values in hex (PostgreSQL).
    fn raw_rows(&self) -> impl Future<Output = String> + Send;
    /// Runs SQL behind the application's back (to tamper, as an intruder with database access
    /// would). Tables have the same names on both databases.
    fn raw_exec(&self, sql: &str) -> impl Future<Output = ()> + Send;
    /// The first column of every row `sql` selects, which must be text.
    fn raw_strings(&self, sql: &str) -> impl Future<Output = Vec<String>> + Send;
}

impl RawRows for SqliteStore {
    same_on_both!();

    async fn raw_rows(&self) -> String {
        let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(self.pool())
            .await
            .unwrap();
        let mut out = String::new();
        for t in tables {
            let cols: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA table_info({t})")))
                .fetch_all(self.pool())
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>("name"))
                .collect();
            for c in cols {
                let values: Vec<Option<Vec<u8>>> =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT CAST(\"{c}\" AS BLOB) FROM \"{t}\"")))
                        .fetch_all(self.pool())
                        .await
                        .unwrap();
                for v in values.into_iter().flatten() {
                    out.push_str(&String::from_utf8_lossy(&v));
                    out.push('\n');
                }
            }
        }
        out
    }
}

impl RawRows for PgStore {
    same_on_both!();

    async fn raw_rows(&self) -> String {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables \
             WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'",
        )
        .fetch_all(self.pool())
        .await
        .unwrap();
        let mut out = String::new();
        for t in tables {
            let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT r::text FROM {t} r")))
                .fetch_all(self.pool())
                .await
                .unwrap();
            for r in rows {
                out.push_str(&r);
                out.push('\n');
            }
        }
        out
    }
}
