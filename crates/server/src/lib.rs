//! The `rouge` binary's library: settings and wiring only. [`launch`] lets tests start a
//! server on `127.0.0.1:0` exactly as `rouge serve` does.

pub mod backup;
pub mod behaviour;
pub mod bench;
pub mod bench_catchup;
pub mod bench_checkout;
pub mod bench_coldstart;
pub mod bench_events;
pub mod bench_recs;
pub mod cdn;
pub mod consumers;
pub mod demo;
pub mod drill;
pub mod import;
pub mod keys;
pub mod peers;
pub mod recs;
pub mod renewals;
pub mod replenishment;
pub mod schedule;
pub mod seed;
pub mod tls;
pub mod webhooks;
pub mod wiring;

use anyhow::Context;
use rouge_catalog::CatalogEvent;
use rouge_http::cache::ResponseCache;
use rouge_http::gateway::{Gateway, GatewaySettings, RateLimiter};
use rouge_http::services::{Service, Services};
use rouge_http::{AppState, Store};
use rouge_identity::{HashCost, IdentityService, IdentitySettings, Keys, PasswordHasher, TokenKeys, Vault};
use rouge_messaging::Mailer;
use rouge_search::CatalogIndex;
use rouge_store::PgStore;
use rouge_store::SqliteStore;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://rouge-data/rouge.db";

/// Opens the store a URL names, runs its migrations, and calls `f` with it.
pub async fn with_store<T, F>(url: &str, f: F) -> anyhow::Result<T>
where
    F: StoreFn<T>,
{
    with_store_migrated(url, Migrations::All, f).await
}

/// Which migrations [`with_store_migrated`] runs.
#[derive(Debug, Clone, Copy)]
pub enum Migrations {
    All,
    /// These services' and the shared schemas' (on PostgreSQL, and their roles granted);
    /// SQLite has one namespace and migrates whole.
    Of(Services),
    /// None: the store was migrated before (a service apart, whose role may not).
    None,
}

/// Opens the store a URL names, runs `migrations`, and calls `f` with it.
pub async fn with_store_migrated<T, F>(url: &str, migrations: Migrations, f: F) -> anyhow::Result<T>
where
    F: StoreFn<T>,
{
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PgStore::connect(url).await.context("connecting to PostgreSQL")?;
        match migrations {
            Migrations::All => store.migrate().await.context("migrating PostgreSQL")?,
            Migrations::Of(services) => {
                let schemas: Vec<&str> = services.iter().filter_map(Service::schema).collect();
                store.migrate_schemas(&schemas).await.context("migrating PostgreSQL")?;
                // For a deployment whose roles log in with a password (compose); managed ones set
                // it out of band.
                let password = std::env::var("ROUGE_ROLE_PASSWORD").ok().filter(|p| !p.is_empty());
                for s in services.iter() {
                    store
                        .grant_service_role(&s.role(), s.schema(), password.as_deref())
                        .await
                        .with_context(|| format!("granting role {} its schema", s.role()))?;
                    tracing::info!(service = %s, role = %s.role(), schema = s.schema().unwrap_or("(shared only)"), "migrated; role granted its schema and the shared ones");
                }
            }
            Migrations::None => {}
        }
        f.call(store).await
    } else if url.starts_with("sqlite:") {
        let store = SqliteStore::connect(url).await.with_context(|| format!("opening {url}"))?;
        match migrations {
            Migrations::All | Migrations::Of(_) => store.migrate().await.context("migrating SQLite")?,
            Migrations::None => {}
        }
        f.call(store).await
    } else {
        anyhow::bail!(
            "DATABASE_URL must start with sqlite: or postgres:// (got `{}`)",
            url.split(':').next().unwrap_or("")
        )
    }
}

/// Something to run with whichever store the URL chose (generic over the store type).
pub trait StoreFn<T> {
    fn call<S: Store>(self, store: S) -> impl Future<Output = anyhow::Result<T>> + Send;
}

/// Identity's keys, costs and mail.
pub struct IdentityOptions {
    pub keys: Keys,
    /// Re-read every few seconds, so that rotated keys reach a running server.
    pub key_dir: Option<std::path::PathBuf>,
    pub hash_cost: HashCost,
    pub settings: IdentitySettings,
    pub access_ttl_secs: i64,
    pub mailer: Mailer,
    /// Where the links in emails point (the shop's front end).
    pub public_url: String,
}

impl Default for IdentityOptions {
    fn default() -> Self {
        Self {
            keys: Keys {
                vault: Arc::new(Vault::ephemeral()),
                tokens: Arc::new(TokenKeys::ephemeral(keys::ISSUER, keys::AUDIENCE)),
            },
            key_dir: None,
            hash_cost: HashCost::DEFAULT,
            settings: IdentitySettings::default(),
            access_ttl_secs: 900,
            mailer: Mailer::Log,
            public_url: "http://127.0.0.1:8080".into(),
        }
    }
}

