use crate::index::CatalogIndex;
use crate::query::{ListQuery, Position, Sort};
use crate::view::IndexedProduct;
use rouge_catalog::inci::IngredientBook;
use rouge_catalog::{FieldError, attributes};
use rouge_kernel::Cursor;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FacetCount {
    pub value: String,
    pub count: usize,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductSummary {
    pub slug: String,
    pub name: String,
    pub brand: String,
}

impl ProductSummary {
    pub(crate) fn of(p: &IndexedProduct) -> Self {
        Self { slug: p.view.slug.clone(), name: p.view.name.clone(), brand: p.view.brand.name.clone() }
    }
}

/// One page of a listing, with the facets of the whole filtered set.
pub struct Listing {
    pub items: Vec<Arc<IndexedProduct>>,
    /// Where each item sits in the order, for per-item cursors (GraphQL edges).
    pub positions: Vec<Position>,
    pub next_cursor: Option<String>,
    pub total: usize,
    pub facets: BTreeMap<&'static str, Vec<FacetCount>>,
}

/// Price bands for the price facet, in minor units: [from, to).
const PRICE_BANDS: &[(i64, i64, &str)] = &[
    (0, 1500, "0-1499"),
    (1500, 3000, "1500-2999"),
    (3000, 5000, "3000-4999"),
    (5000, 10000, "5000-9999"),
    (10000, i64::MAX, "10000+"),
];

#[derive(Debug, Clone)]
struct Key {
    n: i64,
    t: String,
    id: Uuid,
}

fn key_of(sort: Sort, p: &IndexedProduct, score: f32) -> Key {
    let (n, t) = match sort {
        Sort::Relevance => ((score * 1_000_000.0) as i64, String::new()),
        Sort::PriceAsc | Sort::PriceDesc => (p.price.unwrap_or(i64::MAX), String::new()),
        Sort::Newest => (p.view.created_at.timestamp_micros(), String::new()),
        Sort::Name => (0, p.name_key.clone()),
    };
    Key { n, t, id: p.view.id }
}

fn compare(sort: Sort, a: &Key, b: &Key) -> Ordering {
    let primary = a.n.cmp(&b.n).then_with(|| a.t.cmp(&b.t));
    match sort {
        Sort::Relevance | Sort::PriceDesc | Sort::Newest => primary.reverse().then_with(|| a.id.cmp(&b.id)),
        Sort::PriceAsc | Sort::Name => primary.then_with(|| a.id.cmp(&b.id)),
    }
}

impl Listing {
    /// The response body, reusing each product's pre-rendered JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.items.iter().map(|p| p.json.len() + 1).sum::<usize>() + 2048);
        out.extend_from_slice(b"{\"items\":[");
        for (i, p) in self.items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&p.json);
        }
        out.extend_from_slice(b"],\"next_cursor\":");
        serde_json::to_writer(&mut out, &self.next_cursor).expect("serialise");
        out.extend_from_slice(b",\"total\":");
        out.extend_from_slice(self.total.to_string().as_bytes());
        out.extend_from_slice(b",\"facets\":");
        serde_json::to_writer(&mut out, &self.facets).expect("serialise");
        out.push(b'}');
        out
    }
}

fn count<'a>(map: &mut HashMap<&'a str, usize>, value: &'a str) {
    *map.entry(value).or_default() += 1;
}

fn sorted(map: HashMap<&str, usize>) -> Vec<FacetCount> {
    let mut v: Vec<FacetCount> =
        map.into_iter().map(|(value, count)| FacetCount { value: value.to_owned(), count }).collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    v
}

