//! The routes services call on each other when they run apart (`/internal/v1/…`): only what a
//! context needs of another, each served by the process that owns the context, and answered
//! only to a service token signed by the shop's keys. Public clients never need them; a load
//! balancer may route them like the public ones.

use crate::error::ApiError;
use crate::extract::ValidJson;
use crate::idempotency::idempotent;
use crate::services::Service;
use crate::state::{AppState, Store};
use axum::extract::{Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rouge_orders::SkuView;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Serialize, Deserialize)]
pub struct SkusQuery {
    pub skus: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ReserveBody {
    pub reference: String,
    pub lines: Vec<(String, i64)>,
    /// Held until (milliseconds since the Unix epoch): units set aside for a later order;
    /// without it, a checkout's hold (inventory's reservation time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CommitBody {
    pub order_id: Uuid,
}

/// A reservation's outcome: short stock is an answer, not a failure of the call.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reserved {
    Held(Uuid),
    Insufficient { sku: String, requested: i64, available: i64 },
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ReleaseBody {
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct TakeBackBody {
    pub units: Vec<(String, i64)>,
    pub sellable: bool,
}

/// Whom a bearer token speaks for, asked of identity.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallerQuery {
    Customer(String),
    Staff(String),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallerAnswer {
    Customer(Uuid),
    Staff(rouge_identity::Principal),
}

/// What other services need to know of an order: inventory (its consumer of orders'
/// events), reviews (whose it is, what it holds, whether it was delivered).
#[derive(Debug, Serialize, Deserialize)]
pub struct OrderFacts {
    pub status: String,
    pub reservation_id: Uuid,
    #[serde(default)]
    pub customer_id: Option<Uuid>,
    #[serde(default)]
    pub skus: Vec<String>,
}

impl OrderFacts {
    pub fn of(o: &rouge_orders::Order) -> Self {
        Self {
            status: o.status.as_str().to_owned(),
            reservation_id: o.reservation_id,
            customer_id: o.customer_id,
            skus: o.lines.iter().map(|l| l.sku.clone()).collect(),
        }
    }
}

/// A payment provider's answer through the payments service: its outcome, or its failure
/// (the call itself went through).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Paid<T> {
    Done(T),
    Unreachable(String),
    Rejected(String),
}

impl<T> From<rouge_payments::PaymentResult<T>> for Paid<T> {
    fn from(r: rouge_payments::PaymentResult<T>) -> Self {
        match r {
            Ok(t) => Paid::Done(t),
            Err(rouge_payments::PaymentError::Unreachable(why)) => Paid::Unreachable(why),
            Err(rouge_payments::PaymentError::Rejected(why)) => Paid::Rejected(why),
        }
    }
}

/// A capture, void, refund or lookup (each uses the fields it needs).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PaymentCall {
    pub payment_id: String,
    pub amount: i64,
    pub idempotency_key: String,
}

/// What a provider's webhook said of a payment, for orders to record.
#[derive(Debug, Serialize, Deserialize)]
pub struct RecordBody {
    pub provider: String,
    pub payment_id: String,
    pub fact: rouge_payments::PaymentFact,
}