pub struct Options {
    pub identity: IdentityOptions,
    pub demo: bool,
    pub gateway: GatewaySettings,
    /// Share rate-limit budgets through this Redis; in-process when absent.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key this deployment writes.
    pub redis_prefix: String,
    /// Publish every domain event to this RabbitMQ (`amqp://…`), on the exchange named by
    /// `amqp_exchange`; not published when absent (in-process subscribers only).
    pub amqp_url: Option<String>,
    pub amqp_exchange: String,
    /// Serve HTTPS with this acceptor (certificate and key from settings).
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Accept access tokens of this OpenID Connect issuer: (issuer URL, audience).
    pub oidc: Option<(String, String)>,
    pub inventory: InventoryOptions,
    /// How hard event consumers try before parking an event as a dead letter.
    pub delivery: rouge_messaging::durable::RetryPolicy,
    /// Currency, tax rates and shipping methods of the shop's channel.
    pub channel: rouge_orders::Channel,
    /// Payment providers besides Stripe and the built-in `test` one.
    pub payments: Vec<Arc<dyn rouge_payments::PaymentProvider>>,
    /// Take the built-in `test` provider's made-up cards (`--demo` or `ROUGE_TEST_PAYMENTS`):
    /// never on a live shop, where they would be free orders.
    pub test_payments: bool,
    /// Stripe, when a secret key is configured.
    pub stripe: Option<Arc<rouge_payments::StripeProvider>>,
    /// Where `/metrics` is served (never on the API's listener); none: not served.
    pub metrics: Option<TcpListener>,
    /// A CDN to purge the pages a committed change made stale; none: no purges.
    pub cdn: Option<cdn::Cdn>,
    /// The services this process runs (`--services`); every one by default.
    pub services: Services,
    /// Where the services this process does not run answer (their own address or a load
    /// balancer's), by service.
    pub peer_urls: Vec<(Service, String)>,
    /// Timeouts, retries and circuit breaking of calls to those services.
    pub peer_policy: rouge_http::remote::Policy,
    /// Outbound webhooks' retries, target guard and alerts.
    pub webhooks: webhooks::WebhookOptions,
    /// When replenishment reminders go.
    pub replenishment: replenishment::ReplenishmentOptions,
    /// How often each orders process looks for due subscription renewals.
    pub renewals_every: std::time::Duration,
    /// Days the recommendations keep behaviour events (older ones are purged daily).
    pub behaviour_retention_days: i64,
    /// How often each catalogue process trains its recommendations (and at start).
    pub recs_train_every: std::time::Duration,
}

/// The shop's stock rules.
#[derive(Debug, Clone, Copy)]
pub struct InventoryOptions {
    /// Lots expiring within this many days are not sold.
    pub expiry_window_days: i64,
    /// Sellable stock at or below this is "low".
    pub low_stock: i64,
    /// How long a checkout holds stock, in seconds.
    pub reservation_secs: i64,
    /// After this many seconds without an answer, a request holding an idempotency key is
    /// presumed dead and a retry may take the key over.
    pub idempotency_lease_secs: u64,
}

impl Default for InventoryOptions {
    fn default() -> Self {
        Self { expiry_window_days: 30, low_stock: 5, reservation_secs: 900, idempotency_lease_secs: 60 }
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            identity: IdentityOptions::default(),
            demo: false,
            gateway: GatewaySettings::default(),
            redis_url: None,
            redis_prefix: "rouge".into(),
            amqp_url: None,
            amqp_exchange: rouge_messaging::amqp::EXCHANGE.into(),
            tls: None,
            oidc: None,
            inventory: InventoryOptions::default(),
            delivery: rouge_messaging::durable::RetryPolicy::default(),
            channel: rouge_orders::Channel::default(),
            payments: vec![],
            test_payments: false,
            stripe: None,
            metrics: None,
            cdn: None,
            services: Services::all(),
            peer_urls: vec![],
            peer_policy: rouge_http::remote::Policy::default(),
            webhooks: webhooks::WebhookOptions::default(),
            replenishment: replenishment::ReplenishmentOptions::default(),
            renewals_every: std::time::Duration::from_secs(60),
            behaviour_retention_days: 365,
            recs_train_every: std::time::Duration::from_secs(3600),
        }
    }
}

