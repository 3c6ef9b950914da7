//! The gateway layer every service runs behind: rate limits, size limits, timeouts, CORS and
//! security headers. Configured by [`GatewaySettings`]; the rate limiter's back end (none,
//! in-process, Redis) is chosen by configuration, not by code.

pub mod forwarded;
pub mod headers;
pub mod ratelimit;

pub use ratelimit::{Quota, RateLimiter};

use crate::error::ApiError;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::response::Response;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
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
    /// Load balancers and proxies in front of Rouge. Only for a peer inside these is the
    /// client taken from `Forwarded` / `X-Forwarded-For` (the right-most address that is not
    /// a trusted proxy); from anyone else those headers are ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
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
            trusted_proxies: vec![],
        }
    }
}

/// Settings plus the limiter they chose, shared by every request.
#[derive(Clone)]
pub struct Gateway {
    pub settings: GatewaySettings,
    pub limiter: RateLimiter,
    /// Names the client a bearer credential proves (a verified token's subject); `None` when
    /// it proves nothing, and the request is counted by its address.
    pub identify: Option<Identify>,
    /// `RateLimit-Policy` of each configured quota, rendered once.
    policies: Vec<(Quota, HeaderValue)>,
}

impl Gateway {
    pub fn new(settings: GatewaySettings, limiter: RateLimiter, identify: Option<Identify>) -> Self {
        let policies = [settings.read, settings.write, settings.auth]
            .into_iter()
            .flatten()
            .filter_map(|q| {
                let v = HeaderValue::from_str(&format!("{};w=60;burst={}", q.per_minute, q.burst)).ok()?;
                Some((q, v))
            })
            .collect();
        Self { settings, limiter, identify, policies }
    }

    /// The account budget of the client behind these headers, for spending outside the layer
    /// (GraphQL's account mutations travel on `/graphql`, a write, but guess passwords like
    /// `/v1/auth/login`); `None` when account routes are not limited.
    pub fn auth_budget(
        self: &Arc<Self>,
        headers: &axum::http::HeaderMap,
        peer: Option<std::net::SocketAddr>,
    ) -> Option<AuthBudget> {
        let quota = self.settings.auth.filter(|_| self.settings.enabled)?;
        let (key, _) = ratelimit::client_key(self, "auth", headers, peer);
        Some(AuthBudget { gw: self.clone(), quota, key })
    }

    fn policy(&self, q: Quota) -> Option<HeaderValue> {
        self.policies.iter().find(|(p, _)| *p == q).map(|(_, v)| v.clone())
    }
}

/// One client's account budget, spent once per account operation.
pub struct AuthBudget {
    gw: Arc<Gateway>,
    quota: Quota,
    key: ratelimit::ClientKey,
}

impl AuthBudget {
    /// Spends one unit; `Err(seconds to wait)` when the budget is spent.
    pub async fn spend(&self) -> Result<(), u64> {
        let d = match self.gw.limiter.check_now(&self.key, self.quota) {
            Some(d) => d,
            None => self.gw.limiter.check(&self.key, self.quota).await,
        };
        if d.allowed {
            Ok(())
        } else {
            crate::ops::rate_limited("auth");
            Err(d.retry_after.as_secs_f64().ceil().max(1.0) as u64)
        }
    }
}

/// The whole gateway as one tower layer (one boxed future per request, no per-concern
/// middleware): the header size limit, the rate limit, the time-out, and the security and
/// RateLimit headers on the answer. Pages meant for browsers (`/docs`, GraphiQL) keep their
/// scripts.
#[derive(Clone)]
pub struct GatewayLayer(pub Arc<Gateway>);

impl<S> tower::Layer<S> for GatewayLayer {
    type Service = GatewayService<S>;

    fn layer(&self, inner: S) -> GatewayService<S> {
        GatewayService { gw: self.0.clone(), inner }
    }
}

#[derive(Clone)]
pub struct GatewayService<S> {
    gw: Arc<Gateway>,
    inner: S,
}

type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

pin_project_lite::pin_project! {
    /// The gateway's answer to one request, without a box on the common path: ready at once
    /// (refused, too large), the inner service's answer (with the time-out armed only once it
    /// waits), or, when Redis must be asked first, a boxed future.
    pub struct GatewayFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F> {
        Ready { res: Option<Response> },
        Inner {
            #[pin]
            fut: F,
            #[pin]
            timer: Option<tokio::time::Sleep>,
            gw: Arc<Gateway>,
            admitted: Option<(Quota, ratelimit::Decision, &'static str)>,
            html_page: bool,
            uri: axum::http::Uri,
        },
        Boxed { fut: Answer },
    }
}

impl<F> GatewayFuture<F> {
    fn ready(res: Response) -> Self {
        Self { state: State::Ready { res: Some(res) } }
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for GatewayFuture<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Ready { res } => Poll::Ready(Ok(res.take().expect("polled after it answered"))),
            StateProj::Boxed { fut } => fut.as_mut().poll(cx),
            StateProj::Inner { fut, mut timer, gw, admitted, html_page, uri } => {
                let res = match fut.poll(cx) {
                    Poll::Ready(Ok(res)) => res,
                    Poll::Ready(Err(never)) => match never {},
                    Poll::Pending => {
                        // Most reads are answered from memory on the first poll: only a request
                        // that waits arms the timer.
                        if timer.is_none() {
                            timer.set(Some(tokio::time::sleep(gw.settings.request_timeout)));
                        }
                        match timer.as_pin_mut().map(|t| t.poll(cx)) {
                            Some(Poll::Ready(())) => ApiError::RequestTimeout.into_response_at(uri.path()),
                            _ => return Poll::Pending,
                        }
                    }
                };
                Poll::Ready(Ok(finish(gw, res, admitted.take(), *html_page)))
            }
        }
    }
}

