//! A crash in the middle of a checkout burst: `rouge serve` runs as a child process and is
//! killed with SIGKILL while shoppers are paying; it is started again, shoppers whose answers
//! were lost retry with their Idempotency-Key, and the store is checked: no order lost,
//! duplicated or half-made, stock agrees with the orders, and every `order.placed` event was
//! delivered (its stock committed) after the restart. The same with two replicas behind
//! HAProxy (with Redis and RabbitMQ), one killed mid-burst while shoppers carry on through the
//! balancer.

use crate::checkout::address;
use crate::helpers::serum;
use reqwest::StatusCode;
use rouge_catalog::CatalogService;
use rouge_http::Store;
use rouge_inventory::{InventoryService, Receipt, ReservationState};
use rouge_orders::{OrderEvent, OrderFilter, OrdersRepository};
use rouge_store_tests::harness::{self, TempDir};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SKU: &str = "CRASH-1";
const UNITS: i64 = 60;
const SHOPPERS: usize = 80;

pub(crate) struct Server(Child, pub(crate) String);

/// A child process (killed when dropped) that serves at `base`.
pub(crate) fn server(child: Child, base: String) -> Server {
    Server(child, base)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn serve(url: &str, keys: &std::path::Path) -> Server {
    serve_with(url, keys, &[]).await
}

pub(crate) async fn serve_with(url: &str, keys: &std::path::Path, env: &[(&str, &str)]) -> Server {
    let addr = format!("127.0.0.1:{}", crate::helpers::free_port());
    serve_at(&addr, url, keys, env, &keys.with_extension("log")).await
}

/// `rouge serve` on `addr` (its log in `log`), once it answers `/readyz`.
pub(crate) async fn serve_at(
    addr: &str,
    url: &str,
    keys: &std::path::Path,
    env: &[(&str, &str)],
    log: &std::path::Path,
) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_rouge"))
        .args(["serve", "--listen", addr, "--metrics-listen", "off"])
        .env("DATABASE_URL", url)
        .env("ROUGE_KEY_DIR", keys)
        .env("ROUGE_RATE_LIMIT_READ", "6000000/min,burst=100000")
        .env("ROUGE_RATE_LIMIT_WRITE", "6000000/min,burst=100000")
        .env("ROUGE_IDEMPOTENCY_LEASE_SECS", "1")
        .env("ROUGE_TEST_PAYMENTS", "true")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).map(Stdio::from).unwrap_or(Stdio::null()))
        .spawn()
        .expect("start rouge serve");
    let server = Server(child, format!("http://{addr}"));
    if ready(&server.1, Duration::from_secs(60)).await {
        return server;
    }
    let log = std::fs::read_to_string(log).unwrap_or_default();
    panic!(
        "rouge serve did not start: {}",
        log.chars().rev().take(3000).collect::<String>().chars().rev().collect::<String>()
    );
}

async fn prepare<S: Store>(store: &S) {
    let catalog = CatalogService::new(store.clone());
    catalog.create_brand(serde_json::from_value(json!({"name": "Lumen Lab"})).unwrap()).await.unwrap();
    catalog.create_product(serde_json::from_value(serum("Drop", "lumen-lab", SKU, 2500)).unwrap()).await.unwrap();
    let expires = chrono::Utc::now().date_naive() + chrono::Duration::days(300);
    let r = Receipt {
        sku: SKU.into(),
        location: "main".into(),
        batch: "C1".into(),
        expires_on: Some(expires),
        quantity: UNITS,
        reference: None,
    };
    InventoryService::new(store.clone()).receive(&r).await.unwrap();
}

