//! Recommendations over HTTP (deployed with the catalogue): behaviour in (`POST /v1/events`,
//! from storefronts, batched), recommendations out (`GET /v1/recommendations?context=…`, each
//! suggestion with its reason), and training on demand for staff.

use crate::authz::need;
use crate::error::{ApiError, Problem};
use crate::extract::ValidJson;
use crate::idempotency::idempotent;
use crate::recs::{Trained, in_stock};
use crate::state::{AppState, Store};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use rouge_catalog::FieldError;
use rouge_identity::Permission;
use rouge_recommendations::contexts::{Context, recommend};
use rouge_recommendations::serving::{Reason, Shopper, Suggestion};
use rouge_recommendations::training::ShopperKey;
use rouge_recommendations::{Accepted, EventBatch, Impression};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

pub fn router<S: Store>(app: &AppState<S>) -> Router<AppState<S>> {
    Router::new()
        .route("/v1/events", idempotent(app, false, post(record::<S>)))
        .route("/v1/recommendations", get(recommendations::<S>))
        .route("/v1/admin/recommendations/train", need(app, Permission::CatalogWrite, post(train_now::<S>)))
        .route("/v1/admin/recommendations/training", need(app, Permission::CatalogRead, get(training::<S>)))
        .route("/v1/admin/recommendations/report", need(app, Permission::CatalogRead, get(report::<S>)))
}

