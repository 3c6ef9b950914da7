//! The shop's services run apart, as four `rouge serve --services …` processes behind HAProxy
//! routing by path (`deploy/haproxy/services.cfg`), each reaching the others over HTTP through
//! the balancer; on PostgreSQL each connects as its own role, granted only its schema and the
//! shared ones (`rouge migrate --services`). A full checkout works; with orders down the
//! storefront still answers; with the catalogue down a checkout answers 503 with Retry-After
//! and nothing is half-made (its retry, once the catalogue is back, places the order once).

use crate::checkout::address;
use crate::crash::{Server, ready, serve_at};
use crate::helpers::{free_port, serum};
use reqwest::{Client, StatusCode};
use rouge_store_tests::harness::{self, TempDir};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const SKU: &str = "LL-GLOW-30";
const SERVICES: [&str; 4] = ["catalog", "inventory", "orders,payments", "identity"];

fn rouge(args: &[&str], url: &str, keys: &Path) {
    rouge_with(args, url, keys, &[]);
}

fn rouge_with(args: &[&str], url: &str, keys: &Path, env: &[(&str, &str)]) {
    let out = Command::new(env!("CARGO_BIN_EXE_rouge"))
        .args(args)
        .envs(env.iter().copied())
        .env("DATABASE_URL", url)
        .env("ROUGE_KEY_DIR", keys)
        .env("ROUGE_OWNER_PASSWORD", "a long passphrase")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "rouge {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The URL a service connects with: its own role on PostgreSQL, the shared file on SQLite.
fn url_as(url: &str, service: &str, pg: bool) -> String {
    if !pg {
        return url.to_owned();
    }
    let mut u = reqwest::Url::parse(url).unwrap();
    let schema = service.split(',').next().unwrap();
    u.set_username(&format!("rouge_{schema}")).unwrap();
    u.to_string()
}

struct Shop {
    dir: TempDir,
    keys: PathBuf,
    url: String,
    pg: bool,
    lb: String,
    addrs: Vec<String>,
    services: Vec<Option<Server>>,
    /// More settings for every service.
    env: Vec<(String, String)>,
    _haproxy: Server,
    /// The PostgreSQL database, dropped by [`Shop::close`].
    pg_db: Option<harness::TempPostgres>,
}

impl Shop {
    /// A staff POST through the balancer, with its idempotency key.
    fn admin(&self, token: &str, path: &str, key: &str, body: Value) -> reqwest::RequestBuilder {
        Client::new().post(format!("{}{path}", self.lb)).bearer_auth(token).header("idempotency-key", key).json(&body)
    }

    async fn start(&mut self, i: usize) {
        let mut env = vec![("ROUGE_SERVICES", SERVICES[i]), ("ROUGE_PEERS_URL", self.lb.as_str())];
        env.extend(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let log = self.dir.0.join(format!("{}.log", SERVICES[i].replace(',', "-")));
        let url = url_as(&self.url, SERVICES[i], self.pg);
        self.services[i] = Some(serve_at(&self.addrs[i], &url, &self.keys, &env, &log).await);
    }

    /// Stops a service (SIGKILL) and waits until the balancer has seen it go.
    async fn kill(&mut self, i: usize, probe: &str) {
        self.services[i] = None;
        let c = Client::new();
        for _ in 0..200 {
            if c.get(format!("{}{probe}", self.lb)).send().await.is_ok_and(|r| r.status() == 503) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the balancer still routes {probe}");
    }

    /// Stops the services and drops the database.
    async fn close(mut self) {
        self.services.clear();
        if let Some(db) = self.pg_db.take() {
            db.cleanup().await;
        }
    }

    fn log(&self) -> String {
        SERVICES
            .iter()
            .map(|s| {
                let f = self.dir.0.join(format!("{}.log", s.replace(',', "-")));
                format!("--- {s}\n{}", std::fs::read_to_string(f).unwrap_or_default())
            })
            .collect()
    }
}

async fn open_shop(pg: bool, env: &[(&str, &str)]) -> Option<Shop> {
    if Command::new("haproxy").arg("-v").output().is_err() {
        crate::helpers::tool_missing("haproxy", "the services-apart test (.ci/run installs it)");
        return None;
    }
    let dir = TempDir::new();
    let keys = dir.0.join("keys");
    let (url, pg_db) = if pg {
        let db = harness::empty_postgres().await?;
        (db.url.clone(), Some(db))
    } else {
        (format!("sqlite://{}", dir.0.join("rouge.db").display()), None)
    };
    rouge(&["keys", "init"], &url, &keys);
    if pg {
        // Each service's schema and role, one after the other, into the empty database.
        for s in SERVICES {
            rouge(&["migrate", "--services", s], &url, &keys);
        }
    } else {
        rouge(&["migrate"], &url, &keys);
    }
    rouge(&["admin", "create-owner", "--email", "owner@shop.example", "--name", "Olga Owner"], &url, &keys);
    let lb = format!("127.0.0.1:{}", free_port());
    let addrs: Vec<String> = SERVICES.iter().map(|_| format!("127.0.0.1:{}", free_port())).collect();
    let haproxy = Command::new("haproxy")
        .args(["-db", "-f", concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/haproxy/services.cfg")])
        .env("ROUGE_LB_LISTEN", &lb)
        .env("ROUGE_CATALOG", &addrs[0])
        .env("ROUGE_INVENTORY", &addrs[1])
        .env("ROUGE_ORDERS", &addrs[2])
        .env("ROUGE_IDENTITY", &addrs[3])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.0.join("haproxy.log")).map(Stdio::from).unwrap_or(Stdio::null()))
        .spawn()
        .expect("haproxy starts");
    let mut shop = Shop {
        keys,
        url,
        pg,
        lb: format!("http://{lb}"),
        addrs,
        services: (0..4).map(|_| None).collect(),
        env: env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        pg_db,
        _haproxy: crate::crash::server(haproxy, format!("http://{lb}")),
        dir,
    };
    for i in 0..4 {
        shop.start(i).await;
    }
    // Every backend up in the balancer's eyes.
    let c = Client::new();
    for probe in ["/v1/products", "/v1/stock?sku=X", "/v1/carts/00000000-0000-0000-0000-000000000000", "/v1/auth/login"]
    {
        let mut up = false;
        for _ in 0..200 {
            if c.get(format!("{}{probe}", shop.lb)).send().await.is_ok_and(|r| r.status() != 503) {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(up, "{probe} is not routed: {}", shop.log());
    }
    assert!(ready(&shop.lb, Duration::from_secs(10)).await);
    Some(shop)
}

async fn call(req: reqwest::RequestBuilder) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    (status, res.json().await.unwrap_or(Value::Null), headers)
}

/// Waits until the SKU has `on_hand` units and none reserved (orders' stock committed by
/// inventory's consumer, in its own process).
async fn stock_settles(lb: &str, token: &str, on_hand: i64) {
    let c = Client::new();
    let mut level = Value::Null;
    for _ in 0..200 {
        level = call(c.get(format!("{lb}/v1/admin/inventory/skus/{SKU}")).bearer_auth(token)).await.1;
        if level["on_hand"] == on_hand && level["reserved"] == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("expected {on_hand} on hand and none reserved: {level}");
}

/// The owner's access token, from identity.
async fn owner_token(lb: &str) -> String {
    let login = json!({"email": "owner@shop.example", "password": "a long passphrase"});
    let (s, session, _) = call(Client::new().post(format!("{lb}/v1/admin/auth/login")).json(&login)).await;
    assert_eq!(s, StatusCode::OK, "{session}");
    session["access_token"].as_str().unwrap().to_owned()
}

async fn four_services_behind_a_balancer_are_one_shop(pg: bool) {
    let Some(mut shop) = open_shop(pg, &[]).await else { return };
    let lb = shop.lb.clone();
    let c = Client::new();
    let at = |path: &str| format!("{lb}{path}");

    // Staff log in at identity; the catalogue and inventory ask identity who they are.
    let token = owner_token(&lb).await;
    let (s, b, _) = call(shop.admin(&token, "/v1/admin/brands", "b1", json!({"name": "Lumen Lab"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{b}\n{}", shop.log());
    let (s, p, _) =
        call(shop.admin(&token, "/v1/admin/products", "p1", serum("Glow Serum", "lumen-lab", SKU, 2900))).await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let (s, _, _) = call(c.post(at("/v1/admin/brands")).bearer_auth("not-a-token").json(&json!({"name": "X"}))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "identity refuses a bad credential for the catalogue");
    // Inventory asks the catalogue whether the SKU exists.
    let expires = (chrono::Utc::now() + chrono::Duration::days(300)).date_naive().to_string();
    let receipt =
        |sku: &str| json!({"sku": sku, "location": "main", "batch": "A1", "expires_on": expires, "quantity": 5});
    let (s, r, _) = call(shop.admin(&token, "/v1/admin/inventory/receipts", "r1", receipt(SKU))).await;
    assert_eq!((s, r["on_hand"].as_i64()), (StatusCode::CREATED, Some(5)), "{r}");
    let (s, r, _) = call(shop.admin(&token, "/v1/admin/inventory/receipts", "r2", receipt("NO-SUCH-SKU"))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "an unknown SKU is refused: {r}");

    // The storefront (catalogue) shows the stock inventory holds.
    let page = format!("/v1/products/{}", p["slug"].as_str().unwrap());
    let mut shown = String::new();
    for _ in 0..200 {
        let (_, body, _) = call(c.get(at(&page))).await;
        shown = body["availability"][SKU].as_str().unwrap_or_default().to_owned();
        if shown == "low_stock" || shown == "in_stock" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(shown == "low_stock" || shown == "in_stock", "the page shows the stock: {shown}");

    // A customer registers at identity and checks out at orders, which price with the
    // catalogue and reserve at inventory.
    let cart = |token: Option<&str>| {
        let req = c.post(at("/v1/carts"));
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    };
    let (s, first, _) = call(cart(None)).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    let first = first["id"].as_str().unwrap().to_owned();
    let (s, body, _) =
        call(c.post(at(&format!("/v1/carts/{first}/lines"))).json(&json!({"sku": SKU, "quantity": 2}))).await;
    assert_eq!((s, body["lines"][0]["unit_price"].as_i64()), (StatusCode::OK, Some(2900)), "{body}");
    let details = json!({"email": "camille@example.com", "shipping_address": address(), "shipping_method": "standard"});
    let (s, body, _) = call(c.put(at(&format!("/v1/carts/{first}/checkout"))).json(&details)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let pay = |cart: &str, key: &str| {
        c.post(at(&format!("/v1/carts/{cart}/complete")))
            .header("idempotency-key", key)
            .json(&json!({"payment": {"provider": "test", "token": "tok_visa"}}))
    };
    let (s, order, _) = call(pay(&first, "pay-1")).await;
    assert_eq!(s, StatusCode::CREATED, "{order}\n{}", shop.log());
    let order_id = order["id"].as_str().unwrap().to_owned();
    // Inventory's consumer commits the order's stock (the event crossed processes).
    stock_settles(&lb, &token, 3).await;
    let (s, o, _) = call(c.get(at(&format!("/v1/admin/orders/{order_id}"))).bearer_auth(&token)).await;
    assert_eq!((s, o["status"].as_str()), (StatusCode::OK, Some("authorized")), "{o}");

    // A second cart, ready to pay, before the outages.
    let (_, second, _) = call(cart(None)).await;
    let second = second["id"].as_str().unwrap().to_owned();
    call(c.post(at(&format!("/v1/carts/{second}/lines"))).json(&json!({"sku": SKU, "quantity": 1}))).await;
    let (s, _, _) = call(c.put(at(&format!("/v1/carts/{second}/checkout"))).json(&details)).await;
    assert_eq!(s, StatusCode::OK);

    // Orders down: the storefront still answers.
    shop.kill(2, "/v1/carts/00000000-0000-0000-0000-000000000000").await;
    for path in ["/v1/products", page.as_str(), "/v1/brands", "/v1/stock?sku=LL-GLOW-30"] {
        let (s, body, _) = call(c.get(at(path))).await;
        assert_eq!(s, StatusCode::OK, "{path} answers without orders: {body}");
    }
    shop.start(2).await;

    // Catalogue down: paying answers 503 with Retry-After, and nothing is half-made.
    shop.kill(0, "/v1/products").await;
    let (s, problem, headers) = call(pay(&second, "pay-2")).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
    assert!(headers.contains_key("retry-after"), "{headers:?}");
    assert_eq!(headers["content-type"], "application/problem+json");
    let (_, orders, _) = call(c.get(at("/v1/admin/orders")).bearer_auth(&token)).await;
    assert_eq!(orders["items"].as_array().map(Vec::len), Some(1), "no second order: {orders}");
    let (_, level, _) = call(c.get(at(&format!("/v1/admin/inventory/skus/{SKU}"))).bearer_auth(&token)).await;
    // Inventory asks the catalogue for the SKU too: with the catalogue down it cannot say.
    assert_eq!(level["status"], 503, "{level}");

    // The catalogue is back: the same payment, retried, places the order once; the lease was
    // given back and no stock was held by the failed attempt.
    shop.start(0).await;
    let mut placed = Value::Null;
    for _ in 0..100 {
        let (s, body, _) = call(pay(&second, "pay-2")).await;
        if s == StatusCode::CREATED {
            placed = body;
            break;
        }
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "only the catalogue's return is awaited: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(placed["status"], "authorized", "{placed}\n{}", shop.log());
    let (_, orders, _) = call(c.get(at("/v1/admin/orders")).bearer_auth(&token)).await;
    assert_eq!(orders["items"].as_array().map(Vec::len), Some(2), "{orders}");
    // One more unit sold, nothing left held by the attempt that failed.
    stock_settles(&lb, &token, 2).await;
    shop.close().await;
}

/// One checkout across the services is one trace: the orders service's request under the
/// caller's span, its calls to the catalogue and inventory as client spans, their server spans
/// (in their processes) under those, and inventory's consumer of the order's event under the
/// request.
async fn a_checkout_across_services_is_one_trace(pg: bool) {
    use crate::traces::{CALLER_SPAN, TRACE, receiver};
    let (endpoint, spans) = receiver().await;
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("RUST_LOG", "info,sqlx=warn"),
    ];
    let Some(shop) = open_shop(pg, &otel).await else { return };
    let c = Client::new();
    let at = |path: &str| format!("{}{path}", shop.lb);
    let token = owner_token(&shop.lb).await;
    call(shop.admin(&token, "/v1/admin/brands", "b1", json!({"name": "Lumen Lab"}))).await;
    let (s, _, _) =
        call(shop.admin(&token, "/v1/admin/products", "p1", serum("Glow Serum", "lumen-lab", SKU, 2900))).await;
    assert_eq!(s, StatusCode::CREATED);
    let expires = (chrono::Utc::now() + chrono::Duration::days(300)).date_naive().to_string();
    let receipt = json!({"sku": SKU, "location": "main", "batch": "A1", "expires_on": expires, "quantity": 5});
    assert_eq!(call(shop.admin(&token, "/v1/admin/inventory/receipts", "r1", receipt)).await.0, StatusCode::CREATED);
    let (_, cart, _) = call(c.post(at("/v1/carts"))).await;
    let cart = cart["id"].as_str().unwrap().to_owned();
    call(c.post(at(&format!("/v1/carts/{cart}/lines"))).json(&json!({"sku": SKU, "quantity": 1}))).await;
    let details = json!({"email": "ana@example.com", "shipping_address": address(), "shipping_method": "standard"});
    call(c.put(at(&format!("/v1/carts/{cart}/checkout"))).json(&details)).await;
    let (s, order, _) = call(
        c.post(at(&format!("/v1/carts/{cart}/complete")))
            .header("idempotency-key", "traced")
            .header("traceparent", format!("00-{TRACE}-{CALLER_SPAN}-01"))
            .json(&json!({"payment": {"provider": "test", "token": "tok_visa"}})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{order}");

    let ours =
        || -> Vec<crate::traces::Span> { spans.lock().unwrap().iter().filter(|s| s.trace == TRACE).cloned().collect() };
    let mut trace = ours();
    for _ in 0..200 {
        trace = ours();
        let servers = trace.iter().filter(|s| s.kind == 2).count();
        if servers >= 3 && trace.iter().any(|s| s.name == "stock order.placed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let names: Vec<String> = trace.iter().map(|s| format!("{} ({})", s.name, s.kind)).collect();
    let route = |r: &str| {
        trace
            .iter()
            .find(|s| s.kind == 2 && s.attribute("http.route").as_deref() == Some(r))
            .unwrap_or_else(|| panic!("no server span of {r}: {names:?}"))
    };
    let complete = route("/v1/carts/{id}/complete");
    assert_eq!(complete.parent, CALLER_SPAN, "orders' request joins the caller's trace");
    let is_under = |s: &crate::traces::Span, ancestor: &str| {
        let mut at = Some(s.clone());
        while let Some(p) = at {
            if p.parent == ancestor {
                return true;
            }
            at = trace.iter().find(|q| q.id == p.parent).cloned();
        }
        false
    };
    for (served, peer) in [("/internal/v1/skus", "POST catalog"), ("/internal/v1/reservations", "POST inventory")] {
        let server = route(served);
        let client =
            trace.iter().find(|s| s.id == server.parent).unwrap_or_else(|| panic!("{served}'s parent: {names:?}"));
        assert_eq!((client.name.as_str(), client.kind), (peer, 3), "called by a client span");
        assert!(is_under(client, &complete.id), "{peer} is called within the checkout's request");
    }
    let stock = trace.iter().find(|s| s.name == "stock order.placed").unwrap_or_else(|| panic!("{names:?}"));
    assert_eq!(stock.parent, complete.id, "inventory's consumer (another process) runs under the request");
    shop.close().await;
}

#[tokio::test]
async fn sqlite_a_checkout_across_services_is_one_trace() {
    a_checkout_across_services_is_one_trace(false).await;
}

#[tokio::test]
async fn postgres_a_checkout_across_services_is_one_trace() {
    a_checkout_across_services_is_one_trace(true).await;
}

/// The database holds each service to its own tables.
async fn roles_reach_only_their_schema(url: &str) {
    for (service, own, other) in [
        ("orders", "orders.carts", "catalog.products"),
        ("catalog", "catalog.products", "identity.customers"),
        ("inventory", "inventory.stock_lots", "orders.orders"),
        ("identity", "identity.customers", "inventory.stock_lots"),
        // Payments keep no tables: the shared ones only.
        ("payments", "gateway.idempotency_keys", "orders.orders"),
    ] {
        let store = rouge_store::PgStore::connect(&url_as(url, service, true)).await.unwrap();
        let read = |table: &str| {
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"))).fetch_one(store.pool())
        };
        read(own).await.unwrap_or_else(|e| panic!("{service} reads {own}: {e}"));
        read("messaging.outbox").await.unwrap_or_else(|e| panic!("{service} reads the outbox: {e}"));
        let refused = read(other).await.expect_err("another service's table");
        assert!(refused.to_string().contains("permission denied"), "{service} on {other}: {refused}");
        store.close().await;
    }
}

#[tokio::test]
async fn sqlite_four_services_behind_a_balancer_are_one_shop() {
    four_services_behind_a_balancer_are_one_shop(false).await;
}

#[tokio::test]
async fn postgres_four_services_behind_a_balancer_are_one_shop() {
    four_services_behind_a_balancer_are_one_shop(true).await;
}

#[tokio::test]
async fn postgres_each_service_role_is_granted_its_schema_only() {
    let Some(db) = harness::empty_postgres().await else { return };
    let dir = TempDir::new();
    let keys = dir.0.join("keys");
    // One service's migration alone makes its schema and the shared ones, not the others'.
    rouge(&["migrate", "--services", "catalog"], &db.url, &keys);
    for s in SERVICES {
        rouge(&["migrate", "--services", s], &db.url, &keys);
    }
    // And a whole migration afterwards finds everything applied.
    rouge(&["migrate"], &db.url, &keys);
    roles_reach_only_their_schema(&db.url).await;
    // Where roles log in with a password, the migration sets it (quotes and all).
    sqlx::query("ALTER ROLE rouge_inventory PASSWORD NULL").execute(db.store.pool()).await.unwrap();
    let password = [("ROUGE_ROLE_PASSWORD", "it's a secret")];
    rouge_with(&["migrate", "--services", "inventory"], &db.url, &keys, &password);
    let matches: bool = sqlx::query_scalar(
        "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'rouge_inventory'",
    )
    .fetch_one(db.store.pool())
    .await
    .unwrap();
    assert!(matches, "rouge_inventory has a password");
    db.cleanup().await;
}

#[tokio::test]
async fn a_service_apart_says_which_peer_it_lacks_and_that_keys_are_shared() {
    let dir = TempDir::new();
    let keys = dir.0.join("keys");
    let url = format!("sqlite://{}", dir.0.join("rouge.db").display());
    rouge(&["migrate"], &url, &keys);
    let serve = |env: &[(&str, &str)]| {
        Command::new(env!("CARGO_BIN_EXE_rouge"))
            .args(["serve", "--listen", "127.0.0.1:0", "--metrics-listen", "off", "--services", "orders,payments"])
            .env("DATABASE_URL", &url)
            .env("ROUGE_KEY_DIR", &keys)
            .env_remove("ROUGE_PEERS_URL")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    let out = serve(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("share one key directory"), "{err}");
    rouge(&["keys", "init"], &url, &keys);
    let out = serve(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("ROUGE_CATALOG_URL"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_rouge"))
        .args(["serve", "--services", "payments"])
        .env("DATABASE_URL", &url)
        .env("ROUGE_KEY_DIR", &keys)
        .env_remove("ROUGE_PEERS_URL")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("ROUGE_IDENTITY_URL"), "{err}");
}

/// The grown shop across the services: a promotion for oily skin (orders) asks identity for her
/// segments; her review (catalogue) asks orders whether the purchase was delivered and identity
/// for her profile; a beauty box (orders) is filled from the catalogue's facts and her whole
/// profile (identity), and locking it sets its items aside at inventory. With identity down her
/// requests answer 503 with Retry-After, and the storefront with its reviews still answers.
async fn promotions_reviews_and_boxes_across_services(pg: bool) {
    let smtp = crate::smtp::SmtpSink::start().await;
    let Some(mut shop) = open_shop(pg, &[("ROUGE_SMTP_URL", smtp.url.as_str())]).await else { return };
    let lb = shop.lb.clone();
    let c = Client::new();
    let at = |path: &str| format!("{lb}{path}");
    let token = owner_token(&lb).await;
    call(shop.admin(&token, "/v1/admin/brands", "b1", json!({"name": "Lumen Lab"}))).await;
    let (s, p, _) =
        call(shop.admin(&token, "/v1/admin/products", "p1", serum("Glow Serum", "lumen-lab", SKU, 2900))).await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let (s, b, _) =
        call(shop.admin(&token, "/v1/admin/products", "p2", serum("Monthly Box", "lumen-lab", "BOX-1", 1500))).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let expires = (chrono::Utc::now() + chrono::Duration::days(300)).date_naive().to_string();
    for (sku, key) in [(SKU, "r1"), ("BOX-1", "r2")] {
        let receipt = json!({"sku": sku, "location": "main", "batch": "A1", "expires_on": expires, "quantity": 10});
        let (s, r, _) = call(shop.admin(&token, "/v1/admin/inventory/receipts", key, receipt)).await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
    }
    let promotion = json!({"name": "Oily skin: 10 % off", "benefit": {"kind": "percent_off", "percent_bp": 1000},
        "segments": ["skin_type:oily"]});
    let (s, promo, _) = call(shop.admin(&token, "/v1/admin/promotions", "pr1", promotion)).await;
    assert_eq!(s, StatusCode::CREATED, "{promo}");
    // The catalogue's pages show it: orders tell the live offers.
    let page = format!("/v1/products/{}", p["slug"].as_str().unwrap());
    let mut shown = Value::Null;
    for _ in 0..100 {
        shown = call(c.get(at(&page))).await.1;
        if shown["offers"][0]["name"] == "Oily skin: 10 % off" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(shown["offers"][0]["badge"], "-10 %", "the product page shows the offer: {shown}\n{}", shop.log());
    let (_, listed, _) = call(c.get(at("/v1/products?q=glow"))).await;
    assert_eq!(listed["items"][0]["offers"][0]["badge"], "-10 %", "and the listing: {listed}");

    // Ana registers at identity (the link arrives by email) and says she has oily skin.
    let email = "ana.apart@example.com";
    let account = json!({"email": email, "password": "correct horse battery", "name": "Ana Silva"});
    let (s, _, _) = call(c.post(at("/v1/auth/register")).json(&account)).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let link = crate::smtp::link_token(&smtp.wait_for(email, "verify-email?token=").await);
    let (s, _, _) = call(c.post(at("/v1/auth/verify-email")).json(&json!({"token": link}))).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let login = json!({"email": email, "password": "correct horse battery"});
    let (_, session, _) = call(c.post(at("/v1/auth/login")).json(&login)).await;
    let ana = session["access_token"].as_str().unwrap().to_owned();
    let profile = json!({"beauty_profile": {"skin_type": "oily", "concerns": ["acne"]}});
    let (s, me, _) = call(c.patch(at("/v1/me")).bearer_auth(&ana).json(&profile)).await;
    assert_eq!(s, StatusCode::OK, "{me}");

    // Her cart (orders) gets the oily-skin discount: identity told orders her segments.
    let (_, cart, _) = call(c.post(at("/v1/carts")).bearer_auth(&ana)).await;
    let cart = cart["id"].as_str().unwrap().to_owned();
    for sku in [SKU, "BOX-1"] {
        let line = json!({"sku": sku, "quantity": 1});
        let (s, body, _) = call(c.post(at(&format!("/v1/carts/{cart}/lines"))).bearer_auth(&ana).json(&line)).await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    let mut priced = Value::Null;
    for _ in 0..100 {
        priced = call(c.get(at(&format!("/v1/carts/{cart}"))).bearer_auth(&ana)).await.1;
        if priced["totals"]["discount"] == 440 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(priced["totals"]["discount"], 440, "10 % of 44.00 for oily skin: {priced}\n{}", shop.log());
    let details = json!({"email": email, "shipping_address": address(), "shipping_method": "standard"});
    let (s, _, _) = call(c.put(at(&format!("/v1/carts/{cart}/checkout"))).bearer_auth(&ana).json(&details)).await;
    assert_eq!(s, StatusCode::OK);
    let pay = json!({"payment": {"provider": "test", "token": "tok_visa"}});
    let complete =
        c.post(at(&format!("/v1/carts/{cart}/complete"))).bearer_auth(&ana).header("idempotency-key", "pay-a");
    let (s, order, _) = call(complete.json(&pay)).await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    let order = order["id"].as_str().unwrap().to_owned();
    for step in [
        json!({"action": "capture"}),
        json!({"action": "ship", "carrier": "Colissimo", "tracking": "X1"}),
        json!({"action": "mark_delivered"}),
    ] {
        let (s, o, _) =
            call(c.post(at(&format!("/v1/admin/orders/{order}/transitions"))).bearer_auth(&token).json(&step)).await;
        assert_eq!(s, StatusCode::OK, "{o}");
    }

    // Her review (catalogue): orders vouch for the delivered line, identity for her skin type.
    let reviews = format!("/v1/products/{}/reviews", p["slug"].as_str().unwrap());
    let review = json!({"order_id": order, "sku": SKU, "rating": 5, "title": "Calmer skin",
        "text": "Two weeks in, fewer breakouts.", "display_name": "Ana S."});
    let submit = c.post(at(&reviews)).bearer_auth(&ana).header("idempotency-key", "rv1").json(&review);
    let (s, mine, _) = call(submit).await;
    assert_eq!(s, StatusCode::CREATED, "{mine}\n{}", shop.log());
    assert_eq!((&mine["verified_purchase"], &mine["reviewer"]["skin_type"]), (&json!(true), &json!("oily")), "{mine}");
    let moderation = format!("/v1/admin/reviews/{}/moderation", mine["id"].as_str().unwrap());
    let (s, _, _) = call(c.put(at(&moderation)).bearer_auth(&token).json(&json!({"decision": "approve"}))).await;
    assert_eq!(s, StatusCode::OK);

    // Her box (orders): the catalogue's facts, her profile from identity, set aside at inventory.
    let sub = json!({"order_id": order, "sku": "BOX-1", "cadence_weeks": 4, "payment": {"provider": "test", "token": "pm_card_visa"}});
    let subscribe = c.post(at("/v1/subscriptions")).bearer_auth(&ana).header("idempotency-key", "s1").json(&sub);
    let (s, body, _) = call(subscribe).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let month = rouge_subscriptions::month_of(chrono::Utc::now().timestamp_millis());
    let setup = json!({"box_sku": "BOX-1", "items_per_box": 1, "pool": [{"sku": SKU, "quantity": 3}]});
    let (s, body, _) = call(c.put(at(&format!("/v1/admin/boxes/{month}"))).bearer_auth(&token).json(&setup)).await;
    assert_eq!(s, StatusCode::OK, "the catalogue knows the pool: {body}");
    let (s, locked, _) = call(c.put(at(&format!("/v1/admin/boxes/{month}/lock"))).bearer_auth(&token)).await;
    assert_eq!(s, StatusCode::OK, "{locked}\n{}", shop.log());
    assert_eq!(locked["boxes"][0]["skus"], json!([SKU]), "oily skin, the serum: {locked}");
    let mut level = Value::Null;
    for _ in 0..200 {
        level = call(c.get(at(&format!("/v1/admin/inventory/skus/{SKU}"))).bearer_auth(&token)).await.1;
        if level["on_hand"] == 9 && level["reserved"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!((&level["on_hand"], &level["reserved"]), (&json!(9), &json!(1)), "one sold, one set aside: {level}");

    // Orders down: the catalogue's pages go without offers, at once (no wait on orders).
    shop.kill(2, "/v1/carts/00000000-0000-0000-0000-000000000000").await;
    let mut bare = Value::Null;
    for _ in 0..100 {
        bare = call(c.get(at(&page))).await.1;
        if bare["name"].is_string() && bare.get("offers").is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(bare["name"].is_string() && bare.get("offers").is_none(), "{bare}");
    shop.start(2).await;
    for _ in 0..200 {
        if c.get(at("/v1/carts/00000000-0000-0000-0000-000000000000")).send().await.is_ok_and(|r| r.status() != 503) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Identity down: her requests answer 503 with Retry-After; the storefront and its reviews
    // (catalogue) still answer.
    shop.kill(3, "/v1/auth/login").await;
    let (s, problem, headers) = call(c.get(at("/v1/subscriptions")).bearer_auth(&ana)).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
    assert!(headers.contains_key("retry-after"), "{headers:?}");
    let (s, page, _) = call(c.get(at(&reviews))).await;
    let by_skin = json!([{"skin_type": "oily", "average": 5.0, "count": 1}]);
    assert_eq!((s, &page["summary"]["by_skin_type"]), (StatusCode::OK, &by_skin), "{page}");
    shop.start(3).await;
    let mut back = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..200 {
        back = c.get(at("/v1/subscriptions")).bearer_auth(&ana).send().await.unwrap().status();
        if back == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(back, StatusCode::OK, "identity is back");
    shop.close().await;
}

#[tokio::test]
async fn sqlite_promotions_reviews_and_boxes_across_services() {
    promotions_reviews_and_boxes_across_services(false).await;
}

#[tokio::test]
async fn postgres_promotions_reviews_and_boxes_across_services() {
    promotions_reviews_and_boxes_across_services(true).await;
}
