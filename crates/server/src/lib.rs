//! The `rouge` binary's library: settings and wiring only. [`launch`] lets tests start a
//! server on `127.0.0.1:0` exactly as `rouge serve` does.

pub mod bench;
pub mod demo;
pub mod import;
pub mod seed;

use anyhow::Context;
use rouge_catalog::CatalogEvent;
use rouge_http::cache::ResponseCache;
use rouge_http::gateway::{Gateway, GatewaySettings, RateLimiter};
use rouge_http::{AppState, Store};
use rouge_search::CatalogIndex;
use rouge_store_postgres::PgStore;
use rouge_store_sqlite::SqliteStore;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://rouge-data/rouge.db";

/// Opens the store a URL names, runs its migrations, and calls `f` with it.
pub async fn with_store<T, F>(url: &str, f: F) -> anyhow::Result<T>
where
    F: StoreFn<T>,
{
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PgStore::connect(url).await.context("connecting to PostgreSQL")?;
        store.migrate().await.context("migrating PostgreSQL")?;
        f.call(store).await
    } else if url.starts_with("sqlite:") {
        let store = SqliteStore::connect(url).await.with_context(|| format!("opening {url}"))?;
        store.migrate().await.context("migrating SQLite")?;
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

pub struct Options {
    pub admin_token: Option<String>,
    pub demo: bool,
    pub gateway: GatewaySettings,
    /// Share rate-limit budgets through this Redis; in-process when absent.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key this deployment writes.
    pub redis_prefix: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            admin_token: None,
            demo: false,
            gateway: GatewaySettings::default(),
            redis_url: None,
            redis_prefix: "rouge".into(),
        }
    }
}

/// Serves the API on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn launch<S: Store>(
    store: S,
    opts: Options,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if opts.demo && store.product_count().await.map_err(|e| anyhow::anyhow!(e))? == 0 {
        seed::seed_demo(&store, 320).await?;
    }
    // Read the outbox head before the snapshot: events after it are replayed on top, and
    // applying an event twice is harmless (older versions never replace newer ones).
    let head = store.head().await.map_err(|e| anyhow::anyhow!(e))?;
    let index = Arc::new(build_index(&store).await?);
    tracing::info!(products = index.len(), "search index built");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let idx = index.clone();
    let search: rouge_messaging::Subscriber = Arc::new(move |events| {
        let catalog: Vec<CatalogEvent> = events.iter().filter_map(CatalogEvent::from_envelope).collect();
        idx.apply(&catalog);
    });
    let cache = ResponseCache::new();
    let pages = cache.clone();
    let invalidate: rouge_messaging::Subscriber = Arc::new(move |_| pages.clear());
    let (relay, relay_task) = rouge_messaging::spawn(store.clone(), head, vec![search, invalidate], stop_rx);
    let limiter = match &opts.redis_url {
        Some(url) => RateLimiter::redis(url, &opts.redis_prefix)
            .await
            .with_context(|| format!("connecting to Redis at {url} for rate limits"))?,
        None => RateLimiter::local(),
    };
    let gateway = Gateway { settings: opts.gateway, limiter };
    let state = AppState::new(store, index, relay, cache, gateway, opts.admin_token);
    let addr = listener.local_addr()?;
    tracing::info!(%addr, shared_limits = opts.redis_url.is_some(), "rouge is listening");
    let app = rouge_http::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await?;
    let _ = stop_tx.send(true);
    let _ = relay_task.await;
    tracing::info!("stopped cleanly");
    Ok(())
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
