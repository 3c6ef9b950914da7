//! `rouge drill restore`: backup → destroy → restore → verify on a scratch shop, printing the
//! recovery time (RTO: from the database's loss until the restored server is ready again) and
//! the recovery point (RPO: acknowledged orders missing after the restore; 0 for a backup
//! taken after them). Runs `rouge serve` as a child process on a fresh SQLite file or
//! PostgreSQL database, which it drops again.

use crate::bench_checkout::{connect, drop_database, fresh_database, pay, prepare, ready_cart};
use anyhow::{Context, ensure};
use std::time::Instant;

#[derive(clap::Args)]
pub struct RestoreDrill {
    /// `sqlite` or `postgres`.
    #[arg(long, default_value = "sqlite")]
    pub store: String,
    /// Where the drill's database is created and dropped again (`--store postgres`).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub postgres_url: String,
    /// Orders placed and acknowledged before the backup.
    #[arg(long, default_value_t = 50)]
    pub orders: usize,
}

/// What the drill measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DrillReport {
    pub store: String,
    pub acknowledged: usize,
    pub missing: usize,
    pub backup_secs: f64,
    pub restore_secs: f64,
    pub rto_secs: f64,
}

/// The drill's own passphrase for the sealed keys (a scratch shop's keys).
const PASSPHRASE: &str = "restore drill passphrase";

struct Prepare;

impl crate::StoreFn<Vec<String>> for Prepare {
    async fn call<S: rouge_http::Store>(self, store: S) -> anyhow::Result<Vec<String>> {
        Ok(prepare(store, 1).await?.0)
    }
}

/// How many of `ids` the store has no order for.
struct Missing(Vec<uuid::Uuid>);

impl crate::StoreFn<usize> for Missing {
    async fn call<S: rouge_http::Store>(self, store: S) -> anyhow::Result<usize> {
        let mut missing = 0;
        for id in self.0 {
            let found = rouge_orders::OrdersRepository::order(&store, id).await.map_err(|e| anyhow::anyhow!(e))?;
            missing += usize::from(found.is_none());
        }
        Ok(missing)
    }
}

/// Runs the drill and prints its report (also returned).
///
/// # Errors
/// When a step fails, or the restore lost an acknowledged order.
pub async fn restore_drill(opts: RestoreDrill) -> anyhow::Result<DrillReport> {
    let dir = std::env::temp_dir().join(format!("rouge-drill-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;
    let (url, made) = fresh_database(&opts.store, &opts.postgres_url, &dir).await?;
    let report = run(&opts, &dir, &url, made.as_ref()).await;
    drop_database(made).await;
    let _ = std::fs::remove_dir_all(&dir);
    let report = report?;
    println!(
        "drill restore ({}): RTO {:.1} s (database lost → restored server ready; restore {:.1} s), \
         RPO {} of {} acknowledged orders missing; backup took {:.1} s",
        report.store, report.rto_secs, report.restore_secs, report.missing, report.acknowledged, report.backup_secs
    );
    ensure!(report.missing == 0, "the restore lost {} acknowledged orders", report.missing);
    Ok(report)
}

async fn run(
    opts: &RestoreDrill,
    dir: &std::path::Path,
    url: &str,
    made: Option<&(String, String)>,
) -> anyhow::Result<DrillReport> {
    let key_dir = dir.join("keys");
    let skus = crate::with_store(url, Prepare).await?;
    let (mut server, addr, _) = crate::bench::spawn_server(url, &key_dir, "", &[]).await?;
    let mut s = connect(&addr).await?;
    let mut acknowledged = Vec::with_capacity(opts.orders);
    for i in 0..opts.orders {
        let cart = ready_cart(&mut s, &addr, &skus[i % skus.len()]).await.with_context(|| format!("cart {i}"))?;
        let (status, order) = pay(&mut s, &addr, &cart).await.with_context(|| format!("paying for cart {i}"))?;
        ensure!(status == 201, "an order answered {status}: {order}");
        acknowledged.push(order["id"].as_str().context("an order id")?.parse::<uuid::Uuid>()?);
    }
    eprintln!("drill: {} orders acknowledged; backing up while the server runs", acknowledged.len());
    let backup_dir = dir.join("backup");
    let t = Instant::now();
    crate::backup::backup(url, &key_dir, &backup_dir, PASSPHRASE).await?;
    let backup_secs = t.elapsed().as_secs_f64();

    eprintln!("drill: disaster: the server stops, its database and key directory are lost");
    server.kill().await?;
    let lost = Instant::now();
    match made {
        None => {
            let file = dir.join("bench.db");
            for f in [file.clone(), file.with_extension("db-wal"), file.with_extension("db-shm")] {
                let _ = std::fs::remove_file(f);
            }
        }
        Some((admin_url, name)) => {
            use sqlx::Connection;
            // Dropped and provisioned again, empty, as a replacement server would be.
            let mut admin = sqlx::PgConnection::connect(admin_url).await?;
            for sql in [format!("DROP DATABASE {name} WITH (FORCE)"), format!("CREATE DATABASE {name}")] {
                sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await?;
            }
        }
    }
    std::fs::remove_dir_all(&key_dir)?;

    let t = Instant::now();
    crate::backup::restore(&backup_dir, url, &key_dir, PASSPHRASE).await?;
    let restore_secs = t.elapsed().as_secs_f64();
    let (mut server, _, _) = crate::bench::spawn_server(url, &key_dir, "", &[]).await?;
    let rto_secs = lost.elapsed().as_secs_f64();
    let missing = crate::with_store(url, Missing(acknowledged.clone())).await?;
    server.kill().await?;
    Ok(DrillReport {
        store: opts.store.clone(),
        acknowledged: acknowledged.len(),
        missing,
        backup_secs,
        restore_secs,
        rto_secs,
    })
}
