//! Inventory: receiving, adjusting, transferring and quarantining lots (`inventory:write`),
//! stock levels, the ledger and batch recalls (`inventory:read`), and what the storefront
//! may know (in stock, low, sold out).

use crate::authz::need;
use crate::error::{ApiError, Problem};
use crate::extract::ValidJson;
use crate::idempotency::idempotent;
use crate::state::{AppState, Store};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use rouge_identity::Permission;
use rouge_inventory::{LedgerEntry, Lot, Receipt, StockLevel};
use rouge_kernel::{FieldError, Validation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub fn router<S: Store>(app: &AppState<S>) -> Router<AppState<S>> {
    use Permission::{InventoryRead, InventoryWrite};
    Router::new()
        .route("/v1/admin/inventory/receipts", need(app, InventoryWrite, idempotent(app, false, post(receive::<S>))))
        .route(
            "/v1/admin/inventory/lots/{id}/adjustments",
            need(app, InventoryWrite, idempotent(app, false, post(adjust::<S>))),
        )
        .route(
            "/v1/admin/inventory/lots/{id}/transfers",
            need(app, InventoryWrite, idempotent(app, false, post(transfer::<S>))),
        )
        .route("/v1/admin/inventory/lots/{id}/quarantine", need(app, InventoryWrite, put(quarantine::<S>)))
        .route("/v1/admin/inventory/skus/{sku}", need(app, InventoryRead, get(stock::<S>)))
        .route("/v1/admin/inventory/skus/{sku}/ledger", need(app, InventoryRead, get(ledger::<S>)))
        .route("/v1/admin/batches/{batch}", need(app, InventoryRead, get(batch::<S>)))
        .route("/v1/admin/batches/{batch}/orders", need(app, InventoryRead, get(batch_orders::<S>)))
        .route("/v1/stock", get(availability::<S>))
}

type Res = Result<Response, ApiError>;

/// The catalogue's variants of `skus`, in order: the index here, or the catalogue service.
async fn variants<S: Store>(
    app: &AppState<S>,
    skus: &[String],
) -> Result<Vec<Option<rouge_orders::SkuView>>, ApiError> {
    app.skus.skus(skus).await.map_err(|e| ApiError::Unavailable(format!("the catalogue did not answer: {e}")))
}

fn unknown_sku(sku: &str) -> ApiError {
    ApiError::Invalid(vec![FieldError {
        field: "sku".into(),
        code: "unknown_sku",
        message: format!("no variant of the catalogue has SKU `{}`", sku.chars().take(64).collect::<String>()),
    }])
}

/// Goods arrive: adds to the lot of (SKU, location, batch), creating it.
#[utoipa::path(post, path = "/v1/admin/inventory/receipts", tag = "inventory", request_body = Receipt,
    security(("staff" = ["inventory:write"])),
    responses((status = 201, body = Lot, headers(("Location" = String, description = "Where the created (or found) resource is"))), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "The batch is already stocked there with another expiry date"),
        (status = 422, body = Problem)))]
pub async fn receive<S: Store>(State(app): State<AppState<S>>, ValidJson(r): ValidJson<Receipt>) -> Res {
    if variants(&app, &[r.sku.trim().to_owned()]).await?[0].is_none() {
        return Err(unknown_sku(&r.sku));
    }
    let lot = app.inventory.receive(&r).await?;
    let mut res = (StatusCode::CREATED, Json(&lot)).into_response();
    res.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(&format!("/v1/admin/inventory/skus/{}", lot.sku))
            .unwrap_or(HeaderValue::from_static("/")),
    );
    Ok(res)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Adjustment {
    /// Units to add (found stock) or, negative, to remove (damaged, lost).
    pub delta: i64,
    pub reason: String,
}

