use crate::view::{IndexedProduct, Lookups, index_product};
use rouge_catalog::inci::{self, IngredientBook};
use rouge_catalog::{AttributeDefinition, Brand, CatalogEvent, Category, Product};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{FAST, Field, INDEXED, Schema, TEXT};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};
use utoipa::ToSchema;
use uuid::Uuid;

struct Fields {
    /// The product's slot (see `Slots`), a fast field: hits map to products without reading
    /// stored documents.
    slot: Field,
    name: Field,
    brand: Field,
    description: Field,
    ingredients: Field,
}

pub(crate) struct State {
    pub products: HashMap<Uuid, Arc<IndexedProduct>>,
    pub by_slug: HashMap<String, Uuid>,
    /// Every variant SKU (listed or not) to its product.
    pub by_sku: HashMap<String, Uuid>,
    pub brands: HashMap<Uuid, Brand>,
    pub categories: HashMap<Uuid, Category>,
    pub attributes: Vec<AttributeDefinition>,
    /// Approved reviews by product: (count, sum of ratings).
    pub ratings: HashMap<Uuid, (i64, i64)>,
    /// Products (raw) kept to re-render when a brand or category changes.
    raw: HashMap<Uuid, Product>,
    pub(crate) brand_slots: Slots,
    pub(crate) category_slots: Slots,
    product_slots: Slots,
    /// Bumped on every change, so listing ETags need not hash whole bodies.
    pub generation: u64,
}

/// Small integers for ids, assigned on first sight and never reused.
#[derive(Default)]
pub(crate) struct Slots {
    ids: Vec<Uuid>,
    of: HashMap<Uuid, u32>,
}

impl Slots {
    pub fn slot(&mut self, id: Uuid) -> u32 {
        if let Some(s) = self.of.get(&id) {
            return *s;
        }
        let s = self.ids.len() as u32;
        self.ids.push(id);
        self.of.insert(id, s);
        s
    }

    pub fn get(&self, id: &Uuid) -> Option<u32> {
        self.of.get(id).copied()
    }

    pub fn id(&self, slot: u32) -> Uuid {
        self.ids[slot as usize]
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }
}

/// The in-memory catalogue read model. Cheap to share: clone the `Arc`.
pub struct CatalogIndex {
    pub(crate) state: RwLock<State>,
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
}

/// What other contexts need of a variant: its product, price and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuInfo {
    pub sku: String,
    pub product_id: Uuid,
    pub slug: String,
    pub name: String,
    pub variant_id: Uuid,
    pub price: rouge_kernel::Money,
    pub size: Option<rouge_catalog::values::Size>,
    /// Listed on the storefront and not archived: it may be put in a cart.
    pub on_sale: bool,
    /// The brand's slug.
    pub brand: String,
    /// The slugs of the product's category and every one above it, top first.
    pub categories: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IngredientEntry {
    pub inci: String,
    pub everyday_names: Vec<String>,
    pub allergen: bool,
    /// When the name asked for is an everyday name, every INCI name it stands for.
    pub matches: Vec<String>,
    pub products: Vec<crate::listing::ProductSummary>,
    pub product_count: usize,
}

impl CatalogIndex {
    /// An index of these aggregates.
    ///
    /// # Panics
    /// When tantivy cannot create an index in memory (out of memory).
    pub fn build(
        products: Vec<Product>,
        brands: Vec<Brand>,
        categories: Vec<Category>,
        attributes: Vec<AttributeDefinition>,
    ) -> Self {
        let mut sb = Schema::builder();
        let fields = Fields {
            slot: sb.add_u64_field("slot", FAST | INDEXED),
            name: sb.add_text_field("name", TEXT),
            brand: sb.add_text_field("brand", TEXT),
            description: sb.add_text_field("description", TEXT),
            ingredients: sb.add_text_field("ingredients", TEXT),
        };
        let index = Index::create_in_ram(sb.build());
        let writer = index.writer_with_num_threads(1, 15_000_000).expect("tantivy writer");
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().expect("tantivy reader");
        let this = CatalogIndex {
            state: RwLock::new(State {
                products: HashMap::new(),
                by_slug: HashMap::new(),
                by_sku: HashMap::new(),
                brands: brands.into_iter().map(|b| (b.id, b)).collect(),
                categories: categories.into_iter().map(|c| (c.id, c)).collect(),
                attributes,
                ratings: HashMap::new(),
                raw: HashMap::new(),
                brand_slots: Slots::default(),
                category_slots: Slots::default(),
                product_slots: Slots::default(),
                generation: 0,
            }),
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
        };
        this.upsert_products(products);
        this
    }

    fn today() -> chrono::NaiveDate {
        chrono::Utc::now().date_naive()
    }

