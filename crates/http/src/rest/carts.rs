//! Carts and checkout. A guest cart is reached by its (random) id; a customer's cart only
//! with her token. Completing a checkout needs an `Idempotency-Key`.

use crate::error::{ApiError, Problem};
use crate::extract::ValidJson;
use crate::idempotency::idempotent;
use crate::rest::auth::{CustomerAuth, bearer, customer};
use crate::state::{AppState, Store};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};
use rouge_orders::{Caller, CheckoutInput, OrderView, PaymentInput, PricedCart};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

pub fn router<S: Store>(app: &AppState<S>) -> Router<AppState<S>> {
    Router::new()
        .route("/v1/carts", idempotent(app, false, post(create::<S>)))
        .route("/v1/carts/{id}", get(read::<S>))
        .route("/v1/carts/{id}/lines", idempotent(app, false, post(add_line::<S>)))
        .route("/v1/carts/{id}/lines/{line}", patch(set_quantity::<S>).delete(remove_line::<S>))
        .route("/v1/carts/{id}/codes", idempotent(app, false, post(add_code::<S>)))
        .route("/v1/carts/{id}/codes/{code}", axum::routing::delete(remove_code::<S>))
        .route("/v1/carts/{id}/samples", put(set_samples::<S>))
        .route("/v1/carts/{id}/checkout", put(checkout::<S>))
        .route("/v1/carts/{id}/shipping-methods", get(shipping_methods::<S>))
        .route("/v1/carts/{id}/merge", idempotent(app, false, post(merge::<S>)))
        .route("/v1/carts/{id}/complete", idempotent(app, true, post(complete::<S>)))
}

/// A guest, or the customer whose token came with the request (a bad token is refused,
/// never taken for a guest).
pub struct Shopper(pub Caller);

impl<S: Store> axum::extract::FromRequestParts<AppState<S>> for Shopper {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, app: &AppState<S>) -> Result<Self, ApiError> {
        let Some(token) = bearer(&parts.headers) else {
            return Ok(Shopper(Caller::default()));
        };
        let verified = parts.extensions.get::<crate::gateway::Verified>();
        let id = customer(app, Some(token), verified).await?;
        Ok(Shopper(Caller { customer: Some(id) }))
    }
}

type Res = Result<Response, ApiError>;

/// A new cart (for a logged-in customer: her open cart, when she has one).
#[utoipa::path(post, path = "/v1/carts", tag = "checkout",
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries return the first answer")),
    responses((status = 201, body = PricedCart, headers(("Location" = String, description = "Where the created (or found) resource is"))), (status = 200, body = PricedCart, description = "The customer's open cart", headers(("Location" = String, description = "Where the created (or found) resource is"))),
        (status = 401, body = Problem)))]
pub async fn create<S: Store>(State(app): State<AppState<S>>, Shopper(caller): Shopper) -> Res {
    let (cart, created) = app.orders.create_cart(caller).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    let mut res = (status, Json(&cart)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/carts/{}", cart.id)) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// The cart, priced now: totals, tax, shipping, and which prices changed since they were added.
#[utoipa::path(get, path = "/v1/carts/{id}", tag = "checkout",
    responses((status = 200, body = PricedCart), (status = 404, body = Problem)))]
