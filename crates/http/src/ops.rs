//! Probes, metrics, and the middleware that keeps every error a problem document.

use crate::error::ApiError;
use crate::state::{AppState, Store};
use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz::<S>))
}

/// The metrics listener's app: `/metrics` only, never on the API's port (what a shop sells
/// and how often is nobody's business but its operators').
pub fn metrics_app() -> Router {
    prometheus();
    Router::new().route("/metrics", get(metrics_text))
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// The store answers; 503 otherwise.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = String), (status = 503, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn readyz<S: Store>(State(app): State<AppState<S>>) -> Result<&'static str, ApiError> {
    app.store.ping().await.map_err(ApiError::from)?;
    Ok("ready")
}

/// Prometheus metrics, served on the metrics listener (`--metrics-listen`): the process's own
/// (CPU, memory, open files, threads) read at each scrape, then the shop's.
pub async fn metrics_text() -> impl IntoResponse {
    process_collector().collect();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], prometheus().render())
}

fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR.get_or_init(|| {
        let c = metrics_process::Collector::default();
        c.describe();
        c
    })
}

/// What a shop watches, each with its help text (Prometheus shows it beside the series).
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!("http_requests_total", "HTTP requests answered, by route, method and status");
    describe_histogram!("http_request_duration_seconds", "Time to answer an HTTP request, by route, method and status");
    describe_counter!(
        "rouge_checkouts_total",
        "Checkout attempts that reached payment, by outcome: placed, sold_out, declined, pending, refused"
    );
    describe_counter!("rouge_orders_placed_total", "Orders placed");
    describe_counter!("rouge_revenue_minor_units_total", "Value of the orders placed, in minor units, by currency");
    describe_counter!("rouge_stock_outs_total", "SKUs that sold out (inventory.stock_out events seen by this server)");
    describe_counter!(
        "rouge_reservations_expired_total",
        "Checkout stock reservations released because they ran out of time"
    );
    describe_gauge!(
        "rouge_outbox_lag_seconds",
        "Age of the oldest committed event not yet handed on: to this server's consumers (in process), or to the broker (with AMQP_URL)"
    );
    describe_gauge!(
        "rouge_dead_letters",
        "Events a consumer gave up on after its last attempt (see /v1/admin/dead-letters)"
    );
    describe_gauge!("rouge_deliveries_retrying", "Events a consumer failed and will try again");
    describe_counter!("rouge_rate_limited_total", "Requests refused for their rate limit, by budget class");
    describe_counter!(
        "rouge_idempotent_replays_total",
        "Requests answered with the stored answer to their Idempotency-Key"
    );
}

/// Counts a checkout attempt that reached payment, by outcome.
pub fn checkout(outcome: &'static str) {
    metrics::counter!("rouge_checkouts_total", "outcome" => outcome).increment(1);
}

/// Counts a placed order and its value.
pub fn order_placed(currency: &str, total: i64) {
    metrics::counter!("rouge_orders_placed_total").increment(1);
    metrics::counter!("rouge_revenue_minor_units_total", "currency" => currency.to_owned())
        .increment(total.max(0) as u64);
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5],
            )
            .expect("valid buckets")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (tests start many apps in one process).
        let _ = metrics::set_global_recorder(recorder);
        describe();
        handle
    })
}

/// Whether the store answers, as a watchdog last saw it. While it does not, requests get a
/// short deadline instead of queueing for connections that cannot be made: 503 with
/// Retry-After within about two seconds, never a hang (reads served from memory are not
/// affected: they answer at once).
pub struct StoreHealth {
    /// When the store was first seen down (on `epoch`'s clock, in ms); `None`-like 0 when up.
    down_since_ms: std::sync::atomic::AtomicU64,
    epoch: Instant,
}

impl Default for StoreHealth {
    fn default() -> Self {
        Self { down_since_ms: std::sync::atomic::AtomicU64::new(0), epoch: Instant::now() }
    }
}

/// How long a request may wait while the store is down.
pub const DOWN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(2);