impl CatalogIndex {
    /// Filters, facets, sorts and pages the listed products.
    ///
    /// # Errors
    /// Field errors for attribute filters that are not defined or not filterable.
    pub fn list(&self, q: &ListQuery) -> Result<Listing, Vec<FieldError>> {
        let sort = q.effective_sort();
        let scores: Option<HashMap<Uuid, f32>> =
            q.q.as_deref().map(|text| self.search_text(text).into_iter().collect());
        let state = self.state.read().expect("index lock");
        let book = IngredientBook::get();

        let brand_ids: HashSet<Uuid> =
            state.brands.values().filter(|b| q.brands.iter().any(|s| s == b.slug.as_str())).map(|b| b.id).collect();
        let category_ids: HashSet<Uuid> = state
            .categories
            .values()
            .filter(|c| q.categories.iter().any(|s| s == c.slug.as_str()))
            .map(|c| c.id)
            .collect();
        let include: Vec<BTreeSet<String>> = q.include_ingredients.iter().map(|t| book.resolve(t)).collect();
        let exclude: Vec<BTreeSet<String>> = q.exclude_ingredients.iter().map(|t| book.resolve(t)).collect();
        let mut errors = vec![];
        let attr_filters: Vec<(&str, &str, Vec<&rouge_catalog::AttributeDefinition>)> = q
            .attributes
            .iter()
            .map(|(name, value)| {
                let defs: Vec<_> =
                    state.attributes.iter().filter(|d| &d.name == name && d.filterable && !d.archived).collect();
                if defs.is_empty() {
                    errors.push(FieldError {
                        field: format!("attr.{}", name.chars().take(40).collect::<String>()),
                        code: "unknown_attribute",
                        message: "no filterable attribute of this name".into(),
                    });
                }
                (name.as_str(), value.as_str(), defs)
            })
            .collect();
        if !errors.is_empty() {
            return Err(errors);
        }

        let keep = |p: &IndexedProduct| -> bool {
            let v = &p.view;
            (q.brands.is_empty() || brand_ids.contains(&p.brand_id))
                && (q.categories.is_empty() || p.category_ids.iter().any(|c| category_ids.contains(c)))
                && (q.product_types.is_empty() || q.product_types.contains(&v.product_type))
                && q.skin_types.iter().all(|s| v.skin_types.contains(s))
                && q.concerns.iter().all(|c| v.concerns.contains(c))
                && q.certifications.iter().all(|c| v.certifications.iter().any(|x| x.kind == *c))
                && q.free_from.iter().all(|c| v.free_from.contains(c))
                && include.iter().all(|keys| keys.iter().any(|k| p.ingredient_keys.contains(k)))
                && exclude.iter().all(|keys| !keys.iter().any(|k| p.ingredient_keys.contains(k)))
                && q.min_price.is_none_or(|lo| p.price.is_some_and(|x| x >= lo))
                && q.max_price.is_none_or(|hi| p.price.is_some_and(|x| x <= hi))
                && attr_filters.iter().all(|(name, wanted, defs)| {
                    let def = defs.iter().find(|d| d.product_type == v.product_type);
                    match (def, v.attributes.get(*name)) {
                        (Some(def), Some(value)) => attributes::matches_filter(&def.kind, value, wanted),
                        _ => false,
                    }
                })
        };

        let mut matched: Vec<(Key, &Arc<IndexedProduct>)> = match &scores {
            Some(scores) => scores
                .iter()
                .filter_map(|(id, s)| state.products.get(id).map(|p| (p, *s)))
                .filter(|(p, _)| keep(p))
                .map(|(p, s)| (key_of(sort, p, s), p))
                .collect(),
            None => state.products.values().filter(|p| keep(p)).map(|p| (key_of(sort, p, 0.0), p)).collect(),
        };

        let mut facets: BTreeMap<&'static str, Vec<FacetCount>> = BTreeMap::new();
        {
            let (mut brand, mut category, mut ptype, mut skin, mut concern, mut cert, mut free, mut price) =
                Default::default();
            let cat_slug: HashMap<Uuid, &str> = state.categories.values().map(|c| (c.id, c.slug.as_str())).collect();
            for (_, p) in &matched {
                let v = &p.view;
                count(&mut brand, v.brand.slug.as_str());
                for c in &p.category_ids {
                    if let Some(slug) = cat_slug.get(c) {
                        count(&mut category, slug);
                    }
                }
                count(&mut ptype, v.product_type.as_str());
                v.skin_types.iter().for_each(|s| count(&mut skin, s.as_str()));
                v.concerns.iter().for_each(|s| count(&mut concern, s.as_str()));
                v.certifications.iter().for_each(|s| count(&mut cert, s.kind.as_str()));
                v.free_from.iter().for_each(|s| count(&mut free, s.as_str()));
                if let Some(x) = p.price
                    && let Some((_, _, band)) = PRICE_BANDS.iter().find(|(lo, hi, _)| x >= *lo && x < *hi)
                {
                    count(&mut price, band);
                }
            }
            facets.insert("brand", sorted(brand));
            facets.insert("category", sorted(category));
            facets.insert("product_type", sorted(ptype));
            facets.insert("skin_type", sorted(skin));
            facets.insert("concern", sorted(concern));
            facets.insert("certification", sorted(cert));
            facets.insert("free_from", sorted(free));
            let mut bands = sorted(price);
            bands.sort_by_key(|b| PRICE_BANDS.iter().position(|(_, _, l)| *l == b.value));
            facets.insert("price", bands);
        }

        let total = matched.len();
        let start_after = q.after.as_ref().map(|a| Key { n: a.n, t: a.t.clone(), id: a.id });
        if let Some(after) = &start_after {
            matched.retain(|(k, _)| compare(sort, k, after) == Ordering::Greater);
        }
        let take = q.limit.min(matched.len());
        if take < matched.len() {
            matched.select_nth_unstable_by(take, |a, b| compare(sort, &a.0, &b.0));
        }
        let has_more = matched.len() > take;
        matched.truncate(take);
        matched.sort_by(|a, b| compare(sort, &a.0, &b.0));
        let next_cursor = match (has_more, matched.last()) {
            (true, Some((k, _))) => {
                Some(Cursor::encode(&Position { s: sort, n: k.n, t: k.t.clone(), id: k.id }).into_string())
            }
            _ => None,
        };
        let positions = matched.iter().map(|(k, _)| Position { s: sort, n: k.n, t: k.t.clone(), id: k.id }).collect();
        Ok(Listing {
            items: matched.into_iter().map(|(_, p)| Arc::clone(p)).collect(),
            positions,
            next_cursor,
            total,
            facets,
        })
    }

