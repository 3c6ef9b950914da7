//! The listing cache's two levels with a real Redis: a page one replica rendered serves another
//! (L2) with the same ETag; a catalogue or stock change moves every replica past the pages
//! from before it; with Redis cut (by a proxy the test owns), pages still answer, rendered or
//! from memory.

use crate::faults::{FaultProxy, Mode};
use crate::helpers::{TestApp, serum, test_options};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn page(base: &str, path: &str) -> (StatusCode, String, String, Value) {
    let res = reqwest::get(format!("{base}{path}")).await.unwrap();
    let header = |n: &str| res.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (level, etag) = (header("x-rouge-cache"), header("etag"));
    (res.status(), level, etag, res.json().await.unwrap_or(Value::Null))
}

/// How many shared pages Redis holds under `prefix`.
async fn shared_pages(url: &str, prefix: &str) -> usize {
    let client = redis::Client::open(url).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:page:*")).query_async(&mut c).await.unwrap();
    keys.len()
}

async fn replicas_share_listing_pages_through_redis(pg: bool) {
    let Some(redis) = rouge_store_tests::harness::redis_url().await else { return };
    let host = redis.trim_start_matches("redis://").split('/').next().unwrap().to_owned();
    let proxy = FaultProxy::start(&host).await;
    let prefix = format!("cache-test-{}", uuid::Uuid::now_v7().simple());
    let options = || {
        let mut opts = test_options();
        opts.redis_url = Some(redis.replace(&host, &proxy.addr.to_string()));
        opts.redis_prefix = prefix.clone();
        opts
    };
    let Some(a) = TestApp::on(pg, options()).await else { return };
    a.brand("Lumen Lab").await;
    for (i, sku) in ["LL-A", "LL-B", "LL-C"].into_iter().enumerate() {
        a.product(serum(&format!("Serum {i}"), "lumen-lab", sku, 1000 + i as i64)).await;
    }
    let path = "/v1/products?sort=price_asc&limit=2";
    let b = a.replica_with(options()).await;
    a.eventually(|| async { page(&a.base, path).await.3["total"] == 3 }).await;
    a.eventually(|| async { page(&b.base, "/v1/products?limit=1").await.3["total"] == 3 }).await;

    // A fresh query: rendered once by A, then A's memory, then B from Redis, same ETag.
    let path = "/v1/products?sort=price_asc&limit=2&skin_type=oily";
    let before = shared_pages(&redis, &prefix).await;
    let (s, level, etag, body) = page(&a.base, path).await;
    assert_eq!((s, level.as_str()), (StatusCode::OK, "miss"), "{body}");
    assert_eq!(page(&a.base, path).await.1, "hit-l1");
    // A's page is in Redis (the pages before it do not tell: A stores in the background).
    a.eventually(|| async { shared_pages(&redis, &prefix).await > before }).await;
    let (_, level, etag_b, body_b) = page(&b.base, path).await;
    assert_eq!(level, "hit-l2", "B never rendered this page");
    assert_eq!((etag_b, body_b), (etag.clone(), body));

    // A change moves both replicas past the old page: none serves it again.
    let (_, first) = a.get_json("/v1/products/serum-0").await;
    let id = first["id"].as_str().unwrap();
    let patch = json!({"name": "Serum Zero"});
    let res = a.admin(reqwest::Method::PATCH, &format!("/v1/admin/products/{id}"), &patch).await;
    assert_eq!(res.status(), StatusCode::OK);
    for base in [&a.base, &b.base] {
        a.eventually(|| async { page(base, path).await.3["items"][0]["name"] == "Serum Zero" }).await;
    }
    assert_ne!(page(&b.base, path).await.2, etag);

    // Redis away: pages still answer, from memory or rendered, on both replicas.
    proxy.set(Mode::Blackhole);
    for base in [&a.base, &b.base] {
        for path in [path, "/v1/products?limit=3", "/v1/products?q=serum"] {
            let (s, level, _, body) = page(base, path).await;
            assert_eq!(s, StatusCode::OK, "{path} on {base} with Redis away: {body}");
            assert_ne!(level, "hit-l2");
        }
    }
    proxy.set(Mode::Pass);
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn sqlite_replicas_share_listing_pages_through_redis() {
    replicas_share_listing_pages_through_redis(false).await;
}

#[tokio::test]
async fn postgres_replicas_share_listing_pages_through_redis() {
    replicas_share_listing_pages_through_redis(true).await;
}