    fn document(&self, p: &IndexedProduct, slot: u32) -> TantivyDocument {
        let f = &self.fields;
        let mut doc = TantivyDocument::default();
        doc.add_u64(f.slot, u64::from(slot));
        doc.add_text(f.name, &p.view.name);
        doc.add_text(f.brand, &p.view.brand.name);
        doc.add_text(f.description, format!("{} {}", p.view.description, p.view.tags.join(" ")));
        let inci: Vec<&str> = p.view.ingredients.iter().map(|i| i.inci.as_str()).collect();
        doc.add_text(f.ingredients, format!("{} {}", inci.join(" "), p.everyday_text));
        doc
    }

    /// Adds or replaces products (an older version never replaces a newer one), then makes
    /// them searchable with one commit.
    fn upsert_products(&self, products: Vec<Product>) {
        let mut state = self.state.write().expect("index lock");
        let mut writer = self.writer.lock().expect("writer lock");
        let today = Self::today();
        let mut changed = false;
        for p in products {
            if state.raw.get(&p.id).is_some_and(|old| old.version > p.version) {
                continue;
            }
            let st = &mut *state;
            let lookups = Lookups { brands: &st.brands, categories: &st.categories, ratings: &st.ratings, today };
            let chain: Vec<Uuid> = lookups.category_chain(p.category_id).iter().map(|c| c.id).collect();
            let brand_slot = st.brand_slots.slot(p.brand_id);
            let category_slots = chain.into_iter().map(|c| st.category_slots.slot(c)).collect();
            let indexed = Arc::new(index_product(&p, &lookups, brand_slot, category_slots));
            let slot = st.product_slots.slot(p.id);
            writer.delete_term(Term::from_field_u64(self.fields.slot, u64::from(slot)));
            if let Some(old) = state.products.get(&p.id) {
                let old_slug = old.view.slug.clone();
                state.by_slug.remove(&old_slug);
            }
            if indexed.listed {
                writer.add_document(self.document(&indexed, slot)).expect("index document");
                state.by_slug.insert(indexed.view.slug.clone(), p.id);
                state.products.insert(p.id, indexed);
            } else {
                state.products.remove(&p.id);
            }
            if let Some(old) = state.raw.get(&p.id) {
                let old_skus: Vec<String> = old.variants.iter().map(|v| v.sku.to_string()).collect();
                old_skus.iter().for_each(|s| {
                    state.by_sku.remove(s);
                });
            }
            for v in &p.variants {
                state.by_sku.insert(v.sku.to_string(), p.id);
            }
            state.raw.insert(p.id, p);
            changed = true;
        }
        if changed {
            state.generation += 1;
            writer.commit().expect("tantivy commit in memory");
            self.reader.reload().expect("tantivy reload");
        }
    }

    fn rerender(&self, filter: impl Fn(&Product) -> bool) {
        let products: Vec<Product> = {
            let state = self.state.read().expect("index lock");
            state.raw.values().filter(|p| filter(p)).cloned().collect()
        };
        self.upsert_products(products);
    }

    /// Applies catalogue events in order; other events are ignored.
    pub fn apply(&self, events: &[CatalogEvent]) {
        let mut products = vec![];
        for e in events {
            match e {
                CatalogEvent::ProductCreated(p)
                | CatalogEvent::ProductUpdated(p)
                | CatalogEvent::ProductArchived(p) => products.push((**p).clone()),
                CatalogEvent::VariantPriceChanged { .. } => {}
                CatalogEvent::BrandSaved(b) => {
                    self.upsert_products(std::mem::take(&mut products));
                    let mut st = self.state.write().expect("index lock");
                    st.brands.insert(b.id, b.clone());
                    st.generation += 1;
                    drop(st);
                    let id = b.id;
                    self.rerender(|p| p.brand_id == id);
                }
                CatalogEvent::CategorySaved(c) => {
                    self.upsert_products(std::mem::take(&mut products));
                    let mut st = self.state.write().expect("index lock");
                    st.categories.insert(c.id, c.clone());
                    st.generation += 1;
                    drop(st);
                    self.rerender(|p| p.category_id.is_some());
                }
                CatalogEvent::AttributeDefined(d) => {
                    let mut state = self.state.write().expect("index lock");
                    state.attributes.retain(|a| a.id != d.id);
                    state.attributes.push(d.clone());
                    state.generation += 1;
                }
            }
        }
        self.upsert_products(products);
    }

    /// Sets products' ratings, (product, count, sum of ratings) each (a count of 0: unrated),
    /// and renders those products again.
    pub fn apply_ratings(&self, ratings: &[(Uuid, i64, i64)]) {
        if ratings.is_empty() {
            return;
        }
        {
            let mut st = self.state.write().expect("index lock");
            for &(id, count, sum) in ratings {
                if count > 0 {
                    st.ratings.insert(id, (count, sum));
                } else {
                    st.ratings.remove(&id);
                }
            }
            st.generation += 1;
        }
        let ids: HashSet<Uuid> = ratings.iter().map(|r| r.0).collect();
        self.rerender(|p| ids.contains(&p.id));
    }

