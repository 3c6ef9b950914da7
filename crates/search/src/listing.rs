use crate::index::CatalogIndex;
use crate::query::{ListQuery, Position, Sort};
use crate::view::{IndexedProduct, PRICE_BANDS, claim_names, mask};
use rouge_catalog::inci::IngredientBook;
use rouge_catalog::{CertificationKind, Concern, FieldError, ProductType, SkinType, attributes};
use rouge_kernel::Cursor;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
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
    /// The index generation the page was computed at.
    pub generation: u64,
}

#[derive(Debug, Clone)]
struct Key {
    n: i64,
    t: String,
    id: Uuid,
}

/// The customer's skin types and concerns as the index's bit masks.
#[derive(Clone, Copy)]
struct Prefs {
    skin: u32,
    concerns: u32,
    shade: Option<(rouge_catalog::Undertone, u8)>,
}

fn key_of(sort: Sort, p: &IndexedProduct, score: f32, prefs: Prefs) -> Key {
    let (n, t) = match sort {
        Sort::Suitability => {
            // Suited for her skin counts double; each concern it treats counts once. Newest
            // breaks ties: creation micros fit below bit 51 until the year 2041.
            let fit = 2 * i64::from(p.keys.skin_types & prefs.skin != 0)
                + i64::from((p.keys.concerns & prefs.concerns).count_ones())
                + prefs.shade.map_or(0, |s| crate::shades::shade_fit(p, s));
            let newest = p.view.created_at.timestamp_micros().clamp(0, (1 << 51) - 1);
            ((fit << 51) | newest, String::new())
        }
        Sort::Relevance => ((score * 1_000_000.0) as i64, String::new()),
        Sort::PriceAsc | Sort::PriceDesc => (p.price.unwrap_or(i64::MAX), String::new()),
        Sort::Newest => (p.view.created_at.timestamp_micros(), String::new()),
        Sort::Name => (0, p.name_key.clone()),
        Sort::Rating => {
            let count = p.view.rating.as_ref().map_or(0, |r| r.count.clamp(0, (1 << 32) - 1));
            ((p.rating_centi << 32) | count, String::new())
        }
    };
    Key { n, t, id: p.view.id }
}

fn compare(sort: Sort, a: &Key, b: &Key) -> Ordering {
    let primary = a.n.cmp(&b.n).then_with(|| a.t.cmp(&b.t));
    match sort {
        Sort::Relevance | Sort::PriceDesc | Sort::Newest | Sort::Suitability | Sort::Rating => {
            primary.reverse().then_with(|| a.id.cmp(&b.id))
        }
        Sort::PriceAsc | Sort::Name => primary.then_with(|| a.id.cmp(&b.id)),
    }
}

impl Listing {
    /// The response body, reusing each product's pre-rendered JSON.
    pub fn to_json(&self) -> Vec<u8> {
        self.to_json_with(|p| std::borrow::Cow::Borrowed(&p.json[..]))
    }

    /// The response body, each item's JSON given by `item` (e.g. the pre-rendered JSON with
    /// what the storefront shows of stock added).
    pub fn to_json_with<'a>(&'a self, item: impl Fn(&'a IndexedProduct) -> std::borrow::Cow<'a, [u8]>) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.items.iter().map(|p| p.json.len() + 1).sum::<usize>() + 2048);
        out.extend_from_slice(b"{\"items\":[");
        for (i, p) in self.items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&item(p));
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

