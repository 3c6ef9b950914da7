//! Orders: a customer's own (list, one with its timeline, request a return), a guest's by its
//! id, and staff's (search, move through fulfilment, refund).

use crate::authz::need;
use crate::error::{ApiError, Problem};
use crate::extract::{IfMatch, ValidJson};
use crate::idempotency::idempotent;
use crate::rest::auth::CustomerAuth;
use crate::rest::carts::Shopper;
use crate::state::{AppState, Store};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rouge_identity::Permission;
use rouge_kernel::Validation;
use rouge_orders::{Access, Caller, Command, Order, OrderFilter, OrderView, Status, Units};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub fn router<S: Store>(app: &AppState<S>) -> Router<AppState<S>> {
    use Permission::{OrdersRead, OrdersRefund, OrdersWrite};
    Router::new()
        .route("/v1/me/orders", get(my_orders::<S>))
        .route("/v1/me/orders/{id}", get(my_order::<S>))
        .route("/v1/me/orders/{id}/returns", idempotent(app, false, post(request_return::<S>)))
        .route("/v1/orders/{id}", get(guest_order::<S>))
        .route("/v1/admin/orders", need(app, OrdersRead, get(search::<S>)))
        .route("/v1/admin/orders/{id}", need(app, OrdersRead, get(staff_order::<S>)))
        .route(
            "/v1/admin/orders/{id}/transitions",
            need(app, OrdersWrite, idempotent(app, false, post(transition::<S>))),
        )
        .route("/v1/admin/orders/{id}/refunds", need(app, OrdersRefund, idempotent(app, false, post(refund::<S>))))
}

type Res = Result<Response, ApiError>;

#[derive(Serialize, ToSchema)]
pub struct OrderPage {
    pub items: Vec<Order>,
    /// Pass back as `cursor` for older orders; null on the last page.
    pub next_cursor: Option<String>,
}

/// Parses `limit`, `cursor` and, for staff, `status` and `customer`.
fn filter(raw: Option<String>, staff: bool) -> Result<OrderFilter, ApiError> {
    let pairs: Vec<(String, String)> = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(
        &format!("/?{}", raw.unwrap_or_default()).parse().unwrap_or_else(|_| axum::http::Uri::from_static("/")),
    )
    .map(|q| q.0)
    .unwrap_or_default();
    let mut v = Validation::new();
    let mut f = OrderFilter { limit: 20, ..OrderFilter::default() };
    for (k, val) in &pairs {
        match k.as_str() {
            "limit" => {
                f.limit = v
                    .check(
                        k,
                        "out_of_range",
                        val.parse::<i64>().ok().filter(|n| (1..=100).contains(n)).ok_or("1 to 100"),
                    )
                    .unwrap_or(20)
            }
            "cursor" => match crate::page::position::<i64>("orders", val) {
                Ok(n) => f.before_number = Some(n),
                Err(e) => v.push(e.field, e.code, e.message),
            },
            "status" if staff => {
                f.status = v.check(k, "unknown_value", Status::parse(val).ok_or("an order status, e.g. paid"))
            }
            "customer" if staff => f.customer_id = v.check(k, "type", Uuid::try_parse(val).map_err(|_| "a UUID")),
            other => v.push(
                other,
                "unknown_parameter",
                if staff { "accepted: status, customer, limit, cursor" } else { "accepted: limit, cursor" },
            ),
        }
    }
    v.finish(|| f).map_err(ApiError::BadQuery)
}

fn page(items: Vec<Order>, limit: i64) -> OrderPage {
    let next_cursor = (items.len() as i64 == limit)
        .then(|| items.last().map(|o| crate::page::cursor_after("orders", o.number)))
        .flatten();
    OrderPage { items, next_cursor }
}

