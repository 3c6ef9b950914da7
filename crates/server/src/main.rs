//! `rouge`: the commerce backend for beauty retailers. Reads settings and wires; the work is
//! in the library crates.

use axum::http::HeaderValue;
use clap::{Parser, Subcommand};
use rouge_http::Store;
use rouge_http::gateway::{GatewaySettings, Quota};
use rouge_identity::HashCost;
use rouge_messaging::Mailer;
use rouge_server::{
    DEFAULT_DATABASE_URL, IdentityOptions, Migrations, Options, StoreFn, launch, shutdown_signal, with_store,
    with_store_migrated,
};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "rouge", version, about = "Commerce backend for niche beauty retailers", long_about = None)]
struct Cli {
    /// Database URL: sqlite://path/to/file.db (embedded default) or postgres://user@host/db.
    #[arg(long, env = "DATABASE_URL", global = true, default_value = DEFAULT_DATABASE_URL)]
    database_url: String,
    /// Directory of the master, blind-index and token-signing keys; missing keys are created.
    #[arg(long, env = "ROUGE_KEY_DIR", global = true, default_value = "rouge-data/keys")]
    key_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API (migrations run first).
    Serve {
        /// Address to listen on.
        #[arg(long, env = "ROUGE_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Load the demo catalogue if the store has no products.
        #[arg(long)]
        demo: bool,
        /// Address for Prometheus' `/metrics` (a separate listener: never on the API's port);
        /// `off` for none.
        #[arg(long, env = "ROUGE_METRICS_LISTEN", default_value = "127.0.0.1:9464")]
        metrics_listen: String,
        /// The services this process runs, comma-separated (catalog, inventory, orders,
        /// identity, payments), or `all`. The others are called over HTTP where
        /// ROUGE_<SERVICE>_URL (or ROUGE_PEERS_URL, for all of them) says they answer.
        #[arg(long, env = "ROUGE_SERVICES", default_value = "all")]
        services: String,
        #[command(flatten)]
        gateway: GatewayArgs,
        #[command(flatten)]
        identity: IdentityArgs,
    },
    /// Staff administration.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Orders.
    Orders {
        #[command(subcommand)]
        action: OrdersAction,
    },
    /// Recommendations: the offline evaluation of the recommenders.
    Recs {
        #[command(subcommand)]
        action: RecsAction,
    },
    /// Rotate keys without downtime (running servers reload the key directory).
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Apply database migrations and exit.
    Migrate {
        /// Only these services' migrations (and the shared schemas'), and on PostgreSQL their
        /// roles (`rouge_<schema>`), granted their own schema and the shared ones only.
        #[arg(long, env = "ROUGE_SERVICES")]
        services: Option<String>,
    },
    /// Load data into the store.
    Seed {
        /// Load the demo catalogue (deterministic, from data/demo.json).
        #[arg(long, required = true)]
        demo: bool,
        /// How many demo products to generate.
        #[arg(long, default_value_t = 320)]
        count: usize,
    },
    /// Measure throughput, latency and memory on 127.0.0.1 (use a release build).
    Bench {
        #[command(subcommand)]
        scenario: BenchScenario,
    },
    /// Back up the store and the key directory (sealed under a passphrase) into a new
    /// directory, with a manifest of sizes and checksums; the shop keeps serving.
    Backup {
        /// A new (or empty) directory for the backup.
        dir: PathBuf,
        #[command(flatten)]
        passphrase: PassphraseArgs,
    },
    /// Restore a backup into an empty store and an empty key directory, then verify it
    /// (row counts, the audit chain, orders replayed from their events).
    Restore {
        /// The backup's directory.
        dir: PathBuf,
        #[command(flatten)]
        passphrase: PassphraseArgs,
    },
    /// Rehearse a recovery on a scratch shop and print what it measured.
    Drill {
        #[command(subcommand)]
        drill: DrillKind,
    },
    /// Exit 0 when the server on this machine answers `/healthz` (a container's health check;
    /// the runtime image has no curl).
    Healthcheck {
        /// What to ask.
        #[arg(long, default_value = "http://127.0.0.1:8080/healthz")]
        url: String,
    },
    /// Bulk-load products from a .csv or .json file; bad rows are reported, not fatal.
    Import {
        /// The file to load (see docs/import.md for the formats).
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum AdminAction {
    /// Create an owner (every permission): the first staff account of a new shop. The
    /// password is read from ROUGE_OWNER_PASSWORD, or from the first line of standard input.
    CreateOwner {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum DrillKind {
    /// Backup → destroy → restore → verify: prints RTO (seconds until serving again) and RPO
    /// (acknowledged orders missing).
    Restore(rouge_server::drill::RestoreDrill),
    /// Checkouts without pause on DATABASE_URL while the database fails over
    /// (`scripts/failover-drill.sh` does the failing); prints how long checkouts failed and
    /// the acknowledged orders missing afterwards.
    Failover(rouge_server::drill::FailoverDrill),
}

/// The passphrase sealing the key directory in a backup: from a file, or the environment
/// (never an argument, which other users of the machine can read).
#[derive(clap::Args)]
struct PassphraseArgs {
    /// A file holding the passphrase (its first line); else `ROUGE_BACKUP_PASSPHRASE`.
    #[arg(long, env = "ROUGE_BACKUP_PASSPHRASE_FILE")]
    passphrase_file: Option<PathBuf>,
}

impl PassphraseArgs {
    fn read(&self) -> anyhow::Result<String> {
        use anyhow::Context as _;
        match &self.passphrase_file {
            Some(f) => {
                let text = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
                Ok(text.lines().next().unwrap_or_default().to_owned())
            }
            None => std::env::var("ROUGE_BACKUP_PASSPHRASE")
                .context("set ROUGE_BACKUP_PASSPHRASE or --passphrase-file: backups seal the keys under it"),
        }
    }
}

#[derive(Subcommand)]
enum OrdersAction {
    /// Rebuild every order's projection from its events; prints how many differed.
    Rebuild,
}

#[derive(Subcommand)]
enum AuditAction {
    /// Check the hash chain: exits 0 when every entry is intact, 1 naming the first entry that
    /// was edited or deleted (or entries missing at the end).
    Verify,
}

#[derive(Subcommand)]
enum RecsAction {
    /// Replay the offline evaluation protocol on MovieLens 100K: the split's digest (must
    /// match), each model's validation and test figures with standard errors, and their times.
    Eval {
        /// The `ml-100k.inter` file (it ships in the PyPI package recbole==1.2.1, installed
        /// with `--no-deps`: `recbole/dataset_example/ml-100k/ml-100k.inter`).
        #[arg(long)]
        movielens: PathBuf,
        /// Where to write the JSON report.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Train a running shop's recommendations now (each catalogue process also trains on its
    /// schedule, ROUGE_RECS_TRAIN_SECS) and wait for what it made: events read, shoppers with
    /// a list, the model, time taken.
    Train {
        /// The shop's base URL (a catalogue process, or the gateway in front of them).
        #[arg(long, env = "ROUGE_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        /// A staff token or API key with catalog:write and catalog:read.
        #[arg(long, env = "ROUGE_API_KEY", hide_env_values = true)]
        api_key: String,
        /// Give up waiting after this many seconds (the training goes on).
        #[arg(long, default_value_t = 1800)]
        timeout: u64,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Create the directory's missing keys (master, blind index, token signing) and exit,
    /// without a store: for a new shop whose replicas are all handed this one directory (a
    /// Kubernetes Secret, a shared volume). Never replaces a key.
    Init,
    /// Add a master key, wait until every server has loaded it, then re-wrap every
    /// customer's data key under it. The old master key file can be deleted afterwards.
    Rotate,
    /// Add a token-signing key; servers sign with it after a minute and keep verifying
    /// tokens signed by the old one (delete its file once they have expired).
    RotateSigning,
}

/// Customer accounts: keys, password hashing cost, email.
#[derive(clap::Args)]
struct IdentityArgs {
    /// SMTP server for account emails, e.g. smtps://user:pass@mail.example.com; without it
    /// emails are written to the log (development).
    #[arg(long, env = "ROUGE_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// Sender of account emails.
    #[arg(long, env = "ROUGE_MAIL_FROM", default_value = "Rouge <no-reply@localhost>")]
    mail_from: String,
    /// Base URL of the shop front that email links point to.
    #[arg(long, env = "ROUGE_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    public_url: String,
    /// argon2id memory cost in KiB.
    #[arg(long, env = "ROUGE_ARGON2_MEMORY_KIB", default_value_t = 9 * 1024)]
    argon2_memory_kib: u32,
    /// argon2id passes.
    #[arg(long, env = "ROUGE_ARGON2_ITERATIONS", default_value_t = 4)]
    argon2_iterations: u32,
    /// Lifetime of access tokens, in seconds.
    #[arg(long, env = "ROUGE_ACCESS_TOKEN_TTL", default_value_t = 900)]
    access_token_ttl: i64,
}

impl IdentityArgs {
    fn into_options(self, key_dir: &std::path::Path) -> anyhow::Result<IdentityOptions> {
        let dir = rouge_server::keys::KeyDir(key_dir.to_path_buf());
        dir.ensure()?;
        let ttl = self.access_token_ttl.clamp(60, 86_400);
        let mailer = match self.smtp_url.filter(|u| !u.is_empty()) {
            Some(url) => Mailer::smtp(&url, &self.mail_from).map_err(|e| anyhow::anyhow!("--smtp-url: {e}"))?,
            None => {
                tracing::warn!("no ROUGE_SMTP_URL: account emails are written to the log, not sent");
                Mailer::Log
            }
        };
        Ok(IdentityOptions {
            keys: dir.load(chrono::Utc::now().timestamp(), ttl)?,
            key_dir: Some(key_dir.to_path_buf()),
            hash_cost: HashCost { memory_kib: self.argon2_memory_kib, iterations: self.argon2_iterations, lanes: 1 },
            access_ttl_secs: ttl,
            mailer,
            public_url: self.public_url.trim_end_matches('/').to_owned(),
            ..IdentityOptions::default()
        })
    }
}

#[derive(Subcommand)]
enum BenchScenario {
    /// A replica starting on a PostgreSQL shop of N products, without Redis and with a Redis
    /// another replica warmed: time to ready, and its first listing pages.
    ColdStart(rouge_server::bench_coldstart::ColdStartBench),
    /// Latency from an event's commit to a work consumer having handled it, in process or
    /// through RabbitMQ (with AMQP_URL), on a fresh store.
    Events(rouge_server::bench_events::EventsBench),
    /// Load N demo products into a fresh SQLite store and drive the storefront API.
    Catalog {
        #[arg(long, default_value_t = 10_000)]
        products: usize,
        /// Concurrent keep-alive connections.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Seconds per scenario.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// With live automatic offers (the demo's promotions and two percentages off).
        #[arg(long)]
        offers: bool,
    },
    /// A server's memory at start after a busy day (N orders of the last day to catch up on)
    /// against a fresh store's.
    CatchUp {
        #[arg(long, default_value_t = 20_000)]
        orders: usize,
        /// Seconds to run the server before reading its peak memory.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// The full checkout flow from concurrent clients, then a flash sale, on a fresh store.
    Checkout(rouge_server::bench_checkout::CheckoutBench),
    /// Recommendations at size: N products, M customers' behaviour, training, then "for you"
    /// from concurrent logged-in clients.
    Recs(rouge_server::bench_recs::RecsBench),
}

/// The gateway layer's settings.
#[derive(clap::Args)]
struct GatewayArgs {
    /// Reads per client: RATE/min or RATE/s, optionally ,burst=N; `off` for none.
    #[arg(long, env = "ROUGE_RATE_LIMIT_READ", default_value = "1200/min,burst=200")]
    rate_limit_read: String,
    /// Writes per client, as above.
    #[arg(long, env = "ROUGE_RATE_LIMIT_WRITE", default_value = "120/min,burst=30")]
    rate_limit_write: String,
    /// Account routes (register, log in, refresh, password reset) per client, as above.
    #[arg(long, env = "ROUGE_RATE_LIMIT_AUTH", default_value = "30/min,burst=10")]
    rate_limit_auth: String,
    /// Redis for rate-limit budgets shared by every replica; in-process when absent.
    #[arg(long, env = "REDIS_URL")]
    redis_url: Option<String>,
    /// Prefix of the Redis keys this deployment writes.
    #[arg(long, env = "ROUGE_REDIS_PREFIX", default_value = "rouge")]
    redis_prefix: String,
    /// RabbitMQ to publish every domain event to (`amqp://user:pass@host:5672/%2f`); events
    /// stay in-process when absent.
    #[arg(long, env = "AMQP_URL", hide_env_values = true)]
    amqp_url: Option<String>,
    /// The topic exchange events are published to (routing key: the event type).
    #[arg(long, env = "ROUGE_AMQP_EXCHANGE", default_value = "rouge.events")]
    amqp_exchange: String,
    /// A CDN's purge endpoint: each committed change a storefront page shows purges the pages'
    /// surrogate keys it touched (e.g. https://api.fastly.com/service/<id>/purge or
    /// https://api.cloudflare.com/client/v4/zones/<zone>/purge_cache); no purges when absent.
    #[arg(long, env = "ROUGE_CDN_PURGE_URL")]
    cdn_purge_url: Option<String>,
    /// Which request shape the purge endpoint speaks.
    #[arg(long, env = "ROUGE_CDN_PROVIDER", value_enum, default_value = "fastly")]
    cdn_provider: rouge_server::cdn::Provider,
    /// The purge API token (Fastly-Key, or Cloudflare's bearer token).
    #[arg(long, env = "ROUGE_CDN_PURGE_TOKEN", hide_env_values = true)]
    cdn_purge_token: Option<String>,
    /// Load balancers and proxies in front of Rouge, as CIDRs or addresses, comma-separated
    /// (e.g. 10.0.0.0/8,192.0.2.10). Only for peers inside them is the client taken from
    /// Forwarded / X-Forwarded-For; never otherwise.
    #[arg(long, env = "ROUGE_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<String>,
    /// Origins allowed to call the API from browsers, comma-separated.
    #[arg(long, env = "ROUGE_CORS_ORIGINS", value_delimiter = ',')]
    cors_origins: Vec<String>,
    /// PEM certificate chain: with --tls-key, serve HTTPS (and send HSTS).
    #[arg(long, env = "ROUGE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of the certificate.
    #[arg(long, env = "ROUGE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// An external OpenID Connect issuer (e.g. https://login.example.com/realms/shop) whose
    /// access tokens are accepted; staff and customers are matched by verified email.
    #[arg(long, env = "ROUGE_OIDC_ISSUER", requires = "oidc_audience")]
    oidc_issuer: Option<String>,
    /// The audience those tokens must carry.
    #[arg(long, env = "ROUGE_OIDC_AUDIENCE")]
    oidc_audience: Option<String>,
    /// Leave the gateway layer out (rate limits, header limit, time-out, CORS, security
    /// headers). Only for measuring what it costs; never in production.
    #[arg(long, env = "ROUGE_NO_GATEWAY", hide = true)]
    no_gateway: bool,
    /// Seconds a request may take before it is answered with 408.
    #[arg(long, env = "ROUGE_REQUEST_TIMEOUT", default_value_t = 30)]
    request_timeout: u64,
    /// Lots expiring within this many days are not sold.
    #[arg(long, env = "ROUGE_EXPIRY_WINDOW_DAYS", default_value_t = 30, value_parser = clap::value_parser!(i64).range(0..=3650))]
    expiry_window_days: i64,
    /// Sellable stock at or below this emits `inventory.stock_low` and shows as low on the storefront.
    #[arg(long, env = "ROUGE_LOW_STOCK", default_value_t = 5, value_parser = clap::value_parser!(i64).range(0..=1_000_000))]
    low_stock: i64,
    /// Seconds a checkout holds its stock before it is released.
    #[arg(long, env = "ROUGE_RESERVATION_SECS", default_value_t = 900, value_parser = clap::value_parser!(i64).range(10..=86_400))]
    reservation_secs: i64,
    /// Seconds after which a request holding an idempotency key without answering is presumed
    /// dead (its server crashed) and a retry with the key may run.
    #[arg(long, env = "ROUGE_IDEMPOTENCY_LEASE_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    idempotency_lease_secs: u64,
    /// Attempts an event consumer makes (the first included) before parking the event as a
    /// dead letter.
    #[arg(long, env = "ROUGE_DELIVERY_ATTEMPTS", default_value_t = 5, value_parser = clap::value_parser!(i32).range(1..=50))]
    delivery_attempts: i32,
    /// Pause after a consumer's first failure, in milliseconds; doubled after each further one.
    #[arg(long, env = "ROUGE_DELIVERY_BACKOFF_MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    delivery_backoff_ms: u64,
    /// Stripe's secret API key (`sk_live_…` or `sk_test_…`): enables the `stripe` provider.
    #[arg(long, env = "STRIPE_SECRET_KEY", hide_env_values = true)]
    stripe_secret_key: Option<String>,
    /// The signing secret of the Stripe webhook endpoint (`whsec_…`).
    #[arg(long, env = "STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    stripe_webhook_secret: Option<String>,
    /// Another Stripe API base (a local stand-in for tests).
    #[arg(long, env = "STRIPE_API_BASE", hide = true)]
    stripe_api_base: Option<String>,
    /// Accept the built-in `test` payment provider's made-up cards (`tok_visa`, …). Off unless
    /// asked for (`--demo` turns it on): on a live shop they would be free orders.
    #[arg(long, env = "ROUGE_TEST_PAYMENTS", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    test_payments: bool,
    /// Accept webhook endpoints in private, loopback or link-local ranges (tests only: a live
    /// shop must not be made to call into its own network).
    #[arg(long, env = "ROUGE_WEBHOOKS_ALLOW_INTERNAL", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    webhooks_allow_internal: bool,
    /// Who is emailed when a webhook endpoint is disabled after repeated failure.
    #[arg(long, env = "ROUGE_WEBHOOKS_ALERTS_TO")]
    webhooks_alerts_to: Option<String>,
    /// Days before a customer is predicted to run out that her replenishment reminder goes.
    #[arg(long, env = "ROUGE_REPLENISH_DAYS_BEFORE", default_value_t = 7, value_parser = clap::value_parser!(i64).range(0..=60))]
    replenish_days_before: i64,
    /// Days the recommendations keep behaviour events (views, searches, cart changes,
    /// purchases); older ones are purged daily.
    #[arg(long, env = "ROUGE_BEHAVIOUR_RETENTION_DAYS", default_value_t = 365, value_parser = clap::value_parser!(i64).range(1..=3650))]
    behaviour_retention_days: i64,
    /// Seconds between trainings of the recommendations in each catalogue process (the first
    /// at start).
    #[arg(long, env = "ROUGE_RECS_TRAIN_SECS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(10..=604_800))]
    recs_train_secs: u64,
    /// A JSON file with the channel's currency, tax rates and shipping methods (see the
    /// README); an EU channel (EUR, VAT included) when absent.
    #[arg(long, env = "ROUGE_CHANNEL_FILE")]
    channel_file: Option<PathBuf>,
}

fn quota(flag: &str, value: &str) -> anyhow::Result<Option<Quota>> {
    if value == "off" {
        return Ok(None);
    }
    Quota::parse(value).map(Some).map_err(|e| anyhow::anyhow!("--{flag}: {e}"))
}

impl GatewayArgs {
    fn into_options(self, demo: bool, identity: IdentityOptions) -> anyhow::Result<Options> {
        let mut cors = vec![];
        for origin in self.cors_origins.iter().map(|o| o.trim()).filter(|o| !o.is_empty()) {
            cors.push(
                HeaderValue::from_str(origin)
                    .map_err(|_| anyhow::anyhow!("--cors-origins: `{origin}` is not a valid origin"))?,
            );
        }
        let mut trusted_proxies = vec![];
        for p in self.trusted_proxies.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
            let net = p
                .parse::<ipnet::IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| anyhow::anyhow!("--trusted-proxies: `{p}` is not an address or CIDR (e.g. 10.0.0.0/8)"))?;
            trusted_proxies.push(net);
        }
        Ok(Options {
            identity,
            demo,
            gateway: GatewaySettings {
                read: quota("rate-limit-read", &self.rate_limit_read)?,
                write: quota("rate-limit-write", &self.rate_limit_write)?,
                auth: quota("rate-limit-auth", &self.rate_limit_auth)?,
                cors_origins: cors,
                request_timeout: std::time::Duration::from_secs(self.request_timeout.max(1)),
                enabled: !self.no_gateway,
                trusted_proxies,
                ..GatewaySettings::default()
            },
            tls: match (&self.tls_cert, &self.tls_key) {
                (Some(cert), Some(key)) => Some(rouge_server::tls::acceptor(cert, key)?),
                _ => None,
            },
            oidc: self.oidc_issuer.filter(|i| !i.is_empty()).zip(self.oidc_audience),
            redis_url: self.redis_url.filter(|u| !u.is_empty()),
            redis_prefix: self.redis_prefix,
            amqp_url: self.amqp_url.filter(|u| !u.is_empty()),
            amqp_exchange: self.amqp_exchange,
            cdn: match self.cdn_purge_url.filter(|u| !u.is_empty()) {
                Some(url) => Some(
                    rouge_server::cdn::Cdn::new(
                        self.cdn_provider,
                        &url,
                        self.cdn_purge_token.filter(|t| !t.is_empty()),
                    )
                    .map_err(|e| anyhow::anyhow!("CDN purge: {e}"))?,
                ),
                None => None,
            },
            channel: match &self.channel_file {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| anyhow::anyhow!("--channel-file: cannot read {}: {e}", path.display()))?;
                    let channel: rouge_orders::Channel = serde_json::from_str(&text)
                        .map_err(|e| anyhow::anyhow!("--channel-file: {} is not a channel: {e}", path.display()))?;
                    rouge_kernel::Currency::parse(&channel.currency)
                        .map_err(|e| anyhow::anyhow!("--channel-file: currency: {e}"))?;
                    channel
                }
                None => rouge_orders::Channel::default(),
            },
            payments: vec![],
            test_payments: self.test_payments,
            metrics: None,
            stripe: match self.stripe_secret_key.filter(|k| !k.is_empty()) {
                Some(key) => Some(std::sync::Arc::new(
                    rouge_payments::StripeProvider::new(
                        &key,
                        self.stripe_webhook_secret.filter(|s| !s.is_empty()),
                        self.stripe_api_base.as_deref(),
                    )
                    .map_err(|e| anyhow::anyhow!("Stripe: {e}"))?,
                )),
                None => None,
            },
            delivery: rouge_messaging::durable::RetryPolicy {
                max_attempts: self.delivery_attempts,
                backoff: std::time::Duration::from_millis(self.delivery_backoff_ms),
            },
            inventory: rouge_server::InventoryOptions {
                expiry_window_days: self.expiry_window_days,
                low_stock: self.low_stock,
                reservation_secs: self.reservation_secs,
                idempotency_lease_secs: self.idempotency_lease_secs,
            },
            webhooks: rouge_server::webhooks::WebhookOptions {
                allow_internal: self.webhooks_allow_internal,
                alerts_to: self.webhooks_alerts_to.filter(|a| !a.is_empty()),
                ..Default::default()
            },
            renewals_every: std::time::Duration::from_secs(60),
            behaviour_retention_days: self.behaviour_retention_days,
            recs_train_every: std::time::Duration::from_secs(self.recs_train_secs),
            replenishment: rouge_server::replenishment::ReplenishmentOptions {
                days_before: self.replenish_days_before,
                ..Default::default()
            },
            // Set by `serve` from --services and the environment.
            services: rouge_http::services::Services::all(),
            peer_urls: vec![],
            peer_policy: rouge_http::remote::Policy::default(),
        })
    }
}

struct Serve {
    listen: String,
    services: rouge_http::services::Services,
    demo: bool,
    metrics_listen: String,
    gateway: GatewayArgs,
    identity: IdentityArgs,
    key_dir: PathBuf,
}

impl StoreFn<()> for Serve {
    async fn call<S: Store>(self, store: S) -> anyhow::Result<()> {
        // A database restored without its key directory must not be served with new keys.
        let dir = rouge_server::keys::KeyDir(self.key_dir.clone());
        let sealed = rouge_server::keys::sealed(&store, self.services).await?;
        let missing = dir.missing();
        // Services apart share one key directory: one that lacks keys is a mistake, not a
        // first run (each process would make its own keys).
        anyhow::ensure!(
            self.services.is_all() || missing.is_empty(),
            "the key directory {} has no {}: services run apart share one key directory; create it once with              `rouge keys init` and give every service the same one",
            self.key_dir.display(),
            missing.join(" and no ")
        );
        rouge_server::keys::check_before_creating(&sealed, &dir, &missing)?;
        let mut opts = self.gateway.into_options(self.demo, self.identity.into_options(&self.key_dir)?)?;
        opts.services = self.services;
        opts.peer_urls = rouge_server::peers::urls_from_env(self.services);
        rouge_server::keys::check_masters(&sealed, &dir, &opts.identity.keys.vault)?;
        if self.metrics_listen != "off" {
            let l = tokio::net::TcpListener::bind(&self.metrics_listen)
                .await
                .map_err(|e| anyhow::anyhow!("--metrics-listen: cannot listen on {}: {e}", self.metrics_listen))?;
            opts.metrics = Some(l);
        }
        let listener = tokio::net::TcpListener::bind(&self.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", self.listen))?;
        launch(store, opts, listener, shutdown_signal()).await
    }
}

struct RotateKeys {
    action: KeysAction,
    dir: PathBuf,
}

impl StoreFn<()> for RotateKeys {
    async fn call<S: Store>(self, store: S) -> anyhow::Result<()> {
        let dir = rouge_server::keys::KeyDir(self.dir);
        dir.ensure()?;
        let now = chrono::Utc::now().timestamp();
        match self.action {
            KeysAction::RotateSigning => {
                let id = dir.add_jwt(now)?;
                println!(
                    "added token-signing key {id}; servers sign with it from {} s from now",
                    rouge_server::keys::publish_secs()
                );
            }
            KeysAction::Rotate => {
                let id = dir.add_master(now)?;
                let wait = rouge_server::keys::publish_secs();
                println!("added master key {id}; waiting {wait} s until every server has loaded it…");
                tokio::time::sleep(std::time::Duration::from_secs(wait as u64)).await;
                let keys = dir.load(chrono::Utc::now().timestamp(), 900)?;
                anyhow::ensure!(keys.vault.current_master() == id, "the new master key {id} is not the current one");
                // Rotation hashes no password: the cheapest cost will do.
                let hasher = rouge_identity::PasswordHasher::new(HashCost::TEST).map_err(|e| anyhow::anyhow!(e))?;
                let svc = rouge_identity::IdentityService::new(
                    store.clone(),
                    keys.vault,
                    hasher,
                    keys.tokens,
                    Default::default(),
                );
                let n = svc.rotate_keys().await.map_err(|e| anyhow::anyhow!(e))?;
                let sealer = rouge_server::wiring::VaultSealer(svc);
                let m =
                    rouge_orders::service::rewrap_keys(&store, &sealer, &id).await.map_err(|e| anyhow::anyhow!(e))?;
                let a = rouge_http::idempotency::rewrap(&store, &sealer).await.map_err(|e| anyhow::anyhow!(e))?;
                let w = rouge_http::rest::webhooks::reseal_secrets(&store, &sealer)
                    .await
                    .map_err(|e| anyhow::anyhow!(e))?;
                println!(
                    "re-wrapped {n} customer data keys, {m} cart and order keys, {a} stored answers and {w} webhook endpoints' secrets under {id}; older master-*.key files can now be removed"
                );
            }
            // Handled without a store.
            KeysAction::Init => {}
        }
        Ok(())
    }
}

struct CreateOwner {
    email: String,
    name: String,
    password: String,
    dir: PathBuf,
}

impl StoreFn<()> for CreateOwner {
    async fn call<S: Store>(self, store: S) -> anyhow::Result<()> {
        let dir = rouge_server::keys::KeyDir(self.dir);
        dir.ensure()?;
        let keys = dir.load(chrono::Utc::now().timestamp(), 900)?;
        let hasher = rouge_identity::PasswordHasher::new(HashCost::DEFAULT).map_err(|e| anyhow::anyhow!(e))?;
        let svc = rouge_identity::IdentityService::new(store, keys.vault, hasher, keys.tokens, Default::default());
        match svc.create_owner(&self.email, &self.name, &self.password).await {
            Ok(owner) => {
                println!(
                    "created owner {} <{}> ({}); log in at POST /v1/admin/auth/login",
                    owner.name, owner.email, owner.id
                );
                Ok(())
            }
            Err(rouge_identity::IdentityError::Invalid(fields)) => {
                for f in &fields {
                    eprintln!("{}: {}", f.field, f.message);
                }
                anyhow::bail!("the owner was not created")
            }
            Err(e) => Err(anyhow::anyhow!(e)),
        }
    }
}

struct VerifyAudit;

impl StoreFn<()> for VerifyAudit {
    async fn call<S: Store>(self, store: S) -> anyhow::Result<()> {
        let (entries, head) = store.audit_chain().await.map_err(|e| anyhow::anyhow!(e))?;
        match rouge_identity::audit::verify(&entries, head) {
            Ok(n) => {
                println!("audit trail intact: {n} entries");
                Ok(())
            }
            Err(e) => {
                eprintln!("audit trail BROKEN: {e}");
                std::process::exit(1);
            }
        }
    }
}

struct RebuildOrders;

impl StoreFn<()> for RebuildOrders {
    async fn call<S: Store>(self, store: S) -> anyhow::Result<()> {
        let total = rouge_orders::OrdersRepository::order_ids(&store).await.map_err(|e| anyhow::anyhow!(e))?.len();
        let changed = rouge_orders::service::rebuild(&store).await.map_err(|e| anyhow::anyhow!(e))?;
        println!("orders rebuilt from their events: {total} orders, {changed} projections differed and were replaced");
        Ok(())
    }
}

struct Migrate;

impl StoreFn<()> for Migrate {
    async fn call<S: Store>(self, _: S) -> anyhow::Result<()> {
        tracing::info!("migrations are up to date");
        Ok(())
    }
}

fn services(list: &str) -> anyhow::Result<rouge_http::services::Services> {
    rouge_http::services::Services::parse(list).map_err(|e| anyhow::anyhow!("--services: {e}"))
}

struct Seed(usize);

impl StoreFn<()> for Seed {
    async fn call<S: Store>(self, store: S) -> anyhow::Result<()> {
        let n = rouge_server::seed::seed_demo(&store, self.0).await?;
        let lots = rouge_server::seed::seed_demo_stock(&store, self.0).await?;
        let promotions = rouge_server::seed::seed_demo_promotions(&store).await?;
        println!("seeded {n} demo products, {lots} lots of demo stock and {promotions} promotions");
        Ok(())
    }
}

struct Import(PathBuf);

impl StoreFn<()> for Import {
    async fn call<S: Store>(self, store: S) -> anyhow::Result<()> {
        let rows = rouge_server::import::read_rows(&self.0)?;
        let total = rows.len();
        let summary = rouge_server::import::import(&store, rows).await;
        println!("imported {} of {total} rows; {} rejected", summary.imported, summary.rejected.len());
        for (row, reason) in &summary.rejected {
            println!("  row {row}: {reason}");
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Lines go to stderr from a writer thread: a request never waits on the terminal or pipe
    // (under a flood, lines beyond the buffer are dropped, not the requests). The buffer holds
    // 8,192 lines (the library's default is 128,000: up to tens of MB held when the terminal
    // is slow). The guard flushes what is left when main returns.
    let (writer, _flush) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(8_192)
        .finish(std::io::stderr());
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| "info,sqlx=warn".into());
    // Traces over OTLP when an endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT; the SDK's other
    // OTEL_* variables apply): spans of requests, use cases, store calls and consumers.
    let traces = std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").map(|_| otlp_traces()).transpose()?;
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().json().with_writer(writer))
        .with(traces.as_ref().map(|(_, tracer)| tracing_opentelemetry::layer().with_tracer(tracer.clone())))
        .with(filter)
        .init();
    if traces.is_some() {
        rouge_kernel::otel::enable();
    }
    let cli = Cli::parse();
    let url = cli.database_url;
    let outcome = match cli.command {
        Command::Serve { listen, demo, metrics_listen, services: list, gateway, identity } => {
            let services = services(&list)?;
            // A service apart connects as its own role, which may not migrate: its schema is
            // migrated before it starts (`rouge migrate --services`, the deploy's job).
            let migrations = if services.is_all() { Migrations::All } else { Migrations::None };
            let serve = Serve { listen, services, demo, metrics_listen, gateway, identity, key_dir: cli.key_dir };
            with_store_migrated(&url, migrations, serve).await
        }
        Command::Admin { action: AdminAction::CreateOwner { email, name } } => {
            let password = match std::env::var("ROUGE_OWNER_PASSWORD") {
                Ok(p) if !p.is_empty() => p,
                _ => {
                    eprintln!("password for {email} (then Enter):");
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            with_store(&url, CreateOwner { email, name, password, dir: cli.key_dir }).await
        }
        Command::Audit { action: AuditAction::Verify } => with_store(&url, VerifyAudit).await,
        Command::Orders { action: OrdersAction::Rebuild } => with_store(&url, RebuildOrders).await,
        Command::Keys { action: KeysAction::Init } => {
            let dir = rouge_server::keys::KeyDir(cli.key_dir.clone());
            dir.ensure()?;
            let mut names: Vec<String> = std::fs::read_dir(&cli.key_dir)?
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            println!("{}: {}", cli.key_dir.display(), names.join(", "));
            Ok(())
        }
        Command::Keys { action } => with_store(&url, RotateKeys { action, dir: cli.key_dir }).await,
        Command::Recs { action: RecsAction::Eval { movielens, report } } => {
            rouge_server::recs::eval(&movielens, report.as_deref())
        }
        Command::Recs { action: RecsAction::Train { url, api_key, timeout } } => {
            rouge_server::recs::train(&url, &api_key, std::time::Duration::from_secs(timeout)).await
        }
        Command::Healthcheck { url } => {
            let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(3)).build()?;
            let status = client.get(&url).send().await?.status();
            anyhow::ensure!(status.is_success(), "{url} answered {status}");
            Ok(())
        }
        Command::Migrate { services: None } => with_store(&url, Migrate).await,
        Command::Migrate { services: Some(list) } => {
            with_store_migrated(&url, Migrations::Of(services(&list)?), Migrate).await
        }
        Command::Backup { dir, passphrase } => {
            rouge_server::backup::backup(&url, &cli.key_dir, &dir, &passphrase.read()?).await.map(|_| ())
        }
        Command::Restore { dir, passphrase } => {
            rouge_server::backup::restore(&dir, &url, &cli.key_dir, &passphrase.read()?).await.map(|_| ())
        }
        Command::Drill { drill: DrillKind::Restore(opts) } => {
            rouge_server::drill::restore_drill(opts).await.map(|_| ())
        }
        Command::Drill { drill: DrillKind::Failover(opts) } => {
            rouge_server::drill::failover_drill(&url, opts).await.map(|_| ())
        }
        Command::Seed { count, .. } => with_store(&url, Seed(count)).await,
        Command::Import { file } => with_store(&url, Import(file)).await,
        Command::Bench { scenario: BenchScenario::Events(mut opts) } => {
            opts.amqp_url = opts.amqp_url.filter(|u| !u.is_empty());
            rouge_server::bench_events::events(opts).await
        }
        Command::Bench { scenario: BenchScenario::ColdStart(opts) } => {
            rouge_server::bench_coldstart::cold_start(opts).await
        }
        Command::Bench { scenario: BenchScenario::CatchUp { orders, seconds } } => {
            rouge_server::bench_catchup::catch_up(rouge_server::bench_catchup::CatchUpBench { orders, seconds }).await
        }
        Command::Bench { scenario: BenchScenario::Catalog { products, connections, seconds, offers } } => {
            let opts = rouge_server::bench::BenchOptions { products, connections, seconds, offers };
            rouge_server::bench::catalog(opts).await
        }
        Command::Bench { scenario: BenchScenario::Checkout(opts) } => {
            rouge_server::bench_checkout::checkout(opts).await
        }
        Command::Bench { scenario: BenchScenario::Recs(opts) } => rouge_server::bench_recs::recs(opts).await,
    };
    if let Some((provider, _)) = traces {
        // What is still buffered goes out before the process ends.
        let _ = provider.shutdown();
    }
    outcome
}

/// The OTLP/HTTP (JSON) exporter of spans, batched off the request path, and W3C trace
/// context as the propagator; the service is named by `OTEL_SERVICE_NAME` (default `rouge`).
fn otlp_traces() -> anyhow::Result<(opentelemetry_sdk::trace::SdkTracerProvider, opentelemetry_sdk::trace::Tracer)> {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::WithExportConfig as _;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpJson)
        .build()?;
    let name = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "rouge".into());
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(opentelemetry_sdk::Resource::builder().with_service_name(name).build())
        .build();
    opentelemetry::global::set_text_map_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
    let tracer = provider.tracer("rouge");
    Ok((provider, tracer))
}
