use crate::smtp::SmtpSink;
use reqwest::{Client, Response, StatusCode};
use rouge_catalog::CatalogRepository;
use rouge_http::Store;
use rouge_http::gateway::{GatewaySettings, Quota};
use rouge_identity::{ApiKeyInput, HashCost, IdentityService, Keys, PasswordHasher, Permission, TokenKeys};
use rouge_messaging::Mailer;
use rouge_server::{Options, launch};
use rouge_store_tests::harness::{self, TempPostgres, TempSqlite};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

pub enum Db {
    Sqlite(TempSqlite),
    Postgres(TempPostgres),
}

pub struct TestApp {
    pub base: String,
    pub client: Client,
    /// Where the server's account emails go.
    pub smtp: SmtpSink,
    /// The keys the server signs customer tokens with (to forge, expire, compare).
    pub tokens: Arc<TokenKeys>,
    /// All of its keys (a replica on the same store needs them).
    pub keys: Keys,
    /// An API key with every permission, for admin calls.
    pub admin_key: String,
    /// Where the server's `/metrics` is served.
    pub metrics_base: String,

    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pub db: Db,
}

/// The options every test server starts with: the admin token, and rate limits no test
/// reaches unless it is about them (every test client comes from 127.0.0.1).
pub fn test_options() -> Options {
    let roomy = Some(Quota { per_minute: 6_000_000, burst: 1_000_000 });
    let mut opts = Options {
        gateway: GatewaySettings { read: roomy, write: roomy, auth: roomy, ..GatewaySettings::default() },
        ..Options::default()
    };
    opts.identity.hash_cost = HashCost::TEST;
    // Tests pay with the test provider's cards (a live shop never takes them).
    opts.test_payments = true;
    // Consumers retry fast in tests, and park an event after three attempts.
    opts.delivery = rouge_messaging::durable::RetryPolicy { max_attempts: 3, backoff: Duration::from_millis(50) };
    opts
}

pub const OWNER_EMAIL: &str = "owner@shop.example";
pub const OWNER_PASSWORD: &str = "owner passphrase";

/// Creates the shop's owner, as `rouge admin create-owner` does, and an all-permission API key.
pub async fn bootstrap_owner<S: Store>(store: &S, keys: &Keys) -> String {
    let hasher = PasswordHasher::new(HashCost::TEST).unwrap();
    let svc = IdentityService::new(store.clone(), keys.vault.clone(), hasher, keys.tokens.clone(), Default::default());
    svc.create_owner(OWNER_EMAIL, "Olga Owner", OWNER_PASSWORD).await.unwrap();
    let session = svc.staff_login(OWNER_EMAIL, OWNER_PASSWORD, "test").await.unwrap();
    let owner = svc.authorize(&session.access_token).await.unwrap();
    let all = ApiKeyInput { name: "tests".into(), permissions: Permission::ALL.to_vec() };
    svc.create_api_key(&owner, all).await.unwrap().secret
}

async fn start<S: Store>(store: S, db: Db, mut opts: Options) -> TestApp {
    // The servers' errors go to the test's captured output, shown when it fails (the cause of
    // a 503 is logged, never answered); `ROUGE_TEST_LOG` sets the filter (default `error`).
    let filter = tracing_subscriber::EnvFilter::try_from_env("ROUGE_TEST_LOG").unwrap_or_else(|_| "error".into());
    let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter(filter).try_init();
    let smtp = SmtpSink::start().await;
    opts.identity.mailer = Mailer::smtp(&smtp.url, "Rouge Tests <shop@example.com>").unwrap();
    let tokens = opts.identity.keys.tokens.clone();
    let keys = opts.identity.keys.clone();
    let admin_key = bootstrap_owner(&store, &opts.identity.keys).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let metrics_base = format!("http://{}", metrics.local_addr().unwrap());
    opts.metrics = Some(metrics);
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(launch(store, opts, listener, async {
        let _ = rx.await;
    }));
    TestApp {
        base,
        client: Client::new(),
        smtp,
        tokens,
        keys,
        admin_key,
        metrics_base,
        stop: Some(tx),
        task: Some(task),
        db,
    }
}

impl TestApp {
    pub async fn sqlite() -> TestApp {
        Self::sqlite_with(test_options()).await
    }

    pub async fn sqlite_with(opts: Options) -> TestApp {
        Self::sqlite_on(harness::sqlite().await, opts).await
    }

    /// A server on a store the test prepared.
    pub async fn sqlite_on(db: TempSqlite, opts: Options) -> TestApp {
        let store = db.store.clone();
        start(store, Db::Sqlite(db), opts).await
    }

    /// A server on PostgreSQL (`None` when it is skipped) or SQLite.
    pub async fn on(pg: bool, opts: Options) -> Option<TestApp> {
        if pg { Self::postgres_with(opts).await } else { Some(Self::sqlite_with(opts).await) }
    }

    pub async fn postgres() -> Option<TestApp> {
        Self::postgres_with(test_options()).await
    }

    pub async fn postgres_with(opts: Options) -> Option<TestApp> {
        let db = harness::postgres().await?;
        let store = db.store.clone();
        Some(start(store, Db::Postgres(db), opts).await)
    }

    /// A second server on the same store and keys, as another replica behind a load balancer;
    /// its base URL and what stops it.
    pub async fn replica(&self) -> Replica {
        self.replica_with(test_options()).await
    }

    /// A replica started with `opts` (its keys and mail server are this app's).
    pub async fn replica_with(&self, opts: Options) -> Replica {
        self.replica_at("127.0.0.1:0", opts).await
    }

