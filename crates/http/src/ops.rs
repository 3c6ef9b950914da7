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
    app.store.ping().await.map_err(ApiError::Unavailable)?;
    Ok("ready")
}

/// Prometheus metrics, served on the metrics listener (`--metrics-listen`).
pub async fn metrics_text() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], prometheus().render())
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
        handle
    })
}

/// Counts a request refused for its rate limit, by budget class (read, write, auth).
pub fn rate_limited(class: &'static str) {
    metrics::counter!("rouge_rate_limited_total", "class" => class).increment(1);
}

/// Counts requests by route, method and status, and records their latency.
pub async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = req.method().to_string();
    let res = next.run(req).await;
    let labels = [("route", route), ("method", method), ("status", res.status().as_u16().to_string())];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(start.elapsed().as_secs_f64());
    res
}

/// Turns the plain-text rejections of the framework (bad path parameter, unknown route,
/// wrong method, body too large) into problem documents.
pub async fn problemize(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
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

fn problem(status: StatusCode, slug: &str, title: &str, detail: &str) -> Response {
    let body = serde_json::json!({"type": format!("/problems/{slug}"), "title": title, "status": status.as_u16(), "detail": detail});
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/problem+json")
        .body(Body::from(body.to_string()))
        .expect("valid response")
}