/// Serves the API on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn launch<S: Store>(
    store: S,
    mut opts: Options,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // HTTPS answers carry HSTS.
    opts.gateway.hsts |= opts.tls.is_some();
    let (tls, metrics_listener, demo) = (opts.tls.take(), opts.metrics.take(), opts.demo);
    let shared_limits = opts.redis_url.is_some();
    let shop = start(store, opts).await?;
    let addr = listener.local_addr()?;
    let https = tls.is_some();
    tracing::info!(%addr, https, shared_limits, "rouge is listening");
    if demo {
        // A first run's banner, on stdout (the log is on stderr).
        let base = format!("{}://{addr}", if https { "https" } else { "http" });
        println!(
            "\nRouge is serving the demo shop at {base}\n  API docs:  {base}/docs\n  GraphQL:   {base}/graphql\n  Products:  {base}/v1/products\n\nCreate the first owner (staff with every permission):\n  ROUGE_OWNER_PASSWORD='a long passphrase' rouge admin create-owner --email owner@shop.example --name 'Your Name'\n"
        );
    }
    let metrics = metrics_listener.map(|l| {
        tracing::info!(addr = ?l.local_addr().ok(), "metrics are served here");
        let mut stop = shop.stop.subscribe();
        tokio::spawn(async move {
            let done = async move {
                let _ = stop.changed().await;
            };
            axum::serve(l, rouge_http::ops::metrics_app()).with_graceful_shutdown(done).await
        })
    });
    let app = shop.app.clone().into_make_service_with_connect_info::<std::net::SocketAddr>();
    match tls {
        Some(acceptor) => {
            use axum::serve::ListenerExt;
            // `tap_io` lets the connection's peer address through as ConnectInfo.
            let tls = tls::TlsListener::new(listener, acceptor)?.tap_io(|_| ());
            axum::serve(tls, app).with_graceful_shutdown(shutdown).await?;
        }
        None => axum::serve(listener, app).with_graceful_shutdown(shutdown).await?,
    }
    shop.stop().await;
    if let Some(m) = metrics {
        let _ = m.await;
    }
    tracing::info!("stopped cleanly");
    Ok(())
}