    /// Brands with at least one listed product, with their counts.
    pub fn brands(&self) -> Vec<(rouge_catalog::Brand, usize)> {
        let state = self.state.read().expect("index lock");
        let mut counts: HashMap<Uuid, usize> = HashMap::new();
        for p in state.products.values() {
            *counts.entry(p.brand_id).or_default() += 1;
        }
        let mut out: Vec<_> = state
            .brands
            .values()
            .filter(|b| !b.archived)
            .map(|b| (b.clone(), counts.get(&b.id).copied().unwrap_or(0)))
            .collect();
        out.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        out
    }

    /// Categories that are not archived, with listed-product counts (descendants included).
    pub fn categories(&self) -> Vec<(rouge_catalog::Category, usize)> {
        let state = self.state.read().expect("index lock");
        let mut counts: HashMap<Uuid, usize> = HashMap::new();
        for p in state.products.values() {
            for c in &p.category_ids {
                *counts.entry(*c).or_default() += 1;
            }
        }
        let mut out: Vec<_> = state
            .categories
            .values()
            .filter(|c| !c.archived)
            .map(|c| (c.clone(), counts.get(&c.id).copied().unwrap_or(0)))
            .collect();
        out.sort_by(|a, b| a.0.position.cmp(&b.0.position).then_with(|| a.0.name.cmp(&b.0.name)));
        out
    }
}
