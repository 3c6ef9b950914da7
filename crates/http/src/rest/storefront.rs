//! The storefront API: public, cacheable reads served from the in-memory index.

use crate::cache::{CachedPage, Level};
use crate::error::ApiError;
use crate::state::{AppState, Store};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rouge_promotions::LiveOffers;
use rouge_search::{FacetCount, ListQuery, ProductView, etag_of};
use serde::Serialize;
use utoipa::ToSchema;

const CACHE: &str = "public, max-age=30, stale-while-revalidate=60";

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/v1/products", get(list_products::<S>))
        .route("/v1/products/{slug}", get(product::<S>))
        .route("/v1/categories", get(categories::<S>))
        .route("/v1/brands", get(brands::<S>))
        .route("/v1/ingredients/{name}", get(ingredient::<S>))
}

/// A JSON body with a strong ETag and cache headers; 304 when the client has it already.
pub fn cached(headers: &HeaderMap, body: impl Into<Bytes>, etag: Option<String>) -> Response {
    let body: Bytes = body.into();
    let etag = etag.unwrap_or_else(|| etag_of(&body));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().trim_start_matches("W/") == etag || t.trim() == "*"));
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    let h = res.headers_mut();
    h.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex etag"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    res
}

#[derive(Serialize, ToSchema)]
pub struct ProductPage {
    /// Each listed product with its variants' availability, as on its product page.
    pub items: Vec<ProductDetail>,
    /// Pass back as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
    /// How many products match the filters.
    pub total: usize,
    /// Counts over the filtered set: brand, category, product_type, skin_type, concern,
    /// certification, free_from and price (bands in minor units).
    #[schema(value_type = Object)]
    pub facets: std::collections::BTreeMap<String, Vec<FacetCount>>,
}

