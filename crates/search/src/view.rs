//! What the storefront shows of a product: names resolved, flags derived, nothing internal.

use chrono::{DateTime, NaiveDate, Utc};
use rouge_catalog::inci::{self, IngredientBook};
use rouge_catalog::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BrandRef {
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CategoryRef {
    pub slug: String,
    pub name: String,
    /// Names from the top of the tree down to this category.
    pub path: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IngredientView {
    pub inci: String,
    pub allergen: bool,
    pub everyday_names: Vec<String>,
}

/// How shoppers rated a product (approved reviews).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Rating {
    /// The mean, to two decimals.
    pub average: f64,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductView {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub brand: BrandRef,
    pub product_type: ProductType,
    pub category: Option<CategoryRef>,
    pub description: String,
    pub tags: Vec<String>,
    pub images: Vec<Image>,
    pub variants: Vec<Variant>,
    /// The lowest live variant price.
    #[schema(value_type = Option<rouge_catalog::MoneySchema>)]
    pub price_from: Option<rouge_kernel::Money>,
    pub ingredients: Vec<IngredientView>,
    pub free_from: Vec<String>,
    /// Certifications that have not expired.
    pub certifications: Vec<Certification>,
    pub skin_types: Vec<SkinType>,
    pub concerns: Vec<Concern>,
    pub hair_types: Vec<HairType>,
    pub finish: Option<Finish>,
    pub coverage: Option<Coverage>,
    pub spf: Option<u16>,
    pub pao_months: Option<u16>,
    #[schema(value_type = Object)]
    pub attributes: BTreeMap<String, serde_json::Value>,
    /// From approved reviews; null before the first.
    pub rating: Option<Rating>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A product prepared for serving: its view, its rendered JSON, and the keys filters use.
#[derive(Debug)]
pub struct IndexedProduct {
    pub view: ProductView,
    pub json: bytes_like::Bytes,
    pub etag: String,
    pub version: i64,
    pub listed: bool,
    pub brand_id: Uuid,
    /// The product's category and every ancestor.
    pub category_ids: Vec<Uuid>,
    pub ingredient_keys: HashSet<String>,
    pub price: Option<i64>,
    pub name_key: String,
    /// Everyday names of its ingredients, for full-text search.
    pub everyday_text: String,
    /// Compact keys the listing filters and counts facets by.
    pub keys: Keys,
    /// Its live variants' shades, with their colours.
    pub shades: Vec<crate::shades::IndexedShade>,
    /// Its average rating × 100 (0 unrated), for the rating filter and sort.
    pub rating_centi: i64,
}

/// Filter and facet keys as small integers and bit masks: a listing touches every product,
/// so comparing strings or hashing ids there is what would make it slow.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    /// The brand's slot in the index (see `Slots`).
    pub brand: u32,
    /// Slots of the product's category and its ancestors.
    pub categories: Vec<u32>,
    pub product_type: u8,
    pub skin_types: u32,
    pub concerns: u32,
    pub certifications: u32,
    pub free_from: u32,
    pub price_band: Option<u8>,
}

/// Bit `i` is set when `all[i]` is among `items`.
pub fn mask<T: PartialEq>(all: &[T], items: impl IntoIterator<Item = T>) -> u32 {
    items.into_iter().filter_map(|x| all.iter().position(|a| *a == x)).fold(0, |m, i| m | (1 << i))
}

/// Price bands for the price facet, in minor units: [from, to).
pub const PRICE_BANDS: &[(i64, i64, &str)] = &[
    (0, 1500, "0-1499"),
    (1500, 3000, "1500-2999"),
    (3000, 5000, "3000-4999"),
    (5000, 10000, "5000-9999"),
    (10000, i64::MAX, "10000+"),
];

/// The claim names in rule order, so a claim's bit is its position.
pub fn claim_names() -> Vec<&'static str> {
    rouge_catalog::claims::rules().iter().map(|r| r.claim.as_str()).collect()
}

/// Shared rendered bytes without another dependency.
pub mod bytes_like {
    pub type Bytes = std::sync::Arc<[u8]>;
}

pub struct Lookups<'a> {
    pub brands: &'a HashMap<Uuid, Brand>,
    pub categories: &'a HashMap<Uuid, Category>,
    /// Approved reviews by product: (count, sum of ratings).
    pub ratings: &'a HashMap<Uuid, (i64, i64)>,
    pub today: NaiveDate,
}

