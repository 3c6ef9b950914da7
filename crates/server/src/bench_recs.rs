//! `rouge bench recs`: the recommendations at the size. A fresh SQLite shop of N demo
//! products (stocked), behaviour of M customers (views, cart additions, orders; popular
//! products more often, and a customer's next product often near her last), a sample of them
//! with accounts and beauty profiles; then training (time, and the server's memory before and
//! after) and "for you" from concurrent logged-in clients (each request carries her token; her
//! profile and history are read on her first request and then known in memory; her list is
//! served through her constraints), and from visitors by anonymous id. No timings are asserted:
//! the figures are for BENCHMARKS.md.

use crate::bench::{MakeReq, Req, drive_requests, peak_rss_mb, request, spawn_server, verified_shoppers};
use anyhow::Context;
use rouge_recommendations::{BehaviourEvent, BehaviourRepository, EventKind};
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

#[derive(clap::Args)]
pub struct RecsBench {
    #[arg(long, default_value_t = 10_000)]
    pub products: usize,
    #[arg(long, default_value_t = 50_000)]
    pub customers: usize,
    /// Events per customer.
    #[arg(long, default_value_t = 12)]
    pub events: usize,
    /// Customers with accounts (and tokens) among them, who drive "for you".
    #[arg(long, default_value_t = 500)]
    pub logged_in: usize,
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
}

/// A small repeatable generator (xorshift), enough to spread behaviour.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// In 0..n, skewed towards 0 (popular products first).
    fn skewed(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((u * u * u) * n as f64) as usize
    }
}