impl<S> tower::Service<Request> for GatewayService<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = GatewayFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let gw = self.gw.clone();
        if !gw.settings.trusted_proxies.is_empty() {
            forwarded::resolve_client(&gw.settings.trusted_proxies, &mut req);
        }
        let size: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
        let path = req.uri().path();
        let html_page = path.starts_with("/docs") || (path == "/graphql" && req.method() == Method::GET);
        if size > gw.settings.max_header_bytes {
            let res = ApiError::HeadersTooLarge(gw.settings.max_header_bytes).into_response_at(path);
            return GatewayFuture::ready(secured(&gw, res, html_page));
        }
        let budget = ratelimit::budget(&gw, &req).map(|(q, class, key, claims)| {
            if let Some(c) = claims {
                req.extensions_mut().insert(Verified(c));
            }
            (q, class, key)
        });
        // The in-process limiter answers at once; only Redis needs a round trip.
        let decided = budget.as_ref().and_then(|(q, _, key)| gw.limiter.check_now(key, *q));
        let admitted = match (budget, decided) {
            (None, _) => Ok(None),
            (Some((q, class, _)), Some(d)) => Ok(Some((q, d, class))),
            (Some(waiting), None) => Err(waiting),
        };
        match admitted {
            // Decided now: refused at once, or the service polled ready serves it right away
            // (no clone of it, no wait before it starts).
            Ok(Some((q, d, class))) if !d.allowed => {
                GatewayFuture::ready(refused(&gw, q, &d, class, html_page, req.uri().path()))
            }
            Ok(admitted) => {
                let uri = req.uri().clone();
                let fut = self.inner.call(req);
                GatewayFuture { state: State::Inner { fut, timer: None, gw, admitted, html_page, uri } }
            }
            // Redis decides: the service that was polled ready goes with the request, and a
            // clone takes its place.
            Err((q, class, key)) => {
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                let fut: Answer = Box::pin(async move {
                    let d = gw.limiter.check(&key, q).await;
                    if !d.allowed {
                        return Ok(refused(&gw, q, &d, class, html_page, req.uri().path()));
                    }
                    // Then as any admitted request.
                    let uri = req.uri().clone();
                    let admitted = Some((q, d, class));
                    let fut = inner.call(req);
                    GatewayFuture { state: State::Inner { fut, timer: None, gw, admitted, html_page, uri } }.await
                });
                GatewayFuture { state: State::Boxed { fut } }
            }
        }
    }
}

/// The 429 answer, with the RateLimit and security headers.
fn refused(
    gw: &Gateway,
    q: Quota,
    d: &ratelimit::Decision,
    class: &'static str,
    html_page: bool,
    path: &str,
) -> Response {
    crate::ops::rate_limited(class);
    let mut res = ratelimit::refuse(class, d, path);
    ratelimit::headers(gw, res.headers_mut(), q, d);
    secured(gw, res, html_page)
}

/// The gateway's headers on an answer: the RateLimit ones when a budget was spent, and the
/// security ones.
fn finish(
    gw: &Gateway,
    mut res: Response,
    admitted: Option<(Quota, ratelimit::Decision, &'static str)>,
    html_page: bool,
) -> Response {
    if let Some((q, d, _)) = admitted {
        // Room for these four and the security headers at once.
        res.headers_mut().reserve(8);
        ratelimit::headers(gw, res.headers_mut(), q, &d);
    }
    secured(gw, res, html_page)
}

/// Adds the security headers. `Referrer-Policy` governs the requests a page makes, so only the
/// browser pages (docs, GraphiQL) get it; every other answer is data and gets a CSP that lets
/// it load and frame nothing.
fn secured(gw: &Gateway, mut res: Response, html_page: bool) -> Response {
    let h = res.headers_mut();
    h.reserve(4);
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if html_page {
        h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    } else {
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

/// A bearer token's claims, if it is one of this server's valid access tokens.
pub type Identify = std::sync::Arc<dyn Fn(&str) -> Option<rouge_identity::AccessClaims> + Send + Sync>;

/// The claims of the request's bearer token, verified once by the gateway (routes reuse them).
#[derive(Clone, Debug)]
pub struct Verified(pub rouge_identity::AccessClaims);
