//! The monthly beauty box: staff set a month up (the box's SKU, items per box, the pool),
//! preview how each subscriber's box would be filled, and lock it (`orders:write`; the
//! preview `orders:read`); a subscriber reads her box once the month is locked. Subscribers
//! are the active subscriptions to the box's SKU; the allocation reads their beauty profiles
//! and the catalogue's facts of each pool SKU (skin types, concerns, ingredients; here or from
//! the catalogue service): an item the catalogue does not know is never given.

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
use rouge_subscriptions::{
    BoxFill, BoxInput, BoxMonth, ItemFacts, PoolItem, Subscriber, Subscription, SubscriptionFilter, SubscriptionStatus,
};
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

/// The catalogue's facts of the pool's SKUs (here or the catalogue service's): `None` for a
/// SKU it does not know.
async fn pool_facts<S: Store>(app: &AppState<S>, pool: &[PoolItem]) -> Result<Vec<Option<ItemFacts>>, ApiError> {
    let skus: Vec<String> = pool.iter().map(|p| p.sku.clone()).collect();
    let views = app.skus.skus(&skus).await.map_err(ApiError::Unavailable)?;
    Ok(views
        .into_iter()
        .map(|v| {
            v.map(|v| ItemFacts {
                skin_types: v.skin_types,
                concerns: v.concerns,
                ingredient_keys: v.ingredient_keys.into_iter().collect(),
            })
        })
        .collect())
}

/// The active subscriptions to the box, read a page at a time.
async fn box_subscribers<S: Store>(app: &AppState<S>, box_sku: &str) -> Result<Vec<Subscription>, ApiError> {
    let mut filter = SubscriptionFilter {
        status: Some(SubscriptionStatus::Active),
        sku: Some(box_sku.to_owned()),
        ..SubscriptionFilter::default()
    };
    let mut all = vec![];
    loop {
        let page = app.store.subscriptions(&filter, 500).await?;
        let full = page.len() == 500;
        filter.before = page.last().map(|s| s.id);
        all.extend(page);
        if !full {
            return Ok(all);
        }
    }
}

/// How each subscriber's box would be filled now.
async fn allocation<S: Store>(app: &AppState<S>, b: &BoxMonth) -> Result<Vec<BoxFill>, ApiError> {
    let facts: HashMap<String, ItemFacts> =
        b.pool.iter().zip(pool_facts(app, &b.pool).await?).filter_map(|(p, f)| Some((p.sku.clone(), f?))).collect();
    // What the catalogue does not know (any more) cannot be checked against her profile: left out.
    let pool: Vec<_> = b.pool.iter().filter(|p| facts.contains_key(&p.sku)).cloned().collect();
    let book = IngredientBook::get();
    let mut subscribers = vec![];
    for s in box_subscribers(app, &b.box_sku).await? {
        let profile = match &app.peers.identity {
            Some(identity) => {
                identity.get(&format!("/internal/v1/profiles/{}", s.customer_id)).await.map_err(ApiError::from)
            }
            None => app.identity.profile(s.customer_id).await.map_err(ApiError::from),
        };
        let profile: rouge_identity::BeautyProfile = match profile {
            Ok(p) => p,
            // Gone (erased meanwhile): no box for her.
            Err(ApiError::Unauthorized(_) | ApiError::NotFound(_)) => {
                tracing::warn!(subscription = %s.id, "a box subscriber's account is gone: no box allocated to her");
                continue;
            }
            // Identity cannot answer: no allocation rather than one without her.
            Err(e) => return Err(e),
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
    Ok(rouge_subscriptions::allocate(&pool, &facts, &subscribers, usize::from(b.items_per_box)))
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
    let unknown: Vec<FieldError> = pool_facts(&app, &input.pool)
        .await?
        .iter()
        .enumerate()
        .filter(|(_, f)| f.is_none())
        .map(|(i, _)| FieldError {
            field: format!("pool.{i}.sku"),
            code: "unknown_sku",
            message: "not a variant of the catalogue".into(),
        })
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::Invalid(unknown));
    }
    let b = BoxMonth::new(month, input, chrono::Utc::now().timestamp_millis());
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
    let mut boxes = allocation(app, &b).await?;
    if !lock {
        return Ok(BoxPage { month: b, boxes });
    }
    set_aside(app, month, &mut boxes).await?;
    let locked = app.store.lock_box_month(month, &boxes, chrono::Utc::now().timestamp_millis()).await;
    if matches!(locked, Ok(true)) {
        tracing::info!(%month, boxes = boxes.len(), "beauty box locked; its items are set aside");
    } else if let Ok(stored) = app.store.box_fills(month).await {
        // Another lock got there first (its boxes stand), or this one failed: what this one set
        // aside and the stored boxes do not hold goes back (a box of the same subscriber is the
        // same reservation). When the store cannot say, the holds run out by themselves.
        let kept: Vec<_> = stored.into_iter().filter_map(|f| f.reservation_id).collect();
        release(app, boxes.iter().filter_map(|f| f.reservation_id).filter(|r| !kept.contains(r))).await;
    }
    locked?;
    Ok(BoxPage { month: found(app, month).await?, boxes: app.store.box_fills(month).await? })
}

/// Sets each box's items aside in inventory (one reservation per box, until the end of the
/// following month, for renewals that come late), all or nothing: when the stock cannot hold
/// every box, what was set aside goes back and the lock is refused (409, naming the SKU).
async fn set_aside<S: Store>(app: &AppState<S>, month: &str, boxes: &mut [BoxFill]) -> Result<(), ApiError> {
    let until = rouge_subscriptions::set_aside_until(month)
        .ok_or_else(|| ApiError::Internal(format!("{month} has no end of month")))?;
    for i in 0..boxes.len() {
        let f = &boxes[i];
        if f.skus.is_empty() {
            continue;
        }
        let lines: Vec<(String, i64)> = f.skus.iter().map(|s| (s.clone(), 1)).collect();
        let reference = format!("box-{month}-{}", f.subscription_id.simple());
        match app.orders.stock().set_aside(&reference, &lines, until).await {
            Ok(id) => boxes[i].reservation_id = Some(id),
            Err(e) => {
                release(app, boxes[..i].iter().filter_map(|f| f.reservation_id)).await;
                tracing::warn!(%month, error = %e, "a beauty box cannot be set aside: the month stays unlocked");
                return Err(rouge_orders::OrdersError::from(e).into());
            }
        }
    }
    Ok(())
}

/// Gives set-aside items back (a refused or lost lock); a failure is logged: the reservation
/// then runs out by itself.
async fn release<S: Store>(app: &AppState<S>, reservations: impl Iterator<Item = uuid::Uuid>) {
    for r in reservations {
        if let Err(e) = app.orders.stock().release(r, "beauty box not locked").await {
            tracing::warn!(reservation = %r, error = %e, "set-aside box items not given back; they go back when it runs out");
        }
    }
}

/// Lock the month: the boxes as filled now are final, and their items are set aside in
/// inventory until the renewals ship them (again: the same boxes). Refused (409) when the
/// stock cannot hold every box: lower that SKU's units in the pool.
#[utoipa::path(put, path = "/v1/admin/boxes/{month}/lock", tag = "subscriptions", security(("staff" = ["orders:write"])),
    responses((status = 200, body = BoxPage), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "Not enough stock to set every box aside"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "Inventory cannot be asked; nothing was locked")))]
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
