//! "Find my shade": the shades of other brands nearest to one the shopper knows, by CIEDE2000
//! (see `rouge-shades`), served from the in-memory index like the rest of the storefront.

use crate::error::ApiError;
use crate::rest::storefront::cached;
use crate::state::{AppState, Store};
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use rouge_catalog::FieldError;
use rouge_search::shades::{MatchError, MatchQuery};

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new().route("/v1/shades/{sku}/matches", get(matches::<S>))
}

/// The shades nearest a variant's shade, nearest first, with their CIEDE2000 distance: other
/// brands' shades in the same category (descendants included) unless asked otherwise.
#[utoipa::path(get, path = "/v1/shades/{sku}/matches", tag = "storefront",
    params(
        ("sku" = String, Path, description = "A listed variant with a shade"),
        ("category" = Option<String>, Query, description = "A category slug to search instead of the shade's own (descendants included)"),
        ("brands" = Option<String>, Query, description = "`other` (default): other brands only; `all`: its own brand's too"),
        ("limit" = Option<usize>, Query, description = "1 to 50, default 10"),
    ),
    responses((status = 200, body = rouge_search::shades::ShadeMatches, headers(("ETag" = String, description = "The version of what was read: send it back in If-None-Match"))),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json", description = "No listed variant has this SKU, or it has no shade")))]
pub async fn matches<S: Store>(
    State(app): State<AppState<S>>,
    Path(sku): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut q = MatchQuery { limit: 10, ..MatchQuery::default() };
    let mut errors = vec![];
    let mut bad = |field: &str, code: &'static str, message: &str| {
        errors.push(FieldError { field: field.chars().take(40).collect(), code, message: message.into() });
    };
    for (k, v) in crate::page::query_pairs(&raw.unwrap_or_default()) {
        match k.as_str() {
            "category" => q.category = Some(v),
            "brands" => match v.as_str() {
                "other" => q.same_brand = false,
                "all" => q.same_brand = true,
                _ => bad("brands", "unknown_value", "`other` or `all`"),
            },
            "limit" => match v.parse::<usize>() {
                Ok(n) if (1..=50).contains(&n) => q.limit = n,
                _ => bad("limit", "range", "a whole number from 1 to 50"),
            },
            other => bad(other, "unknown_parameter", "accepted: category, brands, limit"),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::BadQuery(errors));
    }
    let found = app.index.shade_matches(sku.trim(), &q).map_err(|e| match e {
        MatchError::NoSuchCategory(_) => ApiError::BadQuery(vec![FieldError {
            field: "category".into(),
            code: "unknown_value",
            message: e.to_string(),
        }]),
        e => ApiError::NotFound(e.to_string()),
    })?;
    Ok(cached(&headers, serde_json::to_vec(&found).expect("serialise"), None))
}