/// Corrects a lot's count, with a reason; never below what the lot has reserved.
#[utoipa::path(post, path = "/v1/admin/inventory/lots/{id}/adjustments", tag = "inventory", request_body = Adjustment,
    security(("staff" = ["inventory:write"])),
    responses((status = 200, body = Lot), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn adjust<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
    ValidJson(a): ValidJson<Adjustment>,
) -> Res {
    let lot = app.inventory.adjust(id, a.delta, &a.reason).await?;
    Ok(Json(lot).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    pub to_location: String,
    pub quantity: i64,
}

#[derive(Serialize, ToSchema)]
pub struct Transferred {
    pub from: Lot,
    pub to: Lot,
}

/// Moves unreserved units of a lot to the same batch at another location.
#[utoipa::path(post, path = "/v1/admin/inventory/lots/{id}/transfers", tag = "inventory", request_body = Transfer,
    security(("staff" = ["inventory:write"])),
    responses((status = 200, body = Transferred), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn transfer<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
    ValidJson(t): ValidJson<Transfer>,
) -> Res {
    let (from, to) = app.inventory.transfer(id, &t.to_location, t.quantity).await?;
    Ok(Json(Transferred { from, to }).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Quarantine {
    pub quarantined: bool,
}

/// Takes a lot off sale (a recall, returned opened products) or puts it back.
#[utoipa::path(put, path = "/v1/admin/inventory/lots/{id}/quarantine", tag = "inventory", request_body = Quarantine,
    security(("staff" = ["inventory:write"])),
    responses((status = 200, body = Lot), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn quarantine<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
    ValidJson(q): ValidJson<Quarantine>,
) -> Res {
    let lot = app.inventory.set_quarantine(id, q.quarantined).await?;
    Ok(Json(lot).into_response())
}

/// A SKU's stock: on hand, reserved, available to sell, and its lots.
#[utoipa::path(get, path = "/v1/admin/inventory/skus/{sku}", tag = "inventory", security(("staff" = ["inventory:read"])),
    responses((status = 200, body = StockLevel), (status = 404, body = Problem)))]
pub async fn stock<S: Store>(State(app): State<AppState<S>>, Path(sku): Path<String>) -> Res {
    if variants(&app, std::slice::from_ref(&sku)).await?[0].is_none() {
        return Err(ApiError::NotFound(format!("no variant has SKU `{}`", sku.chars().take(64).collect::<String>())));
    }
    Ok(Json(app.inventory.stock(&sku).await?).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct LedgerPage {
    pub items: Vec<LedgerEntry>,
    /// Pass back as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

fn query_pairs(raw: Option<String>) -> Vec<(String, String)> {
    crate::page::query_pairs(&raw.unwrap_or_default())
}

/// A SKU's ledger, oldest first: every receipt, adjustment, transfer, reservation, release and sale.
#[utoipa::path(get, path = "/v1/admin/inventory/skus/{sku}/ledger", tag = "inventory", security(("staff" = ["inventory:read"])),
    params(("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"), ("limit" = Option<i64>, Query, description = "1 to 500, default 100")),
    responses((status = 200, body = LedgerPage), (status = 400, body = Problem)))]
pub async fn ledger<S: Store>(State(app): State<AppState<S>>, Path(sku): Path<String>, RawQuery(raw): RawQuery) -> Res {
    let mut v = Validation::new();
    let (mut after, mut limit) = (0i64, 100i64);
    for (k, val) in query_pairs(raw) {
        match k.as_str() {
            "cursor" => match crate::page::position::<i64>("ledger", &val) {
                Ok(n) => after = n,
                Err(e) => v.push(e.field, e.code, e.message),
            },
            "limit" => {
                limit = v
                    .check(
                        &k,
                        "out_of_range",
                        val.parse::<i64>().ok().filter(|n| (1..=500).contains(n)).ok_or("between 1 and 500"),
                    )
                    .unwrap_or(100)
            }
            other => v.push(other, "unknown_parameter", "accepted: cursor, limit"),
        }
    }
    v.finish(|| ()).map_err(ApiError::BadQuery)?;
    let items = app.inventory.repo().ledger(&sku, after, limit).await?;
    let next_cursor = (items.len() as i64 == limit)
        .then(|| items.last().map(|e| crate::page::cursor_after("ledger", e.seq)))
        .flatten();
    Ok(Json(LedgerPage { items, next_cursor }).into_response())
}

/// Every lot of a batch, at every location.
#[utoipa::path(get, path = "/v1/admin/batches/{batch}", tag = "inventory", security(("staff" = ["inventory:read"])),
    params(crate::page::PageQuery),
    responses((status = 200, body = crate::page::LotPage), (status = 404, body = Problem)))]
