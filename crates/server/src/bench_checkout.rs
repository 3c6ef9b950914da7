//! `rouge bench checkout`: the full checkout flow (cart → line → address and shipping → pay →
//! order) from concurrent clients against `rouge serve` on SQLite or PostgreSQL, then a flash
//! sale (N buyers at once for a handful of units). Prints checkouts/s, p50/p99 and the
//! sell-out time, and checks that nothing was oversold. Nothing here is asserted on time.

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rouge_http::Store;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct CheckoutBench {
    /// `sqlite` or `postgres`.
    #[arg(long, default_value = "postgres")]
    pub store: String,
    /// Where a fresh bench database is created and dropped again.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub postgres_url: String,
    /// Concurrent clients, each running whole checkouts back to back.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Units on sale in the flash sale.
    #[arg(long, default_value_t = 100)]
    pub flash_units: i64,
    /// Buyers paying at the same moment.
    #[arg(long, default_value_t = 500)]
    pub flash_buyers: usize,
    /// Servers on the store: 1 or 2 (two are driven through HAProxy).
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
    /// Drive the server(s) through HAProxy (`deploy/haproxy/rouge.cfg`, from the repository's root).
    #[arg(long)]
    pub balancer: bool,
    /// Automatic promotions every steady checkout gets (0 to 3: 10 % off the order, free
    /// shipping from 20.00, 5 % more from 10.00), to measure what they cost.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=3))]
    pub promotions: u8,
    /// Turn the flash sale into a code-budget drill: the SKU has a unit for every buyer, and
    /// every buyer's cart carries a 20 % code limited to this many uses.
    #[arg(long)]
    pub code_uses: Option<i64>,
}

/// The bench's promotions, set up in the store before the servers start (`code`: the drill's).
async fn promotions<S: Store>(store: S, automatic: u8, code_uses: Option<i64>) -> anyhow::Result<()> {
    let svc = rouge_promotions::PromotionsService::new(store);
    let err = |e: rouge_promotions::PromotionsError| anyhow::anyhow!("{e:?}");
    let rules = [
        json!({"name": "Bench: 10 % off", "benefit": {"kind": "percent_off", "percent_bp": 1000}}),
        json!({"name": "Bench: free shipping", "benefit": {"kind": "free_shipping"}, "min_subtotal": 2000}),
        json!({"name": "Bench: 5 % more", "benefit": {"kind": "tiered", "tiers": [{"from": 1000, "percent_bp": 500}]}}),
    ];
    for r in rules.into_iter().take(usize::from(automatic)) {
        svc.create(serde_json::from_value(r)?).await.map_err(err)?;
    }
    if let Some(uses) = code_uses {
        let input = json!({"name": "Bench: launch code", "benefit": {"kind": "percent_off", "percent_bp": 2000},
            "requires_code": true});
        let p = svc.create(serde_json::from_value(input)?).await.map_err(err)?;
        let code = rouge_promotions::service::CodesInput {
            code: Some("LAUNCH".into()),
            count: None,
            prefix: None,
            max_uses: Some(uses),
        };
        svc.add_codes(p.promotion.id, &code).await.map_err(err)?;
    }
    Ok(())
}

