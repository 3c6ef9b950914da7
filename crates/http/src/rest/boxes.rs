//! The monthly beauty box: staff set a month up (the box's SKU, items per box, the pool),
//! preview how each subscriber's box would be filled, and lock it (`orders:write`; the
//! preview `orders:read`); a subscriber reads her box once the month is locked. Subscribers
//! are the active subscriptions to the box's SKU; the allocation reads their beauty profiles
//! and the catalogue's ingredients (an item the catalogue here does not know is never given).

use crate::authz::need;
use crate::error::{ApiError, Problem};
use crate::extract::ValidJson;
use crate::rest::auth::CustomerAuth;
use crate::state::{AppState, Store};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use rouge_catalog::FieldError;
use rouge_catalog::inci::IngredientBook;
use rouge_identity::Permission::{OrdersRead, OrdersWrite};
use rouge_subscriptions::{BoxFill, BoxInput, BoxMonth, ItemFacts, Subscriber, SubscriptionStatus};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

type Res = Result<Response, ApiError>;

pub fn router<S: Store>(app: &AppState<S>) -> Router<AppState<S>> {
    Router::new()
        .route("/v1/admin/boxes/{month}", need(app, OrdersWrite, get(read::<S>).put(set_up::<S>)))
        .route("/v1/admin/boxes/{month}/preview", need(app, OrdersRead, get(preview::<S>)))
        .route("/v1/admin/boxes/{month}/lock", need(app, OrdersWrite, put(lock::<S>)))
        .route("/v1/boxes/{month}", get(mine::<S>))
}

/// A month with its boxes (the allocation: previewed, or locked).
#[derive(Debug, Serialize, ToSchema)]
pub struct BoxPage {
    #[serde(flatten)]
    pub month: BoxMonth,
    pub boxes: Vec<BoxFill>,
}

fn bad_month(month: &str) -> Result<(), ApiError> {
    if rouge_subscriptions::valid_month(month) {
        return Ok(());
    }
    Err(ApiError::Invalid(vec![FieldError {
        field: "month".into(),
        code: "invalid",
        message: "a month: YYYY-MM".into(),
    }]))
}

async fn found<S: Store>(app: &AppState<S>, month: &str) -> Result<BoxMonth, ApiError> {
    bad_month(month)?;
    app.store.box_month(month).await?.ok_or_else(|| ApiError::NotFound(format!("no box is set up for {month}")))
}

/// How each subscriber's box would be filled now.
async fn allocation<S: Store>(app: &AppState<S>, b: &BoxMonth) -> Result<Vec<BoxFill>, ApiError> {
    let mut facts: HashMap<String, ItemFacts> = HashMap::new();
    for p in &b.input.pool {
        let Some(product) = app.index.sku(&p.sku).and_then(|s| app.index.product_by_id(&s.product_id)) else {
            continue;
        };
        facts.insert(
            p.sku.clone(),
            ItemFacts {
                skin_types: product.view.skin_types.iter().map(|t| t.as_str().to_owned()).collect(),
                concerns: product.view.concerns.iter().map(|c| c.as_str().to_owned()).collect(),
                ingredient_keys: product.ingredient_keys.iter().cloned().collect(),
            },
        );
    }
    // What the catalogue here does not know cannot be checked against her profile: left out.
    let pool: Vec<_> = b.input.pool.iter().filter(|p| facts.contains_key(&p.sku)).cloned().collect();
    let book = IngredientBook::get();
    let mut subscribers = vec![];
    for s in app.store.subscriptions(None, 10_000).await? {
        if s.sku != b.input.box_sku || s.status != SubscriptionStatus::Active {
            continue;
        }
        let Ok(profile) = app.identity.profile(s.customer_id).await else {
            tracing::warn!(subscription = %s.id, "a box subscriber's profile cannot be read: no box allocated to her this time");
            continue;
        };
        subscribers.push(Subscriber {
            subscription_id: s.id,
            customer_id: s.customer_id,
            skin_type: profile.skin_type.map(|t| t.as_str().to_owned()),
            concerns: profile.concerns.iter().map(|c| c.as_str().to_owned()).collect(),
            avoid_keys: profile.avoid_ingredients.iter().flat_map(|a| book.resolve(a)).collect(),
            had: app.store.had_in_boxes(s.customer_id, &b.month).await?.into_iter().collect(),
        });
    }
    Ok(rouge_subscriptions::allocate(&pool, &facts, &subscribers, usize::from(b.input.items_per_box)))
}

