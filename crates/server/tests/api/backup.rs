//! `rouge backup` / `rouge restore` on both stores: a shop restored from a backup taken while it
//! served has every row, order and key it had; a damaged backup, a wrong passphrase or a
//! store that is not empty are refused before anything is written. `rouge drill restore`
//! runs end to end and loses no acknowledged order.

use crate::checkout::{SKU, complete, ready_cart, stocked};
use crate::helpers::{Db, TestApp};
use rouge_server::backup::{self, MANIFEST};
use rouge_store_tests::harness::{self, TempDir};
use serde_json::Value;

crate::on_both_stores!(a_backup_restores_the_shop_exactly_and_refuses_what_is_unsafe);

const PASSPHRASE: &str = "a long backup passphrase";

/// A store to restore into: a new SQLite file, or a new PostgreSQL database without tables.
struct Target {
    url: String,
    pg: Option<harness::TempPostgres>,
}

impl Target {
    async fn new(like: &Db, dir: &TempDir) -> Target {
        match like {
            Db::Sqlite(_) => {
                Target { url: format!("sqlite://{}", dir.0.join("restored/rouge.db").display()), pg: None }
            }
            Db::Postgres(_) => {
                let pg = harness::empty_postgres().await.expect("a PostgreSQL server");
                Target { url: pg.url.clone(), pg: Some(pg) }
            }
        }
    }

    /// Tables the target has (nothing restored means none).
    async fn tables(&self) -> usize {
        use sqlx::Connection;
        match &self.pg {
            None => {
                let path = self.url.trim_start_matches("sqlite://");
                if !std::path::Path::new(path).exists() {
                    return 0;
                }
                let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'")
                    .fetch_one(&mut c)
                    .await
                    .unwrap() as usize
            }
            Some(pg) => {
                let mut c = sqlx::PgConnection::connect(&pg.url).await.unwrap();
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
                )
                .fetch_one(&mut c)
                .await
                .unwrap() as usize
            }
        }
    }
}

fn url_of(db: &Db) -> String {
    match db {
        Db::Sqlite(d) => d.url.clone(),
        Db::Postgres(d) => d.url.clone(),
    }
}

fn err_of<T: std::fmt::Debug>(r: anyhow::Result<T>) -> String {
    format!("{:#}", r.expect_err("refused"))
}

async fn a_backup_restores_the_shop_exactly_and_refuses_what_is_unsafe(app: &TestApp) {
    // A shop: audited catalogue and stock changes, a customer, an order.
    stocked(app, SKU, 5).await;
    crate::accounts::customer(app, "ana@example.com").await;
    let cart = ready_cart(app, SKU, 2, None).await;
    let order: Value = complete(app, &cart, Some("b"), "tok_visa", None).await.json().await.unwrap();
    let order_id: uuid::Uuid = order["id"].as_str().unwrap().parse().unwrap();

    let dir = TempDir::new();
    let keys = dir.0.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(keys.join("master-m1.key"), [7u8; 32]).unwrap();
    std::fs::write(keys.join("signing-s1.pem"), b"-----BEGIN PRIVATE KEY-----\n").unwrap();
    let source = url_of(&app.db);
    let taken = dir.0.join("backup");
    let manifest = backup::backup(&source, &keys, &taken, PASSPHRASE).await.expect("backup");
    let orders_table = if manifest.store == "sqlite" { "orders" } else { "orders.orders" };
    assert_eq!(manifest.rows[orders_table], 1, "{:?}", manifest.rows);
    assert_eq!(manifest.files.len(), 2);
    let sealed = std::fs::read(taken.join("keys.sealed")).unwrap();
    assert!(!sealed.windows(32).any(|w| w == [7u8; 32]), "the keys are sealed, not copied");
    assert!(
        err_of(backup::backup(&source, &keys, &taken, PASSPHRASE).await).contains("not empty"),
        "a backup never overwrites another"
    );

    // Refused before anything is written.
    let target = Target::new(&app.db, &dir).await;
    let restored_keys = dir.0.join("restored-keys");
    let said = err_of(backup::restore(&taken, &target.url, &restored_keys, "not the passphrase!").await);
    assert!(said.contains("passphrase"), "{said}");
    let said = err_of(backup::restore(&taken, &source, &restored_keys, PASSPHRASE).await);
    assert!(said.contains("exists") || said.contains("empty"), "the live store is never overwritten: {said}");
    let damaged = dir.0.join("damaged");
    std::fs::create_dir_all(&damaged).unwrap();
    for f in std::fs::read_dir(&taken).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), damaged.join(f.file_name())).unwrap();
    }
    let db_file = &manifest.files[0].name;
    let mut bytes = std::fs::read(damaged.join(db_file)).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(damaged.join(db_file), bytes).unwrap();
    let said = err_of(backup::restore(&damaged, &target.url, &restored_keys, PASSPHRASE).await);
    assert!(said.contains("differs from the manifest"), "{said}");
    std::fs::remove_file(damaged.join(MANIFEST)).unwrap();
    assert!(err_of(backup::restore(&damaged, &target.url, &restored_keys, PASSPHRASE).await).contains("not a backup"));
    assert_eq!(target.tables().await, 0, "nothing was restored by a refused attempt");
    assert!(!restored_keys.exists(), "no key was written by a refused attempt");

    // Restored: every row, the audit chain, the orders; the keys byte for byte.
    let verified = backup::restore(&taken, &target.url, &restored_keys, PASSPHRASE).await.expect("restore");
    assert_eq!(verified.orders, 1);
    assert!(verified.audit_entries >= 2, "the catalogue and stock changes were audited: {verified:?}");
    assert_eq!(verified.rows, manifest.rows.values().sum::<i64>());
    for f in ["master-m1.key", "signing-s1.pem"] {
        assert_eq!(std::fs::read(restored_keys.join(f)).unwrap(), std::fs::read(keys.join(f)).unwrap(), "{f}");
    }
    let found = rouge_server::with_store(&target.url, FindOrder(order_id)).await.unwrap();
    assert_eq!(found, Some(2), "the order, with its two units");
    if let Some(pg) = target.pg {
        pg.cleanup().await;
    }
}