/// List and search products.
///
/// Comma-separated values: `brand`, `category`, `product_type` match any; `skin_type`,
/// `concern`, `certification`, `free_from`, `include_ingredient` match all;
/// `exclude_ingredient` matches none. Ingredients are INCI or everyday names ("vitamin c").
#[utoipa::path(get, path = "/v1/products", tag = "storefront",
    params(
        ("q" = Option<String>, Query, description = "Full text over name, brand, description, INCI and everyday ingredient names"),
        ("category" = Option<String>, Query, description = "Category slug; includes descendants"),
        ("brand" = Option<String>, Query), ("product_type" = Option<String>, Query),
        ("skin_type" = Option<String>, Query), ("concern" = Option<String>, Query),
        ("certification" = Option<String>, Query),
        ("free_from" = Option<String>, Query, description = "e.g. fragrance, alcohol, paraben, silicone, sulfate, essential-oil"),
        ("include_ingredient" = Option<String>, Query), ("exclude_ingredient" = Option<String>, Query),
        ("undertone" = Option<String>, Query, description = "A shade in any of these undertones (warm, cool, neutral, olive)"),
        ("depth_min" = Option<u8>, Query, description = "A shade at least this deep (1 fairest to 10 deepest); with undertone, the same shade"),
        ("depth_max" = Option<u8>, Query, description = "A shade at most this deep"),
        ("min_price" = Option<i64>, Query, description = "Minor units"), ("max_price" = Option<i64>, Query, description = "Minor units"),
        ("sort" = Option<String>, Query, description = "relevance, price_asc, price_desc, newest, name, suitability"),
        ("for_me" = Option<bool>, Query, description = "With a customer token: leave out products with an ingredient her beauty profile avoids, and rank those suited to her skin type, concerns and shade first"),
        ("limit" = Option<usize>, Query, description = "1 to 100, default 24"),
        ("cursor" = Option<String>, Query),
    ),
    responses((status = 200, body = ProductPage, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"), ("Surrogate-Key" = String, description = "What the page shows, space-separated (product-<id>, brand-<id>, category-<id>, sku-<sku>, listing, brands, categories, ingredients): a CDN purges by these"), ("Cache-Tag" = String, description = "The same keys, comma-separated (Cloudflare)"), ("X-Rouge-Cache" = String, description = "Where the page came from: hit-l1 (this replica's memory), hit-l2 (Redis, shared by replicas) or miss (rendered now)"))), (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json", description = "for_me without a customer token")))]
pub async fn list_products<S: Store>(
    State(app): State<AppState<S>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    verified: Option<axum::Extension<crate::gateway::Verified>>,
) -> Result<Response, ApiError> {
    let raw = raw.unwrap_or_default();
    let pairs: Vec<(String, String)> = serde_urlencoded_pairs(&raw)?;
    if pairs.iter().any(|(k, v)| k == "for_me" && v != "false" && v != "0") {
        return for_me(&app, &pairs, &headers, verified.as_ref().map(|v| &v.0)).await;
    }
    // Read before rendering: a status that changes meanwhile makes the stored page stale. The
    // offers live now are part of the page (a schedule starts or ends without an event).
    let stock = app.stock.version();
    let generation = app.index.generation();
    let live = live_offers(&app).await;
    if let Some(page) = app.cache.get(&raw, generation, stock, live.version) {
        return Ok(page_response(&headers, &page, Level::L1));
    }
    let shared = app.cache.shared_name(&raw, app.stock.digest() ^ live.version);
    if let Some(name) = &shared
        && let Some((etag, keys, body)) = app.cache.get_shared(name).await
    {
        let page = CachedPage { generation, stock, offers: live.version, etag, body, keys };
        let res = page_response(&headers, &page, Level::L2);
        app.cache.put(raw, page);
        return Ok(res);
    }
    let query = ListQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).map_err(ApiError::BadQuery)?;
    let listing = app.index.list(&query).map_err(ApiError::BadQuery)?;
    let body = Bytes::from(listing_json(&app, &listing, &live));
    // Named by its content, so every replica gives the same page the same ETag (a client's
    // If-None-Match holds whichever replica answers); hashed once, then kept with the page.
    let etag = etag_of(&body);
    let keys = crate::surrogate::of_listing(listing.items.iter().map(AsRef::as_ref));
    let page = CachedPage { generation: listing.generation, stock, offers: live.version, etag, body, keys };
    let res = page_response(&headers, &page, Level::Miss);
    if let Some(name) = shared {
        app.cache.put_shared(name, &page);
    }
    app.cache.put(raw, page);
    Ok(res)
}

/// A cached or fresh listing page's response: its ETag, what it shows (for CDNs), and where it
/// came from (`X-Rouge-Cache`: `hit-l1`, `hit-l2` or `miss`).
fn page_response(headers: &HeaderMap, page: &CachedPage, level: Level) -> Response {
    let mut res = cached(headers, page.body.clone(), Some(page.etag.clone()));
    crate::surrogate::tag(&mut res, &page.keys);
    res.headers_mut().insert("x-rouge-cache", HeaderValue::from_static(level.as_str()));
    res
}

/// A listing's body: each item with its variants' availability and offers, as on its product
/// page.
fn listing_json<S: Store>(app: &AppState<S>, listing: &rouge_search::Listing, live: &LiveOffers) -> Vec<u8> {
    listing.to_json_with(|p| {
        let skus = p.view.variants.iter().map(|v| v.sku.as_str());
        let mut json = app.stock.decorate(&p.json, &p.etag, skus).0;
        splice_offers(&mut json, &item_offers(app, live, p));
        std::borrow::Cow::Owned(json)
    })
}

/// The live automatic offers storefront pages show. They come from the store (kept 2 s in
/// memory) where orders run, or from the orders service in a catalogue process apart (asked
/// every 2 s); none while the store is down or orders cannot be asked (pages go without them
/// rather than wait).
async fn live_offers<S: Store>(app: &AppState<S>) -> std::sync::Arc<LiveOffers> {
    let local = !app.promotions.offers_told();
    let here = app.services.has(crate::services::Service::Orders);
    if local && (!here || !app.health.down_for().is_zero()) {
        return std::sync::Arc::default();
    }
    app.promotions.live_offers().await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "offers unknown (the store did not answer): pages served without them");
        std::sync::Arc::default()
    })
}

/// The offers whose target holds one of the product's variants.
fn item_offers<'a, S: Store>(
    app: &AppState<S>,
    live: &'a LiveOffers,
    p: &rouge_search::IndexedProduct,
) -> Vec<&'a rouge_promotions::Offer> {
    if live.offers.is_empty() {
        return vec![];
    }
    let variants: Vec<(String, String, Vec<String>)> = p
        .view
        .variants
        .iter()
        .filter_map(|v| app.index.sku(v.sku.as_str()))
        .map(|s| (s.sku, s.brand, s.categories))
        .collect();
    live.for_variants(&variants)
}