impl CatalogIndex {
    /// Filters, facets, sorts and pages the listed products.
    ///
    /// # Errors
    /// Field errors for attribute filters that are not defined or not filterable.
    pub fn list(&self, q: &ListQuery) -> Result<Listing, Vec<FieldError>> {
        let sort = q.effective_sort();
        // Hold the read lock across the text search: the writer commits and reloads tantivy
        // under the write lock, so scores, products and generation are one snapshot.
        let state = self.state.read().expect("index lock");
        let scores: Option<HashMap<Uuid, f32>> =
            q.q.as_deref().map(|text| self.search_text(&state, text).into_iter().collect());
        let book = IngredientBook::get();

        // Resolve the query into the index's compact keys once.
        let wanted = |slots: &crate::index::Slots, ids: Vec<Uuid>| {
            let mut v = vec![false; slots.len()];
            ids.iter().filter_map(|id| slots.get(id)).for_each(|s| v[s as usize] = true);
            v
        };
        let brand_ok = wanted(
            &state.brand_slots,
            state.brands.values().filter(|b| q.brands.iter().any(|s| s == b.slug.as_str())).map(|b| b.id).collect(),
        );
        let category_ok = wanted(
            &state.category_slots,
            state
                .categories
                .values()
                .filter(|c| q.categories.iter().any(|s| s == c.slug.as_str()))
                .map(|c| c.id)
                .collect(),
        );
        let types: Vec<u8> = q
            .product_types
            .iter()
            .filter_map(|t| ProductType::ALL.iter().position(|a| a == t))
            .map(|i| i as u8)
            .collect();
        let prefs = Prefs {
            skin: mask(SkinType::ALL, q.prefer_skin_types.iter().copied()),
            concerns: mask(Concern::ALL, q.prefer_concerns.iter().copied()),
            shade: q.prefer_shade,
        };
        let shade_filter = !q.undertones.is_empty() || q.depth_min.is_some() || q.depth_max.is_some();
        let depths = (q.depth_min.unwrap_or(1), q.depth_max.unwrap_or(10));
        let skin = mask(SkinType::ALL, q.skin_types.iter().copied());
        let concerns = mask(Concern::ALL, q.concerns.iter().copied());
        let certs = mask(CertificationKind::ALL, q.certifications.iter().copied());
        let claims = claim_names();
        let free = mask(&claims, q.free_from.iter().map(String::as_str));
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
            let k = &p.keys;
            (q.brands.is_empty() || brand_ok.get(k.brand as usize).copied().unwrap_or(false))
                && (q.categories.is_empty()
                    || k.categories.iter().any(|c| category_ok.get(*c as usize).copied().unwrap_or(false)))
                && (types.is_empty() && q.product_types.is_empty() || types.contains(&k.product_type))
                && k.skin_types & skin == skin
                && k.concerns & concerns == concerns
                && k.certifications & certs == certs
                && k.free_from & free == free
                && (!shade_filter || crate::shades::has_shade(p, &q.undertones, depths))
                && q.min_price.is_none_or(|lo| p.price.is_some_and(|x| x >= lo))
                && q.max_price.is_none_or(|hi| p.price.is_some_and(|x| x <= hi))
                && q.min_rating.is_none_or(|r| p.rating_centi >= i64::from(r) * 100)
                && include.iter().all(|keys| keys.iter().any(|k| p.ingredient_keys.contains(k)))
                && exclude.iter().all(|keys| !keys.iter().any(|k| p.ingredient_keys.contains(k)))
                && attr_filters.iter().all(|(name, wanted, defs)| {
                    let def = defs.iter().find(|d| d.product_type == p.view.product_type);
                    match (def, p.view.attributes.get(*name)) {
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
                .map(|(p, s)| (key_of(sort, p, s, prefs), p))
                .collect(),
            None => state.products.values().filter(|p| keep(p)).map(|p| (key_of(sort, p, 0.0, prefs), p)).collect(),
        };

        // Facets: count into arrays indexed by slot or bit, then name the non-zero ones.
        let mut brand = vec![0usize; state.brand_slots.len()];
        let mut category = vec![0usize; state.category_slots.len()];
        let (mut ptype, mut skin_n, mut concern_n, mut cert_n, mut free_n, mut price_n) =
            ([0usize; 32], [0usize; 32], [0usize; 32], [0usize; 32], [0usize; 32], [0usize; 32]);
        let bits = |mask: u32, counts: &mut [usize; 32]| {
            let mut m = mask;
            while m != 0 {
                counts[m.trailing_zeros() as usize] += 1;
                m &= m - 1;
            }
        };
        for (_, p) in &matched {
            let k = &p.keys;
            brand[k.brand as usize] += 1;
            k.categories.iter().for_each(|c| category[*c as usize] += 1);
            ptype[k.product_type as usize] += 1;
            bits(k.skin_types, &mut skin_n);
            bits(k.concerns, &mut concern_n);
            bits(k.certifications, &mut cert_n);
            bits(k.free_from, &mut free_n);
            if let Some(b) = k.price_band {
                price_n[b as usize] += 1;
            }
        }
        let named = |counts: &[usize], name: &dyn Fn(usize) -> Option<String>| -> Vec<FacetCount> {
            let mut v: Vec<FacetCount> = counts
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .filter_map(|(i, n)| name(i).map(|value| FacetCount { value, count: *n }))
                .collect();
            v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            v
        };
        let mut facets: BTreeMap<&'static str, Vec<FacetCount>> = BTreeMap::new();
        facets.insert(
            "brand",
            named(&brand, &|i| state.brands.get(&state.brand_slots.id(i as u32)).map(|b| b.slug.to_string())),
        );
        facets.insert(
            "category",
            named(&category, &|i| state.categories.get(&state.category_slots.id(i as u32)).map(|c| c.slug.to_string())),
        );
        facets.insert("product_type", named(&ptype, &|i| ProductType::ALL.get(i).map(|t| t.as_str().to_owned())));
        facets.insert("skin_type", named(&skin_n, &|i| SkinType::ALL.get(i).map(|t| t.as_str().to_owned())));
        facets.insert("concern", named(&concern_n, &|i| Concern::ALL.get(i).map(|t| t.as_str().to_owned())));
        facets
            .insert("certification", named(&cert_n, &|i| CertificationKind::ALL.get(i).map(|t| t.as_str().to_owned())));
        facets.insert("free_from", named(&free_n, &|i| claims.get(i).map(|c| (*c).to_owned())));
        let mut bands = named(&price_n, &|i| PRICE_BANDS.get(i).map(|b| b.2.to_owned()));
        bands.sort_by_key(|b| PRICE_BANDS.iter().position(|(_, _, l)| *l == b.value));
        facets.insert("price", bands);

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
            generation: state.generation,
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