    /// A replica listening on `addr` (a port chosen beforehand, or the one a stopped replica
    /// had).
    pub async fn replica_at(&self, addr: &str, mut opts: Options) -> Replica {
        opts.identity.keys = self.keys.clone();
        // A replica is configured like the primary: whichever server delivers an account email,
        // it goes to the same mail server.
        opts.identity.mailer = Mailer::smtp(&self.smtp.url, "Rouge Tests <shop@example.com>").unwrap();
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel();
        let task = match &self.db {
            Db::Sqlite(d) => tokio::spawn(launch(d.store.clone(), opts, listener, async {
                let _ = rx.await;
            })),
            Db::Postgres(d) => tokio::spawn(launch(d.store.clone(), opts, listener, async {
                let _ = rx.await;
            })),
        };
        let replica = Replica { base, stop: tx, task };
        self.eventually(|| async { reqwest::get(format!("{}/readyz", replica.base)).await.is_ok() }).await;
        replica
    }

    /// A server whose store reaches PostgreSQL through `proxy` (which the test can cut).
    pub async fn postgres_via(proxy: std::net::SocketAddr, opts: Options) -> Option<TestApp> {
        let db = harness::postgres().await?;
        let (scheme_user, rest) = db.url.split_once('@').expect("a user in the URL");
        let path = rest.split_once('/').map_or("", |(_, p)| p);
        let store = rouge_store::PgStore::connect(&format!("{scheme_user}@{proxy}/{path}")).await.unwrap();
        Some(start(store, Db::Postgres(db), opts).await)
    }

    /// Stops the server (draining requests) and drops the test database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server stopped cleanly");
        }
        if let Db::Postgres(db) = self.db {
            db.cleanup().await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }

    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let res = self.get(path).await;
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str, body: &Value) -> Response {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.admin_key)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// GET with the owner's API key.
    pub async fn get_json_as_admin(&self, path: &str) -> (StatusCode, Value) {
        let res = self.client.get(self.url(path)).bearer_auth(&self.admin_key).send().await.expect("request");
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let res = self.admin(reqwest::Method::POST, path, &body).await;
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn brand(&self, name: &str) -> Value {
        let (s, b) = self.post("/v1/admin/brands", json!({"name": name})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        b
    }

    pub async fn category(&self, name: &str, parent: Option<&str>) -> Value {
        let (s, c) = self.post("/v1/admin/categories", json!({"name": name, "parent": parent})).await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        c
    }

    /// Creates a product and waits until the storefront lists it.
    pub async fn product(&self, body: Value) -> Value {
        let (s, p) = self.post("/v1/admin/products", body).await;
        assert_eq!(s, StatusCode::CREATED, "{p}");
        let slug = p["slug"].as_str().unwrap().to_owned();
        self.eventually(|| async { self.get(&format!("/v1/products/{slug}")).await.status() == StatusCode::OK }).await;
        p
    }

    /// Polls until the condition holds (events reach the index asynchronously); fails after
    /// a generous deadline, which is a liveness check, not a timing assertion.
    pub async fn eventually<F, Fut>(&self, mut f: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        for _ in 0..500 {
            if f().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("condition not reached in 5 s");
    }

    pub async fn product_count(&self) -> i64 {
        match &self.db {
            Db::Sqlite(d) => d.store.product_count().await.unwrap(),
            Db::Postgres(d) => d.store.product_count().await.unwrap(),
        }
    }

    /// Closes the store's connection pool, as when the database goes away.
    pub async fn close_store(&self) {
        match &self.db {
            Db::Sqlite(d) => d.store.close().await,
            Db::Postgres(d) => d.store.close().await,
        }
    }

    /// The events of a type the shop has told so far (its outbox), oldest first.
    pub async fn events_of(&self, event_type: &str) -> Vec<rouge_kernel::DomainEvent> {
        use rouge_kernel::Outbox;
        let all = match &self.db {
            Db::Sqlite(d) => d.store.events_after(0, 100_000).await.unwrap(),
            Db::Postgres(d) => d.store.events_after(0, 100_000).await.unwrap(),
        };
        all.into_iter().filter(|e| e.event_type == event_type).collect()
    }

    pub async fn outbox_head(&self) -> i64 {
        use rouge_kernel::Outbox;
        match &self.db {
            Db::Sqlite(d) => d.store.head().await.unwrap(),
            Db::Postgres(d) => d.store.head().await.unwrap(),
        }
    }
}

/// Another server on a test app's store.
pub struct Replica {
    pub base: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Replica {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("replica task").expect("replica stopped cleanly");
    }
}

/// A valid product body; tests override what they are about.
pub fn serum(name: &str, brand: &str, sku: &str, cents: i64) -> Value {
    json!({
        "name": name,
        "brand": brand,
        "product_type": "skincare",
        "status": "active",
        "description": "A light serum for every day.",
        "variants": [{"sku": sku, "price": {"amount": cents, "currency": "EUR"}, "size": {"amount": 30, "unit": "ml"}}],
        "ingredients": ["Aqua", "Niacinamide", "Glycerin", "Phenoxyethanol"],
        "skin_types": ["oily"],
        "concerns": ["acne"]
    })
}

/// An outside tool a check needs is not installed: a failure where services are required
/// (`ROUGE_REQUIRE_SERVICES=1`, as on CI), otherwise a plain SKIPPED line and the check is left.
pub fn tool_missing(what: &str, why: &str) {
    use std::io::Write;
    if std::env::var("ROUGE_REQUIRE_SERVICES").is_ok_and(|v| v == "1") {
        panic!("{what} is required (ROUGE_REQUIRE_SERVICES=1): {why}");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED: {what} is not installed: {why}");
}

/// A port nothing listens on at the moment (for a child server, a balancer, a refused address).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
