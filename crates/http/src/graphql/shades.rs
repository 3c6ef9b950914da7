//! "Find my shade" in GraphQL: the same answer as `GET /v1/shades/{sku}/matches`.

use async_graphql::{Context, Object, SimpleObject};
use rouge_search::CatalogIndex;
use rouge_search::shades::{MatchError, MatchQuery, ShadeView};
use std::sync::Arc;

#[derive(Default)]
pub struct ShadeQuery;

/// A shade and the product it belongs to.
#[derive(SimpleObject)]
pub struct ShadeOf {
    pub sku: String,
    pub shade: String,
    pub hex: String,
    pub undertone: String,
    /// 1 (fairest) to 10 (deepest).
    pub depth: i32,
    /// CIELAB (D65) lightness, green–red and blue–yellow.
    pub lab: Vec<f64>,
    pub slug: String,
    pub product: String,
    pub brand: String,
    /// CIEDE2000 from the shade asked about (0 for that shade itself).
    pub delta_e: f64,
}

#[derive(SimpleObject)]
pub struct ShadeMatches {
    pub of: ShadeOf,
    /// The category searched.
    pub category: Option<String>,
    pub items: Vec<ShadeOf>,
}

fn of(s: ShadeView, delta_e: f64) -> ShadeOf {
    ShadeOf {
        sku: s.sku,
        shade: s.shade,
        hex: s.hex,
        undertone: s.undertone.as_str().to_owned(),
        depth: i32::from(s.depth),
        lab: vec![s.lab.l, s.lab.a, s.lab.b],
        slug: s.slug,
        product: s.product,
        brand: s.brand,
        delta_e,
    }
}

#[Object]
impl ShadeQuery {
    /// The shades nearest a variant's shade (CIEDE2000), nearest first: other brands' in the
    /// same category unless `category` or `sameBrand` say otherwise. Null when no listed variant
    /// has this SKU or it has no shade.
    async fn shade_matches(
        &self,
        ctx: &Context<'_>,
        sku: String,
        category: Option<String>,
        same_brand: Option<bool>,
        #[graphql(desc = "1 to 50, default 10")] limit: Option<i32>,
    ) -> async_graphql::Result<Option<ShadeMatches>> {
        let limit = limit.unwrap_or(10);
        if !(1..=50).contains(&limit) {
            return Err(super::invalid(vec![rouge_catalog::FieldError {
                field: "limit".into(),
                code: "range",
                message: "a whole number from 1 to 50".into(),
            }]));
        }
        let q = MatchQuery { category, same_brand: same_brand.unwrap_or(false), limit: limit as usize };
        match ctx.data_unchecked::<Arc<CatalogIndex>>().shade_matches(sku.trim(), &q) {
            Ok(m) => Ok(Some(ShadeMatches {
                of: of(m.of, 0.0),
                category: m.category,
                items: m.items.into_iter().map(|i| of(i.shade, i.delta_e)).collect(),
            })),
            Err(e @ MatchError::NoSuchCategory(_)) => Err(super::invalid(vec![rouge_catalog::FieldError {
                field: "category".into(),
                code: "unknown_value",
                message: e.to_string(),
            }])),
            Err(_) => Ok(None),
        }
    }
}