/// A shopper's whole checkout; the status of her payment, or `None` when the server vanished.
async fn shop(base: &str, i: usize) -> (Option<String>, Option<StatusCode>) {
    let c = reqwest::Client::new();
    let step = async {
        let cart: Value = c.post(format!("{base}/v1/carts")).send().await?.json().await?;
        let id = cart["id"].as_str().unwrap_or_default().to_owned();
        c.post(format!("{base}/v1/carts/{id}/lines")).json(&json!({"sku": SKU, "quantity": 1})).send().await?;
        let details = json!({"email": "s@example.com", "shipping_address": address(), "shipping_method": "standard"});
        c.put(format!("{base}/v1/carts/{id}/checkout")).json(&details).send().await?;
        Ok::<_, reqwest::Error>(id)
    };
    let Ok(cart) = step.await else { return (None, None) };
    (Some(cart.clone()), pay(base, &cart, i).await)
}

async fn pay(base: &str, cart: &str, i: usize) -> Option<StatusCode> {
    reqwest::Client::new()
        .post(format!("{base}/v1/carts/{cart}/complete"))
        .header("idempotency-key", format!("shopper-{i}"))
        .json(&json!({"payment": {"provider": "test", "token": "tok_visa"}}))
        .send()
        .await
        .ok()
        .map(|r| r.status())
}