impl StoreHealth {
    fn now_ms(&self) -> u64 {
        // Never 0, which means "up".
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    /// How long the store has been down (zero while it answers).
    pub fn down_for(&self) -> std::time::Duration {
        match self.down_since_ms.load(std::sync::atomic::Ordering::Acquire) {
            0 => std::time::Duration::ZERO,
            since => std::time::Duration::from_millis(self.now_ms().saturating_sub(since)),
        }
    }

    /// Records a probe's outcome; logs each change once.
    pub fn set(&self, up: bool, why: &str) {
        use std::sync::atomic::Ordering;
        if up {
            if self.down_since_ms.swap(0, Ordering::AcqRel) != 0 {
                tracing::info!("the store answers again");
            }
        } else if self.down_since_ms.compare_exchange(0, self.now_ms(), Ordering::AcqRel, Ordering::Acquire).is_ok() {
            tracing::error!(reason = why, "the store does not answer: requests that need it get 503");
        }
    }
}

/// Probes the store every half second (each probe waits at most a second), over the store's
/// own probe connection: a pool busy with a queue of checkouts is not an outage.
pub async fn watch_store<S: Store>(
    store: S,
    health: std::sync::Arc<StoreHealth>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let probe = tokio::time::timeout(std::time::Duration::from_secs(1), store.probe()).await;
        match probe {
            Ok(Ok(())) => health.set(true, ""),
            Ok(Err(e)) => health.set(false, &e.to_string()),
            Err(_) => health.set(false, "no answer to a ping within a second"),
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Runs the request; while the store is down, one still waiting once the store has been down
/// for [`DOWN_DEADLINE`] (including requests that started before the outage was noticed) gets
/// 503 `/problems/unavailable` with Retry-After. Answers ready at once (reads from memory) arm
/// no timer; others are looked at four times a second.
async fn within_deadline(health: &StoreHealth, req: Request, next: Next) -> Response {
    use std::task::Poll;
    let uri = req.uri().clone();
    let fut = next.run(req);
    tokio::pin!(fut);
    if let Poll::Ready(res) = futures::poll!(&mut fut) {
        return res;
    }
    loop {
        tokio::select! {
            res = &mut fut => return res,
            _ = tokio::time::sleep(std::time::Duration::from_millis(250)) => {
                // Cut once the outage is old enough: a request that began before it waits
                // about two seconds, one that began during a long outage a quarter second.
                if health.down_for() >= DOWN_DEADLINE {
                    return ApiError::Unavailable("the store does not answer".into()).into_response_at(uri.path());
                }
            }
        }
    }
}

/// Counts a request refused for its rate limit, by budget class (read, write, auth).
pub fn rate_limited(class: &'static str) {
    metrics::counter!("rouge_rate_limited_total", "class" => class).increment(1);
}

/// A request slower than this is always logged.
pub const SLOW: std::time::Duration = std::time::Duration::from_millis(500);

/// Fast successful reads served since the last summary line.
static QUIET_READS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Counts requests by route, method and status, records their latency, and writes the access
/// log: one line per write, client or server error and slow request (`info`, `warn` when slow
/// or failing); fast successful reads, the bulk of a shop's traffic, are one line each only at
/// `debug` and otherwise counted and summarised once a minute (a line per read cost about 40 %
/// of a product-detail read's CPU). It also keeps the store deadline ([`within_deadline`]): one
/// middleware, not two, on the hottest path.
pub async fn track(
    axum::extract::State(health): axum::extract::State<std::sync::Arc<StoreHealth>>,
    req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = req.method().clone();
    let res = within_deadline(&health, req, next).await;
    let took = start.elapsed();
    let status = res.status();
    if rouge_kernel::otel::enabled() {
        let span = tracing::Span::current();
        span.record("http.route", route.as_str());
        span.record("http.response.status_code", status.as_u16());
    }
    let read = matches!(method, axum::http::Method::GET | axum::http::Method::HEAD);
    let micros = took.as_micros() as u64;
    if status.is_server_error() || took >= SLOW {
        tracing::warn!(%method, %route, status = status.as_u16(), micros, "request answered");
    } else if !read || status.is_client_error() {
        tracing::info!(%method, %route, status = status.as_u16(), micros, "request answered");
    } else if tracing::enabled!(tracing::Level::DEBUG) {
        tracing::debug!(%method, %route, status = status.as_u16(), micros, "request answered");
    } else {
        QUIET_READS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let labels = [("route", route), ("method", method.to_string()), ("status", status.as_u16().to_string())];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(took.as_secs_f64());
    res
}

/// Writes the summary of fast successful reads once a minute (none when there were none).
pub async fn summarise_reads(mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
            _ = stop.changed() => return,
        }
        let n = QUIET_READS.swap(0, std::sync::atomic::Ordering::Relaxed);
        if n > 0 {
            tracing::info!(reads = n, "fast successful reads in the last minute (one line each at RUST_LOG=debug)");
        }
    }
}

/// Turns the plain-text rejections of the framework (bad path parameter, unknown route,
/// wrong method, body too large) into problem documents.
pub async fn problemize(req: Request, next: Next) -> Response {
    let uri = req.uri().clone();
    let res = plain_to_problem(next.run(req).await).await;
    with_instance(res, uri.path()).await
}

async fn plain_to_problem(res: Response) -> Response {
    let status = res.status();
    let is_plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !is_plain {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text =
        axum::body::to_bytes(body, 4096).await.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let err = match status {
        StatusCode::NOT_FOUND => ApiError::NotFound(if text.is_empty() { "no such route".into() } else { text }),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::REQUEST_TIMEOUT => ApiError::RequestTimeout,
        StatusCode::METHOD_NOT_ALLOWED => {
            let mut r =
                problem(status, "method-not-allowed", "Method not allowed", "this route does not accept that method");
            if let Some(allow) = parts.headers.get(header::ALLOW) {
                r.headers_mut().insert(header::ALLOW, allow.clone());
            }
            return r;
        }
        s if s.is_client_error() => {
            return problem(
                s,
                "bad-request",
                "Bad request",
                if text.is_empty() { "the request is malformed" } else { &text },
            );
        }
        _ => ApiError::Internal(text),
    };
    err.into_response()
}

/// A problem document names the request it answers (`instance`, RFC 9457), so a client's
/// report can be matched with the server's log.
async fn with_instance(res: Response, path: &str) -> Response {
    let is_problem =
        res.headers().get(header::CONTENT_TYPE).is_some_and(|ct| ct.as_bytes() == b"application/problem+json");
    if !is_problem {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let mut doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let Some(map) = doc.as_object_mut().filter(|m| !m.contains_key("instance")) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    map.insert("instance".into(), path.into());
    let body = doc.to_string();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

fn problem(status: StatusCode, slug: &str, title: &str, detail: &str) -> Response {
    let body = serde_json::json!({"type": format!("/problems/{slug}"), "title": title, "status": status.as_u16(), "detail": detail});
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/problem+json")
        .body(Body::from(body.to_string()))
        .expect("valid response")
}

/// Runs each request that may change something under its W3C trace context: the caller's
/// `traceparent` (a new span of ours in its trace), or a new trace. The events it causes carry
/// it (`DomainEvent::trace`), and so do their messages on the broker. Reads cause no events and
/// skip this.
pub async fn trace_scope(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::http::Method;
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let caller = req.headers().get("traceparent").and_then(|v| v.to_str().ok());
    // With OpenTelemetry on, the request's span has joined the caller's trace: the events it
    // causes carry that span as their parent (one checkout is one trace, consumers included).
    let ctx = rouge_kernel::otel::own(&tracing::Span::current()).unwrap_or_else(|| {
        caller.and_then(rouge_kernel::TraceContext::parse).map_or_else(rouge_kernel::TraceContext::root, |t| t.child())
    });
    tracing::Span::current().record("trace_id", ctx.trace_id.as_str());
    rouge_kernel::trace::within(ctx, next.run(req)).await
}
