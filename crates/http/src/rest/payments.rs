//! The payments service's public routes: the payment providers' webhooks. What a webhook says
//! is recorded on the order it concerns, by orders (here, or over HTTP when they run apart).

use crate::error::{ApiError, Problem};
use crate::rest::internal::{PaidOrder, RecordBody};
use crate::state::{AppState, Store};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use rouge_payments::{PaymentFact, PaymentProvider as _};

type Res = Result<Response, ApiError>;

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new().route("/v1/payments/stripe/webhook", post(stripe_webhook::<S>))
}

/// What `provider` says of `payment`, recorded on its order; the order's id and status, or
/// `None` when no order has that payment.
///
/// # Errors
/// Orders' refusals (409 when the order moved on), 503 when orders cannot be asked.
pub async fn record<S: Store>(
    app: &AppState<S>,
    provider: &str,
    payment: &str,
    fact: &PaymentFact,
) -> Result<Option<PaidOrder>, ApiError> {
    if let Some(orders) = &app.peers.orders {
        let body = RecordBody { provider: provider.to_owned(), payment_id: payment.to_owned(), fact: fact.clone() };
        return Ok(orders.post("/internal/v1/payments/record", &body).await?);
    }
    let order = app.orders.record_payment(provider, payment, fact).await?;
    Ok(order.map(|o| PaidOrder { id: o.order.id, status: o.order.status.as_str().to_owned() }))
}

/// Stripe's webhooks: the signature is checked with the configured secret (Stripe's scheme,
/// five minutes' tolerance); then what the event says about a payment is recorded on its
/// order: `payment_intent.succeeded` (captured, e.g. in the dashboard), `charge.refunded`
/// (refunded so far), `payment_intent.canceled` (authorization cancelled or expired: the
/// order is cancelled and its stock given back). Other events are acknowledged. Repeats
/// change nothing.
#[utoipa::path(post, path = "/v1/payments/stripe/webhook", tag = "checkout",
    responses((status = 200, description = "Verified; `order` is the order it concerned (id and status), or null"),
        (status = 400, body = Problem, description = "Bad or missing signature"),
        (status = 404, body = Problem, description = "Stripe is not configured"),
        (status = 409, body = Problem, description = "The order changed meanwhile; Stripe retries")))]
pub async fn stripe_webhook<S: Store>(
    State(app): State<AppState<S>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Res {
    let Some(stripe) = &app.stripe else {
        return Err(ApiError::NotFound("Stripe is not configured on this server".into()));
    };
    let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let event = stripe
        .verify_webhook(signature, &body, chrono::Utc::now().timestamp())
        .map_err(|e| ApiError::BadSignature(e.to_string()))?;
    let (id, kind) = (event["id"].as_str().unwrap_or_default(), event["type"].as_str().unwrap_or_default());
    let Some((payment, fact)) = rouge_payments::payment_fact(&event) else {
        tracing::info!(id, kind, "Stripe webhook received; nothing to record");
        return Ok(Json(serde_json::json!({"received": true, "order": null})).into_response());
    };
    // A failure answers 5xx/409, and Stripe sends the event again later.
    let order = record(&app, stripe.name(), &payment, &fact).await?;
    match &order {
        Some(o) => tracing::info!(id, kind, order = %o.id, status = o.status, "Stripe webhook recorded"),
        None => tracing::warn!(id, kind, payment, "Stripe webhook for a payment no order has"),
    }
    Ok(Json(serde_json::json!({"received": true, "order": order})).into_response())
}