/// What a shopper did on the storefront, up to 100 events a call: `product_viewed`,
/// `search_made`, `added_to_cart`, `removed_from_cart`, `wishlisted`. Whose they are: her
/// customer token when she is logged in, the storefront's anonymous id otherwise (or both: what
/// she did as that visitor becomes hers). Without `consent` nothing is kept. An event sent again with its `id` is kept once.
/// Purchases and returns are not sent: they come from orders. Rate limited like every write.
#[utoipa::path(post, path = "/v1/events", tag = "recommendations", request_body = EventBatch,
    security((), ("customer" = [])),
    responses((status = 202, body = Accepted, description = "Kept (or, without consent, dropped)"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "A customer token that is not valid"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Every invalid field named; nothing kept"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "The store is unavailable; nothing kept")))]
pub async fn record<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    verified: Option<axum::Extension<crate::gateway::Verified>>,
    ValidJson(batch): ValidJson<EventBatch>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let customer = optional_customer(&app, &headers, verified.as_ref().map(|v| &v.0)).await?;
    let now = chrono::Utc::now().timestamp_millis();
    let kept = batch.accept(customer, now).map_err(ApiError::Invalid)?;
    if !kept.is_empty() {
        app.store.record_behaviour(&kept).await?;
        if let Some(c) = customer {
            // Logged in where she browsed as a visitor: what she did then is hers.
            if let Some(visitor) = &batch.anonymous_id {
                app.store.link_visitor(visitor, c).await?;
            }
            app.recs.forget(c);
        }
    }
    tracing::debug!(kept = kept.len(), sent = batch.events.len(), "behaviour recorded");
    Ok((StatusCode::ACCEPTED, Json(Accepted { accepted: kept.len(), ignored: batch.events.len() - kept.len() })))
}

async fn optional_customer<S: Store>(
    app: &AppState<S>,
    headers: &HeaderMap,
    verified: Option<&crate::gateway::Verified>,
) -> Result<Option<Uuid>, ApiError> {
    match crate::rest::auth::bearer(headers) {
        Some(token) => Ok(Some(crate::rest::auth::customer(app, Some(token), verified).await?)),
        None => Ok(None),
    }
}

/// One suggestion, with the product as listings show it and why it is there.
#[derive(Serialize, ToSchema)]
pub struct Recommended {
    pub product_id: Uuid,
    pub slug: String,
    pub name: String,
    pub brand: String,
    #[schema(value_type = Option<rouge_catalog::MoneySchema>)]
    pub price_from: Option<rouge_kernel::Money>,
    pub score: f32,
    /// Why, for machines: `because_you_bought`, `because_you_viewed`, `bought_together`,
    /// `similar`, `popular_with_skin_type`, `completes_routine`, `popular`, with what it names.
    #[schema(value_type = Object)]
    pub reason: Reason,
    /// Why, for people ("Because you bought Niacinamide 10% Serum").
    pub why: String,
    /// The answer it was shown in: send it back with what she does with it (`POST /v1/events`).
    pub impression_id: Uuid,
}

#[derive(Serialize, ToSchema)]
pub struct Recommendations {
    pub context: String,
    /// What made the list: `seq-ease(…)` (her behaviour, scored by the model), `co-purchase`,
    /// `ease+inci-tfidf`, `popularity-by-skin-type`, `popularity`.
    pub model: String,
    /// This answer's id: send it with the events of a shopper who views, adds or wishlists one
    /// of its products (`impression_id`), and the report attributes them, and her purchases of
    /// them, to this context and model.
    pub impression_id: Uuid,
    pub items: Vec<Recommended>,
}

/// Recommendations for a context: `for_you` (her behaviour; a new shopper gets what her skin
/// type buys), `similar` and `bought_together` (of `product_id`), `routine` (the skincare steps
/// she does not own yet), `skin_type` (what customers with her skin type buy; `skin_type` for a
/// shopper without a token). Never a product with an ingredient she avoids, sold out, archived,
/// returned by her as unsuitable, or in shades that are not hers.
#[utoipa::path(get, path = "/v1/recommendations", tag = "recommendations",
    params(("context" = String, Query, description = "for_you, similar, bought_together, routine or skin_type"),
        ("product_id" = Option<Uuid>, Query, description = "The product, for similar and bought_together"),
        ("anonymous_id" = Option<String>, Query, description = "The storefront's visitor id, for a shopper without a token"),
        ("skin_type" = Option<String>, Query, description = "A skin type, for skin_type without a token"),
        ("limit" = Option<u32>, Query, description = "1 to 50, 10 by default")),
    security((), ("customer" = [])),
    responses((status = 200, body = Recommendations),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "Every invalid parameter named"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "A customer token that is not valid"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such product"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "Her profile or history cannot be read now")))]
pub async fn recommendations<S: Store>(
    State(app): State<AppState<S>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    verified: Option<axum::Extension<crate::gateway::Verified>>,
) -> Result<Json<Recommendations>, ApiError> {
    let q = Query::parse(raw.as_deref().unwrap_or(""))?;
    let customer = optional_customer(&app, &headers, verified.as_ref().map(|v| &v.0)).await?;
    Ok(Json(answer(&app, customer, q).await?))
}

/// Recommendations for a query, for her (`customer`) or anyone: REST's and GraphQL's.
///
/// # Errors
/// An unknown product (404); her profile or history unreadable now (503).
pub async fn answer<S: Store>(
    app: &AppState<S>,
    customer: Option<Uuid>,
    q: Query,
) -> Result<Recommendations, ApiError> {
    let context = match (q.context.as_str(), q.product_id) {
        ("similar", Some(p)) => Context::Similar(p),
        ("bought_together", Some(p)) => Context::BoughtTogether(p),
        ("for_you", _) => Context::ForYou,
        ("routine", _) => Context::Routine,
        _ => Context::SkinType,
    };
    if let Context::Similar(p) | Context::BoughtTogether(p) = context
        && app.index.product_by_id(&p).is_none()
    {
        return Err(ApiError::NotFound(format!("no listed product {p}")));
    }
    let lists = app.recs.lists();
    let items = app.recs.items_now(&app.index, &app.stock);
    let known = match customer {
        Some(c) => Some((c, crate::recs::known_of(app, c).await?)),
        None => None,
    };
    let (mut shopper, key, fresh) = match &known {
        Some((c, k)) => {
            let key = ShopperKey::Customer(*c);
            // Behaviour since training is scored live (her lists would not know it yet).
            let fresh = k.newest > lists.seen_until.get(&key).copied().unwrap_or(i64::MIN);
            (k.shopper.clone(), Some(key), if fresh { k.live(&lists) } else { None })
        }
        None => (Shopper::default(), q.anonymous_id.clone().map(ShopperKey::Visitor), None),
    };
    if shopper.skin_type.is_none() {
        shopper.skin_type = q.skin_type.clone();
    }
    let answer =
        recommend(&lists, &items, &shopper, key.as_ref(), fresh.as_deref().map(Vec::as_slice), context, q.limit + 5);
    let shown = Impression::new(&q.context, &answer.model, chrono::Utc::now().timestamp_millis())
        .ok_or_else(|| ApiError::Internal(format!("no impression of context {}", q.context)))?;
    let impression_id = shown.id();
    // The facts are refreshed in the background: what sold out since is left out now.
    let items: Vec<Recommended> = answer
        .suggestions
        .iter()
        .filter_map(|s| Some((s, app.index.product_by_id(&s.product_id)?)))
        .filter(|(_, p)| in_stock(&p.view, &app.stock))
        .take(q.limit)
        .map(|(s, p)| rendered(app, s, &p, impression_id))
        .collect();
    if !items.is_empty() {
        app.recs.count(&shown, items.len());
    }
    Ok(Recommendations { context: q.context, model: answer.model, impression_id, items })
}

fn rendered<S: Store>(
    app: &AppState<S>,
    s: &Suggestion,
    p: &rouge_search::IndexedProduct,
    impression_id: Uuid,
) -> Recommended {
    let name_of =
        |id: &Uuid| app.index.product_by_id(id).map_or_else(|| "a product".to_owned(), |p| p.view.name.clone());
    let why = match &s.reason {
        Reason::BecauseYouBought { product_id } => format!("Because you bought {}", name_of(product_id)),
        Reason::BecauseYouViewed { product_id } => format!("Because you looked at {}", name_of(product_id)),
        Reason::BoughtTogether { product_id } => format!("Often bought with {}", name_of(product_id)),
        Reason::Similar { product_id, ingredients: true } => format!("Ingredients like {}", name_of(product_id)),
        Reason::Similar { product_id, ingredients: false } => {
            format!("Shoppers who liked {} liked it too", name_of(product_id))
        }
        Reason::PopularWithSkinType { skin_type } => format!("Popular with {skin_type} skin"),
        Reason::CompletesRoutine { step } => format!("The {} your routine is missing", step.as_str()),
        Reason::Popular => "Popular in the shop".to_owned(),
    };
    Recommended {
        product_id: s.product_id,
        slug: p.view.slug.clone(),
        name: p.view.name.clone(),
        brand: p.view.brand.name.clone(),
        price_from: p.view.price_from,
        score: s.score,
        reason: s.reason.clone(),
        why,
        impression_id,
    }
}

/// A recommendations query, checked.
pub struct Query {
    context: String,
    product_id: Option<Uuid>,
    anonymous_id: Option<String>,
    skin_type: Option<String>,
    limit: usize,
}

impl Query {
    fn parse(raw: &str) -> Result<Query, ApiError> {
        Self::of(crate::rest::storefront::serde_urlencoded_pairs(raw)?)
    }

    /// From named parameters (REST's query string, GraphQL's arguments).
    ///
    /// # Errors
    /// Every invalid parameter, named (400).
    pub fn of(pairs: Vec<(String, String)>) -> Result<Query, ApiError> {
        let mut q = Query { context: String::new(), product_id: None, anonymous_id: None, skin_type: None, limit: 10 };
        let mut errors = vec![];
        for (k, v) in pairs {
            match k.as_str() {
                "context" => q.context = v,
                "product_id" => match v.parse() {
                    Ok(p) => q.product_id = Some(p),
                    Err(_) => errors.push(field("product_id", "invalid", "a product id (UUID)")),
                },
                "anonymous_id" => q.anonymous_id = Some(v),
                "skin_type" => match rouge_catalog::SkinType::parse(&v) {
                    Some(s) => q.skin_type = Some(s.as_str().to_owned()),
                    None => errors.push(field(
                        "skin_type",
                        "invalid",
                        "a skin type (dry, oily, combination, normal, sensitive)",
                    )),
                },
                "limit" => match v.parse::<usize>() {
                    Ok(n) if (1..=50).contains(&n) => q.limit = n,
                    _ => errors.push(field("limit", "out_of_range", "1 to 50")),
                },
                _ => errors.push(field(&k, "unknown", "not a parameter of recommendations")),
            }
        }
        match q.context.as_str() {
            "for_you" | "routine" | "skin_type" => {}
            "similar" | "bought_together"
                if q.product_id.is_none() && !errors.iter().any(|e| e.field == "product_id") =>
            {
                errors.push(field("product_id", "required", "similar and bought_together name a product"));
            }
            "similar" | "bought_together" => {}
            "" => errors.push(field("context", "required", "for_you, similar, bought_together, routine or skin_type")),
            _ => errors.push(field("context", "invalid", "for_you, similar, bought_together, routine or skin_type")),
        }
        if errors.is_empty() { Ok(q) } else { Err(ApiError::BadQuery(errors)) }
    }
}

fn field(name: &str, code: &'static str, message: &str) -> FieldError {
    FieldError { field: name.to_owned(), code, message: message.to_owned() }
}

/// The recommendations' training as staff see it.
#[derive(Serialize, ToSchema)]
pub struct Training {
    /// A training is under way.
    pub running: bool,
    /// When the last one finished (RFC 3339); absent before the first.
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// What it read and made: events, products, the model, lists per shopper and product,
    /// and how long it took (ms).
    #[schema(value_type = Option<Object>)]
    pub last: Option<Trained>,
    /// The lists served here were trained by another replica (shared through Redis).
    pub shared: bool,
}

fn training_view<S: Store>(app: &AppState<S>) -> Training {
    let (last, running) = app.recs.status();
    Training {
        running,
        finished_at: last.as_ref().and_then(|(_, at)| chrono::DateTime::from_timestamp_millis(*at)),
        last: last.map(|(t, _)| t),
        shared: app.recs.from_another(),
    }
}

/// Starts a training on the shop's behaviour now (the server also trains on a schedule); it
/// runs in the background: `GET /v1/admin/recommendations/training` tells when it is done.
#[utoipa::path(post, path = "/v1/admin/recommendations/train", tag = "recommendations",
    security(("staff" = ["catalog:write"])),
    responses((status = 202, body = Training, description = "Started (or already under way)")))]
