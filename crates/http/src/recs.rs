//! The recommendations a catalogue process serves: the lists its last training left (in
//! memory), the products' facts the constraints read (from the catalogue's index and the stock
//! board, refreshed in the background when either changes), and training itself (the server
//! runs it on a schedule; `rouge recs train` once).

use crate::availability::{StockBoard, StockStatus};
use crate::state::Store;
use rouge_catalog::inci::IngredientBook;
use rouge_recommendations::serving::{Item, Shopper, Step};
use rouge_recommendations::training::{Lists, Settings, train};
use rouge_recommendations::{BehaviourEvent, EventKind};
use rouge_search::CatalogIndex;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use uuid::Uuid;

/// The products' facts and the (index generation, stock version) they were built at.
type Facts = (u64, u64, Arc<HashMap<Uuid, Item>>);

/// What serving reads, swapped whole when a training or a refresh finishes.
pub struct Recs {
    lists: RwLock<Arc<Lists>>,
    items: RwLock<Facts>,
    /// What the last training made, and when it finished (ms).
    last: RwLock<Option<(Trained, i64)>>,
    training: std::sync::atomic::AtomicBool,
}

impl Default for Recs {
    fn default() -> Self {
        Self {
            lists: RwLock::new(Arc::new(Lists::empty())),
            items: RwLock::new((u64::MAX, u64::MAX, Arc::default())),
            last: RwLock::new(None),
            training: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl Recs {
    pub fn lists(&self) -> Arc<Lists> {
        self.lists.read().expect("recs lock").clone()
    }

    pub fn set_lists(&self, lists: Lists) {
        *self.lists.write().expect("recs lock") = Arc::new(lists);
    }

    /// The last training's figures and when it finished (ms), and whether one is under way.
    pub fn status(&self) -> (Option<(Trained, i64)>, bool) {
        (self.last.read().expect("recs lock").clone(), self.training.load(std::sync::atomic::Ordering::Acquire))
    }

    pub fn items(&self) -> Arc<HashMap<Uuid, Item>> {
        self.items.read().expect("recs lock").2.clone()
    }

    /// The products' facts, built now if they never were (the background refresh keeps them
    /// current after that).
    pub fn items_now(&self, index: &CatalogIndex, stock: &StockBoard) -> Arc<HashMap<Uuid, Item>> {
        if self.items.read().expect("recs lock").0 == u64::MAX {
            self.refresh_items(index, stock);
        }
        self.items()
    }

    /// Rebuilds the products' facts when the index or the stock changed since the last time.
    pub fn refresh_items(&self, index: &CatalogIndex, stock: &StockBoard) {
        let (generation, version) = (index.generation(), stock.version());
        {
            let items = self.items.read().expect("recs lock");
            if items.0 == generation && items.1 == version {
                return;
            }
        }
        let items = Arc::new(items_of(index, stock));
        *self.items.write().expect("recs lock") = (generation, version, items);
    }
}

/// Every listed product as the constraints see it.
pub fn items_of(index: &CatalogIndex, stock: &StockBoard) -> HashMap<Uuid, Item> {
    index
        .products()
        .iter()
        .map(|p| {
            let v = &p.view;
            let item = Item {
                id: v.id,
                ingredients: p.ingredient_keys.clone(),
                skin_types: v.skin_types.iter().map(|s| s.as_str().to_owned()).collect(),
                step: v.category.as_ref().and_then(|c| Step::of_category(&c.slug)),
                sellable: p.listed && in_stock(v, stock),
                shades: p.shades.iter().map(|s| (s.undertone.as_str().to_owned(), s.depth)).collect(),
            };
            (v.id, item)
        })
        .collect()
}

/// Whether some variant of the product is in stock (the board as it is this instant).
pub fn in_stock(product: &rouge_search::ProductView, stock: &StockBoard) -> bool {
    product.variants.iter().any(|x| stock.status(x.sku.as_str()) != StockStatus::SoldOut)
}

/// Her profile and her history as serving needs them.
pub fn shopper_of(profile: Option<&rouge_identity::BeautyProfile>, history: &[BehaviourEvent]) -> Shopper {
    let book = IngredientBook::get();
    let mut s = Shopper::default();
    if let Some(p) = profile {
        s.skin_type = p.skin_type.map(|t| t.as_str().to_owned());
        s.avoid = p.avoid_ingredients.iter().flat_map(|a| book.resolve(a)).collect();
        s.shade = p.shade.as_ref().map(|sh| (sh.undertone.as_str().to_owned(), sh.depth));
    }
    for e in history {
        match (e.kind, e.product_id) {
            (EventKind::Purchased, Some(p)) => {
                s.owned.insert(p);
            }
            (EventKind::Returned, Some(p)) if e.unsuitable => {
                s.unsuitable.insert(p);
            }
            _ => {}
        }
    }
    s
}

/// What a training read and made, for its log line and `rouge recs train`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Trained {
    pub events: usize,
    pub products: usize,
    pub model: Option<String>,
    pub model_products: usize,
    pub shoppers: usize,
    pub similar: usize,
    pub alike: usize,
    pub bought_together: usize,
    pub skin_types: usize,
    pub millis: u128,
}

/// Trains on every behaviour event within retention: reads them a page at a time, asks
/// `skin_of` for the buyers' skin types, and returns the lists with what was made.
///
/// # Errors
/// The store's, when it fails.
pub async fn train_from<S: Store, F, Fut>(
    store: &S,
    items: Arc<HashMap<Uuid, Item>>,
    since: i64,
    settings: &Settings,
    skin_of: F,
) -> Result<(Lists, Trained), rouge_kernel::StoreError>
where
    F: Fn(Vec<Uuid>) -> Fut,
    Fut: std::future::Future<Output = HashMap<Uuid, String>>,
{
    let started = std::time::Instant::now();
    let mut events = vec![];
    let mut after = None;
    loop {
        let page = store.behaviour_since(since, after, 5_000).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.at, last.id));
        events.extend(page);
    }
    let mut buyers: Vec<Uuid> =
        events.iter().filter(|e| e.kind == EventKind::Purchased).filter_map(|e| e.customer_id).collect();
    buyers.sort_unstable();
    buyers.dedup();
    let skins = skin_of(buyers).await;
    let n = events.len();
    let (settings, held) = (settings.clone(), items.clone());
    let lists = tokio::task::spawn_blocking(move || train(&events, &held, &skins, &settings))
        .await
        .map_err(|e| rouge_kernel::StoreError::Unavailable(format!("training stopped: {e}")))?;
    let trained = Trained {
        events: n,
        products: items.len(),
        model: lists.model.as_ref().map(|m| m.name.clone()),
        model_products: lists.model.as_ref().map_or(0, |m| m.products.len()),
        shoppers: lists.for_you.len(),
        similar: lists.similar.len(),
        alike: lists.alike.len(),
        bought_together: lists.bought_together.len(),
        skin_types: lists.popular_by_skin.len(),
        millis: started.elapsed().as_millis(),
    };
    Ok((lists, trained))
}