    /// A listed product by slug, rendered.
    pub fn product(&self, slug: &str) -> Option<Arc<IndexedProduct>> {
        let state = self.state.read().expect("index lock");
        state.by_slug.get(slug).and_then(|id| state.products.get(id)).cloned()
    }

    /// A listed product by id, rendered.
    /// Every listed product (a snapshot).
    pub fn products(&self) -> Vec<Arc<IndexedProduct>> {
        self.state.read().expect("index lock").products.values().cloned().collect()
    }

    pub fn product_by_id(&self, id: &Uuid) -> Option<Arc<IndexedProduct>> {
        self.state.read().expect("index lock").products.get(id).cloned()
    }

    /// A variant by SKU, whether or not it is on sale.
    pub fn sku(&self, sku: &str) -> Option<SkuInfo> {
        let state = self.state.read().expect("index lock");
        let id = state.by_sku.get(sku)?;
        let p = state.raw.get(id)?;
        let v = p.variants.iter().find(|v| v.sku.as_str() == sku)?;
        Some(SkuInfo {
            sku: sku.to_owned(),
            product_id: p.id,
            slug: p.slug.to_string(),
            name: p.name.clone(),
            variant_id: v.id,
            price: v.price,
            size: v.size.clone(),
            on_sale: state.products.contains_key(id) && !v.archived,
            brand: state.brands.get(&p.brand_id).map(|b| b.slug.to_string()).unwrap_or_default(),
            categories: crate::view::Lookups {
                brands: &state.brands,
                categories: &state.categories,
                ratings: &state.ratings,
                today: chrono::Utc::now().date_naive(),
            }
            .category_chain(p.category_id)
            .iter()
            .map(|c| c.slug.to_string())
            .collect(),
        })
    }

    /// Changes with every applied change; identical queries at one generation give one body.
    pub fn generation(&self) -> u64 {
        self.state.read().expect("index lock").generation
    }

    pub fn len(&self) -> usize {
        self.state.read().expect("index lock").products.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Full-text matches with their scores, best first.
    pub(crate) fn search_text(&self, state: &State, q: &str) -> Vec<(Uuid, f32)> {
        let f = &self.fields;
        let mut parser = QueryParser::for_index(&self.index, vec![f.name, f.brand, f.description, f.ingredients]);
        parser.set_conjunction_by_default();
        parser.set_field_boost(f.name, 3.0);
        parser.set_field_boost(f.brand, 2.0);
        // Shoppers type words, not query syntax: keep letters and digits only.
        let cleaned: String = q.chars().map(|c| if c.is_alphanumeric() { c } else { ' ' }).collect();
        if cleaned.trim().is_empty() {
            return vec![];
        }
        let (query, _) = parser.parse_query_lenient(&cleaned);
        let searcher = self.reader.searcher();
        let limit = (searcher.num_docs() as usize).max(1);
        let hits = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score()).unwrap_or_default();
        let slots: Vec<_> = searcher.segment_readers().iter().map(|r| r.fast_fields().u64("slot").ok()).collect();
        hits.into_iter()
            .filter_map(|(score, addr)| {
                let slot = slots.get(addr.segment_ord as usize)?.as_ref()?.first(addr.doc_id)?;
                Some((state.product_slots.id(u32::try_from(slot).ok()?), score))
            })
            .collect()
    }

    /// The INCI entry for an INCI or everyday name, with the listed products containing it.
    pub fn ingredient(&self, name: &str, limit: usize) -> Option<IngredientEntry> {
        let book = IngredientBook::get();
        let keys = book.resolve(name);
        let key = inci::normalise(name);
        let state = self.state.read().expect("index lock");
        let mut products: Vec<&Arc<IndexedProduct>> =
            state.products.values().filter(|p| p.ingredient_keys.iter().any(|k| keys.contains(k))).collect();
        let everyday = book.is_everyday_name(name);
        if products.is_empty() && !everyday && !book.is_allergen(&key) {
            return None;
        }
        products.sort_by(|a, b| a.name_key.cmp(&b.name_key));
        let primary = if everyday { book.inci_for(name).first().cloned().unwrap_or(key.clone()) } else { key.clone() };
        Some(IngredientEntry {
            inci: inci::display(&primary),
            everyday_names: book.everyday_names(&primary).map(str::to_owned).collect(),
            allergen: book.is_allergen(&primary),
            matches: if everyday { book.inci_for(name).iter().map(|k| inci::display(k)).collect() } else { vec![] },
            product_count: products.len(),
            products: products.into_iter().take(limit).map(|p| crate::listing::ProductSummary::of(p)).collect(),
        })
    }
}
