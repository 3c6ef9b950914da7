//! Security headers, request-header size limit, and CORS from settings.

use crate::error::ApiError;
use crate::gateway::Gateway;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Refuses requests whose headers are larger than the limit (431), and adds the security
/// headers to every answer. Pages meant for browsers (`/docs`, GraphiQL) keep their scripts.
pub async fn guard(State(gw): State<Gateway>, req: Request, next: Next) -> Response {
    let size: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
    let html_page =
        req.uri().path().starts_with("/docs") || (req.uri().path() == "/graphql" && req.method() == Method::GET);
    let mut res = if size > gw.settings.max_header_bytes {
        ApiError::HeadersTooLarge(gw.settings.max_header_bytes).into_response()
    } else {
        next.run(req).await
    };
    let h = res.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !html_page {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    if gw.settings.hsts {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    res
}

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
            ])
            .expose_headers(expose.map(HeaderName::from_static))
            .max_age(std::time::Duration::from_secs(600)),
    )
}