/// Her beauty profile: from identity here, or from the identity service.
///
/// # Errors
/// Identity's: unavailable (503), or she is gone.
pub async fn profile_of<S: Store>(
    app: &crate::state::AppState<S>,
    customer: Uuid,
) -> Result<rouge_identity::BeautyProfile, crate::error::ApiError> {
    match &app.peers.identity {
        Some(identity) => identity.get(&format!("/internal/v1/profiles/{customer}")).await.map_err(Into::into),
        None => app.identity.profile(customer).await.map_err(Into::into),
    }
}

/// Trains on the store's behaviour and the catalogue as it is, and serves the result.
///
/// # Errors
/// The store's, when it fails (the lists served stay as they were).
pub async fn train_here<S: Store>(app: &crate::state::AppState<S>) -> Result<Trained, crate::error::ApiError> {
    use std::sync::atomic::Ordering;
    if app.recs.training.swap(true, Ordering::AcqRel) {
        return Err(crate::error::ApiError::Conflict("a training is under way".into(), vec![]));
    }
    let result = train_once(app).await;
    app.recs.training.store(false, Ordering::Release);
    result
}

async fn train_once<S: Store>(app: &crate::state::AppState<S>) -> Result<Trained, crate::error::ApiError> {
    app.recs.refresh_items(&app.index, &app.stock);
    let items = app.recs.items();
    let skin_of = |buyers: Vec<Uuid>| async move {
        let mut skins = HashMap::new();
        for c in buyers {
            // One who cannot be read (erased meanwhile, identity away) counts without a skin type.
            if let Ok(Some(t)) = profile_of(app, c).await.map(|p| p.skin_type) {
                skins.insert(c, t.as_str().to_owned());
            }
        }
        skins
    };
    let (lists, trained) = train_from(&app.store, items, 0, &Settings::default(), skin_of).await?;
    app.recs.set_lists(lists);
    *app.recs.last.write().expect("recs lock") = Some((trained.clone(), chrono::Utc::now().timestamp_millis()));
    tracing::info!(
        events = trained.events,
        shoppers = trained.shoppers,
        model = trained.model.as_deref().unwrap_or("none (too little behaviour)"),
        ms = trained.millis as u64,
        "recommendations trained"
    );
    Ok(trained)
}