/// HAProxy with the repository's config in front of `replicas` (one listed twice when alone);
/// the process and the address it serves on.
async fn balancer(replicas: &[String]) -> anyhow::Result<(tokio::process::Child, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let addr = format!("127.0.0.1:{port}");
    let cfg = std::env::var("ROUGE_HAPROXY_CFG").unwrap_or_else(|_| "deploy/haproxy/rouge.cfg".into());
    let child = tokio::process::Command::new("haproxy")
        .args(["-db", "-f", &cfg])
        .env("ROUGE_LB_LISTEN", &addr)
        .env("ROUGE_REPLICA_1", &replicas[0])
        .env("ROUGE_REPLICA_2", replicas.get(1).unwrap_or(&replicas[0]))
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting haproxy (apt-get install haproxy; run from the repository's root)")?;
    let started = Instant::now();
    loop {
        let ready = crate::bench::request(&addr, "GET", "/readyz", "", None).await.map(|r| r.0).ok() == Some(200);
        if ready {
            return Ok((child, addr));
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(30), "HAProxy did not answer");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

type Sender = http1::SendRequest<Full<Bytes>>;

pub(crate) async fn connect(addr: &str) -> anyhow::Result<Sender> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

async fn send(
    s: &mut Sender,
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
    key: Option<&str>,
) -> anyhow::Result<(u16, Value)> {
    let mut req = hyper::Request::builder().method(method).uri(path).header("host", addr);
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    let req = req.body(Full::new(body.map(|b| Bytes::from(b.to_string())).unwrap_or_default()))?;
    // The connection takes a request once it has finished the last one (its task may not
    // have run since): without waiting, a send can fail with "connection was not ready".
    s.ready().await?;
    let res = s.send_request(req).await?;
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await?.to_bytes();
    Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
}

fn details() -> Value {
    json!({"email": "bench@example.com", "shipping_method": "standard",
           "shipping_address": {"name": "Bench Shopper", "line1": "1 rue du Test", "city": "Paris", "postal_code": "75001", "country": "FR"}})
}

/// Creates a cart with one unit of `sku`, address and shipping; returns its id.
pub(crate) async fn ready_cart(s: &mut Sender, addr: &str, sku: &str) -> anyhow::Result<String> {
    let (st, cart) = send(s, addr, "POST", "/v1/carts", None, None).await?;
    anyhow::ensure!(st == 201, "POST /v1/carts answered {st}: {cart}");
    let id = cart["id"].as_str().context("cart id")?.to_owned();
    let (st, b) =
        send(s, addr, "POST", &format!("/v1/carts/{id}/lines"), Some(&json!({"sku": sku, "quantity": 1})), None)
            .await?;
    anyhow::ensure!(st == 200, "adding a line answered {st}: {b}");
    let (st, b) = send(s, addr, "PUT", &format!("/v1/carts/{id}/checkout"), Some(&details()), None).await?;
    anyhow::ensure!(st == 200, "checkout details answered {st}: {b}");
    Ok(id)
}

pub(crate) async fn pay(s: &mut Sender, addr: &str, cart: &str) -> anyhow::Result<(u16, Value)> {
    let body = json!({"payment": {"provider": "test", "token": "tok_visa"}});
    send(s, addr, "POST", &format!("/v1/carts/{cart}/complete"), Some(&body), Some(&format!("pay-{cart}"))).await
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// Loads a demo catalogue of `products` and stock: `skus` with plenty, `flash` with `units`.
pub(crate) async fn prepare<S: Store>(store: S, products: usize, units: i64) -> anyhow::Result<(Vec<String>, String)> {
    crate::seed::seed_demo(&store, products).await?;
    let demo = crate::demo::generate(products);
    let mut skus: Vec<String> = demo.products.iter().flat_map(|p| p.variants.iter().map(|v| v.sku.clone())).collect();
    let flash = skus.pop().context("a demo SKU")?;
    skus.truncate(100);
    let inventory = rouge_inventory::InventoryService::new(store.clone());
    let expires = chrono::Utc::now().date_naive() + chrono::Duration::days(400);
    let receipt = |sku: &str, quantity| rouge_inventory::Receipt {
        sku: sku.to_owned(),
        location: "main".into(),
        batch: "BENCH".into(),
        expires_on: Some(expires),
        quantity,
        reference: None,
    };
    for sku in &skus {
        inventory.receive(&receipt(sku, 1_000_000)).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    inventory.receive(&receipt(&flash, units)).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok((skus, flash))
}

/// The flash SKU's stock once nothing of it is held any more (at most 30 s), and the number
/// of lots whose quantities differ from their ledger.
async fn settled<S: rouge_inventory::InventoryRepository + Clone>(
    store: S,
    flash: &str,
) -> anyhow::Result<(rouge_inventory::StockLevel, usize)> {
    let inv = rouge_inventory::InventoryService::new(store.clone());
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let level = inv.stock(flash).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        if level.reserved == 0 || Instant::now() > until {
            let off = store.discrepancies().await.map_err(|e| anyhow::anyhow!("{e:?}"))?.len();
            return Ok((level, off));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A fresh database for a bench: a SQLite file in `dir`, or a new PostgreSQL database next to
/// `postgres_url`'s; its URL, and what [`drop_database`] needs to drop it again.
pub(crate) async fn fresh_database(
    store: &str,
    postgres_url: &str,
    dir: &std::path::Path,
) -> anyhow::Result<(String, Option<(String, String)>)> {
    match store {
        "sqlite" => Ok((format!("sqlite://{}", dir.join("bench.db").display()), None)),
        "postgres" => {
            use sqlx::Connection;
            let name = format!("rouge_bench_{}", uuid::Uuid::now_v7().simple());
            let mut admin = sqlx::PgConnection::connect(postgres_url).await.context("connecting to PostgreSQL")?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await?;
            let base = postgres_url.rsplit_once('/').context("--postgres-url needs a database path")?.0.to_owned();
            Ok((format!("{base}/{name}"), Some((postgres_url.to_owned(), name))))
        }
        other => anyhow::bail!("--store: `{other}`: expected sqlite or postgres"),
    }
}

/// Drops a database [`fresh_database`] made on PostgreSQL.
pub(crate) async fn drop_database(made: Option<(String, String)>) {
    use sqlx::Connection;
    let Some((admin_url, name)) = made else { return };
    if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
            .execute(&mut admin)
            .await;
    }
}

pub async fn checkout(opts: CheckoutBench) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("rouge-bench-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;
    let (url, pg_admin) = fresh_database(&opts.store, &opts.postgres_url, &dir).await?;
    eprintln!("bench: preparing {url}");
    // A code-budget drill sells out the code, not the stock.
    let units = if opts.code_uses.is_some() { opts.flash_buyers as i64 } else { opts.flash_units };
    let (skus, flash) = if url.starts_with("sqlite") {
        let store = rouge_store::SqliteStore::connect(&url).await?;
        store.migrate().await?;
        let r = prepare(store.clone(), 200, units).await?;
        promotions(store.clone(), opts.promotions, opts.code_uses).await?;
        store.close().await;
        r
    } else {
        let store = rouge_store::PgStore::connect(&url).await?;
        store.migrate().await?;
        let r = prepare(store.clone(), 200, units).await?;
        promotions(store.clone(), opts.promotions, opts.code_uses).await?;
        store.close().await;
        r
    };
    let key_dir = dir.join("keys");
    let mut servers = vec![];
    for _ in 0..opts.replicas.clamp(1, 2) {
        servers.push(crate::bench::spawn_server(&url, &key_dir, "", &[]).await?);
    }
    let mut lb = None;
    let addr = if opts.balancer || servers.len() > 1 {
        let replicas: Vec<String> = servers.iter().map(|s| s.1.clone()).collect();
        let (child, addr) = balancer(&replicas).await?;
        lb = Some(child);
        addr
    } else {
        servers[0].1.clone()
    };
    let through = if lb.is_some() { " through HAProxy" } else { "" };

    // Steady checkouts: each client runs whole flows back to back on one connection.
    let deadline = Instant::now() + Duration::from_secs(opts.seconds);
    let started = Instant::now();
    let mut tasks = vec![];
    for c in 0..opts.clients {
        let (addr, skus) = (addr.clone(), skus.clone());
        tasks.push(tokio::spawn(async move {
            let mut s = connect(&addr).await?;
            let (mut flows, mut pays, mut errors) = (vec![], vec![], 0usize);
            let mut n = c;
            while Instant::now() < deadline {
                let t = Instant::now();
                let cart = ready_cart(&mut s, &addr, &skus[n % skus.len()]).await?;
                let p = Instant::now();
                let (st, _) = pay(&mut s, &addr, &cart).await?;
                pays.push(p.elapsed());
                flows.push(t.elapsed());
                if st != 201 {
                    errors += 1;
                }
                n += opts.clients;
            }
            anyhow::Ok((flows, pays, errors))
        }));
    }
    let (mut flows, mut pays, mut errors) = (vec![], vec![], 0);
    for t in tasks {
        let (f, p, e) = t.await??;
        flows.extend(f);
        pays.extend(p);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    flows.sort();
    pays.sort();

    // Flash sale: every buyer's cart is ready; all pay at once.
    eprintln!("bench: preparing {} flash-sale carts", opts.flash_buyers);
    let mut prepared = vec![];
    let with_code = opts.code_uses.is_some();
    for chunk in (0..opts.flash_buyers).collect::<Vec<_>>().chunks(opts.clients.max(1)) {
        let batch = chunk.iter().map(|_| {
            let (addr, flash) = (addr.clone(), flash.clone());
            tokio::spawn(async move {
                let mut s = connect(&addr).await?;
                let cart = ready_cart(&mut s, &addr, &flash).await?;
                if with_code {
                    let path = format!("/v1/carts/{cart}/codes");
                    let (st, b) = send(&mut s, &addr, "POST", &path, Some(&json!({"code": "LAUNCH"})), None).await?;
                    anyhow::ensure!(st == 200 && b["totals"]["discount"].as_i64() > Some(0), "the code: {st} {b}");
                }
                anyhow::Ok((s, cart))
            })
        });
        for t in futures::future::join_all(batch).await {
            prepared.push(t??);
        }
    }
    let go = Instant::now();
    let buyers = prepared.into_iter().map(|(mut s, cart)| {
        let addr = addr.clone();
        tokio::spawn(async move {
            let (st, body) = pay(&mut s, &addr, &cart).await?;
            anyhow::Ok((st, body, go.elapsed()))
        })
    });
    let outcomes: Vec<(u16, Value, Duration)> = futures::future::join_all(buyers)
        .await
        .into_iter()
        .map(|r| r.map_err(anyhow::Error::from).and_then(|x| x))
        .collect::<anyhow::Result<_>>()?;
    let all_answered = go.elapsed();
    let sold: Vec<&(u16, Value, Duration)> = outcomes.iter().filter(|o| o.0 == 201).collect();
    let sold_out = outcomes
        .iter()
        .filter(|o| o.0 == 409 && (o.1["type"] == "/problems/sold-out" || o.1["errors"][0]["code"] == "used_up"))
        .count();
    let sold_out_at = sold.iter().map(|o| o.2).max().unwrap_or_default();
    // The orders' stock is committed by the `order.placed` consumer, moments after each order:
    // wait for it (the held units are not for sale meanwhile), then read what the store says.
    let committed_at = Instant::now();
    let (level, discrepancies) = if url.starts_with("sqlite") {
        let store = rouge_store::SqliteStore::connect(&url).await?;
        let r = settled(store.clone(), &flash).await?;
        store.close().await;
        r
    } else {
        let store = rouge_store::PgStore::connect(&url).await?;
        let r = settled(store.clone(), &flash).await?;
        store.close().await;
        r
    };
    let committed_in = committed_at.elapsed();
    let rss: f64 = servers.iter().map(|s| crate::bench::peak_rss_mb(s.2).unwrap_or(0.0)).sum();
    for (mut child, _, _) in servers.into_iter().chain(lb.map(|c| (c, String::new(), 0))) {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
    drop_database(pg_admin).await;
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "rouge bench checkout on {}: {} clients, {} s, {} replica(s){through}, {} automatic promotion(s)",
        opts.store,
        opts.clients,
        opts.seconds,
        opts.replicas.clamp(1, 2),
        opts.promotions
    );
    println!(
        "checkout flow (cart, line, address + shipping, pay): {:.0} checkouts/s  flow p50 {:.1} ms  p99 {:.1} ms  ({} orders, {} failed)",
        flows.len() as f64 / elapsed,
        pct(&flows, 0.50),
        pct(&flows, 0.99),
        flows.len() - errors,
        errors
    );
    println!(
        "  of which pay -> order (POST .../complete): p50 {:.1} ms  p99 {:.1} ms",
        pct(&pays, 0.50),
        pct(&pays, 0.99)
    );
    println!(
        "flash sale: {} units, {} buyers at once: {} orders, {} told sold out, {} other; sold out in {:.0} ms, all answered in {:.0} ms",
        units,
        opts.flash_buyers,
        sold.len(),
        sold_out,
        outcomes.len() - sold.len() - sold_out,
        sold_out_at.as_secs_f64() * 1e3,
        all_answered.as_secs_f64() * 1e3
    );
    if let Some(uses) = opts.code_uses {
        let with: usize = sold.iter().filter(|o| o.1["promotions"][0]["code"] == "LAUNCH").count();
        println!(
            "code-budget drill: a code for {uses} uses, {} buyers at once: {with} orders used it, {sold_out} told it ran out; over-use: {}; sold out in {:.0} ms",
            opts.flash_buyers,
            (with as i64 - uses).max(0),
            sold_out_at.as_secs_f64() * 1e3
        );
    }
    println!(
        "after (orders' stock committed {:.0} ms after the last answer): on hand {}, reserved {}, available {}; lots differing from the ledger: {discrepancies}; oversold: {}",
        committed_in.as_secs_f64() * 1e3,
        level.on_hand,
        level.reserved,
        level.available,
        if sold.len() as i64 > opts.flash_units || level.on_hand < 0 { "YES" } else { "no" }
    );
    println!("servers' peak RSS (summed): {rss:.0} MB");
    Ok(())
}