/// The units of an order, if the store has it.
struct FindOrder(uuid::Uuid);

impl rouge_server::StoreFn<Option<i64>> for FindOrder {
    async fn call<S: rouge_http::Store>(self, store: S) -> anyhow::Result<Option<i64>> {
        let found = rouge_orders::OrdersRepository::order(&store, self.0).await.map_err(|e| anyhow::anyhow!(e))?;
        Ok(found.map(|(o, _)| o.lines.iter().map(|l| l.quantity).sum()))
    }
}

/// `rouge drill restore` as an operator runs it: backup while serving, loss, restore, verify.
fn drill(store: &str) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rouge"))
        .args(["drill", "restore", "--store", store, "--orders", "8", "--postgres-url"])
        .arg(harness::postgres_admin_url())
        .env("RUST_LOG", "warn")
        .output()
        .expect("run rouge");
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("RPO 0 of 8 acknowledged orders missing"), "{said}");
    assert!(said.contains("restore: verified"), "{said}");
}

#[test]
fn sqlite_the_restore_drill_loses_no_acknowledged_order() {
    drill("sqlite");
}

#[tokio::test]
async fn postgres_the_restore_drill_loses_no_acknowledged_order() {
    if let Some(pg) = harness::empty_postgres().await {
        pg.cleanup().await;
    } else {
        return;
    }
    tokio::task::spawn_blocking(|| drill("postgres")).await.unwrap();
}

/// `scripts/failover-drill.sh` as the README shows it (shorter): a synchronous standby is
/// promoted under checkout load and no acknowledged order is lost.
#[test]
fn the_failover_drill_loses_no_acknowledged_order() {
    let pg_bin = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .find(|b| b.join("initdb").exists());
    if pg_bin.is_none() {
        crate::helpers::tool_missing("PostgreSQL's server programs", "the postgresql package (initdb, pg_ctl)");
        return;
    }
    if std::process::Command::new("haproxy").arg("-v").output().is_err() {
        crate::helpers::tool_missing("haproxy", "apt-get install haproxy (see .ci/run)");
        return;
    }
    let free = || crate::helpers::free_port().to_string();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/failover-drill.sh");
    let out = std::process::Command::new("bash")
        .arg(script)
        .env("ROUGE", env!("CARGO_BIN_EXE_rouge"))
        .env("PRIMARY_PORT", free())
        .env("STANDBY_PORT", free())
        .env("FRONT_PORT", free())
        .env("DRILL_SECONDS", "12")
        .env("FAIL_AFTER", "4")
        .output()
        .expect("run the drill");
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("standby promoted"), "{said}");
    let report = said.lines().find(|l| l.starts_with("drill failover:")).unwrap_or_else(|| panic!("{said}"));
    assert!(report.ends_with(", 0 missing"), "{report}");
    let acknowledged: usize =
        report.split(" orders acknowledged").next().unwrap().rsplit(' ').next().unwrap().parse().unwrap();
    assert!(acknowledged > 50, "checkouts went on around the failover: {report}");
}
