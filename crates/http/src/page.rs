//! The one shape of every list answer: `{"items": […], "next_cursor": …}`, the cursor opaque
//! (pass it back as `cursor`; null on the last page), `limit` from 1 to 100. Lists kept whole
//! in memory or read whole (staff, roles, keys, attribute definitions, dead letters, shipping
//! methods, a batch's lots and orders, stock levels, brands, the category tree) are cut into
//! pages here; lists read page by page from the store (orders, audit, a ledger) encode their
//! own position the same way.

use crate::error::ApiError;
use rouge_kernel::{Cursor, FieldError};
use serde::Serialize;

/// `limit` and `cursor` of a list request.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub limit: usize,
    /// Items already seen (the position the cursor names).
    pub offset: usize,
}

pub const DEFAULT_LIMIT: usize = 100;

/// The query parameters of a list route read with [`Paging`], as the OpenAPI document shows
/// them (`params(crate::page::PageQuery)`).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageQuery {
    /// 1 to 100, default 100
    limit: Option<i64>,
    /// `next_cursor` of the previous page
    cursor: Option<String>,
}

impl Paging {
    /// From a query string of `limit` and `cursor` only.
    ///
    /// # Errors
    /// 400 naming a malformed `limit` or `cursor`, or an unknown parameter.
    pub fn parse(raw: Option<&str>) -> Result<Paging, ApiError> {
        let mut paging = Paging { limit: DEFAULT_LIMIT, offset: 0 };
        let mut errors = vec![];
        for (k, v) in query_pairs(raw.unwrap_or_default()) {
            match k.as_str() {
                "limit" => match v.parse::<usize>() {
                    Ok(n) if (1..=100).contains(&n) => paging.limit = n,
                    _ => errors.push(field("limit", "range", "a whole number from 1 to 100")),
                },
                "cursor" => match Cursor::decode::<(String, usize)>(&v) {
                    Ok((kind, n)) if kind == "offset" => paging.offset = n,
                    _ => errors.push(field("cursor", "invalid_cursor", "pass back `next_cursor` unchanged")),
                },
                other => errors.push(field(
                    &other.chars().take(40).collect::<String>(),
                    "unknown_parameter",
                    "not accepted here",
                )),
            }
        }
        if errors.is_empty() { Ok(paging) } else { Err(ApiError::BadQuery(errors)) }
    }

    /// This page of `all`, and the cursor of the next (none when this is the last).
    pub fn cut<T>(&self, all: Vec<T>) -> (Vec<T>, Option<String>) {
        let total = all.len();
        let end = self.offset.saturating_add(self.limit).min(total);
        let items: Vec<T> = all.into_iter().skip(self.offset).take(self.limit).collect();
        let next = (end < total).then(|| Cursor::encode(&("offset", end)).into_string());
        (items, next)
    }
}

/// A list route's `limit` and `cursor`, refused with 400 before the handler runs.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, ApiError> {
        Paging::parse(parts.uri.query())
    }
}

/// The cursor of a store-read page: the position after its last item, opaque.
pub fn cursor_after<T: Serialize>(kind: &str, position: T) -> String {
    Cursor::encode(&(kind, position)).into_string()
}

/// Reads a cursor made by [`cursor_after`] with the same `kind`.
///
/// # Errors
/// A field error when the cursor is not one this server issued for this list.
pub fn position<T: serde::de::DeserializeOwned>(kind: &str, raw: &str) -> Result<T, FieldError> {
    match Cursor::decode::<(String, T)>(raw) {
        Ok((k, p)) if k == kind => Ok(p),
        _ => Err(field("cursor", "invalid_cursor", "pass back `next_cursor` unchanged")),
    }
}

fn field(name: &str, code: &'static str, message: &str) -> FieldError {
    FieldError { field: name.to_owned(), code, message: message.to_owned() }
}

/// The `key=value` pairs of a query string, decoded (malformed input: none).
pub(crate) fn query_pairs(raw: &str) -> Vec<(String, String)> {
    let uri: axum::http::Uri = format!("/?{raw}").parse().unwrap_or_else(|_| axum::http::Uri::from_static("/"));
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri).map(|q| q.0).unwrap_or_default()
}

/// Declares the page type of each listed item type (one schema each in the OpenAPI document).
macro_rules! pages {
    ($($page:ident => $item:ty),+ $(,)?) => {
        $(
            #[derive(serde::Serialize, utoipa::ToSchema)]
            pub struct $page {
                pub items: Vec<$item>,
                /// Pass back as `cursor` for the next page; null on the last.
                pub next_cursor: Option<String>,
            }

            impl $page {
                pub fn of(all: Vec<$item>, paging: &Paging) -> Self {
                    let (items, next_cursor) = paging.cut(all);
                    Self { items, next_cursor }
                }
            }
        )+
    };
}

pages! {
    StaffPage => rouge_identity::StaffView,
    RolePage => rouge_identity::Role,
    ApiKeyPage => rouge_identity::ApiKeyView,
    AttributePage => rouge_catalog::AttributeDefinition,
    DeadLetterPage => crate::rest::events::DeadLetter,
    ShippingOptionPage => rouge_orders::service::ShippingOption,
    LotPage => rouge_inventory::Lot,
    BatchOrderPage => crate::rest::inventory::BatchOrder,
    AvailabilityPage => crate::rest::inventory::Availability,
    BrandPage => crate::rest::storefront::BrandView,
    CategoryPage => crate::rest::storefront::CategoryNode,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_on_and_end() {
        let p = Paging::parse(Some("limit=2")).unwrap();
        let (items, next) = p.cut(vec![1, 2, 3]);
        assert_eq!(items, [1, 2]);
        let next = next.unwrap();
        let p = Paging::parse(Some(&format!("limit=2&cursor={next}"))).unwrap();
        assert_eq!(p.cut(vec![1, 2, 3]), (vec![3], None));
        assert!(Paging::parse(Some("limit=0")).is_err());
        assert!(Paging::parse(Some("cursor=42")).is_err(), "numeric cursors are not ours");
        assert!(Paging::parse(Some("sort=x")).is_err());
    }
}
