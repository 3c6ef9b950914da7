//! Promotions for staff: set them up (rules, schedule, budgets), read their uses, add codes
//! (one named, or a batch generated). Shoppers meet them on carts (`/v1/carts/{id}/codes`)
//! and as offers on product pages and listings.

use crate::authz::need;
use crate::error::{ApiError, Problem};
use crate::extract::ValidJson;
use crate::idempotency::idempotent;
use crate::state::{AppState, Store};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rouge_catalog::FieldError;
use rouge_identity::Permission::PromotionsManage;
use rouge_promotions::service::{CodesInput, PromotionView};
use rouge_promotions::{Code, PromotionInput};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

type Res = Result<Response, ApiError>;

pub fn router<S: Store>(app: &AppState<S>) -> Router<AppState<S>> {
    Router::new()
        .route(
            "/v1/admin/promotions",
            need(app, PromotionsManage, get(list::<S>).merge(idempotent(app, false, post(create::<S>)))),
        )
        .route("/v1/admin/promotions/{id}", need(app, PromotionsManage, get(read::<S>).put(replace::<S>)))
        .route(
            "/v1/admin/promotions/{id}/codes",
            need(app, PromotionsManage, get(codes::<S>).merge(idempotent(app, false, post(add_codes::<S>)))),
        )
        .route("/v1/offers", get(offers::<S>))
}

/// The live offers (`GET /v1/offers`; a catalogue apart reads the same answer).
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct OfferList {
    pub items: Vec<rouge_promotions::Offer>,
}

/// The offers live now (automatic promotions within their schedule), for storefronts to badge
/// listings: an item shows an offer whose target holds it (its brand, a category it is in, or
/// its SKU). Product pages and listing items carry their own (`offers`). Codes are never listed.
#[utoipa::path(get, path = "/v1/offers", tag = "storefront", responses((status = 200, body = OfferList)))]
pub async fn offers<S: Store>(State(app): State<AppState<S>>) -> Res {
    let mut res = Json(OfferList { items: app.promotions.live_offers().await?.offers.clone() }).into_response();
    // Schedules start and end without an event: a short life in shared caches.
    res.headers_mut()
        .insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("public, max-age=30"));
    Ok(res)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PromotionList {
    pub items: Vec<PromotionView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CodeList {
    pub items: Vec<Code>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<String>,
}

/// Set up a promotion.
#[utoipa::path(post, path = "/v1/admin/promotions", tag = "promotions", request_body = PromotionInput,
    security(("staff" = ["promotions:manage"])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries return the first answer")),
    responses((status = 201, body = PromotionView), (status = 422, body = Problem)))]
pub async fn create<S: Store>(State(app): State<AppState<S>>, ValidJson(input): ValidJson<PromotionInput>) -> Res {
    let view = app.promotions.create(input).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// Every promotion, newest first, with its uses so far.
#[utoipa::path(get, path = "/v1/admin/promotions", tag = "promotions", security(("staff" = ["promotions:manage"])),
    responses((status = 200, body = PromotionList)))]
pub async fn list<S: Store>(State(app): State<AppState<S>>) -> Res {
    Ok(Json(PromotionList { items: app.promotions.list().await? }).into_response())
}

#[utoipa::path(get, path = "/v1/admin/promotions/{id}", tag = "promotions", security(("staff" = ["promotions:manage"])),
    responses((status = 200, body = PromotionView), (status = 404, body = Problem)))]
pub async fn read<S: Store>(State(app): State<AppState<S>>, Path(id): Path<Uuid>) -> Res {
    Ok(Json(app.promotions.get(id).await?).into_response())
}

/// Replace its rules (uses so far stay counted; set `active: false` to stop it).
#[utoipa::path(put, path = "/v1/admin/promotions/{id}", tag = "promotions", request_body = PromotionInput,
    security(("staff" = ["promotions:manage"])),
    responses((status = 200, body = PromotionView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn replace<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
    ValidJson(input): ValidJson<PromotionInput>,
) -> Res {
    Ok(Json(app.promotions.replace(id, input).await?).into_response())
}

/// Add one named code, or `count` generated ones (unique, unambiguous characters).
#[utoipa::path(post, path = "/v1/admin/promotions/{id}/codes", tag = "promotions", request_body = CodesInput,
    security(("staff" = ["promotions:manage"])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries return the first answer")),
    responses((status = 201, body = CodeList), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn add_codes<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
    ValidJson(input): ValidJson<CodesInput>,
) -> Res {
    let items = app.promotions.add_codes(id, &input).await?;
    Ok((StatusCode::CREATED, Json(CodeList { items, next: None })).into_response())
}

/// Its codes in code order with their uses: `after` (a code) and `limit` (1–1000, 100).
#[utoipa::path(get, path = "/v1/admin/promotions/{id}/codes", tag = "promotions",
    security(("staff" = ["promotions:manage"])),
    params(("after" = Option<String>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = CodeList), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn codes<S: Store>(State(app): State<AppState<S>>, Path(id): Path<Uuid>, RawQuery(raw): RawQuery) -> Res {
    let (mut after, mut limit, mut errors) = (None, 100, vec![]);
    for (k, v) in crate::page::query_pairs(&raw.unwrap_or_default()) {
        match k.as_str() {
            "after" => after = Some(v.to_ascii_uppercase()),
            "limit" => match v.parse::<i64>() {
                Ok(n) if (1..=1000).contains(&n) => limit = n,
                _ => errors.push(FieldError {
                    field: "limit".into(),
                    code: "range",
                    message: "a whole number from 1 to 1000".into(),
                }),
            },
            other => errors.push(FieldError {
                field: other.into(),
                code: "unknown_parameter",
                message: "accepted: after, limit".into(),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::BadQuery(errors));
    }
    let items = app.promotions.codes(id, after.as_deref(), limit).await?;
    let next = (items.len() as i64 == limit).then(|| items.last().map(|c| c.code.clone())).flatten();
    Ok(Json(CodeList { items, next }).into_response())
}