/// Set a month's box up (again, to change it, until it is locked).
#[utoipa::path(put, path = "/v1/admin/boxes/{month}", tag = "subscriptions", request_body = BoxInput,
    security(("staff" = ["orders:write"])),
    responses((status = 200, body = BoxMonth), (status = 409, body = Problem, content_type = "application/problem+json", description = "Locked"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn set_up<S: Store>(
    State(app): State<AppState<S>>,
    Path(month): Path<String>,
    ValidJson(input): ValidJson<BoxInput>,
) -> Res {
    bad_month(&month)?;
    input.validate().map_err(|v| ApiError::Invalid(v.errors().to_vec()))?;
    let unknown: Vec<FieldError> = input
        .pool
        .iter()
        .enumerate()
        .filter(|(_, p)| app.index.sku(&p.sku).is_none())
        .map(|(i, _)| FieldError {
            field: format!("pool.{i}.sku"),
            code: "unknown_sku",
            message: "not a variant of the catalogue".into(),
        })
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::Invalid(unknown));
    }
    let b = BoxMonth { month, input, locked: false, updated_at: chrono::Utc::now().timestamp_millis() };
    if !app.store.save_box_month(&b).await? {
        return Err(ApiError::Conflict(format!("the box of {} is locked", b.month), vec![]));
    }
    Ok(Json(b).into_response())
}

/// A month's box, with its boxes once locked.
#[utoipa::path(get, path = "/v1/admin/boxes/{month}", tag = "subscriptions", security(("staff" = ["orders:write"])),
    responses((status = 200, body = BoxPage), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn read<S: Store>(State(app): State<AppState<S>>, Path(month): Path<String>) -> Res {
    let b = found(&app, &month).await?;
    let boxes = if b.locked { app.store.box_fills(&month).await? } else { vec![] };
    Ok(Json(BoxPage { month: b, boxes }).into_response())
}

/// How each subscriber's box would be filled now (nothing is kept).
#[utoipa::path(get, path = "/v1/admin/boxes/{month}/preview", tag = "subscriptions", security(("staff" = ["orders:read"])),
    responses((status = 200, body = BoxPage), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn preview<S: Store>(State(app): State<AppState<S>>, Path(month): Path<String>) -> Res {
    Ok(Json(box_page(&app, &month, false).await?).into_response())
}

/// A month with its boxes: as filled now (a preview), or locked first when `lock` (REST and
/// GraphQL); a locked month's boxes as they were locked.
///
/// # Errors
/// `Invalid` month; `NotFound` when it is not set up.
pub async fn box_page<S: Store>(app: &AppState<S>, month: &str, lock: bool) -> Result<BoxPage, ApiError> {
    let b = found(app, month).await?;
    if b.locked {
        return Ok(BoxPage { boxes: app.store.box_fills(month).await?, month: b });
    }
    let boxes = allocation(app, &b).await?;
    if !lock {
        return Ok(BoxPage { month: b, boxes });
    }
    if app.store.lock_box_month(month, &boxes, chrono::Utc::now().timestamp_millis()).await? {
        tracing::info!(%month, boxes = boxes.len(), "beauty box locked");
    }
    Ok(BoxPage { month: found(app, month).await?, boxes: app.store.box_fills(month).await? })
}

/// Lock the month: the boxes as filled now are final (again: the same boxes).
#[utoipa::path(put, path = "/v1/admin/boxes/{month}/lock", tag = "subscriptions", security(("staff" = ["orders:write"])),
    responses((status = 200, body = BoxPage), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn lock<S: Store>(State(app): State<AppState<S>>, Path(month): Path<String>) -> Res {
    Ok(Json(box_page(&app, &month, true).await?).into_response())
}

/// Her box of a month, once the month is locked.
#[utoipa::path(get, path = "/v1/boxes/{month}", tag = "subscriptions", security(("customer" = [])),
    responses((status = 200, body = Vec<BoxFill>), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn mine<S: Store>(
    State(app): State<AppState<S>>,
    CustomerAuth(customer): CustomerAuth,
    Path(month): Path<String>,
) -> Res {
    Ok(Json(her_box(&app, customer, &month).await?).into_response())
}

/// Her box of a month, once locked (REST and GraphQL).
///
/// # Errors
/// `NotFound` before the lock, or when she has none.
pub async fn her_box<S: Store>(app: &AppState<S>, customer: uuid::Uuid, month: &str) -> Result<Vec<BoxFill>, ApiError> {
    let b = found(app, month).await?;
    let hers: Vec<BoxFill> = if b.locked {
        app.store.box_fills(month).await?.into_iter().filter(|f| f.customer_id == customer).collect()
    } else {
        vec![]
    };
    if hers.is_empty() {
        return Err(ApiError::NotFound(format!("no box of yours for {month} (yet)")));
    }
    Ok(hers)
}