fn with_etag(view: &OrderView) -> Response {
    let mut res = Json(view).into_response();
    if let Ok(v) = HeaderValue::from_str(&crate::extract::version_etag(view.order.version)) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

/// The customer's orders, newest first.
#[utoipa::path(get, path = "/v1/me/orders", tag = "me", security(("customer" = [])),
    params(("limit" = Option<i64>, Query, description = "1 to 100, default 20"), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = OrderPage), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn my_orders<S: Store>(
    State(app): State<AppState<S>>,
    CustomerAuth(me): CustomerAuth,
    RawQuery(raw): RawQuery,
) -> Res {
    let mut f = filter(raw, false)?;
    f.customer_id = Some(me);
    Ok(Json(page(app.orders.orders(&f).await?, f.limit)).into_response())
}

/// One of the customer's orders, with its timeline (another customer's answers 404).
#[utoipa::path(get, path = "/v1/me/orders/{id}", tag = "me", security(("customer" = [])),
    responses((status = 200, body = OrderView, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"))), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn my_order<S: Store>(
    State(app): State<AppState<S>>,
    CustomerAuth(me): CustomerAuth,
    Path(id): Path<Uuid>,
) -> Res {
    Ok(with_etag(&app.orders.order(Access::Owner(me), id).await?))
}

/// A guest's order, by the id its checkout answered with (a customer's order needs her token).
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "checkout",
    responses((status = 200, body = OrderView, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"))), (status = 404, body = Problem)))]
pub async fn guest_order<S: Store>(
    State(app): State<AppState<S>>,
    Shopper(caller): Shopper,
    Path(id): Path<Uuid>,
) -> Res {
    Ok(with_etag(&app.orders.order(Access::Holder(caller), id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnRequest {
    pub lines: Vec<Units>,
    pub reason: String,
}

/// Asks to send units back.
#[utoipa::path(post, path = "/v1/me/orders/{id}/returns", tag = "me", security(("customer" = [])), request_body = ReturnRequest,
    responses((status = 200, body = OrderView, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"))), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn request_return<S: Store>(
    State(app): State<AppState<S>>,
    CustomerAuth(me): CustomerAuth,
    Path(id): Path<Uuid>,
    ValidJson(r): ValidJson<ReturnRequest>,
) -> Res {
    let cmd = Command::RequestReturn { lines: r.lines, reason: r.reason };
    let view = app.orders.transition(Some(Caller { customer: Some(me) }), id, &cmd, None).await?;
    Ok(with_etag(&view))
}

/// Orders, newest first, by status or customer.
#[utoipa::path(get, path = "/v1/admin/orders", tag = "orders", security(("staff" = ["orders:read"])),
    params(("status" = Option<String>, Query), ("customer" = Option<String>, Query), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = OrderPage), (status = 400, body = Problem)))]
pub async fn search<S: Store>(State(app): State<AppState<S>>, RawQuery(raw): RawQuery) -> Res {
    let f = filter(raw, true)?;
    Ok(Json(page(app.orders.orders(&f).await?, f.limit)).into_response())
}

/// An order with its contact, addresses and timeline.
#[utoipa::path(get, path = "/v1/admin/orders/{id}", tag = "orders", security(("staff" = ["orders:read"])),
    responses((status = 200, body = OrderView, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"))), (status = 404, body = Problem)))]
pub async fn staff_order<S: Store>(State(app): State<AppState<S>>, Path(id): Path<Uuid>) -> Res {
    Ok(with_etag(&app.orders.order(Access::Staff, id).await?))
}

/// Moves an order on: capture, ship (partially), mark delivered, cancel, receive a return.
/// Send `If-Match` with the ETag you read to be sure nobody moved it meanwhile.
#[utoipa::path(post, path = "/v1/admin/orders/{id}/transitions", tag = "orders", security(("staff" = ["orders:write"])),
    request_body = Command,
    responses((status = 200, body = OrderView, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"))), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn transition<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
    IfMatch(version): IfMatch,
    ValidJson(cmd): ValidJson<Command>,
) -> Res {
    if matches!(cmd, Command::Refund { .. }) {
        return Err(ApiError::Forbidden("refunds go through /refunds, which needs `orders:refund`".into()));
    }
    let view = app.orders.transition(None, id, &cmd, version).await?;
    Ok(with_etag(&view))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundInput {
    /// Minor units; at most what was captured and not yet refunded.
    pub amount: i64,
}

/// Gives money back through the payment provider (part or all of what was captured).
#[utoipa::path(post, path = "/v1/admin/orders/{id}/refunds", tag = "orders", security(("staff" = ["orders:refund"])),
    request_body = RefundInput,
    responses((status = 200, body = OrderView, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"))), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
pub async fn refund<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
    IfMatch(version): IfMatch,
    ValidJson(r): ValidJson<RefundInput>,
) -> Res {
    let view = app.orders.transition(None, id, &Command::Refund { amount: r.amount }, version).await?;
    Ok(with_etag(&view))
}