/// The order a payment fact was recorded on.
#[derive(Debug, Serialize, Deserialize)]
pub struct PaidOrder {
    pub id: Uuid,
    pub status: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Done {
    pub changed: u64,
}

pub fn router<S: Store>(app: &AppState<S>) -> Router<AppState<S>> {
    let has = |s| app.services.has(s);
    let mut r = Router::new();
    if has(Service::Catalog) {
        r = r.route("/internal/v1/skus", post(skus::<S>));
    }
    if has(Service::Inventory) {
        r = r
            .route("/internal/v1/reservations", idempotent(app, true, post(reserve::<S>)))
            .route("/internal/v1/reservations/{id}/release", idempotent(app, true, post(release::<S>)))
            .route("/internal/v1/reservations/{id}/commit", idempotent(app, true, post(commit::<S>)))
            .route("/internal/v1/reservations/{id}/restock", idempotent(app, true, post(restock::<S>)))
            .route("/internal/v1/reservations/{id}/take-back", idempotent(app, true, post(take_back::<S>)))
            .route("/internal/v1/sellable", get(sellable::<S>));
    }
    if has(Service::Identity) {
        r = r
            .route("/internal/v1/callers", post(caller::<S>))
            .route("/internal/v1/profiles/{id}", get(profile::<S>))
            .route("/internal/v1/profiles/{id}/segments", get(segments::<S>))
            .route("/internal/v1/profiles/{id}/reviewer", get(reviewer::<S>));
    }
    if has(Service::Payments) {
        r = r.route("/internal/v1/payments/{provider}/{call}", post(pay::<S>));
    }
    if has(Service::Orders) {
        r = r
            .route("/internal/v1/payments/record", idempotent(app, true, post(record::<S>)))
            .route("/internal/v1/customers/{id}/forget", idempotent(app, true, post(forget::<S>)))
            .route("/internal/v1/customers/{id}/orders", get(export::<S>))
            .route("/internal/v1/orders/{id}", get(order_facts::<S>));
    }
    if !r.has_routes() {
        return r;
    }
    r.route_layer(middleware::from_fn_with_state(app.clone(), services_only::<S>))
}

/// Only Rouge's services: a service token of the shop's keys.
async fn services_only<S: Store>(State(app): State<AppState<S>>, req: Request, next: Next) -> Response {
    let Some(token) = crate::rest::auth::bearer(req.headers()) else {
        return ApiError::Unauthorized("internal routes answer Rouge's services only (a service token)".into())
            .into_response();
    };
    match app.identity.tokens().verify_service(token) {
        Ok(caller) => {
            tracing::debug!(%caller, "internal call");
            next.run(req).await
        }
        Err(_) => ApiError::Unauthorized("not a valid service token".into()).into_response(),
    }
}

async fn skus<S: Store>(
    State(app): State<AppState<S>>,
    ValidJson(q): ValidJson<SkusQuery>,
) -> Result<Json<Vec<Option<SkuView>>>, ApiError> {
    app.skus.skus(&q.skus).await.map(Json).map_err(ApiError::Unavailable)
}

async fn reserve<S: Store>(
    State(app): State<AppState<S>>,
    ValidJson(b): ValidJson<ReserveBody>,
) -> Result<Json<Reserved>, ApiError> {
    let lines: Vec<rouge_inventory::LineRequest> =
        b.lines.into_iter().map(|(sku, quantity)| rouge_inventory::LineRequest { sku, quantity }).collect();
    let held = match b.until {
        Some(until) => app.inventory.reserve_until(&b.reference, &lines, until).await,
        None => app.inventory.reserve(&b.reference, &lines).await,
    };
    match held {
        Ok(r) => Ok(Json(Reserved::Held(r.id))),
        Err(rouge_inventory::InventoryError::Insufficient { sku, requested, available }) => {
            Ok(Json(Reserved::Insufficient { sku, requested, available }))
        }
        Err(e) => Err(e.into()),
    }
}

async fn release<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
    ValidJson(b): ValidJson<ReleaseBody>,
) -> Result<Json<Done>, ApiError> {
    app.inventory.release(id, &b.reason).await?;
    Ok(Json(Done { changed: 1 }))
}

async fn commit<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
    ValidJson(b): ValidJson<CommitBody>,
) -> Result<Json<Done>, ApiError> {
    app.inventory.commit(id, b.order_id).await?;
    Ok(Json(Done { changed: 1 }))
}

async fn restock<S: Store>(State(app): State<AppState<S>>, Path(id): Path<Uuid>) -> Result<Json<Done>, ApiError> {
    app.inventory.restock(id).await?;
    Ok(Json(Done { changed: 1 }))
}

async fn take_back<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
    ValidJson(b): ValidJson<TakeBackBody>,
) -> Result<Json<Done>, ApiError> {
    let units: Vec<rouge_inventory::LineRequest> =
        b.units.into_iter().map(|(sku, quantity)| rouge_inventory::LineRequest { sku, quantity }).collect();
    app.inventory.take_back(id, &units, b.sellable).await?;
    Ok(Json(Done { changed: 1 }))
}

