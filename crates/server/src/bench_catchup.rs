//! `rouge bench catch-up`: what a server costs to start after a busy day. A fresh SQLite store
//! gets N `order.placed` events of the last day (with payloads of the size real ones have),
//! already handled by their consumers, as after a day of trading; `rouge serve` then starts on
//! it and its peak resident memory over the first seconds is compared with a start on the same
//! store without those events. The catch-up must read them a page at a time.

use anyhow::Context;
use rouge_identity::IdentityRepository;
use rouge_kernel::{DeliveryLog, DomainEvent};
use std::time::Duration;

pub struct CatchUpBench {
    pub orders: usize,
    /// Seconds to watch the server after it is ready.
    pub seconds: u64,
}

fn placed(n: usize) -> DomainEvent {
    let order = uuid::Uuid::now_v7();
    let lines: Vec<serde_json::Value> = (0..3)
        .map(|i| serde_json::json!({"sku": format!("SKU-{n}-{i}"), "name": "Glow Serum 30 ml", "quantity": 1, "unit_price": 2900}))
        .collect();
    DomainEvent::new(
        "order",
        order,
        "order.placed",
        serde_json::json!({"order_id": order, "number": 1000 + n, "reservation_id": uuid::Uuid::now_v7(),
            "currency": "EUR", "total": 8700, "lines": lines, "country": "FR"}),
    )
}

/// Peak RSS of a server started on `url`, after `seconds` of running.
async fn peak(url: &str, key_dir: &std::path::Path, seconds: u64) -> anyhow::Result<f64> {
    let (mut child, _addr, pid) = crate::bench::spawn_server(url, key_dir, "", &[]).await?;
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let rss = crate::bench::peak_rss_mb(pid).context("reading the server's memory")?;
    let _ = child.kill().await;
    Ok(rss)
}

pub async fn catch_up(opts: CatchUpBench) -> anyhow::Result<()> {
    let dir = bench_dir()?;
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let key_dir = dir.join("keys");
    let store = rouge_store_sqlite::SqliteStore::connect(&url).await?;
    store.migrate().await?;
    let empty = peak(&url, &key_dir, opts.seconds).await?;
    eprintln!("bench: writing {} order.placed events, handled by their consumers", opts.orders);
    for chunk in (0..opts.orders).collect::<Vec<_>>().chunks(1000) {
        let events: Vec<DomainEvent> = chunk.iter().map(|n| placed(*n)).collect();
        store.append_events(&events).await.map_err(|e| anyhow::anyhow!(e))?;
        let ids: Vec<uuid::Uuid> = events.iter().map(|e| e.id).collect();
        for consumer in ["stock", "order-email"] {
            store
                .begin_deliveries(consumer, &events, chrono::Utc::now().timestamp_millis(), 30_000)
                .await
                .map_err(|e| anyhow::anyhow!(e))?;
            store.record_successes(consumer, &ids).await.map_err(|e| anyhow::anyhow!(e))?;
        }
    }
    store.close().await;
    let busy = peak(&url, &key_dir, opts.seconds).await?;
    println!(
        "server peak RSS {} s after start: {empty:.0} MB on a fresh store, {busy:.0} MB after {} orders in the last day ({:+.0} MB)",
        opts.seconds,
        opts.orders,
        busy - empty
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn bench_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("rouge-bench-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
