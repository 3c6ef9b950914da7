//! One-click reorders: the link in a replenishment reminder carries a token; the shop's page
//! for it sends it here and gets a cart holding what she bought (a guest cart: it works
//! without signing in, and merges into her account's cart when she does). Again with the same
//! token: the same cart.

use crate::error::{ApiError, Problem};
use crate::state::{AppState, Store};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::{Json, Router};
use rouge_orders::{Caller, PricedCart};

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new().route("/v1/reorders/{token}", put(reorder::<S>))
}

/// The cart a reminder's reorder link makes: its line, bought again (201), or the cart it made
/// before (200).
#[utoipa::path(put, path = "/v1/reorders/{token}", tag = "checkout",
    params(("token" = String, Path, description = "The token of the reminder email's link")),
    responses((status = 201, body = PricedCart, headers(("Location" = String, description = "The cart"))),
        (status = 200, body = PricedCart, description = "The cart this link made before"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "Sold out")))]
pub async fn reorder<S: Store>(
    State(app): State<AppState<S>>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let (cart, made) = reorder_cart(&app, &token).await?;
    if !made {
        return Ok(Json(cart).into_response());
    }
    let mut res = (StatusCode::CREATED, Json(&cart)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/carts/{}", cart.id)) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// The cart a reorder link makes (REST and GraphQL), and whether this call made it.
///
/// # Errors
/// `NotFound` for a token that is no link's; the cart's errors (sold out, no longer sold).
pub async fn reorder_cart<S: Store>(app: &AppState<S>, token: &str) -> Result<(PricedCart, bool), ApiError> {
    let hash = rouge_identity::tokens::hash_secret(token);
    let unknown = || ApiError::NotFound("this reorder link is not one of the shop's".into());
    let reminder = app.store.by_token(&hash).await?.ok_or_else(unknown)?;
    let guest = Caller::default();
    if let Some(cart) = reminder.cart_id {
        return Ok((app.orders.cart(guest, cart).await?, false));
    }
    let (cart, _) = app.orders.create_cart(guest).await?;
    let cart = app.orders.add_line(guest, cart.id, &reminder.sku, reminder.quantity).await?;
    if !app.store.set_cart(reminder.id, cart.id).await? {
        // Another request made it first: that one is the link's cart.
        let first = app.store.by_token(&hash).await?.and_then(|r| r.cart_id).ok_or_else(unknown)?;
        return Ok((app.orders.cart(guest, first).await?, false));
    }
    Ok((cart, true))
}