pub async fn train_now<S: Store>(State(app): State<AppState<S>>) -> (StatusCode, Json<Training>) {
    let background = app.clone();
    tokio::spawn(async move {
        if let Err(e) = crate::recs::train_here(&background).await {
            tracing::warn!(error = %e, "a training asked for by staff did not run to the end");
        }
    });
    // The task marks itself under way at once; say so even if it has not been scheduled yet.
    let mut view = training_view(&app);
    view.running = true;
    (StatusCode::ACCEPTED, Json(view))
}

/// The last training's figures, and whether one is under way.
#[utoipa::path(get, path = "/v1/admin/recommendations/training", tag = "recommendations",
    security(("staff" = ["catalog:read"])),
    responses((status = 200, body = Training)))]
pub async fn training<S: Store>(State(app): State<AppState<S>>) -> Json<Training> {
    Json(training_view(&app))
}

/// Click-through and conversion of the recommendations shown in a period.
#[derive(Serialize, ToSchema)]
pub struct Report {
    /// The first day (UTC) of the answers counted, `YYYY-MM-DD`.
    pub from: String,
    /// The last day, `YYYY-MM-DD`.
    pub to: String,
    /// A purchase counts when she clicked the product from the answer this many days before.
    pub attribution_days: i64,
    /// One line per context and model, popularity's among them.
    pub rows: Vec<rouge_recommendations::impressions::ReportRow>,
}

