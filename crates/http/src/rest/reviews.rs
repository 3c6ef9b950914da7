//! Reviews: shoppers read a product's approved reviews and its rating (by skin type too);
//! a customer reviews what was delivered to her, votes reviews helpful and reports abuse;
//! staff moderate (`reviews:moderate`), reply, and read what was reported. Served with the
//! catalogue.

use crate::authz::need;
use crate::error::{ApiError, Problem};
use crate::extract::ValidJson;
use crate::idempotency::idempotent;
use crate::rest::auth::CustomerAuth;
use crate::state::{AppState, Store};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use rouge_catalog::{AgeBand, Concern, FieldError, SkinType};
use rouge_identity::Permission::ReviewsModerate;
use rouge_kernel::Cursor;
use rouge_reviews::{
    Moderation, RatingSummary, Review, ReviewFilter, ReviewInput, ReviewSort, ReviewStatus, StaffReview,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

type Res = Result<Response, ApiError>;

pub fn router<S: Store>(app: &AppState<S>) -> Router<AppState<S>> {
    Router::new()
        .route(
            "/v1/products/{slug}/reviews",
            get(product_reviews::<S>).merge(idempotent(app, false, axum::routing::post(submit::<S>))),
        )
        .route("/v1/reviews/mine", get(mine::<S>))
        .route("/v1/reviews/{id}/helpful", put(helpful::<S>))
        .route("/v1/reviews/{id}/report", put(report::<S>))
        .route("/v1/admin/reviews", need(app, ReviewsModerate, get(queue::<S>)))
        .route("/v1/admin/reviews/{id}", need(app, ReviewsModerate, get(staff_read::<S>)))
        .route("/v1/admin/reviews/{id}/moderation", need(app, ReviewsModerate, put(moderate::<S>)))
        .route("/v1/admin/reviews/{id}/reply", need(app, ReviewsModerate, put(reply::<S>)))
}

/// A page of a product's approved reviews, with its rating.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewPage {
    pub items: Vec<Review>,
    /// Pass back as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
    /// The product's rating over all its approved reviews (not only this page's filters).
    pub summary: RatingSummary,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyReviews {
    pub items: Vec<Review>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffReviewPage {
    pub items: Vec<StaffReview>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyInput {
    /// Shown under the review.
    pub text: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportInput {
    /// What is wrong with it (1–500 characters).
    pub reason: String,
}

/// Where a page ended: the last review's sort value and id.
#[derive(Serialize, Deserialize)]
struct Position(i64, Uuid);

fn bad(field: &str, code: &'static str, message: impl Into<String>) -> FieldError {
    FieldError { field: field.into(), code, message: message.into() }
}

/// A filter from query parameters; `accepted` names those this route takes.
fn filter(raw: Option<String>, accepted: &[&str]) -> Result<ReviewFilter, ApiError> {
    filter_of(crate::page::query_pairs(&raw.unwrap_or_default()), accepted)
}

/// A filter from named values (query parameters, GraphQL arguments).
pub(crate) fn filter_of(pairs: Vec<(String, String)>, accepted: &[&str]) -> Result<ReviewFilter, ApiError> {
    let mut f = ReviewFilter { limit: 20, ..ReviewFilter::default() };
    let mut errors = vec![];
    let mut cursor = None;
    for (k, v) in pairs {
        if !accepted.contains(&k.as_str()) {
            errors.push(bad(&k, "unknown_parameter", format!("accepted: {}", accepted.join(", "))));
            continue;
        }
        match k.as_str() {
            "skin_type" => match SkinType::parse(&v) {
                Some(s) => f.skin_type = Some(s),
                None => errors.push(bad(&k, "unknown_value", format!("one of: {}", SkinType::expected()))),
            },
            "concern" => match Concern::parse(&v) {
                Some(c) => f.concern = Some(c),
                None => errors.push(bad(&k, "unknown_value", format!("one of: {}", Concern::expected()))),
            },
            "age_band" => match AgeBand::parse(&v) {
                Some(a) => f.age_band = Some(a),
                None => errors.push(bad(&k, "unknown_value", format!("one of: {}", AgeBand::expected()))),
            },
            "rating" => match v.parse::<u8>() {
                Ok(r) if (1..=5).contains(&r) => f.rating = Some(r),
                _ => errors.push(bad(&k, "range", "a whole number from 1 to 5")),
            },
            "sort" => match ReviewSort::parse(&v) {
                Some(s) => f.sort = s,
                None => errors.push(bad(&k, "unknown_value", "one of: newest, helpful, rating_desc, rating_asc")),
            },
            "status" => match ReviewStatus::parse(&v) {
                Some(s) => f.status = Some(s),
                None => errors.push(bad(&k, "unknown_value", "one of: pending, approved, rejected")),
            },
            "reported" => match v.as_str() {
                "true" => f.reported = true,
                "false" => {}
                _ => errors.push(bad(&k, "invalid", "true or false")),
            },
            "product_id" => match v.parse() {
                Ok(id) => f.product_id = Some(id),
                Err(_) => errors.push(bad(&k, "invalid", "a product id")),
            },
            "limit" => match v.parse::<i64>() {
                Ok(n) if (1..=100).contains(&n) => f.limit = n,
                _ => errors.push(bad(&k, "range", "a whole number from 1 to 100")),
            },
            _ => cursor = Some(v),
        }
    }
    if let Some(c) = cursor {
        match Cursor::decode::<Position>(&c) {
            Ok(Position(key, id)) => f.after = Some((key, id)),
            Err(_) => errors.push(bad("cursor", "invalid", "pass back the next_cursor of the previous page")),
        }
    }
    if errors.is_empty() { Ok(f) } else { Err(ApiError::BadQuery(errors)) }
}

/// The cursor after a full page.
pub(crate) fn next(f: &ReviewFilter, page: &[&Review]) -> Option<String> {
    let last = page.last().filter(|_| page.len() as i64 == f.limit)?;
    Some(Cursor::encode(&Position(f.sort.key(last), last.id)).into_string())
}

pub(crate) fn product<S: Store>(
    app: &AppState<S>,
    slug: &str,
) -> Result<std::sync::Arc<rouge_search::IndexedProduct>, ApiError> {
    app.index.product(slug).ok_or_else(|| ApiError::NotFound("no listed product has this slug".into()))
}

/// A product's approved reviews (filter by the reviewers' `skin_type`, `concern`, `age_band`,
/// or a `rating`; `sort` newest, helpful, rating_desc or rating_asc), with its rating: average,
/// count, distribution and by skin type.
#[utoipa::path(get, path = "/v1/products/{slug}/reviews", tag = "reviews",
    params(
        ("skin_type" = Option<String>, Query, description = "Reviews by people with this skin type"),
        ("concern" = Option<String>, Query, description = "Reviews by people with this concern"),
        ("age_band" = Option<String>, Query, description = "under_25, 25_34, 35_44, 45_54 or 55_plus"),
        ("rating" = Option<u8>, Query, description = "Only this many stars"),
        ("sort" = Option<String>, Query, description = "newest (default), helpful, rating_desc, rating_asc"),
        ("limit" = Option<i64>, Query, description = "1 to 100, default 20"),
        ("cursor" = Option<String>, Query),
    ),
    responses((status = 200, body = ReviewPage), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn product_reviews<S: Store>(
    State(app): State<AppState<S>>,
    Path(slug): Path<String>,
    RawQuery(raw): RawQuery,
) -> Res {
    let p = product(&app, &slug)?;
    let mut f = filter(raw, &["skin_type", "concern", "age_band", "rating", "sort", "limit", "cursor"])?;
    f.product_id = Some(p.view.id);
    let items = app.reviews.reviews(&f).await?;
    let summary = app.reviews.summary(p.view.id).await?;
    let next_cursor = next(&f, &items.iter().collect::<Vec<_>>());
    let mut res = Json(ReviewPage { items, next_cursor, summary }).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=30"));
    Ok(res)
}

/// Review a product you received: `order_id` is your delivered order that holds `sku`. Your
/// skin type, concerns, age band and shade are copied from your beauty profile (list any you
/// would rather not show in `hide`). The review waits for a moderator.
#[utoipa::path(post, path = "/v1/products/{slug}/reviews", tag = "reviews", request_body = ReviewInput,
    security(("customer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries return the first answer")),
    responses((status = 201, body = Review), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "This order line has a review already"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Bad fields; `order_id` `not_purchased` or `not_delivered`"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn submit<S: Store>(
    State(app): State<AppState<S>>,
    CustomerAuth(customer): CustomerAuth,
    Path(slug): Path<String>,
    ValidJson(input): ValidJson<ReviewInput>,
) -> Res {
    let p = product(&app, &slug)?;
    let skus: Vec<String> = p.view.variants.iter().map(|v| v.sku.to_string()).collect();
    let r = app.reviews.submit(customer, p.view.id, &skus, input).await?;
    Ok((StatusCode::CREATED, Json(r.review)).into_response())
}

/// Your reviews, newest first, whatever their status (a rejected one with the reason).
#[utoipa::path(get, path = "/v1/reviews/mine", tag = "reviews", security(("customer" = [])),
    params(("limit" = Option<i64>, Query, description = "1 to 100, default 20"), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = MyReviews), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn mine<S: Store>(
    State(app): State<AppState<S>>,
    CustomerAuth(customer): CustomerAuth,
    RawQuery(raw): RawQuery,
) -> Res {
    let f = filter(raw, &["limit", "cursor"])?;
    let items = app.reviews.mine(customer, f.limit, f.after).await?;
    let next_cursor = next(&f, &items.iter().collect::<Vec<_>>());
    Ok(Json(MyReviews { items, next_cursor }).into_response())
}

/// Say a review helped you (once per customer; again changes nothing).
#[utoipa::path(put, path = "/v1/reviews/{id}/helpful", tag = "reviews", security(("customer" = [])),
    responses((status = 200, body = Review), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json", description = "Your own review")))]
pub async fn helpful<S: Store>(
    State(app): State<AppState<S>>,
    CustomerAuth(customer): CustomerAuth,
    Path(id): Path<Uuid>,
) -> Res {
    Ok(Json(app.reviews.vote(id, customer).await?).into_response())
}

/// Report a review as abusive (once per customer); moderators see it.
#[utoipa::path(put, path = "/v1/reviews/{id}/report", tag = "reviews", request_body = ReportInput, security(("customer" = [])),
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn report<S: Store>(
    State(app): State<AppState<S>>,
    CustomerAuth(customer): CustomerAuth,
    Path(id): Path<Uuid>,
    ValidJson(input): ValidJson<ReportInput>,
) -> Res {
    app.reviews.report(id, customer, &input.reason).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The moderation queue and every review: `status` (pending for the queue), `reported=true`,
/// `product_id`, the shoppers' filters; newest first.
#[utoipa::path(get, path = "/v1/admin/reviews", tag = "reviews", security(("staff" = ["reviews:moderate"])),
    params(("status" = Option<String>, Query, description = "pending, approved or rejected"), ("reported" = Option<bool>, Query),
        ("product_id" = Option<Uuid>, Query), ("skin_type" = Option<String>, Query), ("rating" = Option<u8>, Query),
        ("sort" = Option<String>, Query), ("limit" = Option<i64>, Query, description = "1 to 100, default 20"), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = StaffReviewPage), (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn queue<S: Store>(State(app): State<AppState<S>>, RawQuery(raw): RawQuery) -> Res {
    let f = filter(
        raw,
        &["status", "reported", "product_id", "skin_type", "concern", "age_band", "rating", "sort", "limit", "cursor"],
    )?;
    let items = app.reviews.staff_reviews(&f).await?;
    let next_cursor = next(&f, &items.iter().map(|r| &r.review).collect::<Vec<_>>());
    Ok(Json(StaffReviewPage { items, next_cursor }).into_response())
}

#[utoipa::path(get, path = "/v1/admin/reviews/{id}", tag = "reviews", security(("staff" = ["reviews:moderate"])),
    responses((status = 200, body = StaffReview), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn staff_read<S: Store>(State(app): State<AppState<S>>, Path(id): Path<Uuid>) -> Res {
    Ok(Json(app.reviews.staff_review(id).await?).into_response())
}

/// Approve, or reject with a reason the author reads. Audited.
#[utoipa::path(put, path = "/v1/admin/reviews/{id}/moderation", tag = "reviews", request_body = Moderation,
    security(("staff" = ["reviews:moderate"])),
    responses((status = 200, body = StaffReview), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn moderate<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
    ValidJson(m): ValidJson<Moderation>,
) -> Res {
    Ok(Json(app.reviews.moderate(id, &m).await?).into_response())
}

/// The shop's reply under a review (replaces an earlier one). Audited.
#[utoipa::path(put, path = "/v1/admin/reviews/{id}/reply", tag = "reviews", request_body = ReplyInput,
    security(("staff" = ["reviews:moderate"])),
    responses((status = 200, body = StaffReview), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn reply<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
    ValidJson(r): ValidJson<ReplyInput>,
) -> Res {
    Ok(Json(app.reviews.reply(id, &r.text).await?).into_response())
}