/// A started shop: its HTTP application (routes and layers, ready for a listener or for
/// `tower::ServiceExt::oneshot` in tests) and its background work (relay, consumers,
/// sweepers, watchdogs), which [`Shop::stop`] ends.
pub struct Shop {
    pub app: axum::Router,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Shop {
    /// Ends the background work and waits for it (the relay delivers what it holds first).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Builds the shop on `store`: migrations are the caller's; the demo catalogue when asked and
/// the store is empty; the search index; the services wired to each other; the relay and its
/// consumers; the background sweepers. Serving is [`launch`]'s.
///
/// # Errors
/// When the store cannot be read or a setting is refused.
pub async fn start<S: Store>(store: S, opts: Options) -> anyhow::Result<Shop> {
    let services = opts.services;
    let has = |s| services.has(s);
    if !services.is_all() {
        tracing::info!(%services, "serving these services only; the others are reached over HTTP");
    }
    let fresh_demo =
        opts.demo && services.is_all() && store.product_count().await.map_err(|e| anyhow::anyhow!(e))? == 0;
    if opts.demo && !services.is_all() {
        tracing::warn!("--demo loads the demo shop only where every service runs in one process; not loaded");
    } else if fresh_demo {
        seed::seed_demo(&store, 320).await?;
        seed::seed_demo_stock(&store, 320).await?;
        seed::seed_demo_promotions(&store).await?;
        seed::seed_demo_reviews(&store).await?;
    }
    // Read the outbox head before the snapshot: events after it are replayed on top, and
    // applying an event twice is harmless (older versions never replace newer ones).
    let head = store.head().await.map_err(|e| anyhow::anyhow!(e))?;
    let index = Arc::new(if has(Service::Catalog) {
        let index = build_index(&store).await?;
        tracing::info!(products = index.len(), "search index built");
        index
    } else {
        CatalogIndex::build(vec![], vec![], vec![], vec![])
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let idx = index.clone();
    let search: rouge_messaging::Subscriber = Arc::new(move |events| {
        let catalog: Vec<CatalogEvent> = events.iter().filter_map(CatalogEvent::from_envelope).collect();
        idx.apply(&catalog);
        idx.apply_ratings(&rating_changes(events));
    });
    // Listing pages: in process, and shared through Redis when there is one.
    let cache = match &opts.redis_url {
        Some(url) => ResponseCache::with_redis(url, &opts.redis_prefix).context("REDIS_URL is not a Redis URL")?,
        None => ResponseCache::new(),
    };
    // The epoch the index was built at: the last event a storefront page shows, up to the
    // head (every replica that applied as much names its pages alike).
    let epoch = store.last_of(rouge_http::surrogate::EVENTS, head).await.map_err(|e| anyhow::anyhow!(e))?;
    cache.start_epoch(epoch);
    let pages = cache.clone();
    let invalidate: rouge_messaging::Subscriber = Arc::new(move |events| pages.applied(events));
    // Recommendations: what each replica knows of a customer is forgotten when she changes.
    // With Redis, the replicas share one training's lists (one replica trains per period).
    let recs = Arc::new(match &opts.redis_url {
        Some(url) => {
            rouge_http::recs::Recs::with_redis(url, &opts.redis_prefix).context("REDIS_URL is not a Redis URL")?
        }
        None => rouge_http::recs::Recs::default(),
    });
    let heard = recs.clone();
    let shoppers: rouge_messaging::Subscriber = Arc::new(move |events| heard.heard(events));
    let id_opts = opts.identity;
    let hasher = PasswordHasher::new(id_opts.hash_cost).map_err(|e| anyhow::anyhow!("password hash cost: {e}"))?;
    let identity =
        IdentityService::new(store.clone(), id_opts.keys.vault, hasher, id_opts.keys.tokens, id_opts.settings);
    let peers = peers::Peers::connect(services, &opts.peer_urls, opts.peer_policy, &identity)?;
    // Reviews are deployed with the catalogue: they ask orders whether a purchase was
    // delivered and identity for the reviewer's profile, here or over HTTP.
    let purchases: Arc<dyn rouge_reviews::Purchases> = Arc::new(match &peers.orders {
        Some(remote) => consumers::OrderFacts::Remote(remote.clone()),
        None => consumers::OrderFacts::Local(store.clone()),
    });
    let reviewers: Arc<dyn rouge_reviews::Reviewers> = match &peers.identity {
        Some(remote) => Arc::new(rouge_http::peers::RemoteReviewers(remote.clone())),
        None => Arc::new(wiring::LocalReviewers(identity.clone())),
    };
    let reviews = rouge_reviews::ReviewsService::new(store.clone(), purchases, reviewers);
    let skus: Arc<dyn rouge_orders::Catalog> = match &peers.catalog {
        Some(remote) => Arc::new(rouge_http::peers::RemoteCatalog(remote.clone())),
        None => Arc::new(wiring::IndexCatalog(index.clone())),
    };
    if has(Service::Catalog) {
        let rated = reviews.ratings().await.map_err(|e| anyhow::anyhow!(e))?;
        index.apply_ratings(&rated.iter().map(|r| (r.product_id, r.count, r.sum)).collect::<Vec<_>>());
    }
    if let Some(dir) = id_opts.key_dir {
        tokio::spawn(reload_keys(identity.clone(), keys::KeyDir(dir), id_opts.access_ttl_secs, stop_rx.clone()));
    }
    // Durable consumers: each event claimed once, retried with growing pauses, parked as a
    // dead letter after the last attempt.
    let mailer = id_opts.mailer;
    let alerts = mailer.clone();
    let reminders_mailer = mailer.clone();
    let renewals_mailer = mailer.clone();
    let reminders_url = id_opts.public_url.clone();
    let webhook_opts = opts.webhooks.clone();
    let inv = opts.inventory;
    // One inventory service with the shop's stock rules, for the board and the handlers alike.
    let mut inventory = rouge_inventory::InventoryService::new(store.clone());
    inventory.expiry_window_days = inv.expiry_window_days;
    inventory.low_stock = inv.low_stock;
    inventory.reservation_ttl = chrono::Duration::seconds(inv.reservation_secs);
    // Inventory as orders reach it: here, or the inventory service's.
    let stock: Arc<dyn rouge_orders::Stock> = match &peers.inventory {
        Some(remote) => Arc::new(rouge_http::peers::RemoteStock(remote.clone())),
        None => Arc::new(wiring::InventoryStock(inventory.clone())),
    };
    // Each service's consumers run where the service does.
    let mut handlers: Vec<Arc<dyn rouge_messaging::durable::Handler>> = vec![];
    if has(Service::Identity) {
        handlers.push(Arc::new(consumers::AccountMail {
            identity: identity.clone(),
            mailer: mailer.clone(),
            public_url: id_opts.public_url.clone(),
        }));
    }
    if has(Service::Inventory) {
        let orders = match &peers.orders {
            Some(remote) => consumers::OrderFacts::Remote(remote.clone()),
            None => consumers::OrderFacts::Local(store.clone()),
        };
        handlers.push(Arc::new(consumers::StockCommit(inventory.clone(), orders)));
    }
    if has(Service::Catalog) {
        handlers.push(Arc::new(consumers::ReviewErasure(reviews.clone())));
        handlers.push(Arc::new(behaviour::Behaviour(store.clone(), recs.clone())));
    }
    if has(Service::Orders) {
        handlers.push(Arc::new(consumers::PromotionSpend(
            rouge_promotions::PromotionsService::new(store.clone()),
            store.clone(),
        )));
        handlers.push(Arc::new(replenishment::Predict {
            store: store.clone(),
            catalog: skus.clone(),
            stock: stock.clone(),
            opts: opts.replenishment.clone(),
        }));
        handlers.push(Arc::new(consumers::OrderMail {
            store: store.clone(),
            sealer: wiring::VaultSealer(identity.clone()),
            mailer,
        }));
    }
    if let Some(cdn) = opts.cdn.clone().filter(|_| has(Service::Catalog)) {
        handlers.push(Arc::new(cdn));
    }
    // Every process queues its events for webhook endpoints (queued once, whoever is first).
    handlers.push(Arc::new(webhooks::Queue(store.clone())));
    let policy = opts.delivery;
    // On a broker (AMQP_URL), the work consumers take their events from their queues there;
    // in-process, from the relay.
    let broker = opts.amqp_url.clone().map(|url| {
        let topology = work_topology(&opts.amqp_exchange, policy, opts.cdn.is_some());
        // One name per process: the publisher's lease, this replica's read-model queue.
        (url, Arc::new(topology), format!("{}-{}", std::process::id(), uuid::Uuid::now_v7().simple()))
    });
    if let Some((_, _, replica)) = &broker {
        // The publisher's place, taken (with a lease that has already run out) before anything
        // can be written: on the first start with a broker it begins at today's head, and
        // nothing written while the publisher starts is left behind it.
        let now = chrono::Utc::now().timestamp_millis();
        rouge_kernel::Relays::claim_relay(&store, rouge_messaging::amqp::RELAY, replica, now, now)
            .await
            .map_err(|e| anyhow::anyhow!(e))?;
    }
    let mut durable: Vec<rouge_messaging::Subscriber> = vec![];
    let mut tasks = vec![];
    match &broker {
        Some((url, topology, _)) => {
            for h in &handlers {
                let (url, topology) = (url.clone(), topology.clone());
                tasks.push(rouge_messaging::broker::spawn_work(
                    url,
                    topology,
                    store.clone(),
                    h.clone(),
                    stop_rx.clone(),
                ));
            }
        }
        None => {
            durable = handlers
                .iter()
                .map(|h| rouge_messaging::durable::subscriber(store.clone(), h.clone(), policy))
                .collect();
            // Events of the last day handed to the consumers again, in the background and a
            // page at a time: work a crash interrupted between a commit and its consumers gets
            // done (claimed work is skipped; the rest is idempotent), and memory does not grow
            // with the day's orders. (A broker's durable queues keep such work themselves.)
            let (store, handlers) = (store.clone(), handlers.clone());
            tokio::spawn(async move {
                let since = chrono::Utc::now() - chrono::Duration::hours(24);
                let kinds = ["EmailRequested", "order.placed", "order.cancelled"];
                let read = rouge_messaging::durable::catch_up(&store, &handlers, &kinds, since, policy, 500).await;
                tracing::info!(events = read, "caught up on the events of the last day");
            });
        }
    }
    // In-process this task is the retry; on a broker (whose delay queues bring retries back) a
    // safety net for deliveries a minute overdue.
    let overdue = if broker.is_some() { std::time::Duration::from_secs(60) } else { std::time::Duration::ZERO };
    let retries = rouge_messaging::durable::spawn_retries(store.clone(), handlers, policy, overdue, stop_rx.clone());
    // What product pages show of stock: filled now, kept current by inventory's level events.
    let board = Arc::new(rouge_http::availability::StockBoard::default());
    let levels = match (&peers.inventory, has(Service::Catalog) || has(Service::Inventory)) {
        (_, false) => None,
        (None, true) => Some(peers::Levels::Local(inventory.clone())),
        (Some(remote), true) => Some(peers::Levels::Remote(rouge_http::peers::RemoteStock(remote.clone()))),
    };
    let mut filled = false;
    if let Some(levels) = &levels {
        match levels.all().await {
            Ok(sellable) => {
                filled = true;
                board.replace_all(&sellable, inv.low_stock);
                tracing::info!(skus = sellable.len(), "storefront availability loaded");
            }
            // Inventory elsewhere and down: the shop starts; the refresher fills the board.
            Err(e) if matches!(levels, peers::Levels::Remote(_)) => {
                tracing::warn!(error = %e, "cannot read stock from the inventory service yet; will retry");
            }
            Err(e) => anyhow::bail!("reading stock: {e}"),
        }
    }
    let availability = availability_subscriber(board.clone(), levels.clone(), inv.low_stock);
    let mut subscribers = vec![search, invalidate, availability, shoppers];
    subscribers.extend(durable);
    let mut redeliver: Option<rouge_http::state::Redeliver> = None;
    let (relay, relay_task) = match &broker {
        Some((url, topology, replica)) => {
            let publisher = rouge_messaging::amqp::AmqpPublisher::new(url, &topology.exchange)
                .with_topology(topology.as_ref().clone());
            let holder = replica.clone();
            tasks.push(rouge_messaging::amqp::spawn_publisher(store.clone(), publisher, holder, stop_rx.clone()));
            let (to, shape) = (url.clone(), topology.clone());
            redeliver = Some(Arc::new(move |consumer: String, event: rouge_kernel::DomainEvent| {
                let (url, topology) = (to.clone(), shape.clone());
                tokio::spawn(async move {
                    if let Err(e) = rouge_messaging::broker::redeliver(&url, &topology, &consumer, &event).await {
                        tracing::warn!(%consumer, event = %event.id, error = %e,
                            "cannot send the replayed dead letter to the broker; the retry task will handle it");
                    }
                });
            }));
            let exchange = topology.exchange.clone();
            let url = url.clone();
            // The read models read the events storefront pages show; others only move them on.
            let wanted = rouge_http::recs::HEARD;
            let replica = replica.clone();
            rouge_messaging::broker::spawn_read_models(
                url,
                exchange,
                replica,
                store.clone(),
                head,
                wanted,
                subscribers,
                stop_rx,
            )
        }
        None => rouge_messaging::spawn(store.clone(), head, subscribers, stop_rx),
    };
    // Every commit that adds outbox events wakes the relay, whichever code path made it.
    {
        let relay = relay.clone();
        rouge_kernel::Outbox::commit_hook(&store).add(move || relay.nudge());
    }
    let limiter = match &opts.redis_url {
        Some(url) => RateLimiter::redis(url, &opts.redis_prefix).context("REDIS_URL is not a Redis URL")?,
        None => RateLimiter::local(),
    };
    let settings = opts.gateway;
    let verifier = identity.clone();
    let identify: rouge_http::gateway::Identify = Arc::new(move |token| verifier.tokens().verify(token).ok());
    let gateway = Gateway::new(settings, limiter, Some(identify));
    let mut oidc = None;
    if let Some((issuer, audience)) = &opts.oidc {
        let o = Arc::new(rouge_http::oidc::Oidc::new(issuer, audience));
        // A down issuer must not keep the shop closed: its keys are fetched again on first use.
        if let Err(e) = o.refresh().await {
            tracing::warn!(error = %e, "the OpenID Connect issuer did not answer; will retry when a token arrives");
        }
        oidc = Some(o);
    }
    let mut payments = opts.payments;
    if has(Service::Payments) && (opts.demo || opts.test_payments) && !payments.iter().any(|p| p.name() == "test") {
        tracing::warn!(
            "the `test` payment provider is live: its made-up cards place real orders; never on a shop that sells"
        );
        payments.push(Arc::new(rouge_payments::TestProvider::new()));
    }
    if let Some(s) = &opts.stripe {
        payments.push(s.clone());
    }
    // Orders pay through the providers here, or through the payments service's (the built-in
    // providers' names: that service says which of them it runs).
    let providers = match &peers.payments {
        Some(remote) => ["test", "stripe"]
            .into_iter()
            .map(|name| {
                Arc::new(rouge_http::peers::RemotePayment { remote: remote.clone(), name })
                    as Arc<dyn rouge_payments::PaymentProvider>
            })
            .collect(),
        None => payments.clone(),
    };
    let profiles: Arc<dyn rouge_promotions::Profiles> = match &peers.identity {
        Some(remote) => Arc::new(rouge_http::peers::RemoteProfiles(remote.clone())),
        None => Arc::new(wiring::LocalProfiles(identity.clone())),
    };
    let mut promotions = rouge_promotions::PromotionsService::new(store.clone()).with_profiles(profiles);
    // A catalogue apart from orders shows the offers the orders service tells.
    if let (false, Some(orders)) = (has(Service::Orders), &peers.orders) {
        promotions = promotions.with_offer_source(Arc::new(rouge_http::peers::RemoteOffers(orders.clone())));
    }
    let orders = wiring::orders(&store, skus.clone(), stock, promotions.clone(), &identity, opts.channel, providers);
    let state = AppState::new(rouge_http::state::Parts {
        catalog: rouge_catalog::CatalogService::new(store.clone()),
        sealer: Arc::new(wiring::VaultSealer(identity.clone())),
        redeliver,
        identity,
        oidc,
        gateway: Arc::new(gateway),
        cache,
        inventory,
        orders,
        promotions,
        reviews,
        idempotency_lease: std::time::Duration::from_secs(inv.idempotency_lease_secs.max(1)),
        stripe: opts.stripe,
        stock: board.clone(),
        health: Arc::default(),
        store,
        index,
        services,
        peers: rouge_http::state::Peers { identity: peers.identity.clone(), orders: peers.orders.clone() },
        skus,
        payments: if has(Service::Payments) { payments } else { vec![] },
        webhooks_allow_internal: webhook_opts.allow_internal,
        recs,
    });
    if fresh_demo {
        // Subscribers order and subscribe through the shop's own use cases.
        seed::seed_demo_subscriptions(&state).await?;
    }
    let sweeper = tokio::spawn(release_expired(
        state.store.clone(),
        has(Service::Inventory).then(|| state.inventory.clone()),
        has(Service::Orders).then(|| state.promotions.clone()),
        stop_tx.subscribe(),
    ));
    tokio::spawn(rouge_http::ops::watch_store(state.store.clone(), state.health.clone(), stop_tx.subscribe()));
    tokio::spawn(watch_backlog(state.store.clone(), relay.clone(), broker.is_some(), stop_tx.subscribe()));
    tokio::spawn(rouge_http::ops::summarise_reads(stop_tx.subscribe()));
    let alerts = webhooks::Alerts { mailer: alerts, staff: has(Service::Identity).then(|| state.identity.clone()) };
    if has(Service::Catalog) {
        tasks.push(tokio::spawn(behaviour::purge_old(
            state.store.clone(),
            opts.behaviour_retention_days,
            stop_tx.subscribe(),
        )));
        tasks.push(tokio::spawn(behaviour::train_regularly(state.clone(), opts.recs_train_every, stop_tx.subscribe())));
    }
    if has(Service::Orders) {
        tasks.push(tokio::spawn(renewals::renew_due(
            state.store.clone(),
            state.orders.clone(),
            renewals_mailer,
            opts.renewals_every,
            stop_tx.subscribe(),
        )));
        tasks.push(tokio::spawn(replenishment::send_due(
            state.store.clone(),
            state.skus.clone(),
            wiring::VaultSealer(state.identity.clone()),
            reminders_mailer,
            opts.replenishment.clone(),
            reminders_url,
            stop_tx.subscribe(),
        )));
    }
    // Signing secrets stored in the clear by an earlier version are sealed now (again: nothing).
    match rouge_http::rest::webhooks::reseal_secrets(&state.store, state.sealer.as_ref()).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(endpoints = n, "webhook signing secrets sealed"),
        Err(e) => tracing::warn!(error = %e, "webhook signing secrets not sealed yet; tried again at the next start"),
    }
    let sender = tokio::spawn(webhooks::send_due(
        state.store.clone(),
        state.sealer.clone(),
        webhook_opts,
        alerts,
        stop_tx.subscribe(),
    ));
    if let Some(levels) = levels {
        tokio::spawn(refresh_availability(board, levels, inv.low_stock, filled, stop_tx.subscribe()));
    }
    let app = rouge_http::app(state);
    tasks.extend([
        tokio::spawn(async move {
            let _ = relay_task.await;
        }),
        sweeper,
        sender,
        tokio::spawn(async move {
            let _ = retries.await;
        }),
    ]);
    Ok(Shop { app, stop: stop_tx, tasks })
}

/// The broker's queues for the server's work consumers (`opts.amqp_exchange`, `opts.delivery`).
pub fn topology(opts: &Options) -> rouge_messaging::broker::Topology {
    work_topology(&opts.amqp_exchange, opts.delivery, opts.cdn.is_some())
}

fn work_topology(
    exchange: &str,
    policy: rouge_messaging::durable::RetryPolicy,
    cdn: bool,
) -> rouge_messaging::broker::Topology {
    let mut work = consumers::WORK.to_vec();
    work.push((behaviour::NAME, behaviour::EVENTS));
    work.push((webhooks::NAME, rouge_http::rest::webhooks::event_types()));
    if cdn {
        work.push(("cdn-purge", cdn::EVENTS));
    }
    rouge_messaging::broker::Topology { exchange: exchange.to_owned(), work, policy }
}

/// Gives back the stock and promotion budgets of checkouts that ran out of time, every few
/// seconds. Replicas may all run it: a reservation or hold is released once, whoever gets
/// there first.
async fn release_expired<S: Store>(
    store: S,
    inventory: Option<rouge_inventory::InventoryService<S>>,
    promotions: Option<rouge_promotions::PromotionsService<S>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if let Some(p) = &promotions {
            match p.release_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(released = n, "expired promotion holds released"),
                Err(e) => tracing::warn!(error = %e, "cannot release expired promotion holds; will retry"),
            }
        }
        match inventory.as_ref().map(rouge_inventory::InventoryService::release_expired) {
            None => {}
            Some(released) => match released.await {
                Ok(0) => {}
                Ok(n) => {
                    metrics::counter!("rouge_reservations_expired_total").increment(n as u64);
                    tracing::info!(released = n, "expired stock reservations released");
                }
                Err(e) => tracing::warn!(error = %e, "cannot release expired stock reservations; will retry"),
            },
        }
        let now = chrono::Utc::now().timestamp_millis();
        if let Err(e) = store.purge_idempotency(now).await {
            tracing::warn!(error = %e, "cannot purge expired idempotency keys; will retry");
        }
        if let Err(e) = store.purge_done_deliveries(now - 7 * 24 * 3600 * 1000).await {
            tracing::warn!(error = %e, "cannot purge old delivery records; will retry");
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Keeps the backlog gauges current: how far events are behind (the age of the oldest event
/// not yet handed on: by the relay in process, by the publisher to the broker) and the
/// consumers' retrying and dead deliveries.
async fn watch_backlog<S: Store>(
    store: S,
    relay: rouge_messaging::RelayHandle,
    broker: bool,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let position = if broker {
            store.relay_position(rouge_messaging::amqp::RELAY).await.map(Option::unwrap_or_default)
        } else {
            Ok(relay.delivered())
        };
        let oldest = match position {
            Ok(p) => store.events_after(p, 1).await,
            Err(e) => Err(e),
        };
        let lag = match oldest {
            Ok(e) => e.first().map_or(0.0, |e| (chrono::Utc::now() - e.occurred_at).as_seconds_f64().max(0.0)),
            Err(_) => f64::NAN,
        };
        metrics::gauge!("rouge_outbox_lag_seconds").set(lag);
        if let Ok((retrying, dead)) = store.delivery_backlog().await {
            metrics::gauge!("rouge_deliveries_retrying").set(retrying as f64);
            metrics::gauge!("rouge_dead_letters").set(dead as f64);
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Reads a SKU's stock again after each of its level events (they fire exactly when its
/// storefront status changes).
fn availability_subscriber<S: Store>(
    board: Arc<rouge_http::availability::StockBoard>,
    levels: Option<peers::Levels<S>>,
    low_stock: i64,
) -> rouge_messaging::Subscriber {
    Arc::new(move |events| {
        let outs = events.iter().filter(|e| e.event_type == "inventory.stock_out").count();
        if outs > 0 {
            metrics::counter!("rouge_stock_outs_total").increment(outs as u64);
        }
        let Some(levels) = levels.clone() else { return };
        let mut skus: Vec<String> = events
            .iter()
            .filter(|e| rouge_http::availability::LEVEL_EVENTS.contains(&e.event_type.as_str()))
            .filter_map(|e| e.payload.get("sku").and_then(|s| s.as_str()).map(str::to_owned))
            .collect();
        if skus.is_empty() {
            return;
        }
        skus.sort_unstable();
        skus.dedup();
        let board = board.clone();
        tokio::spawn(async move { levels.refresh(&board, &skus, low_stock).await });
    })
}

/// Reads every SKU's sellable stock once a minute (a lot entering the expiry window leaves
/// sale without an event), and every few seconds while the board could not be filled yet.
async fn refresh_availability<S: Store>(
    board: Arc<rouge_http::availability::StockBoard>,
    levels: peers::Levels<S>,
    low_stock: i64,
    mut filled: bool,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let pause = if filled { 60 } else { 2 };
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(pause)) => {}
            _ = stop.changed() => return,
        }
        match levels.all().await {
            Ok(all) => {
                board.replace_all(&all, low_stock);
                filled = true;
            }
            Err(e) => tracing::warn!(error = %e, "cannot refresh storefront availability; will retry"),
        }
    }
}

/// Re-reads the key directory now and then, so rotated keys reach a running server.
async fn reload_keys<S: Store>(
    identity: IdentityService<S>,
    dir: keys::KeyDir,
    access_ttl_secs: i64,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(keys::reload_secs())) => {}
            _ = stop.changed() => return,
        }
        match dir.load(chrono::Utc::now().timestamp(), access_ttl_secs) {
            Ok(k) => identity.replace_keys(k),
            Err(e) => tracing::error!(error = %e, "cannot reload the key directory; keeping the keys in use"),
        }
    }
}

pub async fn build_index<S: Store>(store: &S) -> anyhow::Result<CatalogIndex> {
    let e = |e: rouge_catalog::RepoError| anyhow::anyhow!(e);
    Ok(CatalogIndex::build(
        store.products().await.map_err(e)?,
        store.brands().await.map_err(e)?,
        store.categories().await.map_err(e)?,
        store.attributes().await.map_err(e)?,
    ))
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown requested; draining in-flight requests");
}

/// The ratings `review.rating_changed` events carry: (product, count, sum).
fn rating_changes(events: &[rouge_kernel::DomainEvent]) -> Vec<(uuid::Uuid, i64, i64)> {
    events
        .iter()
        .filter(|e| e.event_type == rouge_http::surrogate::RATING_CHANGED)
        .filter_map(|e| serde_json::from_value::<rouge_reviews::RatingChanged>(e.payload.clone()).ok())
        .map(|r| (r.product_id, r.count, r.sum))
        .collect()
}
