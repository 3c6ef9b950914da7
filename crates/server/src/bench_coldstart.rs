//! `rouge bench cold-start`: a replica starting on a PostgreSQL shop of N products, without
//! Redis and with a Redis another replica warmed: how long until it is ready, and how its first
//! answers to 60 different listing pages went (latency; rendered, or read from Redis). Nothing
//! here is asserted on time.

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct ColdStartBench {
    /// Where a fresh bench database is created and dropped again.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub postgres_url: String,
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
    #[arg(long, default_value_t = 10_000)]
    pub products: usize,
}

/// 60 listing pages a storefront asks for: categories of filters, searches and sorts.
fn pages() -> Vec<String> {
    let filters = [
        "",
        "skin_type=oily",
        "skin_type=dry&concern=redness",
        "free_from=fragrance",
        "certification=vegan",
        "max_price=3000",
        "q=serum",
        "q=vitamin%20c",
        "q=spf",
        "include_ingredient=niacinamide&exclude_ingredient=alcohol",
    ];
    let sorts = ["relevance", "price_asc", "price_desc", "newest", "name", "suitability"];
    filters.iter().flat_map(|f| sorts.iter().map(move |s| format!("/v1/products?limit=24&sort={s}&{f}"))).collect()
}

/// One GET: its latency and where the page came from (`X-Rouge-Cache`).
async fn get(addr: &str, path: &str) -> anyhow::Result<(Duration, String)> {
    let t = Instant::now();
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = hyper::Request::builder().uri(path).header("host", addr).body(Empty::<Bytes>::new())?;
    let res = sender.send_request(req).await?;
    anyhow::ensure!(res.status() == 200, "{path} answered {}", res.status());
    let level = res.headers().get("x-rouge-cache").and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
    res.into_body().collect().await?;
    Ok((t.elapsed(), level))
}

/// Starts a server with `extra` arguments, asks for every page once; prints and returns.
async fn replica(url: &str, key_dir: &std::path::Path, extra: &[&str], label: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let (mut child, addr, _) = crate::bench::spawn_server(url, key_dir, "", extra).await?;
    let ready = started.elapsed();
    let mut times = vec![];
    let mut levels = std::collections::BTreeMap::<String, usize>::new();
    for p in pages() {
        let (t, level) = get(&addr, &p).await?;
        times.push(t);
        *levels.entry(level).or_default() += 1;
    }
    let _ = child.start_kill();
    let _ = child.wait().await;
    times.sort();
    let total: Duration = times.iter().sum();
    println!(
        "{label}: ready in {:.2} s; first {} listing pages: p50 {:.1} ms, p99 {:.1} ms, all {:.0} ms; {levels:?}",
        ready.as_secs_f64(),
        times.len(),
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() * 99 / 100].as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3
    );
    Ok(())
}

pub async fn cold_start(opts: ColdStartBench) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("rouge-bench-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;
    let (url, made) = crate::bench_checkout::fresh_database("postgres", &opts.postgres_url, &dir).await?;
    eprintln!("bench: loading {} demo products into {url}", opts.products);
    let store = rouge_store::PgStore::connect(&url).await?;
    store.migrate().await?;
    crate::seed::seed_demo(&store, opts.products).await?;
    crate::seed::seed_demo_stock(&store, opts.products).await?;
    store.close().await;
    let key_dir = dir.join("keys");
    let prefix = format!("bench-{}", uuid::Uuid::now_v7().simple());
    let with_redis = ["--redis-url", opts.redis_url.as_str(), "--redis-prefix", prefix.as_str()];
    println!("rouge bench cold-start on PostgreSQL, {} products", opts.products);
    replica(&url, &key_dir, &[], "without Redis").await?;
    replica(&url, &key_dir, &with_redis, "with an empty Redis (it fills it)").await?;
    replica(&url, &key_dir, &with_redis, "with the Redis that replica warmed").await?;
    crate::bench_checkout::drop_database(made).await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
