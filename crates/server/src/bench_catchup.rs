//! `rouge bench catch-up`: what a server costs to start after a busy day. A fresh SQLite store
//! gets N order confirmation emails requested in the last day (`EmailRequested` events with
//! payloads of the size real ones have), already sent by their consumer, as after a day of
//! trading; `rouge serve` then starts on it and its peak resident memory over the first seconds
//! is compared with a start on the same store without them. The catch-up must read them a page
//! at a time.

use anyhow::Context;
use rouge_identity::IdentityRepository;
use rouge_kernel::{DeliveryLog, DomainEvent};
use std::time::Duration;

pub struct CatchUpBench {
    pub orders: usize,
    /// Seconds to watch the server after it is ready.
    pub seconds: u64,
}

fn email(n: usize) -> DomainEvent {
    let customer = uuid::Uuid::now_v7();
    let sealed: String = (0..120).map(|i| char::from(b'A' + ((n + i) % 26) as u8)).collect();
    DomainEvent::new(
        "customer",
        customer,
        "EmailRequested",
        serde_json::json!({"customer_id": customer, "template": "verify_email", "sealed_token": sealed}),
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
    let store = rouge_store::SqliteStore::connect(&url).await?;
    store.migrate().await?;
    let empty = peak(&url, &key_dir, opts.seconds).await?;
    eprintln!("bench: writing {} requested emails of the last day, already sent", opts.orders);
    for chunk in (0..opts.orders).collect::<Vec<_>>().chunks(1000) {
        let events: Vec<DomainEvent> = chunk.iter().map(|n| email(*n)).collect();
        store.append_events(&events).await.map_err(|e| anyhow::anyhow!(e))?;
        let ids: Vec<uuid::Uuid> = events.iter().map(|e| e.id).collect();
        {
            let consumer = "mailer";
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
        "server peak RSS {} s after start: {empty:.0} MB on a fresh store, {busy:.0} MB with {} emails of the last day to catch up on ({:+.0} MB)",
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