/// How the recommendations did in the shop, per context and model: answers shown, products
/// clicked from them (viewed, added to a cart or wishlisted with their `impression_id`) and
/// bought within 7 days of a click, with click-through and conversion per answer, and each
/// model's click-through over popularity's in its context. `from` and `to` are days
/// (`YYYY-MM-DD`, UTC, at most 366 days apart); the last 30 days by default.
#[utoipa::path(get, path = "/v1/admin/recommendations/report", tag = "recommendations",
    params(("from" = Option<String>, Query, description = "The first day, YYYY-MM-DD (30 days before `to` by default)"),
        ("to" = Option<String>, Query, description = "The last day, YYYY-MM-DD (today by default)")),
    security(("staff" = ["catalog:read"])),
    responses((status = 200, body = Report),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "Every invalid parameter named"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "The store is unavailable")))]
pub async fn report<S: Store>(
    State(app): State<AppState<S>>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Report>, ApiError> {
    use rouge_recommendations::impressions::{ATTRIBUTION_DAYS, DAY_MS};
    let (from, to) = period(raw.as_deref().unwrap_or(""), chrono::Utc::now().date_naive())?;
    let day = |d: chrono::NaiveDate| d.and_time(chrono::NaiveTime::MIN).and_utc().timestamp_millis() / DAY_MS;
    let (first, last) = (day(from), day(to));
    // What this replica showed and has not added to the store yet counts too.
    app.recs.save_shown(&app.store).await?;
    let shown = app.store.shown_between(first, last).await?;
    let attributed = app.store.attributed_between(first * DAY_MS, (last + 1 + ATTRIBUTION_DAYS) * DAY_MS).await?;
    Ok(Json(Report {
        from: from.to_string(),
        to: to.to_string(),
        attribution_days: ATTRIBUTION_DAYS,
        rows: rouge_recommendations::impressions::report(&shown, &attributed, first, last),
    }))
}

/// The report's days, checked: `from` to `to`, the last 30 days to `today` by default.
fn period(raw: &str, today: chrono::NaiveDate) -> Result<(chrono::NaiveDate, chrono::NaiveDate), ApiError> {
    let (mut from, mut to) = (None, None);
    let mut errors = vec![];
    for (k, v) in crate::rest::storefront::serde_urlencoded_pairs(raw)? {
        let parsed = chrono::NaiveDate::parse_from_str(&v, "%Y-%m-%d");
        match (k.as_str(), parsed) {
            ("from", Ok(d)) => from = Some(d),
            ("to", Ok(d)) => to = Some(d),
            ("from" | "to", Err(_)) => errors.push(field(&k, "invalid", "a day, YYYY-MM-DD")),
            _ => errors.push(field(&k, "unknown", "not a parameter of the report (from, to)")),
        }
    }
    let to = to.unwrap_or(today);
    let from = from.unwrap_or(to - chrono::Days::new(30));
    if errors.is_empty() && from > to {
        errors.push(field("from", "out_of_range", "on or before `to`"));
    } else if errors.is_empty() && (to - from).num_days() > 366 {
        errors.push(field("from", "out_of_range", "at most 366 days before `to`"));
    }
    if errors.is_empty() { Ok((from, to)) } else { Err(ApiError::BadQuery(errors)) }
}