pub async fn batch<S: Store>(
    State(app): State<AppState<S>>,
    Path(batch): Path<String>,
    paging: crate::page::Paging,
) -> Res {
    let lots = app.inventory.repo().lots_of_batch(&batch).await?;
    if lots.is_empty() {
        return Err(ApiError::NotFound(format!(
            "no stock was received with batch `{}`",
            batch.chars().take(64).collect::<String>()
        )));
    }
    Ok(Json(crate::page::LotPage::of(lots, &paging)).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct BatchOrder {
    pub order_id: Uuid,
    pub sku: String,
    pub quantity: i64,
}

/// The recall question: which orders received units of this batch.
#[utoipa::path(get, path = "/v1/admin/batches/{batch}/orders", tag = "inventory", security(("staff" = ["inventory:read"])),
    params(crate::page::PageQuery),
    responses((status = 200, body = crate::page::BatchOrderPage), (status = 404, body = Problem)))]
pub async fn batch_orders<S: Store>(
    State(app): State<AppState<S>>,
    Path(batch): Path<String>,
    paging: crate::page::Paging,
) -> Res {
    if app.inventory.repo().lots_of_batch(&batch).await?.is_empty() {
        return Err(ApiError::NotFound(format!(
            "no stock was received with batch `{}`",
            batch.chars().take(64).collect::<String>()
        )));
    }
    let orders = app.inventory.repo().orders_of_batch(&batch).await?;
    let all = orders.into_iter().map(|(order_id, sku, quantity)| BatchOrder { order_id, sku, quantity }).collect();
    Ok(Json(crate::page::BatchOrderPage::of(all, &paging)).into_response())
}

pub use crate::availability::StockStatus;

#[derive(Serialize, ToSchema)]
pub struct Availability {
    pub sku: String,
    pub status: StockStatus,
    /// Shown only while stock is low ("only 3 left").
    pub available: Option<i64>,
}

/// What the storefront may show of stock: per SKU, in stock, low (with the count) or sold out.
#[utoipa::path(get, path = "/v1/stock", tag = "storefront",
    params(("sku" = Vec<String>, Query, description = "One or more SKUs (at most 50)")),
    responses((status = 200, body = crate::page::AvailabilityPage), (status = 400, body = Problem)))]
pub async fn availability<S: Store>(State(app): State<AppState<S>>, RawQuery(raw): RawQuery) -> Res {
    let mut v = Validation::new();
    let mut skus = vec![];
    for (k, val) in query_pairs(raw) {
        match k.as_str() {
            "sku" => skus.push(val),
            other => v.push(other, "unknown_parameter", "accepted: sku"),
        }
    }
    if skus.is_empty() || skus.len() > 50 {
        v.push("sku", "count", "give 1 to 50 `sku` parameters");
    }
    v.finish(|| ()).map_err(ApiError::BadQuery)?;
    let mut out = vec![];
    let views = variants(&app, &skus).await?;
    for (sku, view) in skus.into_iter().zip(views) {
        if view.is_none_or(|s| !s.on_sale) {
            continue;
        }
        let available = app.inventory.stock(&sku).await?.available;
        let status = StockStatus::of(available, app.inventory.low_stock);
        let shown = (status == StockStatus::LowStock).then_some(available);
        out.push(Availability { sku, status, available: shown });
    }
    // At most 50, all on one page.
    Ok(Json(crate::page::AvailabilityPage { items: out, next_cursor: None }).into_response())
}