pub async fn read<S: Store>(State(app): State<AppState<S>>, Shopper(caller): Shopper, Path(id): Path<Uuid>) -> Res {
    Ok(Json(app.orders.cart(caller, id).await?).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddLine {
    pub sku: String,
    pub quantity: i64,
}

/// Adds units of a SKU (to its line, when the cart has one).
#[utoipa::path(post, path = "/v1/carts/{id}/lines", tag = "checkout", request_body = AddLine,
    responses((status = 200, body = PricedCart), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn add_line<S: Store>(
    State(app): State<AppState<S>>,
    Shopper(caller): Shopper,
    Path(id): Path<Uuid>,
    ValidJson(l): ValidJson<AddLine>,
) -> Res {
    Ok(Json(app.orders.add_line(caller, id, &l.sku, l.quantity).await?).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetQuantity {
    /// 0 removes the line.
    pub quantity: i64,
}

#[utoipa::path(patch, path = "/v1/carts/{id}/lines/{line}", tag = "checkout", request_body = SetQuantity,
    responses((status = 200, body = PricedCart), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn set_quantity<S: Store>(
    State(app): State<AppState<S>>,
    Shopper(caller): Shopper,
    Path((id, line)): Path<(Uuid, Uuid)>,
    ValidJson(q): ValidJson<SetQuantity>,
) -> Res {
    Ok(Json(app.orders.set_quantity(caller, id, line, q.quantity).await?).into_response())
}

#[utoipa::path(delete, path = "/v1/carts/{id}/lines/{line}", tag = "checkout",
    responses((status = 200, body = PricedCart), (status = 404, body = Problem)))]
pub async fn remove_line<S: Store>(
    State(app): State<AppState<S>>,
    Shopper(caller): Shopper,
    Path((id, line)): Path<(Uuid, Uuid)>,
) -> Res {
    Ok(Json(app.orders.set_quantity(caller, id, line, 0).await?).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddCode {
    /// A promotion code, in any case.
    pub code: String,
}

/// Enters a promotion code. One the shop does not have is refused (422); one that does not
/// apply yet stays on the cart, and `promotions.not_applied` says why ("spend 12.00 more").
#[utoipa::path(post, path = "/v1/carts/{id}/codes", tag = "checkout", request_body = AddCode,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries return the first answer")),
    responses((status = 200, body = PricedCart), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn add_code<S: Store>(
    State(app): State<AppState<S>>,
    Shopper(caller): Shopper,
    Path(id): Path<Uuid>,
    ValidJson(c): ValidJson<AddCode>,
) -> Res {
    Ok(Json(app.orders.add_code(caller, id, &c.code).await?).into_response())
}

/// Takes a promotion code off the cart.
#[utoipa::path(delete, path = "/v1/carts/{id}/codes/{code}", tag = "checkout",
    responses((status = 200, body = PricedCart), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn remove_code<S: Store>(
    State(app): State<AppState<S>>,
    Shopper(caller): Shopper,
    Path((id, code)): Path<(Uuid, String)>,
) -> Res {
    Ok(Json(app.orders.remove_code(caller, id, &code).await?).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PickSamples {
    /// SKUs among `promotions.samples.skus`, at most `promotions.samples.choose` (empty: none).
    pub skus: Vec<String>,
}

/// Picks the free samples a samples promotion offers (replacing an earlier pick).
#[utoipa::path(put, path = "/v1/carts/{id}/samples", tag = "checkout", request_body = PickSamples,
    responses((status = 200, body = PricedCart), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn set_samples<S: Store>(
    State(app): State<AppState<S>>,
    Shopper(caller): Shopper,
    Path(id): Path<Uuid>,
    ValidJson(p): ValidJson<PickSamples>,
) -> Res {
    Ok(Json(app.orders.set_samples(caller, id, &p.skus).await?).into_response())
}

/// Email, shipping and billing address (sealed at rest), shipping method; each optional,
/// unset ones keep their values.
#[utoipa::path(put, path = "/v1/carts/{id}/checkout", tag = "checkout", request_body = CheckoutInput,
    responses((status = 200, body = PricedCart), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn checkout<S: Store>(
    State(app): State<AppState<S>>,
    Shopper(caller): Shopper,
    Path(id): Path<Uuid>,
    ValidJson(input): ValidJson<CheckoutInput>,
) -> Res {
    Ok(Json(app.orders.set_checkout(caller, id, input).await?).into_response())
}

/// Shipping methods to the cart's address, priced for its parcel.
#[utoipa::path(get, path = "/v1/carts/{id}/shipping-methods", tag = "checkout",
    params(crate::page::PageQuery),
    responses((status = 200, body = crate::page::ShippingOptionPage), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn shipping_methods<S: Store>(
    State(app): State<AppState<S>>,
    Shopper(caller): Shopper,
    Path(id): Path<Uuid>,
    paging: crate::page::Paging,
) -> Res {
    let all = app.orders.shipping_options(caller, id).await?;
    Ok(Json(crate::page::ShippingOptionPage::of(all, &paging)).into_response())
}

/// After logging in: a guest cart joins the customer's open cart (or becomes hers).
#[utoipa::path(post, path = "/v1/carts/{id}/merge", tag = "checkout", security(("customer" = [])),
    responses((status = 200, body = PricedCart), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn merge<S: Store>(
    State(app): State<AppState<S>>,
    CustomerAuth(me): CustomerAuth,
    Path(id): Path<Uuid>,
) -> Res {
    Ok(Json(app.orders.merge(me, id).await?).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Complete {
    pub payment: PaymentInput,
}

/// Places the order: holds the stock, authorizes the payment, and answers with the order.
/// Needs an `Idempotency-Key`: retries with it return this answer and never charge twice.
#[utoipa::path(post, path = "/v1/carts/{id}/complete", tag = "checkout", request_body = Complete,
    params(("Idempotency-Key" = String, Header, description = "Required; reuse it when retrying")),
    responses((status = 201, body = OrderView, headers(("Location" = String, description = "Where the created (or found) resource is"))),
        (status = 200, body = OrderView, description = "The cart had already become this order", headers(("Location" = String, description = "Where the created (or found) resource is"))),
        (status = 400, body = Problem, description = "No Idempotency-Key"),
        (status = 402, body = Problem, description = "Declined, or the shopper must confirm"),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "Sold out, or another attempt is running"),
        (status = 422, body = Problem, description = "The cart is not ready, or the key was used for another request"),
        (status = 503, body = Problem, description = "The payment's outcome is not known yet: retry with the same key")))]
pub async fn complete<S: Store>(
    State(app): State<AppState<S>>,
    Shopper(caller): Shopper,
    Path(id): Path<Uuid>,
    headers: axum::http::HeaderMap,
    ValidJson(c): ValidJson<Complete>,
) -> Res {
    let key = headers.get(crate::idempotency::HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let (view, placed) = place(&app, caller, id, &c.payment, key).await?;
    let order = &view.order;
    let status = if placed { StatusCode::CREATED } else { StatusCode::OK };
    let mut res = (status, Json(&view)).into_response();
    let at = match caller.customer {
        Some(_) => format!("/v1/me/orders/{}", order.id),
        None => format!("/v1/orders/{}", order.id),
    };
    if let Ok(v) = HeaderValue::from_str(&at) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// Completes a checkout for REST and GraphQL alike: the order, whether this call placed it,
/// and the checkout counted by outcome (store failures are not an outcome: they are retried).
pub async fn place<S: Store>(
    app: &AppState<S>,
    caller: Caller,
    cart: Uuid,
    payment: &PaymentInput,
    key: &str,
) -> Result<(OrderView, bool), rouge_orders::OrdersError> {
    use rouge_orders::OrdersError as E;
    match app.orders.complete(caller, cart, payment, key).await {
        Ok((view, placed)) => {
            if placed {
                crate::ops::checkout("placed");
                crate::ops::order_placed(&view.order.currency, view.order.totals.total);
            }
            Ok((view, placed))
        }
        Err(e) => {
            let outcome = match &e {
                E::OutOfStock { .. } => Some("sold_out"),
                E::PaymentDeclined { .. } | E::PaymentRequiresAction { .. } => Some("declined"),
                E::PaymentUnknown(_) | E::PaymentFailed(_) => Some("pending"),
                E::Invalid(_)
                | E::Conflict(_)
                | E::NotFound(_)
                | E::Transition(_)
                | E::Stale
                | E::PromotionUsedUp(_) => Some("refused"),
                E::Store(_) => None,
            };
            if let Some(o) = outcome {
                crate::ops::checkout(o);
            }
            Err(e)
        }
    }
}
