//! Rouge's HTTP surface: the REST API under `/v1`, GraphQL, OpenAPI and docs, probes and
//! metrics. Each context exposes a router; [`app`] merges them and adds the gateway layers.

pub mod asyncapi;
pub mod audit;
pub mod authz;
pub mod availability;
pub mod cache;
pub mod error;
pub mod extract;
pub mod gateway;
pub mod graphql;
pub mod idempotency;
pub mod oidc;
pub mod openapi;
pub mod ops;
pub mod page;
pub mod peers;
pub mod recs;
pub mod recs_shared;
pub mod redis_link;
pub mod remote;
pub mod rest;
pub mod sealed;
pub mod services;
pub mod state;
pub mod surrogate;

pub use state::{AppState, Store};

use axum::Router;
use axum::http::{HeaderName, Request};
use axum::middleware;
use axum::response::IntoResponse;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::{CompressionBody, CompressionLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

/// Largest request body accepted (bulk loads go through `rouge import`).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Routes whose answers may carry personal data or credentials: no cache may keep them.
fn private<S: Store>(r: Router<AppState<S>>) -> Router<AppState<S>> {
    r.layer(tower_http::set_header::SetResponseHeaderLayer::if_not_present(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("private, no-store"),
    ))
}

/// The public routes of the services this process runs.
fn routes<S: Store>(state: &AppState<S>) -> Router<AppState<S>> {
    use services::Service;
    let has = |s| state.services.has(s);
    let mut r = Router::new();
    if has(Service::Catalog) {
        // Reviews and recommendations are deployed with the catalogue (they rank its products).
        r = r
            .merge(rest::storefront::router())
            .merge(private(rest::recommendations::router(state)))
            .merge(rest::shades::router())
            .merge(rest::admin::router(state))
            .merge(private(rest::reviews::router(state)));
    }
    if has(Service::Identity) {
        r = r
            .merge(private(rest::auth::router(state)))
            .merge(private(rest::me::router()))
            .merge(private(rest::staff::router(state)))
            .merge(private(rest::audit::router(state)));
    }
    if has(Service::Inventory) {
        r = r.merge(private(rest::inventory::router(state)));
    }
    if has(Service::Orders) {
        // Promotions are deployed with orders (a checkout holds their budgets).
        r = r
            .merge(private(rest::carts::router(state)))
            .merge(private(rest::orders::router(state)))
            .merge(private(rest::promotions::router(state)))
            .merge(private(rest::reorders::router()))
            .merge(private(rest::subscriptions::router(state)))
            .merge(private(rest::boxes::router(state)));
    }
    if has(Service::Payments) {
        r = r.merge(private(rest::payments::router()));
    }
    // One schema for the whole domain: served where the catalogue and orders both run.
    if has(Service::Catalog) && has(Service::Orders) {
        r = r.merge(private(graphql::router(graphql::schema(state.index.clone(), state.stock.clone()))));
    }
    r
}

pub fn app<S: Store>(state: AppState<S>) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    // Install the recorder before the first request, so no request goes uncounted.
    ops::prometheus();
    let gw = state.gateway.clone();
    let on = gw.settings.enabled;
    let cors = tower::util::option_layer(gateway::headers::cors(&gw).filter(|_| on));
    let gate = tower::util::option_layer(on.then(|| gateway::GatewayLayer(gw.clone())));
    let health = state.health.clone();
    let routes = routes(&state)
        .merge(private(rest::internal::router(&state)))
        .merge(private(rest::events::router(&state)))
        .merge(private(rest::webhooks::router(&state)))
        .merge(ops::router())
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi::ApiDoc::openapi()))
        .route("/asyncapi.json", axum::routing::get(asyncapi::serve))
        .with_state(state)
        // Inside the router, where each request's route template (`MatchedPath`) is known.
        .layer(middleware::from_fn_with_state(health, ops::track));
    // The other layers every request passes, outermost first, wrapped once around the whole
    // router: `Router::layer` would wrap each of its ~80 routes instead, and every request would
    // then clone and box each layer's service and future (two allocations per layer).
    let stack = tower::ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    let (trace_id, route, status) =
                        (tracing::field::Empty, tracing::field::Empty, tracing::field::Empty);
                    // The exported span is named by the method (its route and status are recorded
                    // by `ops::track` once known), as OpenTelemetry's HTTP conventions have it.
                    let span = tracing::info_span!("http", method = %req.method(), uri = %req.uri(), request_id = %id,
                        trace_id, otel.name = %req.method(), otel.kind = "server", http.route = route,
                        http.response.status_code = status);
                    // Exported spans join the caller's trace (W3C traceparent).
                    let caller = req.headers().get("traceparent").and_then(|v| v.to_str().ok());
                    rouge_kernel::otel::adopt(&span, caller);
                    span
                })
                // The access log is written by `ops::track` (cheaper, and it chooses what to write).
                .on_response(()),
        )
        .layer(middleware::from_fn(ops::trace_scope))
        .layer(PropagateRequestIdLayer::new(request_id))
        .layer(CatchPanicLayer::new())
        .layer(gate)
        // The gateway answers with and expects Rouge's response type.
        .map_response(|r: axum::http::Response<CompressionBody<axum::body::Body>>| r.into_response())
        .layer(cors)
        .layer(CompressionLayer::new())
        .layer(middleware::from_fn(ops::problemize))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .service(routes);
    Router::new().fallback_service(stack)
}
