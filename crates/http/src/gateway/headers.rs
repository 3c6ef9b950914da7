//! CORS from settings.

use crate::gateway::Gateway;
use axum::http::{HeaderName, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// CORS for the configured origins; `None` when none are configured.
pub fn cors(gw: &Gateway) -> Option<CorsLayer> {
    if gw.settings.cors_origins.is_empty() {
        return None;
    }
    let expose = [
        "etag",
        "location",
        "x-request-id",
        "retry-after",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
    ];
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(gw.settings.cors_origins.clone()))
            .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_MATCH,
                header::IF_NONE_MATCH,
                HeaderName::from_static("idempotency-key"),
                HeaderName::from_static("traceparent"),
            ])
            .expose_headers(expose.map(HeaderName::from_static))
            .max_age(std::time::Duration::from_secs(600)),
    )
}
