//! The CDN purge hook: for every committed change a storefront page shows (catalogue, stock
//! levels), the keys it touched (`rouge_http::surrogate::touched`) are purged at the configured
//! endpoint, in Fastly's or Cloudflare's request shape. It runs as a durable work consumer
//! (`cdn-purge`): each change purged once across replicas, failures retried with growing pauses
//! and parked as dead letters after the last attempt.

use futures::future::BoxFuture;
use rouge_kernel::DomainEvent;
use rouge_messaging::durable::Handler;
use std::time::Duration;

/// Which CDN's purge API the endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Provider {
    /// `POST https://api.fastly.com/service/<id>/purge` with `Surrogate-Key: k1 k2 …` and
    /// `Fastly-Key: <token>` (up to 256 keys a request).
    Fastly,
    /// `POST https://api.cloudflare.com/client/v4/zones/<zone>/purge_cache` with
    /// `{"tags": [...]}` and `Authorization: Bearer <token>` (up to 30 tags a request).
    Cloudflare,
}

#[derive(Clone)]
pub struct Cdn {
    pub provider: Provider,
    pub url: String,
    pub token: Option<String>,
    client: reqwest::Client,
}

impl std::fmt::Debug for Cdn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cdn({:?} at {})", self.provider, self.url)
    }
}

/// The event types whose changes storefront pages show.
pub const EVENTS: &[&str] = rouge_http::surrogate::EVENTS;

impl Cdn {
    /// # Errors
    /// When the HTTP client cannot be made.
    pub fn new(provider: Provider, url: &str, token: Option<String>) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
        Ok(Self { provider, url: url.to_owned(), token, client })
    }

    /// Purges `keys`, in as many requests as the provider needs.
    ///
    /// # Errors
    /// The first request the endpoint did not accept (the consumer retries the whole event).
    pub async fn purge(&self, keys: &[String]) -> Result<(), String> {
        let chunk = match self.provider {
            Provider::Fastly => 256,
            Provider::Cloudflare => 30,
        };
        for keys in keys.chunks(chunk) {
            let req = self.client.post(&self.url);
            let req = match self.provider {
                Provider::Fastly => {
                    let req = req.header("surrogate-key", keys.join(" ")).header("accept", "application/json");
                    match &self.token {
                        Some(t) => req.header("fastly-key", t),
                        None => req,
                    }
                }
                Provider::Cloudflare => {
                    let req = req.json(&serde_json::json!({ "tags": keys }));
                    match &self.token {
                        Some(t) => req.bearer_auth(t),
                        None => req,
                    }
                }
            };
            let res = req.send().await.map_err(|e| format!("CDN purge: {e}"))?;
            if !res.status().is_success() {
                return Err(format!("CDN purge answered {}", res.status()));
            }
        }
        Ok(())
    }
}

impl Handler for Cdn {
    fn name(&self) -> &'static str {
        "cdn-purge"
    }

    fn events(&self) -> &'static [&'static str] {
        EVENTS
    }

    fn handle(&self, e: DomainEvent) -> BoxFuture<'static, Result<(), String>> {
        let cdn = self.clone();
        Box::pin(async move {
            let keys = rouge_http::surrogate::touched(&e);
            if keys.is_empty() {
                return Ok(());
            }
            cdn.purge(&keys).await?;
            tracing::info!(event = %e.id, kind = %e.event_type, keys = keys.len(), "CDN purged");
            Ok(())
        })
    }
}
