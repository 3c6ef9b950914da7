//! How a service calls another that runs in another process: one small HTTP client per peer,
//! with a timeout on every attempt, retries of what failed on the way (the same
//! `Idempotency-Key` on every attempt of a POST, so the other side does it once), a circuit
//! breaker that stops asking a peer that keeps failing, and the caller's trace carried in
//! `traceparent`. Calls are authenticated with a service token signed by the shop's keys.
//!
//! (tower has timeouts and retries but no circuit breaker, and the breaker crates are either
//! unmaintained or bring their own runtime; the breaker here is a counter and a deadline.)

use crate::services::Service;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Issues the token a call carries (the shop's current signing key: keys rotate).
pub type TokenSource = Arc<dyn Fn() -> String + Send + Sync>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// The peer did not answer, answered 5xx, or its breaker is open: nothing to blame on the
    /// request; worth a retry after `retry_after` seconds.
    #[error("the {service} service is unavailable: {cause}")]
    Unavailable { service: Service, cause: String, retry_after: u64 },
    /// The peer refused the request (4xx) with this problem document.
    #[error("the {service} service refused: {status} {problem}")]
    Refused { service: Service, status: u16, problem: serde_json::Value },
}

/// Timing of calls to one peer.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// One attempt's limit, connection included.
    pub timeout: Duration,
    /// Attempts per call (the first and its retries).
    pub attempts: u32,
    /// The pause before the first retry; doubled before each next one.
    pub backoff: Duration,
    /// Consecutive failed calls that open the breaker.
    pub failures_to_open: u32,
    /// How long an open breaker refuses calls before letting one through to try.
    pub open_for: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(3),
            attempts: 3,
            backoff: Duration::from_millis(100),
            failures_to_open: 5,
            open_for: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

/// A peer service at `base` (an address that reaches it: its own, or a load balancer's).
#[derive(Clone)]
pub struct Remote {
    service: Service,
    base: String,
    http: reqwest::Client,
    token: TokenSource,
    policy: Policy,
    breaker: Arc<Mutex<Breaker>>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote").field("service", &self.service).field("base", &self.base).finish_non_exhaustive()
    }
}

enum Attempt {
    Done(reqwest::Response),
    /// Worth another attempt (transport error, 502/503/504).
    Retry(String),
}

