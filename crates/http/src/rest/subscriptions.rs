//! Subscriptions: a customer subscribes to a variant from one of her orders (renewals ship
//! where it did and are paid with a saved payment method), reads hers, changes the cadence,
//! quantity, next date or card, pauses, resumes or cancels, and skips a period; staff list
//! them (`orders:read`). Renewals are the server's (see its `renewals`).

use crate::authz::need;
use crate::error::{ApiError, Problem};
use crate::extract::ValidJson;
use crate::idempotency::idempotent;
use crate::rest::auth::CustomerAuth;
use crate::state::{AppState, Store};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use rouge_catalog::FieldError;
use rouge_identity::Permission::OrdersRead;
use rouge_orders::Access;
use rouge_subscriptions::{Subscription, SubscriptionFilter, SubscriptionInput, SubscriptionPatch, SubscriptionStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

type Res = Result<Response, ApiError>;

pub fn router<S: Store>(app: &AppState<S>) -> Router<AppState<S>> {
    Router::new()
        .route("/v1/subscriptions", get(mine::<S>).merge(idempotent(app, false, post(subscribe::<S>))))
        .route("/v1/subscriptions/{id}", get(read::<S>).patch(change::<S>))
        .route("/v1/subscriptions/{id}/skip", put(skip::<S>))
        .route("/v1/admin/subscriptions", need(app, OrdersRead, get(all::<S>)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionList {
    pub items: Vec<Subscription>,
    /// Pass back as `cursor` for the next page; null on the last (a customer's list is one page).
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkipInput {
    /// The period to skip: the next one (`period + 1`). Again for the same period: nothing.
    pub period: i64,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn invalid(field: &str, code: &'static str, message: &str) -> ApiError {
    ApiError::Invalid(vec![FieldError { field: field.into(), code, message: message.into() }])
}

async fn hers<S: Store>(app: &AppState<S>, customer: Uuid, id: Uuid) -> Result<Subscription, ApiError> {
    app.store
        .subscription(id)
        .await?
        .filter(|s| s.customer_id == customer)
        .ok_or_else(|| ApiError::NotFound("no such subscription of yours".into()))
}

/// Subscribe to a variant of one of your orders, every `cadence_weeks`: the first renewal is a
/// cadence from now, shipped where that order went and paid with `payment` (a saved payment
/// method: `pm_…`).
#[utoipa::path(post, path = "/v1/subscriptions", tag = "subscriptions", request_body = SubscriptionInput,
    security(("customer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries return the first answer")),
    responses((status = 201, body = Subscription), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn subscribe<S: Store>(
    State(app): State<AppState<S>>,
    CustomerAuth(customer): CustomerAuth,
    ValidJson(input): ValidJson<SubscriptionInput>,
) -> Res {
    Ok((StatusCode::CREATED, Json(subscribe_for(&app, customer, input).await?)).into_response())
}

/// Subscribes her (REST and GraphQL).
///
/// # Errors
/// `Invalid`: bad fields, an order not hers or without the variant.
pub async fn subscribe_for<S: Store>(
    app: &AppState<S>,
    customer: Uuid,
    input: SubscriptionInput,
) -> Result<Subscription, ApiError> {
    input.validate().map_err(|v| ApiError::Invalid(v.errors().to_vec()))?;
    let order = match app.orders.order(Access::Owner(customer), input.order_id).await {
        Ok(o) => o.order,
        Err(rouge_orders::OrdersError::NotFound(_)) => {
            return Err(invalid("order_id", "not_yours", "one of your orders: renewals ship where it did"));
        }
        Err(e) => return Err(e.into()),
    };
    if !order.lines.iter().any(|l| l.sku == input.sku.trim()) {
        return Err(invalid("sku", "not_in_order", "a variant that order holds"));
    }
    let s = input.into_subscription(customer, now());
    app.store.save_subscription(&s, None, "subscription.created").await?;
    tracing::info!(subscription = %s.id, cadence_weeks = s.cadence_weeks, "subscribed");
    Ok(s)
}

/// Your subscriptions, newest first.
#[utoipa::path(get, path = "/v1/subscriptions", tag = "subscriptions", security(("customer" = [])),
    responses((status = 200, body = SubscriptionList), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn mine<S: Store>(State(app): State<AppState<S>>, CustomerAuth(customer): CustomerAuth) -> Res {
    let hers = SubscriptionFilter { customer: Some(customer), ..SubscriptionFilter::default() };
    Ok(Json(SubscriptionList { items: app.store.subscriptions(&hers, 100).await?, next_cursor: None }).into_response())
}

#[utoipa::path(get, path = "/v1/subscriptions/{id}", tag = "subscriptions", security(("customer" = [])),
    responses((status = 200, body = Subscription), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn read<S: Store>(
    State(app): State<AppState<S>>,
    CustomerAuth(customer): CustomerAuth,
    Path(id): Path<Uuid>,
) -> Res {
    Ok(Json(hers(&app, customer, id).await?).into_response())
}

/// Change the cadence, quantity, next date or card; `status` pauses, resumes or cancels.
#[utoipa::path(patch, path = "/v1/subscriptions/{id}", tag = "subscriptions", request_body = SubscriptionPatch,
    security(("customer" = [])),
    responses((status = 200, body = Subscription), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "Changed meanwhile (a renewal): read it again"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn change<S: Store>(
    State(app): State<AppState<S>>,
    CustomerAuth(customer): CustomerAuth,
    Path(id): Path<Uuid>,
    ValidJson(patch): ValidJson<SubscriptionPatch>,
) -> Res {
    Ok(Json(change_for(&app, customer, id, patch).await?).into_response())
}

/// Changes her subscription (REST and GraphQL).
///
/// # Errors
/// `NotFound`; `Invalid`; `Conflict` when a renewal changed it meanwhile.
pub async fn change_for<S: Store>(
    app: &AppState<S>,
    customer: Uuid,
    id: Uuid,
    patch: SubscriptionPatch,
) -> Result<Subscription, ApiError> {
    let mut s = hers(app, customer, id).await?;
    let read_at = s.updated_at;
    s.apply(patch, now().max(read_at + 1)).map_err(|v| ApiError::Invalid(v.errors().to_vec()))?;
    app.store.save_subscription(&s, Some(read_at), "subscription.changed").await?;
    Ok(s)
}

/// Skip the next renewal (name its period: a retry skips nothing more).
#[utoipa::path(put, path = "/v1/subscriptions/{id}/skip", tag = "subscriptions", request_body = SkipInput,
    security(("customer" = [])),
    responses((status = 200, body = Subscription), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn skip<S: Store>(
    State(app): State<AppState<S>>,
    CustomerAuth(customer): CustomerAuth,
    Path(id): Path<Uuid>,
    ValidJson(input): ValidJson<SkipInput>,
) -> Res {
    Ok(Json(skip_for(&app, customer, id, input.period).await?).into_response())
}

/// Skips her next period (REST and GraphQL); the same period again: nothing.
///
/// # Errors
/// `NotFound`; `Invalid` for a period that is not the next.
pub async fn skip_for<S: Store>(
    app: &AppState<S>,
    customer: Uuid,
    id: Uuid,
    period: i64,
) -> Result<Subscription, ApiError> {
    let mut s = hers(app, customer, id).await?;
    let read_at = s.updated_at;
    if s.skip(period, now().max(read_at + 1)) {
        app.store.save_subscription(&s, Some(read_at), "subscription.changed").await?;
    } else if period > s.period + 1 || s.status == rouge_subscriptions::SubscriptionStatus::Cancelled {
        return Err(invalid("period", "not_next", "only the next period (period + 1) of a live subscription"));
    }
    Ok(s)
}

/// Every subscription, newest first (staff with `orders:read`).
/// Every subscription, newest first: `status` (active, paused, cancelled), `sku`, `limit` (1 to
/// 100, default 50) and `cursor` (the previous page's `next_cursor`).
#[utoipa::path(get, path = "/v1/admin/subscriptions", tag = "subscriptions", security(("staff" = ["orders:read"])),
    params(("status" = Option<String>, Query, description = "active, paused or cancelled"), ("sku" = Option<String>, Query),
        ("limit" = Option<i64>, Query, description = "1 to 100, default 50"), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = SubscriptionList), (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn all<S: Store>(State(app): State<AppState<S>>, RawQuery(raw): RawQuery) -> Res {
    let (filter, limit) = staff_filter(raw.as_deref())?;
    // One more than the page says whether there is a next.
    let mut items = app.store.subscriptions(&filter, limit + 1).await?;
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next_cursor =
        items.last().filter(|_| more).map(|s| rouge_kernel::Cursor::encode(&("before", s.id)).into_string());
    Ok(Json(SubscriptionList { items, next_cursor }).into_response())
}

/// The staff list's query: its filter and page size; 400 naming each bad parameter.
fn staff_filter(raw: Option<&str>) -> Result<(SubscriptionFilter, i64), ApiError> {
    let (mut f, mut limit, mut errors) = (SubscriptionFilter::default(), 50, vec![]);
    let bad = |field: &str, code: &'static str, message: &str| FieldError {
        field: field.chars().take(40).collect(),
        code,
        message: message.into(),
    };
    for (k, v) in crate::page::query_pairs(raw.unwrap_or_default()) {
        match k.as_str() {
            "status" => match v.as_str() {
                "active" => f.status = Some(SubscriptionStatus::Active),
                "paused" => f.status = Some(SubscriptionStatus::Paused),
                "cancelled" => f.status = Some(SubscriptionStatus::Cancelled),
                _ => errors.push(bad("status", "unknown_value", "active, paused or cancelled")),
            },
            "sku" if !v.trim().is_empty() && v.len() <= 64 => f.sku = Some(v.trim().to_owned()),
            "sku" => errors.push(bad("sku", "invalid", "a SKU (1 to 64 characters)")),
            "limit" => match v.parse::<i64>() {
                Ok(n) if (1..=100).contains(&n) => limit = n,
                _ => errors.push(bad("limit", "range", "a whole number from 1 to 100")),
            },
            "cursor" => match rouge_kernel::Cursor::decode::<(String, Uuid)>(&v) {
                Ok((kind, id)) if kind == "before" => f.before = Some(id),
                _ => errors.push(bad("cursor", "invalid_cursor", "pass back `next_cursor` unchanged")),
            },
            other => errors.push(bad(other, "unknown_parameter", "not accepted here")),
        }
    }
    if errors.is_empty() { Ok((f, limit)) } else { Err(ApiError::BadQuery(errors)) }
}