/// Adds `"offers": […]` to a product's JSON object when there are some; returns the list's
/// bytes.
fn splice_offers(json: &mut Vec<u8>, offers: &[&rouge_promotions::Offer]) -> Option<Vec<u8>> {
    if offers.is_empty() {
        return None;
    }
    let end = json.iter().rposition(|b| *b == b'}')?;
    let list = serde_json::to_vec(offers).unwrap_or_default();
    json.truncate(end);
    json.extend_from_slice(br#","offers":"#);
    json.extend_from_slice(&list);
    json.push(b'}');
    Some(list)
}

/// A listing personalised by the customer's beauty profile: products with an ingredient she
/// avoids are left out, and those suited to her skin and concerns come first. Private: never
/// in the shared response cache.
async fn for_me<S: Store>(
    app: &AppState<S>,
    pairs: &[(String, String)],
    headers: &HeaderMap,
    verified: Option<&crate::gateway::Verified>,
) -> Result<Response, ApiError> {
    let customer = crate::rest::auth::customer(app, crate::rest::auth::bearer(headers), verified).await?;
    let mut query =
        ListQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).map_err(ApiError::BadQuery)?;
    let profile = app.identity.profile(customer).await?;
    // Her offers: those for everyone and those kept for a segment she is in.
    let mut live = LiveOffers::clone(&*live_offers(app).await);
    let hers = profile.segments();
    live.offers.retain(|o| o.segments.is_empty() || o.segments.iter().any(|s| hers.contains(s)));
    query.exclude_ingredients.extend(profile.avoid_ingredients);
    query.prefer_skin_types.extend(profile.skin_type);
    query.prefer_concerns.extend(profile.concerns);
    query.prefer_shade = profile.shade.map(|s| (s.undertone, s.depth));
    let listing = app.index.list(&query).map_err(ApiError::BadQuery)?;
    let mut res = cached(headers, listing_json(app, &listing, &live), None);
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    res.headers_mut().insert(header::VARY, HeaderValue::from_static("accept-encoding, authorization"));
    Ok(res)
}

pub(crate) fn serde_urlencoded_pairs(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&format!("/?{raw}").parse().map_err(|_| bad_query())?)
        .map(|q| q.0)
        .map_err(|_| bad_query())
}

fn bad_query() -> ApiError {
    ApiError::BadQuery(vec![rouge_catalog::FieldError {
        field: String::new(),
        code: "encoding",
        message: "the query string is not valid URL encoding".into(),
    }])
}

/// A product page: the listed product with what the storefront shows of its variants' stock.
#[derive(Serialize, ToSchema)]
pub struct ProductDetail {
    #[serde(flatten)]
    pub product: ProductView,
    /// Per variant SKU: `in_stock`, `low_stock` or `sold_out` (a SKU never stocked is sold out).
    pub availability: std::collections::BTreeMap<String, crate::availability::StockStatus>,
    /// The offers that apply to it now ("-20 %", "Gift with purchase"); absent when none (or
    /// where promotions do not run in the catalogue's process).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offers: Vec<rouge_promotions::Offer>,
}

