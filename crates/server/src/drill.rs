//! Recovery drills.
//!
//! - `rouge drill restore`: backup → destroy → restore → verify on a scratch shop, printing the
//!   recovery time (RTO: from the database's loss until the restored server is ready again)
//!   and the recovery point (RPO: acknowledged orders missing after the restore; 0 for a
//!   backup taken after them). Runs `rouge serve` as a child process on a fresh SQLite file or
//!   PostgreSQL database, which it drops again.
//! - `rouge drill failover`: checkouts without pause against a server on the given database
//!   while an operator (or `scripts/failover-drill.sh`) fails the database over; prints how
//!   long checkouts failed and whether any acknowledged order is missing afterwards.

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
    /// Products in the scratch shop's catalogue.
    #[arg(long, default_value_t = 200)]
    pub products: usize,
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

/// A scratch shop of this many products, stocked.
struct Prepare(usize);

impl crate::StoreFn<Vec<String>> for Prepare {
    async fn call<S: rouge_http::Store>(self, store: S) -> anyhow::Result<Vec<String>> {
        Ok(prepare(store, self.0, 1).await?.0)
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
    let skus = crate::with_store(url, Prepare(opts.products)).await?;
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

#[derive(clap::Args)]
pub struct FailoverDrill {
    /// How long to keep checking out.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// Shoppers checking out at the same time.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
}

/// What the failover drill saw.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FailoverReport {
    pub acknowledged: usize,
    pub missing: usize,
    pub failed_attempts: usize,
    /// From the first failed attempt to the first success after the last one (seconds).
    pub outage_secs: Option<f64>,
}

/// Checks out continuously through `rouge serve` on `url` (a shopper retries a failed payment
/// with the same idempotency key, as the API asks), then checks that every acknowledged order
/// is in the store.
///
/// # Errors
/// When the shop cannot be prepared or served, or an acknowledged order is missing.
pub async fn failover_drill(url: &str, opts: FailoverDrill) -> anyhow::Result<FailoverReport> {
    use std::sync::{Arc, Mutex};
    let dir = std::env::temp_dir().join(format!("rouge-failover-{}", uuid::Uuid::now_v7()));
    let skus = Arc::new(crate::with_store(url, Prepare(200)).await?);
    let (mut server, addr, _) = crate::bench::spawn_server(url, &dir.join("keys"), "", &[]).await?;
    let start = Instant::now();
    let until = start + std::time::Duration::from_secs(opts.seconds);
    // (milliseconds since the start, succeeded) of every attempt, and the orders acknowledged.
    let attempts = Arc::new(Mutex::new(Vec::<(u128, bool)>::new()));
    // Failed steps by what they got: an HTTP status and problem type, or the connection's error.
    let failures = Arc::new(Mutex::new(std::collections::BTreeMap::<String, usize>::new()));
    let acknowledged = Arc::new(Mutex::new(Vec::<uuid::Uuid>::new()));
    eprintln!("drill: {} shoppers checking out for {} s; fail the database over now", opts.clients, opts.seconds);
    let shoppers = (0..opts.clients).map(|c| {
        let (addr, skus, attempts, acknowledged) = (addr.clone(), skus.clone(), attempts.clone(), acknowledged.clone());
        let failures = failures.clone();
        tokio::spawn(async move {
            let note = |ok: bool| attempts.lock().expect("attempts").push((start.elapsed().as_millis(), ok));
            let failed = |what: String| *failures.lock().expect("failures").entry(what).or_default() += 1;
            let mut conn = None;
            let mut cart: Option<String> = None;
            let mut n = c;
            while Instant::now() < until {
                if conn.is_none() {
                    conn = connect(&addr).await.ok();
                }
                let Some(s) = conn.as_mut() else {
                    note(false);
                    failed("connection refused".into());
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                };
                let step = match cart.clone() {
                    None => ready_cart(s, &addr, &skus[n % skus.len()]).await.map(|id| {
                        cart = Some(id);
                        None
                    }),
                    Some(id) => pay(s, &addr, &id).await.map(|(status, order)| Some((status, order))),
                };
                match step {
                    Ok(None) => note(true),
                    Ok(Some((201, order))) => {
                        note(true);
                        if let Some(id) = order["id"].as_str().and_then(|i| i.parse().ok()) {
                            acknowledged.lock().expect("acknowledged").push(id);
                        }
                        cart = None;
                        n += opts.clients;
                    }
                    // Refused for good (sold out, a cart the failover left unusable): a new cart.
                    Ok(Some((status, body))) if (400..500).contains(&status) && status != 409 => {
                        note(false);
                        failed(format!("{status} {}", body["type"].as_str().unwrap_or_default()));
                        cart = None;
                    }
                    // 5xx, 409 (in flight) or a broken connection: the same payment again.
                    Ok(Some((status, body))) => {
                        note(false);
                        failed(format!("{status} {}", body["type"].as_str().unwrap_or_default()));
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    Err(e) => {
                        note(false);
                        // Creating a cart failed: the step names its status.
                        failed(e.to_string().chars().take(80).collect());
                        conn = None;
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                }
            }
        })
    });
    let ticker = {
        let attempts = attempts.clone();
        tokio::spawn(async move {
            let mut seen = 0;
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                let a = attempts.lock().expect("attempts");
                let (ok, failed) =
                    a[seen..].iter().fold((0, 0), |(o, f), (_, s)| if *s { (o + 1, f) } else { (o, f + 1) });
                seen = a.len();
                eprintln!("drill: t={:>3} s  {ok} steps succeeded, {failed} failed", start.elapsed().as_secs());
            }
        })
    };
    futures::future::join_all(shoppers).await;
    ticker.abort();
    let ids = acknowledged.lock().expect("acknowledged").clone();
    let missing = crate::with_store(url, Missing(ids.clone())).await?;
    server.kill().await?;
    let _ = std::fs::remove_dir_all(&dir);
    let attempts = attempts.lock().expect("attempts").clone();
    let report = FailoverReport {
        acknowledged: ids.len(),
        missing,
        failed_attempts: attempts.iter().filter(|(_, ok)| !ok).count(),
        outage_secs: outage(&attempts),
    };
    match report.outage_secs {
        Some(s) => println!(
            "drill failover: checkouts failed for {s:.1} s ({} failed steps, each retried); \
             {} orders acknowledged, {} missing",
            report.failed_attempts, report.acknowledged, report.missing
        ),
        None => println!(
            "drill failover: no checkout failed; {} orders acknowledged, {} missing",
            report.acknowledged, report.missing
        ),
    }
    for (what, n) in failures.lock().expect("failures").iter() {
        println!("  {n:>5} × {what}");
    }
    ensure!(report.missing == 0, "{} acknowledged orders are missing after the failover", report.missing);
    Ok(report)
}

/// From the first failed attempt to the first success after the last failure, in seconds.
fn outage(attempts: &[(u128, bool)]) -> Option<f64> {
    let mut sorted = attempts.to_vec();
    sorted.sort_unstable();
    let first = sorted.iter().find(|(_, ok)| !ok)?.0;
    let last = sorted.iter().rev().find(|(_, ok)| !ok)?.0;
    let back = sorted.iter().find(|(t, ok)| *ok && *t > last).map_or(last, |(t, _)| *t);
    Some((back - first) as f64 / 1e3)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_outage_runs_from_the_first_failure_to_the_recovery() {
        let seen = [(100, true), (1_000, false), (1_500, true), (2_000, false), (3_250, true), (3_300, true)];
        assert_eq!(super::outage(&seen), Some(2.25));
        assert_eq!(super::outage(&[(5, true)]), None);
    }
}