pub async fn recs(opts: RecsBench) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("rouge-bench-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let t = Instant::now();
    let store = rouge_store::SqliteStore::connect(&url).await?;
    store.migrate().await?;
    crate::seed::seed_demo(&store, opts.products).await?;
    crate::seed::seed_demo_stock(&store, opts.products).await?;
    let key_dir = crate::keys::KeyDir(dir.join("keys"));
    key_dir.ensure()?;
    let keys = key_dir.load(chrono::Utc::now().timestamp(), 3600)?;
    let token = crate::bench::owner_key(
        &store,
        &keys,
        &[rouge_identity::Permission::CatalogWrite, rouge_identity::Permission::CatalogRead],
    )
    .await?;
    let skins = ["oily", "dry", "combination", "normal", "sensitive"];
    let profiles: Vec<(String, serde_json::Value)> = (0..opts.logged_in)
        .map(|n| {
            let avoid: &[&str] = if n % 3 == 0 { &["fragrance"] } else { &[] };
            (format!("recs{n}@example.com"), serde_json::json!({"skin_type": skins[n % 5], "avoid_ingredients": avoid}))
        })
        .collect();
    let shoppers =
        verified_shoppers(&store, &keys, rouge_identity::HashCost::TEST, &profiles, "bench passphrase").await?;
    eprintln!(
        "bench: {} products stocked, {} customers with accounts in {:.1} s",
        opts.products,
        shoppers.len(),
        t.elapsed().as_secs_f64()
    );

    let (mut child, addr, pid) = spawn_server(&url, &key_dir.0, &token, &[]).await?;
    let products = product_ids(&addr, &token).await?;
    anyhow::ensure!(!products.is_empty(), "no products listed");
    // Behaviour: the logged-in customers first, then the others (ids of their own).
    let t = Instant::now();
    let mut rng = Rng(0x5EED_5EED);
    let now = chrono::Utc::now().timestamp_millis();
    let customers: Vec<Uuid> =
        shoppers.iter().map(|s| s.0).chain((shoppers.len()..opts.customers).map(|_| Uuid::now_v7())).collect();
    let mut batch = Vec::with_capacity(10_000);
    let mut total = 0;
    for (c, customer) in customers.iter().enumerate() {
        let mut at = now - 30 * 86_400_000 + (c as i64 % 1000) * 1000;
        let mut last = rng.skewed(products.len());
        for _ in 0..opts.events {
            // Often near her last product (a routine, a brand), otherwise a popular one.
            last = if rng.next().is_multiple_of(2) {
                (last + 1 + rng.skewed(20)) % products.len()
            } else {
                rng.skewed(products.len())
            };
            let kind = match rng.next() % 20 {
                0..=13 => EventKind::ProductViewed,
                14..=16 => EventKind::AddedToCart,
                _ => EventKind::Purchased,
            };
            // Purchases one after another are lines of one order (same time).
            let same_order = kind == EventKind::Purchased
                && batch.last().is_some_and(|e: &BehaviourEvent| e.kind == kind && e.customer_id == Some(*customer));
            if !same_order {
                at += 60_000;
            }
            batch.push(BehaviourEvent {
                id: Uuid::now_v7(),
                kind,
                customer_id: Some(*customer),
                anonymous_id: None,
                product_id: Some(products[last]),
                query: None,
                unsuitable: false,
                at,
                impression_id: None,
            });
        }
        if batch.len() >= 10_000 {
            total += store.record_behaviour(&batch).await.map_err(|e| anyhow::anyhow!(e))?;
            batch.clear();
        }
    }
    total += store.record_behaviour(&batch).await.map_err(|e| anyhow::anyhow!(e))?;
    eprintln!("bench: {total} behaviour events of {} customers in {:.1} s", customers.len(), t.elapsed().as_secs_f64());

    let before = peak_rss_mb(pid).unwrap_or(0.0);
    let t = Instant::now();
    let (status, started) =
        request(&addr, "POST", "/v1/admin/recommendations/train", &token, Some("{}".into())).await?;
    anyhow::ensure!(status == 202, "training answered {status}: {started}");
    let trained = loop {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let (_, body) = request(&addr, "GET", "/v1/admin/recommendations/training", &token, None).await?;
        let v: serde_json::Value = serde_json::from_str(&body)?;
        if v["running"] == false && v["last"]["events"].as_u64().is_some_and(|n| n > 0) {
            break v["last"].clone();
        }
        anyhow::ensure!(t.elapsed() < std::time::Duration::from_secs(1800), "the training did not finish: {body}");
    };
    let took = t.elapsed();
    let after = peak_rss_mb(pid).unwrap_or(0.0);
    println!("training: {trained}");
    println!("training took {:.1} s; server peak RSS {before:.0} MB before, {after:.0} MB after", took.as_secs_f64());

    let tokens: Arc<Vec<Arc<str>>> = Arc::new(shoppers.iter().map(|s| Arc::from(s.1.as_str())).collect());
    let for_you: MakeReq = Arc::new(move |n| Req {
        method: "GET",
        path: "/v1/recommendations?context=for_you&limit=10".into(),
        token: Some(tokens[n % tokens.len()].clone()),
        body: None,
    });
    drive_requests(&addr, "warm-up", for_you.clone(), opts.connections, 2).await?;
    let logged_in =
        drive_requests(&addr, "for you, logged in", for_you.clone(), opts.connections, opts.seconds).await?;
    println!("{logged_in}");
    // Each logged-in customer looks at one more product: her list is now scored live from her
    // history (what she did since the training), once, then kept until she does more.
    for (n, shopper) in shoppers.iter().enumerate() {
        let viewed = products[rng.skewed(products.len()).min(products.len() - 1)];
        let event = serde_json::json!({"consent": true, "events": [{"type": "product_viewed", "product_id": viewed}]});
        let (status, body) = request(&addr, "POST", "/v1/events", &shopper.1, Some(event.to_string())).await?;
        anyhow::ensure!(status == 202, "event {n} answered {status}: {body}");
    }
    let fresh =
        drive_requests(&addr, "for you, logged in, fresh behaviour", for_you, opts.connections, opts.seconds).await?;
    println!("{fresh}");
    // A visitor by anonymous id: her list (or the cold start) without a token or a store read.
    let visitor: MakeReq = Arc::new(move |n| Req {
        method: "GET",
        path: format!("/v1/recommendations?context=for_you&anonymous_id=visitor-{:05}&limit=10", n % 50_000),
        token: None,
        body: None,
    });
    let visitor = drive_requests(&addr, "for you, visitor", visitor, opts.connections, opts.seconds).await?;
    println!("{visitor}");
    let similar_ids = Arc::new(products.clone());
    let similar: MakeReq = Arc::new(move |n| Req {
        method: "GET",
        path: format!("/v1/recommendations?context=similar&product_id={}", similar_ids[n % similar_ids.len()]),
        token: None,
        body: None,
    });
    let similar = drive_requests(&addr, "similar, anyone", similar, opts.connections, opts.seconds).await?;
    println!("{similar}");
    println!("server peak RSS {:.0} MB", peak_rss_mb(pid).unwrap_or(0.0));
    let _ = child.kill().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Every listed product's id, a page at a time.
async fn product_ids(addr: &str, token: &str) -> anyhow::Result<Vec<Uuid>> {
    let mut ids = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/products?limit=100&cursor={c}"),
            None => "/v1/products?limit=100".to_owned(),
        };
        let (status, body) = request(addr, "GET", &path, token, None).await?;
        anyhow::ensure!(status == 200, "listing answered {status}");
        let page: serde_json::Value = serde_json::from_str(&body)?;
        for item in page["items"].as_array().context("items")? {
            ids.push(item["id"].as_str().context("id")?.parse()?);
        }
        match page["next_cursor"].as_str() {
            Some(c) if !c.is_empty() => cursor = Some(c.to_owned()),
            _ => break,
        }
    }
    Ok(ids)
}
