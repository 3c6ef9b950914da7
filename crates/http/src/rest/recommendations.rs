//! Recommendations over HTTP (deployed with the catalogue): behaviour in (`POST /v1/events`,
//! from storefronts, batched).

use crate::error::{ApiError, Problem};
use crate::extract::ValidJson;
use crate::idempotency::idempotent;
use crate::state::{AppState, Store};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use rouge_recommendations::{Accepted, EventBatch};

pub fn router<S: Store>(app: &AppState<S>) -> Router<AppState<S>> {
    Router::new().route("/v1/events", idempotent(app, false, post(record::<S>)))
}

/// What a shopper did on the storefront, up to 100 events a call: `product_viewed`,
/// `search_made`, `added_to_cart`, `removed_from_cart`, `wishlisted`. Whose they are: her
/// customer token when she is logged in, the storefront's anonymous id otherwise (or both).
/// Without `consent` nothing is kept. An event sent again with its `id` is kept once.
/// Purchases and returns are not sent: they come from orders. Rate limited like every write.
#[utoipa::path(post, path = "/v1/events", tag = "recommendations", request_body = EventBatch,
    security((), ("customer" = [])),
    responses((status = 202, body = Accepted, description = "Kept (or, without consent, dropped)"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "A customer token that is not valid"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Every invalid field named; nothing kept"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "The store is unavailable; nothing kept")))]
pub async fn record<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    verified: Option<axum::Extension<crate::gateway::Verified>>,
    ValidJson(batch): ValidJson<EventBatch>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let customer = match crate::rest::auth::bearer(&headers) {
        Some(token) => Some(crate::rest::auth::customer(&app, Some(token), verified.as_ref().map(|v| &v.0)).await?),
        None => None,
    };
    let now = chrono::Utc::now().timestamp_millis();
    let kept = batch.accept(customer, now).map_err(ApiError::Invalid)?;
    if !kept.is_empty() {
        app.store.record_behaviour(&kept).await?;
    }
    tracing::debug!(kept = kept.len(), sent = batch.events.len(), "behaviour recorded");
    Ok((StatusCode::ACCEPTED, Json(Accepted { accepted: kept.len(), ignored: batch.events.len() - kept.len() })))
}