/// One listed product by slug, with its variants' availability.
#[utoipa::path(get, path = "/v1/products/{slug}", tag = "storefront",
    responses((status = 200, body = ProductDetail, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"), ("Surrogate-Key" = String, description = "What the page shows, space-separated (product-<id>, brand-<id>, category-<id>, sku-<sku>, listing, brands, categories, ingredients): a CDN purges by these"), ("Cache-Tag" = String, description = "The same keys, comma-separated (Cloudflare)"))), (status = 304, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"), ("Surrogate-Key" = String, description = "What the page shows, space-separated (product-<id>, brand-<id>, category-<id>, sku-<sku>, listing, brands, categories, ingredients): a CDN purges by these"), ("Cache-Tag" = String, description = "The same keys, comma-separated (Cloudflare)"))), (status = 404, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn product<S: Store>(
    State(app): State<AppState<S>>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let p = app.index.product(&slug).ok_or_else(|| ApiError::NotFound("no listed product has this slug".into()))?;
    let (mut json, mut etag) = app.stock.decorate(&p.json, &p.etag, p.view.variants.iter().map(|v| v.sku.as_str()));
    let live = live_offers(&app).await;
    let offers = item_offers(&app, &live, &p);
    if let Some(list) = splice_offers(&mut json, &offers) {
        // Part of the ETag: offers change without the catalogue changing.
        etag = format!("{}-{}", etag.trim_end_matches('"'), etag_of(&list).trim_start_matches('"'));
    }
    let mut res = cached(&headers, Bytes::from(json), Some(etag));
    crate::surrogate::tag(&mut res, &crate::surrogate::of_product(&p));
    Ok(res)
}

#[derive(Serialize, ToSchema)]
pub struct CategoryNode {
    pub slug: String,
    pub name: String,
    /// Listed products in this category and its descendants.
    pub product_count: usize,
    #[schema(no_recursion)]
    pub children: Vec<CategoryNode>,
}

/// The category tree.
#[utoipa::path(get, path = "/v1/categories", tag = "storefront", responses((status = 200, body = crate::page::CategoryPage, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"), ("Surrogate-Key" = String, description = "What the page shows, space-separated (product-<id>, brand-<id>, category-<id>, sku-<sku>, listing, brands, categories, ingredients): a CDN purges by these"), ("Cache-Tag" = String, description = "The same keys, comma-separated (Cloudflare)")))))]
pub async fn categories<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap) -> Response {
    let all = app.index.categories();
    fn children(
        all: &[(rouge_catalog::Category, usize)],
        parent: Option<uuid::Uuid>,
        depth: usize,
    ) -> Vec<CategoryNode> {
        if depth > 32 {
            return vec![];
        }
        all.iter()
            .filter(|(c, _)| c.parent_id == parent)
            .map(|(c, n)| CategoryNode {
                slug: c.slug.to_string(),
                name: c.name.clone(),
                product_count: *n,
                children: children(all, Some(c.id), depth + 1),
            })
            .collect()
    }
    // The whole tree on one page (its roots are the items).
    let tree = crate::page::CategoryPage { items: children(&all, None, 0), next_cursor: None };
    let mut res = cached(&headers, serde_json::to_vec(&tree).expect("serialise"), None);
    crate::surrogate::tag(&mut res, &[crate::surrogate::CATEGORIES.into()]);
    res
}

#[derive(Serialize, ToSchema)]
pub struct BrandView {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub product_count: usize,
}

/// Every brand, with its number of listed products.
#[utoipa::path(get, path = "/v1/brands", tag = "storefront", params(crate::page::PageQuery),
    responses((status = 200, body = crate::page::BrandPage, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"), ("Surrogate-Key" = String, description = "What the page shows, space-separated (product-<id>, brand-<id>, category-<id>, sku-<sku>, listing, brands, categories, ingredients): a CDN purges by these"), ("Cache-Tag" = String, description = "The same keys, comma-separated (Cloudflare)"))), (status = 400, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn brands<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    paging: crate::page::Paging,
) -> Response {
    let list: Vec<BrandView> = app
        .index
        .brands()
        .into_iter()
        .map(|(b, n)| BrandView {
            slug: b.slug.to_string(),
            name: b.name,
            description: b.description,
            product_count: n,
        })
        .collect();
    let page = crate::page::BrandPage::of(list, &paging);
    let mut res = cached(&headers, serde_json::to_vec(&page).expect("serialise"), None);
    crate::surrogate::tag(&mut res, &[crate::surrogate::BRANDS.into()]);
    res
}

/// An ingredient by INCI or everyday name: its everyday names, allergen flag and products.
#[utoipa::path(get, path = "/v1/ingredients/{name}", tag = "storefront",
    responses((status = 200, body = rouge_search::IngredientEntry, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"), ("Surrogate-Key" = String, description = "What the page shows, space-separated (product-<id>, brand-<id>, category-<id>, sku-<sku>, listing, brands, categories, ingredients): a CDN purges by these"), ("Cache-Tag" = String, description = "The same keys, comma-separated (Cloudflare)"))), (status = 404, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn ingredient<S: Store>(
    State(app): State<AppState<S>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if name.chars().count() > 200 {
        return Err(ApiError::NotFound("no ingredient has a name this long".into()));
    }
    let entry = app
        .index
        .ingredient(&name, 100)
        .ok_or_else(|| ApiError::NotFound("no listed product contains this ingredient".into()))?;
    let mut res = cached(&headers, serde_json::to_vec(&entry).expect("serialise"), None);
    crate::surrogate::tag(&mut res, &[crate::surrogate::INGREDIENTS.into()]);
    Ok(res)
}
