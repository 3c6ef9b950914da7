//! The storefront's read model: every listed product prepared for serving, a tantivy
//! full-text index over names, brands, descriptions and ingredients (INCI and everyday
//! names), and the filtering, faceting and keyset pagination of listings. Built from the
//! store at start and kept current by catalogue events.

mod index;
mod listing;
pub mod query;
pub mod shades;
pub mod view;

pub use index::{CatalogIndex, IngredientEntry, SkuInfo};
pub use listing::{FacetCount, Listing};
pub use query::{ListQuery, Sort};
pub use view::{IndexedProduct, ProductView, Rating};

/// A strong ETag for a rendered body.
pub fn etag_of(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(body);
    let hex: String = d.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}