impl Remote {
    /// # Errors
    /// When `base` is not an http(s) URL.
    pub fn new(service: Service, base: &str, token: TokenSource, policy: Policy) -> Result<Self, String> {
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!("the {service} service's URL must start with http:// or https:// (got `{base}`)"));
        }
        let http = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { service, base, http, token, policy, breaker: Arc::default() })
    }

    pub fn service(&self) -> Service {
        self.service
    }

    /// Seconds until the breaker lets a call through; `None` while it is closed.
    fn open_for(&self) -> Option<u64> {
        let b = self.breaker.lock().expect("breaker lock");
        let until = b.open_until?;
        let left = until.checked_duration_since(Instant::now())?;
        Some(left.as_secs() + 1)
    }

    fn outcome(&self, ok: bool) {
        let mut b = self.breaker.lock().expect("breaker lock");
        if ok {
            if b.open_until.take().is_some() {
                tracing::info!(service = %self.service, "the service answers again; its circuit is closed");
            }
            b.failures = 0;
            return;
        }
        b.failures += 1;
        if b.failures >= self.policy.failures_to_open {
            if b.open_until.is_none_or(|t| t <= Instant::now()) {
                tracing::warn!(service = %self.service, failures = b.failures, open_secs = self.policy.open_for.as_secs(),
                    "the service keeps failing; its circuit is open (calls answer 503 at once)");
            }
            b.open_until = Some(Instant::now() + self.policy.open_for);
        }
    }

    fn unavailable(&self, cause: String) -> RemoteError {
        RemoteError::Unavailable { service: self.service, cause, retry_after: self.open_for().unwrap_or(2).max(1) }
    }

    /// GET `path`, answered with JSON.
    ///
    /// # Errors
    /// See [`RemoteError`].
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, RemoteError> {
        self.call(reqwest::Method::GET, path, None::<&()>).await
    }

    /// POST `body` to `path`; every attempt carries the same `Idempotency-Key`.
    ///
    /// # Errors
    /// See [`RemoteError`].
    pub async fn post<B: Serialize + Sync, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, RemoteError> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn call<B: Serialize + Sync, T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, RemoteError> {
        if let Some(secs) = self.open_for() {
            metrics::counter!("rouge_remote_calls_total", "service" => self.service.as_str(), "outcome" => "refused_open")
                .increment(1);
            return Err(RemoteError::Unavailable {
                service: self.service,
                cause: "its circuit is open after repeated failures".into(),
                retry_after: secs,
            });
        }
        let key = uuid::Uuid::now_v7().to_string();
        let mut pause = self.policy.backoff;
        let mut last = String::new();
        for attempt in 1..=self.policy.attempts.max(1) {
            if attempt > 1 {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            match self.attempt(&method, path, body, &key).await {
                Attempt::Done(res) => {
                    self.outcome(true);
                    metrics::counter!("rouge_remote_calls_total", "service" => self.service.as_str(), "outcome" => "answered")
                        .increment(1);
                    return self.read(res).await;
                }
                Attempt::Retry(cause) => {
                    tracing::debug!(service = %self.service, %path, attempt, %cause, "call failed; retrying");
                    last = cause;
                }
            }
        }
        self.outcome(false);
        metrics::counter!("rouge_remote_calls_total", "service" => self.service.as_str(), "outcome" => "failed")
            .increment(1);
        tracing::warn!(service = %self.service, %path, cause = %last, "the service did not answer");
        Err(self.unavailable(last))
    }

    async fn attempt<B: Serialize + Sync>(
        &self,
        method: &reqwest::Method,
        path: &str,
        body: Option<&B>,
        key: &str,
    ) -> Attempt {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.base)).bearer_auth((self.token)());
        // A client span per attempt, whose context the peer's server span continues.
        let span = tracing::info_span!("remote.call", otel.name = %format_args!("{method} {}", self.service),
            otel.kind = "client", peer.service = self.service.as_str(), url.path = path);
        let ctx = rouge_kernel::otel::own(&span).or_else(|| rouge_kernel::trace::current().map(|c| c.child()));
        if let Some(ctx) = ctx {
            req = req.header("traceparent", ctx.header());
        }
        if let Some(b) = body {
            req = req.header(crate::idempotency::HEADER, key).json(b);
        }
        match tracing::Instrument::instrument(req.send(), span).await {
            Ok(res) if matches!(res.status().as_u16(), 502..=504) => {
                Attempt::Retry(format!("answered {}", res.status()))
            }
            Ok(res) => Attempt::Done(res),
            Err(e) => Attempt::Retry(if e.is_timeout() { "timed out".into() } else { e.to_string() }),
        }
    }

    async fn read<T: DeserializeOwned>(&self, res: reqwest::Response) -> Result<T, RemoteError> {
        let status = res.status();
        let bytes = res.bytes().await.map_err(|e| self.unavailable(format!("its answer was cut: {e}")))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| self.unavailable(format!("its answer is not what this version expects: {e}")));
        }
        let problem = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        if status.is_server_error() {
            let detail = problem.get("detail").and_then(|d| d.as_str()).unwrap_or_default();
            return Err(self.unavailable(format!("answered {status} {detail}")));
        }
        Err(RemoteError::Refused { service: self.service, status: status.as_u16(), problem })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(base: &str) -> Remote {
        let policy = Policy {
            timeout: Duration::from_millis(300),
            attempts: 2,
            backoff: Duration::from_millis(10),
            failures_to_open: 2,
            open_for: Duration::from_secs(30),
        };
        Remote::new(Service::Catalog, base, Arc::new(|| "t".into()), policy).unwrap()
    }

    #[tokio::test]
    async fn a_peer_that_keeps_failing_opens_the_breaker_and_is_not_asked_meanwhile() {
        // A port nobody listens on: every attempt fails to connect.
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", dead.local_addr().unwrap());
        drop(dead);
        let r = remote(&url);
        for _ in 0..2 {
            let e = r.get::<serde_json::Value>("/x").await.unwrap_err();
            assert!(matches!(e, RemoteError::Unavailable { retry_after: 1.., .. }), "{e:?}");
        }
        let Err(RemoteError::Unavailable { cause, retry_after, .. }) = r.get::<serde_json::Value>("/x").await else {
            panic!("open breaker");
        };
        assert!(cause.contains("circuit is open"), "{cause}");
        assert!((25..=31).contains(&retry_after), "Retry-After is the time left open: {retry_after}");
        r.outcome(true);
        assert_eq!(r.open_for(), None, "an answer closes it");
    }

    #[test]
    fn a_url_that_is_not_http_is_refused() {
        assert!(Remote::new(Service::Orders, "orders:8080", Arc::new(String::new), Policy::default()).is_err());
    }
}
