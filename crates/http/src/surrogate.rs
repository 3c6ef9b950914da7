//! Surrogate keys: every storefront GET names what it shows (`Surrogate-Key`, space-separated,
//! as Fastly reads it; `Cache-Tag`, comma-separated, as Cloudflare does), and every committed
//! change names the keys it touches ([`touched`]), so a CDN in front of Rouge keeps pages for
//! long and purges exactly those a change made stale (the server's purge hook calls it).
//!
//! Keys: `product-<id>`, `brand-<id>`, `category-<id>` (ids in simple hex), `sku-<sku>`, and
//! `listing`, `brands`, `categories`, `ingredients` for the pages that list them.

use axum::http::{HeaderValue, header::HeaderName};
use axum::response::Response;
use rouge_catalog::CatalogEvent;
use rouge_kernel::DomainEvent;
use rouge_search::IndexedProduct;
use uuid::Uuid;

/// The event types whose changes storefront pages show (those [`touched`] names keys for).
pub const EVENTS: &[&str] = &[
    "ProductCreated",
    "ProductUpdated",
    "ProductArchived",
    "VariantPriceChanged",
    "BrandSaved",
    "CategorySaved",
    "AttributeDefined",
    "inventory.stock_low",
    "inventory.stock_out",
    "inventory.back_in_stock",
    RATING_CHANGED,
];

/// A product's rating moved (a review approved or withdrawn): its page and listings show it.
pub const RATING_CHANGED: &str = "review.rating_changed";

pub const LISTING: &str = "listing";
pub const BRANDS: &str = "brands";
pub const CATEGORIES: &str = "categories";
pub const INGREDIENTS: &str = "ingredients";

pub fn product(id: Uuid) -> String {
    format!("product-{}", id.simple())
}

pub fn brand(id: Uuid) -> String {
    format!("brand-{}", id.simple())
}

pub fn category(id: Uuid) -> String {
    format!("category-{}", id.simple())
}

/// A SKU's key; characters a header token cannot carry become `_`.
pub fn sku(sku: &str) -> String {
    let safe: String =
        sku.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    format!("sku-{safe}")
}

/// What a product page shows: the product, its brand, its categories and its SKUs (their
/// availability).
pub fn of_product(p: &IndexedProduct) -> Vec<String> {
    let mut keys = vec![product(p.view.id), brand(p.brand_id)];
    keys.extend(p.category_ids.iter().map(|c| category(*c)));
    keys.extend(p.view.variants.iter().map(|v| sku(v.sku.as_str())));
    keys
}

/// What a listing page shows: any product (a new one may enter it), and the SKUs of its items
/// (their availability).
pub fn of_listing<'a>(items: impl Iterator<Item = &'a IndexedProduct>) -> Vec<String> {
    let mut keys = vec![LISTING.to_owned()];
    for p in items {
        keys.extend(p.view.variants.iter().map(|v| sku(v.sku.as_str())));
    }
    keys
}

/// Names what `res` shows, for CDNs.
pub fn tag(res: &mut Response, keys: &[String]) {
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&keys.join(" ")) {
        h.insert(HeaderName::from_static("surrogate-key"), v);
    }
    if let Ok(v) = HeaderValue::from_str(&keys.join(",")) {
        h.insert(HeaderName::from_static("cache-tag"), v);
    }
}

/// The keys a committed event makes stale (none for events storefront pages do not show).
pub fn touched(event: &DomainEvent) -> Vec<String> {
    if crate::availability::LEVEL_EVENTS.contains(&event.event_type.as_str()) {
        return event.payload.get("sku").and_then(|s| s.as_str()).map(sku).into_iter().collect();
    }
    if event.event_type == RATING_CHANGED {
        return vec![product(event.aggregate_id), LISTING.into()];
    }
    let Some(e) = CatalogEvent::from_envelope(event) else { return vec![] };
    let everything = |id| vec![product(id), LISTING.into(), BRANDS.into(), CATEGORIES.into(), INGREDIENTS.into()];
    match e {
        CatalogEvent::ProductCreated(p) | CatalogEvent::ProductUpdated(p) | CatalogEvent::ProductArchived(p) => {
            everything(p.id)
        }
        CatalogEvent::VariantPriceChanged { product_id, .. } => vec![product(product_id), LISTING.into()],
        CatalogEvent::BrandSaved(b) => vec![brand(b.id), BRANDS.into(), LISTING.into()],
        CatalogEvent::CategorySaved(c) => vec![category(c.id), CATEGORIES.into(), LISTING.into()],
        CatalogEvent::AttributeDefined(_) => vec![LISTING.into()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_events_touch_their_sku_and_others_nothing() {
        let e = DomainEvent::new("sku", Uuid::nil(), "inventory.stock_out", serde_json::json!({"sku": "LL GLOW/30"}));
        assert_eq!(touched(&e), ["sku-LL_GLOW_30"]);
        let e = DomainEvent::new("order", Uuid::nil(), "order.placed", serde_json::json!({}));
        assert!(touched(&e).is_empty());
    }
}