impl Lookups<'_> {
    pub fn category_chain(&self, id: Option<Uuid>) -> Vec<&Category> {
        let mut chain = vec![];
        let mut cur = id.and_then(|i| self.categories.get(&i));
        while let Some(c) = cur {
            if chain.iter().any(|x: &&Category| x.id == c.id) {
                break;
            }
            chain.push(c);
            cur = c.parent_id.and_then(|p| self.categories.get(&p));
        }
        chain.reverse();
        chain
    }
}

pub fn index_product(p: &Product, l: &Lookups<'_>, brand_slot: u32, category_slots: Vec<u32>) -> IndexedProduct {
    let book = IngredientBook::get();
    let brand = l.brands.get(&p.brand_id);
    let chain = l.category_chain(p.category_id);
    let mut everyday = vec![];
    let ingredients: Vec<IngredientView> = p
        .ingredients
        .iter()
        .map(|i| {
            let key = inci::normalise(&i.inci);
            let names: Vec<String> = book.everyday_names(&key).map(str::to_owned).collect();
            everyday.extend(names.iter().cloned());
            IngredientView { inci: i.inci.clone(), allergen: i.allergen, everyday_names: names }
        })
        .collect();
    let view = ProductView {
        id: p.id,
        slug: p.slug.to_string(),
        name: p.name.clone(),
        brand: BrandRef {
            slug: brand.map(|b| b.slug.to_string()).unwrap_or_default(),
            name: brand.map(|b| b.name.clone()).unwrap_or_default(),
        },
        product_type: p.product_type,
        category: chain.last().map(|c| CategoryRef {
            slug: c.slug.to_string(),
            name: c.name.clone(),
            path: chain.iter().map(|c| c.name.clone()).collect(),
        }),
        description: p.description.clone(),
        tags: p.tags.clone(),
        images: p.images.clone(),
        variants: p.live_variants().cloned().collect(),
        price_from: p.from_price(),
        ingredients,
        free_from: p.free_from.clone(),
        certifications: p.certifications.iter().filter(|c| c.is_valid_on(l.today)).cloned().collect(),
        skin_types: p.skin_types.clone(),
        concerns: p.concerns.clone(),
        hair_types: p.hair_types.clone(),
        finish: p.finish,
        coverage: p.coverage,
        spf: p.spf,
        pao_months: p.pao_months,
        attributes: p.attributes.clone(),
        rating: l
            .ratings
            .get(&p.id)
            .filter(|(n, _)| *n > 0)
            .map(|&(count, sum)| Rating { average: ((sum * 100 + count / 2) / count) as f64 / 100.0, count }),
        created_at: p.created_at,
        updated_at: p.updated_at,
    };
    let json: Vec<u8> = serde_json::to_vec(&view).expect("views serialise");
    let etag = crate::etag_of(&json);
    let price = view.price_from.map(|m| m.amount());
    let claims = claim_names();
    let keys = Keys {
        brand: brand_slot,
        categories: category_slots,
        product_type: ProductType::ALL.iter().position(|t| *t == p.product_type).unwrap_or(0) as u8,
        skin_types: mask(SkinType::ALL, view.skin_types.iter().copied()),
        concerns: mask(Concern::ALL, view.concerns.iter().copied()),
        certifications: mask(CertificationKind::ALL, view.certifications.iter().map(|c| c.kind)),
        free_from: mask(&claims, view.free_from.iter().map(String::as_str)),
        price_band: price.and_then(|x| PRICE_BANDS.iter().position(|(lo, hi, _)| x >= *lo && x < *hi)).map(|i| i as u8),
    };
    IndexedProduct {
        keys,
        json: json.into(),
        etag,
        version: p.version,
        listed: p.is_listed() && brand.is_some_and(|b| !b.archived),
        brand_id: p.brand_id,
        category_ids: chain.iter().map(|c| c.id).collect(),
        ingredient_keys: p.ingredients.iter().map(|i| inci::normalise(&i.inci)).collect(),
        price,
        name_key: p.name.to_lowercase(),
        everyday_text: everyday.join(" "),
        shades: crate::shades::of(&view),
        rating_centi: view.rating.as_ref().map_or(0, |r| (r.average * 100.0).round() as i64),
        view,
    }
}