async fn crash_mid_burst<S: Store>(store: S, url: &str) {
    prepare(&store).await;
    let dir = TempDir::new();
    let server = serve(url, &dir.0).await;
    let base = server.1.clone();
    let burst: Vec<_> = (0..SHOPPERS)
        .map(|i| {
            tokio::spawn({
                let b = base.clone();
                async move { shop(&b, i).await }
            })
        })
        .collect();
    // Kill the server once some orders are placed and others are on their way.
    for _ in 0..400 {
        let placed = store.orders(&OrderFilter { limit: 1000, ..OrderFilter::default() }).await.unwrap().len();
        if placed >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(server); // SIGKILL
    let mut outcomes = vec![];
    for t in burst {
        outcomes.push(t.await.unwrap());
    }
    let confirmed: Vec<String> =
        outcomes.iter().filter(|(_, s)| *s == Some(StatusCode::CREATED)).filter_map(|(c, _)| c.clone()).collect();
    assert!(outcomes.iter().any(|(_, s)| s.is_none()), "the crash interrupted some shoppers");

    let server = serve(url, &dir.0).await;
    // Shoppers whose answer was lost retry with the same key (their carts may or may not
    // have become orders).
    let mut retried = 0;
    for (i, (cart, status)) in outcomes.iter().enumerate() {
        if let (Some(cart), None) = (cart, status) {
            let s = pay(&server.1, cart, i).await.expect("the restarted server answers");
            assert!(matches!(s, StatusCode::CREATED | StatusCode::OK | StatusCode::CONFLICT), "{s}");
            retried += 1;
        }
    }
    assert!(retried > 0);
    no_order_lost_or_doubled(&store, &confirmed).await;
    drop(server);
}

/// Every placed order's stock gets committed (its `order.placed` is delivered once); every
/// order a shopper was told about exists, one per cart, none half-made; stock agrees.
async fn no_order_lost_or_doubled<S: Store>(store: &S, confirmed: &[String]) {
    let mut orders = vec![];
    // Generous: on a broker, a killed replica's publisher lease (15 s) and its consumers'
    // claims (30 s) must run out before another replica carries on.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while tokio::time::Instant::now() < deadline {
        orders = store.orders(&OrderFilter { limit: 1000, ..OrderFilter::default() }).await.unwrap();
        let mut committed = 0;
        for o in &orders {
            if store
                .reservation(o.reservation_id)
                .await
                .unwrap()
                .is_some_and(|r| r.state == ReservationState::Committed)
            {
                committed += 1;
            }
        }
        if committed == orders.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for o in &orders {
        let r = store.reservation(o.reservation_id).await.unwrap().unwrap();
        assert_eq!(
            (r.state, r.order_id),
            (ReservationState::Committed, Some(o.id)),
            "order {} has its stock",
            o.number
        );
        let events = store.order_events(o.id).await.unwrap();
        assert!(matches!(events.first().map(|e| &e.event), Some(OrderEvent::Placed { .. })), "not half-made");
        assert!(events.iter().any(|e| matches!(e.event, OrderEvent::PaymentAuthorized { .. })));
    }
    // Nothing lost: every order a shopper was told about exists; nothing duplicated: one per cart.
    let carts: std::collections::HashSet<_> = orders.iter().map(|o| o.cart_id.to_string()).collect();
    assert_eq!(carts.len(), orders.len(), "one order per cart");
    for c in confirmed {
        assert!(carts.contains(c), "confirmed order of cart {c} survived the crash");
    }
    // Stock agrees with the orders: what left equals what was sold; the ledger explains it.
    let lots = store.lots(SKU).await.unwrap();
    let on_hand: i64 = lots.iter().map(|l| l.on_hand).sum();
    assert_eq!(on_hand, UNITS - orders.len() as i64);
    assert!(lots.iter().all(|l| l.on_hand >= 0 && l.reserved >= 0 && l.reserved <= l.on_hand));
    assert_eq!(store.discrepancies().await.unwrap(), vec![]);
    assert_eq!(rouge_orders::service::rebuild(store).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_a_crash_mid_checkout() {
    let db = harness::sqlite().await;
    crash_mid_burst(db.store.clone(), &db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_survives_a_crash_mid_checkout() {
    let Some(db) = harness::postgres().await else { return };
    crash_mid_burst(db.store.clone(), &db.url).await;
    db.cleanup().await;
}

/// A shopper paying through the balancer: when her replica dies under her (no answer, or the
/// balancer's 502/503), she pays again with the same key until someone answers for good.
async fn pay_until_answered(base: &str, cart: &str, i: usize) -> StatusCode {
    for _ in 0..100 {
        match pay(base, cart, i).await {
            Some(s) if !s.is_server_error() => return s,
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("shopper {i} never got an answer");
}

/// Two replicas behind HAProxy; one is killed with SIGKILL in the middle of a checkout burst;
/// shoppers keep going through the balancer, retrying with their keys; nothing is lost or
/// doubled, and stock agrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_survives_a_replica_killed_behind_haproxy() {
    let Some(db) = harness::postgres().await else { return };
    if Command::new("haproxy").arg("-v").output().is_err() {
        crate::helpers::tool_missing("haproxy", "the replica-killed drill (.ci/run installs it)");
        return;
    }
    let (Some(redis), Some(amqp)) = (harness::redis_url().await, harness::amqp_url().await) else { return };
    let store = db.store.clone();
    prepare(&store).await;
    let dir = TempDir::new();
    // The production profile: shared rate-limit budgets in Redis, events out to RabbitMQ.
    let prefix = format!("crash-{}", uuid::Uuid::now_v7().simple());
    let exchange = format!("rouge.events.crash.{}", uuid::Uuid::now_v7().simple());
    let env = [
        ("REDIS_URL", redis.as_str()),
        ("ROUGE_REDIS_PREFIX", &prefix),
        ("AMQP_URL", &amqp),
        ("ROUGE_AMQP_EXCHANGE", &exchange),
    ];
    let r1 = serve_with(&db.url, &dir.0, &env).await;
    let r2 = serve_with(&db.url, &dir.0, &env).await;
    let (lb, stats) = balancer(&dir.0, &r1, &r2).await;
    let base = lb.1.clone();
    // Shoppers keep coming (sixteen at a time, one checkout after another) until told to
    // stop, so requests are in flight on both replicas when one dies.
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (b, next, stop) = (base.clone(), next.clone(), stop.clone());
            tokio::spawn(async move {
                let mut done = vec![];
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    // The third item: whether the kill interrupted her.
                    done.push(match shop(&b, i).await {
                        (Some(c), Some(s)) if !s.is_server_error() => (Some(c), Some(s), false),
                        (Some(c), _) => {
                            let s = pay_until_answered(&b, &c, i).await;
                            (Some(c), Some(s), true)
                        }
                        (None, _) => (None, None, true),
                    });
                }
                done
            })
        })
        .collect();
    // Kill r1 once orders are being placed and the balancer has several requests on it now.
    let mut busy = false;
    for _ in 0..1000 {
        let placed = store.orders(&OrderFilter { limit: 1000, ..OrderFilter::default() }).await.unwrap().len();
        busy = placed >= 10 && r1_busy(&stats).await;
        if busy {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(r1); // SIGKILL
    assert!(busy, "the balancer never had r1 up with a request on it");
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut confirmed, mut interrupted) = (vec![], 0);
    for w in workers {
        for (cart, status, cut) in w.await.unwrap() {
            interrupted += usize::from(cut);
            if let (Some(cart), Some(s)) = (cart, status) {
                assert!(matches!(s, StatusCode::CREATED | StatusCode::OK | StatusCode::CONFLICT), "{s}");
                if s == StatusCode::CREATED || s == StatusCode::OK {
                    confirmed.push(cart);
                }
            }
        }
    }
    assert!(!confirmed.is_empty());
    let balancer = std::fs::read_to_string(dir.0.join("haproxy.log")).unwrap_or_default();
    assert!(
        interrupted > 0,
        "the kill interrupted some shoppers ({} served); the balancer said: {balancer}",
        confirmed.len()
    );
    no_order_lost_or_doubled(&store, &confirmed).await;
    drop(r2);
    crate::amqp::forget(&amqp, &exchange).await;
    db.cleanup().await;
}

/// Whether HAProxy has r1 up and at least three requests on it now (its stats socket's `show
/// stat`): with one, it could finish between this sample and the kill, and the drill would
/// then kill an idle replica (it did, once, under the full suite's load).
async fn r1_busy(socket: &std::path::Path) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::UnixStream::connect(socket).await else { return false };
    if s.write_all(b"show stat\n").await.is_err() {
        return false;
    }
    let mut csv = String::new();
    let _ = s.read_to_string(&mut csv).await;
    // Columns: pxname, svname, qcur, qmax, scur (current sessions), …, status is the 18th.
    csv.lines().map(|l| l.split(',').collect::<Vec<_>>()).any(|f| {
        f.len() > 17 && f[0] == "replicas" && f[1] == "r1" && f[17] == "UP" && f[4].parse::<u32>().unwrap_or(0) >= 3
    })
}

/// HAProxy with `deploy/haproxy/rouge.cfg` in front of two replicas, ready; and its stats
/// socket (the tests' own addition, in `dir`, with its log).
pub(crate) async fn balancer(dir: &std::path::Path, r1: &Server, r2: &Server) -> (Server, std::path::PathBuf) {
    let lb = format!("127.0.0.1:{}", crate::helpers::free_port());
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/haproxy/rouge.cfg");
    let (stats_cfg, stats) = (dir.join("stats.cfg"), dir.join("haproxy.sock"));
    std::fs::write(&stats_cfg, format!("global\n    stats socket {} mode 600 level admin\n", stats.display())).unwrap();
    let haproxy = Command::new("haproxy")
        .args(["-db", "-f", cfg, "-f"])
        .arg(&stats_cfg)
        .env("ROUGE_LB_LISTEN", &lb)
        .env("ROUGE_REPLICA_1", r1.1.trim_start_matches("http://"))
        .env("ROUGE_REPLICA_2", r2.1.trim_start_matches("http://"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("haproxy.log")).map(Stdio::from).unwrap_or(Stdio::null()))
        .spawn()
        .expect("haproxy starts");
    let server = Server(haproxy, format!("http://{lb}"));
    if ready(&server.1, Duration::from_secs(10)).await {
        return (server, stats);
    }
    panic!("HAProxy did not answer: {}", std::fs::read_to_string(dir.join("haproxy.log")).unwrap_or_default());
}

/// Whether `base` answers `/readyz` with 200 within `limit`.
pub(crate) async fn ready(base: &str, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if reqwest::get(format!("{base}/readyz")).await.is_ok_and(|r| r.status() == StatusCode::OK) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
