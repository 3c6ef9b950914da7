//! Shades in the index: each listed variant's shade with its CIELAB colour, computed once when
//! the product is indexed; "find my shade" ranks other brands' shades of the same category by
//! CIEDE2000 from a given one; listings filter by undertone and depth.

use crate::index::CatalogIndex;
use crate::view::IndexedProduct;
use rouge_catalog::Undertone;
use rouge_shades::{Lab, ciede2000};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A live variant's shade, as the index keeps it.
#[derive(Debug, Clone)]
pub struct IndexedShade {
    pub sku: String,
    pub name: String,
    pub hex: String,
    pub undertone: Undertone,
    pub depth: u8,
    pub lab: Lab,
}

/// The shades of a product's live variants.
pub(crate) fn of(p: &crate::view::ProductView) -> Vec<IndexedShade> {
    p.variants
        .iter()
        .filter_map(|v| {
            let s = v.shade.as_ref()?;
            Some(IndexedShade {
                sku: v.sku.to_string(),
                name: s.name.clone(),
                hex: s.hex.as_str().to_owned(),
                undertone: s.undertone,
                depth: s.depth,
                lab: Lab::from_hex(s.hex.as_str())?,
            })
        })
        .collect()
}

/// A shade and the product it belongs to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShadeView {
    pub sku: String,
    pub shade: String,
    pub hex: String,
    pub undertone: Undertone,
    /// 1 (fairest) to 10 (deepest).
    pub depth: u8,
    /// Its colour in CIELAB (D65), from the hex.
    pub lab: Lab,
    pub product_id: Uuid,
    pub slug: String,
    pub product: String,
    pub brand: String,
}

/// A shade near the one asked about, with how far it looks from it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShadeMatch {
    #[serde(flatten)]
    pub shade: ShadeView,
    /// CIEDE2000 ΔE₀₀ from the shade asked about, two decimals: under 1 hardly visible, under
    /// 2–3 the same shade on skin.
    pub delta_e: f64,
}

/// "Find my shade": the shade asked about and the nearest others.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShadeMatches {
    pub of: ShadeView,
    /// The category searched (the shade's product's, unless asked for another).
    pub category: Option<String>,
    pub items: Vec<ShadeMatch>,
}

/// What to search for a shade's matches.
#[derive(Debug, Clone, Default)]
pub struct MatchQuery {
    /// A category slug (descendants included); the shade's product's category by default.
    pub category: Option<String>,
    /// Include the shade's own brand (other brands only by default).
    pub same_brand: bool,
    pub limit: usize,
}

/// Why no matches could be listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    #[error("no listed variant has SKU `{0}`")]
    NoSuchSku(String),
    #[error("`{0}` has no shade")]
    NoShade(String),
    #[error("no category has slug `{0}`")]
    NoSuchCategory(String),
}

fn view(p: &IndexedProduct, s: &IndexedShade) -> ShadeView {
    ShadeView {
        sku: s.sku.clone(),
        shade: s.name.clone(),
        hex: s.hex.clone(),
        undertone: s.undertone,
        depth: s.depth,
        lab: s.lab,
        product_id: p.view.id,
        slug: p.view.slug.clone(),
        product: p.view.name.clone(),
        brand: p.view.brand.name.clone(),
    }
}

impl CatalogIndex {
    /// The listed shades nearest `sku`'s (CIEDE2000), nearest first.
    ///
    /// # Errors
    /// See [`MatchError`].
    pub fn shade_matches(&self, sku: &str, q: &MatchQuery) -> Result<ShadeMatches, MatchError> {
        let state = self.state.read().expect("index lock");
        let id = state.by_sku.get(sku).ok_or_else(|| MatchError::NoSuchSku(sku.to_owned()))?;
        let source = state.products.get(id).ok_or_else(|| MatchError::NoSuchSku(sku.to_owned()))?;
        let shade = source.shades.iter().find(|s| s.sku == sku).ok_or_else(|| MatchError::NoShade(sku.to_owned()))?;
        let category = match &q.category {
            Some(slug) => Some(
                state
                    .categories
                    .values()
                    .find(|c| c.slug.as_str() == slug)
                    .map(|c| (c.id, c.slug.to_string()))
                    .ok_or_else(|| MatchError::NoSuchCategory(slug.clone()))?,
            ),
            // Its own category: the last of its chain.
            None => {
                source.category_ids.last().and_then(|id| state.categories.get(id)).map(|c| (c.id, c.slug.to_string()))
            }
        };
        let mut items: Vec<ShadeMatch> = state
            .products
            .values()
            .filter(|p| q.same_brand || p.brand_id != source.brand_id)
            .filter(|p| category.as_ref().is_none_or(|(c, _)| p.category_ids.contains(c)))
            .flat_map(|p| {
                p.shades.iter().filter(|s| s.sku != sku).map(move |s| ShadeMatch {
                    delta_e: (ciede2000(shade.lab, s.lab) * 100.0).round() / 100.0,
                    shade: view(p, s),
                })
            })
            .collect();
        items.sort_by(|a, b| a.delta_e.total_cmp(&b.delta_e).then_with(|| a.shade.sku.cmp(&b.shade.sku)));
        items.truncate(q.limit);
        Ok(ShadeMatches { of: view(source, shade), category: category.map(|(_, slug)| slug), items })
    }
}

/// A listing's shade filter: any shade of the product in one of `undertones` (any, when
/// empty) with a depth in `depth` (inclusive).
pub(crate) fn has_shade(p: &IndexedProduct, undertones: &[Undertone], depth: (u8, u8)) -> bool {
    p.shades
        .iter()
        .any(|s| (undertones.is_empty() || undertones.contains(&s.undertone)) && (depth.0..=depth.1).contains(&s.depth))
}

/// How well a product's shades suit a profile shade: 3 for one in her undertone within a step
/// of her depth, 1 for one within a step in another undertone, 0 otherwise.
pub(crate) fn shade_fit(p: &IndexedProduct, profile: (Undertone, u8)) -> i64 {
    p.shades
        .iter()
        .filter(|s| s.depth.abs_diff(profile.1) <= 1)
        .map(|s| if s.undertone == profile.0 { 3 } else { 1 })
        .max()
        .unwrap_or(0)
}