async fn sellable<S: Store>(State(app): State<AppState<S>>) -> Result<Json<Vec<(String, i64)>>, ApiError> {
    Ok(Json(app.inventory.sellable_by_sku().await?))
}

async fn caller<S: Store>(
    State(app): State<AppState<S>>,
    ValidJson(q): ValidJson<CallerQuery>,
) -> Result<Json<CallerAnswer>, ApiError> {
    match q {
        CallerQuery::Customer(token) => {
            Ok(Json(CallerAnswer::Customer(crate::rest::auth::local_customer(&app, &token, None).await?)))
        }
        CallerQuery::Staff(token) => Ok(Json(CallerAnswer::Staff(crate::authz::principal(&app, &token).await?))),
    }
}

/// The segments a customer's beauty profile puts her in (for promotions kept for segments).
/// A customer's whole beauty profile (a beauty box is filled by it).
async fn profile<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
) -> Result<Json<rouge_identity::BeautyProfile>, ApiError> {
    Ok(Json(app.identity.profile(id).await?))
}

async fn segments<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(app.identity.profile(id).await?.segments()))
}

/// What a review copies of a customer's beauty profile.
async fn reviewer<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
) -> Result<Json<rouge_reviews::ReviewerProfile>, ApiError> {
    Ok(Json(crate::peers::reviewer_of(&app.identity.profile(id).await?)))
}

async fn forget<S: Store>(State(app): State<AppState<S>>, Path(id): Path<Uuid>) -> Result<Json<Done>, ApiError> {
    Ok(Json(Done { changed: app.orders.forget_customer(id).await? }))
}

async fn export<S: Store>(State(app): State<AppState<S>>, Path(id): Path<Uuid>) -> Result<Response, ApiError> {
    Ok(Json(app.orders.export_for(id).await?).into_response())
}

async fn order_facts<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
) -> Result<Json<OrderFacts>, ApiError> {
    let (order, _) = rouge_orders::OrdersRepository::order(&app.store, id)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .ok_or_else(|| ApiError::NotFound("no such order".into()))?;
    Ok(Json(OrderFacts::of(&order)))
}

/// One call to one of this process's payment providers (authorize, lookup, capture, void,
/// refund); each carries the provider's own idempotency key, so a retried call does it once.
async fn pay<S: Store>(
    State(app): State<AppState<S>>,
    Path((provider, call)): Path<(String, String)>,
    ValidJson(body): ValidJson<serde_json::Value>,
) -> Result<Response, ApiError> {
    let Some(p) = app.payments.iter().find(|p| p.name() == provider) else {
        return Err(ApiError::NotFound(format!("the payments service does not take `{provider}`")));
    };
    let parse = |v: serde_json::Value| {
        serde_json::from_value::<PaymentCall>(v).map_err(|e| ApiError::MalformedJson(e.to_string()))
    };
    let answer = match call.as_str() {
        "authorize" => {
            let req = serde_json::from_value(body).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
            Json(Paid::from(p.authorize(req).await)).into_response()
        }
        "lookup" => Json(Paid::from(p.lookup(&parse(body)?.idempotency_key).await)).into_response(),
        "capture" => {
            let c = parse(body)?;
            Json(Paid::from(p.capture(&c.payment_id, c.amount, &c.idempotency_key).await)).into_response()
        }
        "void" => Json(Paid::from(p.void(&parse(body)?.payment_id).await)).into_response(),
        "refund" => {
            let c = parse(body)?;
            Json(Paid::from(p.refund(&c.payment_id, c.amount, &c.idempotency_key).await)).into_response()
        }
        other => return Err(ApiError::NotFound(format!("no payment call `{other}`"))),
    };
    Ok(answer)
}

async fn record<S: Store>(
    State(app): State<AppState<S>>,
    ValidJson(b): ValidJson<RecordBody>,
) -> Result<Json<Option<PaidOrder>>, ApiError> {
    Ok(Json(crate::rest::payments::record(&app, &b.provider, &b.payment_id, &b.fact).await?))
}
