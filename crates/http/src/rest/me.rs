//! The logged-in customer's own data: read, change (name, beauty profile), export, erase.

use crate::error::{ApiError, Problem};
use crate::extract::{IfMatch, parse_json, version_etag};
use crate::rest::auth::CustomerAuth;
use crate::state::{AppState, Store};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rouge_identity::{CustomerView, MeUpdate};

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/v1/me", get(me::<S>).patch(update_me::<S>).delete(erase_me::<S>))
        .route("/v1/me/export", get(export::<S>))
}

fn private(view: &CustomerView) -> Response {
    let mut res = Json(view).into_response();
    let h = res.headers_mut();
    h.insert(header::ETAG, HeaderValue::from_str(&version_etag(view.version)).expect("ascii"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    res
}

/// The customer's account and beauty profile.
#[utoipa::path(get, path = "/v1/me", tag = "me", security(("customer" = [])),
    responses((status = 200, body = CustomerView, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"))), (status = 401, body = Problem)))]
pub async fn me<S: Store>(
    State(app): State<AppState<S>>,
    CustomerAuth(id): CustomerAuth,
) -> Result<Response, ApiError> {
    Ok(private(&app.identity.me(id).await?))
}

/// Change the name and/or the beauty profile (a JSON merge patch of `name` and
/// `beauty_profile`; the profile is replaced as a whole). Send `If-Match` with the ETag you
/// read to avoid overwriting a change made elsewhere.
#[utoipa::path(patch, path = "/v1/me", tag = "me", security(("customer" = [])), request_body = MeUpdate,
    responses((status = 200, body = CustomerView, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"))), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn update_me<S: Store>(
    State(app): State<AppState<S>>,
    CustomerAuth(id): CustomerAuth,
    IfMatch(expected): IfMatch,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let json = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| ct.contains("json"));
    if !json {
        return Err(ApiError::UnsupportedMediaType);
    }
    let update: MeUpdate = parse_json(&body)?;
    let view = app.identity.update_me(id, update, expected).await?;
    // Her recommendations read her new profile at once.
    app.recs.forget(id);
    Ok(private(&view))
}

/// Everything Rouge holds about the customer, as JSON.
#[utoipa::path(get, path = "/v1/me/export", tag = "me", security(("customer" = [])),
    responses((status = 200, body = Object), (status = 401, body = Problem)))]
pub async fn export<S: Store>(
    State(app): State<AppState<S>>,
    CustomerAuth(id): CustomerAuth,
) -> Result<Response, ApiError> {
    let mut doc =
        serde_json::to_value(app.identity.export(id).await?).map_err(|e| ApiError::Internal(e.to_string()))?;
    let orders = match &app.peers.orders {
        Some(orders) => crate::peers::orders_of(orders, id).await?,
        None => {
            serde_json::to_value(app.orders.export_for(id).await?).map_err(|e| ApiError::Internal(e.to_string()))?
        }
    };
    if let Some(map) = doc.as_object_mut() {
        map.insert("orders".into(), orders);
    }
    let mut res = Json(doc).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    res.headers_mut()
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"rouge-export.json\""));
    Ok(res)
}

/// Erase the account: personal data is destroyed (its key is shredded), her orders keep only
/// what accounts and tax law need (lines, amounts, destination country; no email or
/// addresses), and every session ends.
#[utoipa::path(delete, path = "/v1/me", tag = "me", security(("customer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
pub async fn erase_me<S: Store>(
    State(app): State<AppState<S>>,
    CustomerAuth(id): CustomerAuth,
) -> Result<StatusCode, ApiError> {
    match &app.peers.orders {
        Some(orders) => {
            crate::peers::forget_orders_of(orders, id).await?;
        }
        None => {
            app.orders.forget_customer(id).await?;
        }
    }
    // Stored answers to her idempotent requests hold her data too.
    rouge_kernel::IdempotencyStore::forget_owner(&app.store, &id.to_string()).await.map_err(ApiError::from)?;
    app.identity.erase(id).await?;
    app.recs.forget(id);
    Ok(StatusCode::NO_CONTENT)
}
