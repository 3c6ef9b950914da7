//! The gateway layer every service runs behind: rate limits, size limits, timeouts, CORS and
//! security headers. Configured by [`GatewaySettings`]; the rate limiter's back end (none,
//! in-process, Redis) is chosen by configuration, not by code.

pub mod headers;
pub mod ratelimit;

pub use ratelimit::{Quota, RateLimiter};

use axum::http::HeaderValue;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct GatewaySettings {
    /// Budget per client for reads (GET, HEAD); `None` leaves reads unlimited.
    pub read: Option<Quota>,
    /// Budget per client for writes (POST, PATCH, PUT, DELETE).
    pub write: Option<Quota>,
    /// Budget per client for the account routes (`/v1/auth/*`, staff log-in): guessing
    /// passwords and flooding inboxes is slow work.
    pub auth: Option<Quota>,
    /// Origins allowed to call the API from a browser; empty sends no CORS headers.
    pub cors_origins: Vec<HeaderValue>,
    /// Longest a request may take before it is answered with 408.
    pub request_timeout: Duration,
    /// Largest total size of request headers (names and values) accepted.
    pub max_header_bytes: usize,
    /// Send Strict-Transport-Security (when serving HTTPS).
    pub hsts: bool,
    /// `false` leaves the whole layer out: only for measuring what it costs.
    pub enabled: bool,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            read: Some(Quota { per_minute: 1200, burst: 200 }),
            write: Some(Quota { per_minute: 120, burst: 30 }),
            auth: Some(Quota { per_minute: 30, burst: 10 }),
            cors_origins: vec![],
            request_timeout: Duration::from_secs(30),
            max_header_bytes: 16 * 1024,
            hsts: false,
            enabled: true,
        }
    }
}

/// Settings plus the limiter they chose, shared by every request.
#[derive(Clone)]
pub struct Gateway {
    pub settings: GatewaySettings,
    pub limiter: RateLimiter,
}
