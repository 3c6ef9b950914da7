//! The recommendations a catalogue process serves: the lists its last training left (in
//! memory), the products' facts the constraints read (from the catalogue's index and the stock
//! board, refreshed in the background when either changes), and training itself (the server
//! runs it on a schedule; `rouge recs train` once).

use crate::availability::{StockBoard, StockStatus};
use crate::state::Store;
use rouge_catalog::inci::IngredientBook;
use rouge_recommendations::ImpressionRepository;
use rouge_recommendations::impressions::{Impression, Shown};
use rouge_recommendations::serving::{Candidate, Item, Shopper, Step};
use rouge_recommendations::training::{Lists, Settings, train};
use rouge_recommendations::{BehaviourEvent, EventKind};
use rouge_search::CatalogIndex;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use uuid::Uuid;

/// A list scored live, and the lists whose model scored it.
type Scored = (std::sync::Weak<Lists>, Arc<Vec<Candidate>>);

/// A day, a context and a model, of answers shown.
type ShownKey = (i64, &'static str, &'static str);

/// The products' facts and the (index generation, stock version) they were built at.
type Facts = (u64, u64, Arc<HashMap<Uuid, Item>>);

/// What serving reads, swapped whole when a training or a refresh finishes.
pub struct Recs {
    lists: RwLock<Arc<Lists>>,
    items: RwLock<Facts>,
    /// What serving knows of each customer lately (her constraints and her history), so that
    /// her requests read no store; forgotten when anything of hers changes.
    shoppers: moka::sync::Cache<Uuid, Arc<Known>>,
    /// Customers something changed for in the last few seconds, elsewhere perhaps (another
    /// replica's write may not be readable yet): read through, not kept.
    changed: moka::sync::Cache<Uuid, ()>,
    /// Bumped by every change: a reading that overlapped one is not kept.
    changes: std::sync::atomic::AtomicU64,
    /// Answers shown here and not yet added to the store's counts: (day, context, model) →
    /// (answers, suggestions).
    shown: std::sync::Mutex<HashMap<ShownKey, (i64, i64)>>,
    /// What the last training made, and when it finished (ms).
    last: RwLock<Option<(Trained, i64)>>,
    /// With Redis: the lists the replicas share, and the name of the snapshot served here
    /// (whether another replica made it).
    shared: Option<crate::recs_shared::SharedLists>,
    served: tokio::sync::Mutex<Option<String>>,
    from_another: std::sync::atomic::AtomicBool,
    training: std::sync::atomic::AtomicBool,
}

impl Default for Recs {
    fn default() -> Self {
        Self {
            lists: RwLock::new(Arc::new(Lists::empty())),
            items: RwLock::new((u64::MAX, u64::MAX, Arc::default())),
            shoppers: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(std::time::Duration::from_secs(KNOWN_SECS))
                .build(),
            changed: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(std::time::Duration::from_secs(CHANGED_SECS))
                .build(),
            changes: std::sync::atomic::AtomicU64::new(0),
            shown: std::sync::Mutex::default(),
            last: RwLock::new(None),
            shared: None,
            served: tokio::sync::Mutex::new(None),
            from_another: std::sync::atomic::AtomicBool::new(false),
            training: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

/// How long what serving knows of a customer is kept without a change of hers (a change made
/// through another replica that no event tells reaches her lists within this time).
pub const KNOWN_SECS: u64 = 60;
/// How long a customer is read through after a change of hers was heard of.
pub const CHANGED_SECS: u64 = 5;

/// The events that change what serving knows of a customer (each carries her `customer_id`).
pub const SHOPPER_EVENTS: &[&str] = &["CustomerUpdated", "CustomerErased", "order.placed", "order.return_requested"];

/// What a replica's read models hear from the broker: what storefront pages show, and what
/// changes a customer's recommendations.
pub const HEARD: &[&str] =
    &joined::<{ crate::surrogate::EVENTS.len() + SHOPPER_EVENTS.len() }>(crate::surrogate::EVENTS, SHOPPER_EVENTS);

/// `a` then `b`, in an array of their length.
const fn joined<const N: usize>(a: &[&'static str], b: &[&'static str]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < a.len() {
        out[i] = a[i];
        i += 1;
    }
    let mut j = 0;
    while j < b.len() {
        out[i + j] = b[j];
        j += 1;
    }
    out
}

/// What serving knows of a customer: her constraints and her latest behaviour.
#[derive(Debug)]
pub struct Known {
    pub shopper: Shopper,
    /// Her latest events' products, oldest first.
    pub history: Vec<(Uuid, EventKind)>,
    /// When her latest event happened (ms).
    pub newest: i64,
    /// Her list scored live from `history`, and the lists it was scored by (held weakly: their
    /// address is not reused while it is held).
    live: std::sync::Mutex<Option<Scored>>,
}

impl Known {
    /// From her profile and her latest events (newest first, as the store gives them).
    pub fn of(profile: Option<&rouge_identity::BeautyProfile>, events: &[BehaviourEvent]) -> Self {
        Known {
            shopper: shopper_of(profile, events),
            history: events.iter().rev().filter_map(|e| Some((e.product_id?, e.kind))).collect(),
            newest: events.first().map_or(i64::MIN, |e| e.at),
            live: std::sync::Mutex::new(None),
        }
    }

    /// Her list scored live by these lists' model from her history: scored once, then kept
    /// while she and the lists stay as they are (`None` without a model).
    pub fn live(&self, lists: &Arc<Lists>) -> Option<Arc<Vec<Candidate>>> {
        if let Some((by, list)) = self.live.lock().expect("recs lock").as_ref()
            && std::ptr::eq(by.as_ptr(), Arc::as_ptr(lists))
        {
            return Some(list.clone());
        }
        let list = Arc::new(rouge_recommendations::contexts::live(lists, &self.history)?);
        *self.live.lock().expect("recs lock") = Some((Arc::downgrade(lists), list.clone()));
        Some(list)
    }
}

impl Recs {
    /// Recommendations whose trained lists the replicas share through the Redis at `url`.
    ///
    /// # Errors
    /// When the URL is malformed.
    pub fn with_redis(url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        Ok(Self { shared: Some(crate::recs_shared::SharedLists::new(url, prefix)?), ..Self::default() })
    }

    /// The lists shared through Redis, if they are.
    pub fn shared(&self) -> Option<&crate::recs_shared::SharedLists> {
        self.shared.as_ref()
    }

    /// Whether the lists served are another replica's (read from Redis).
    pub fn from_another(&self) -> bool {
        self.from_another.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Serves the snapshot the replicas share now, read if it is new: whether what is served
    /// here is the current shared snapshot (false without Redis, without a snapshot, or when it
    /// cannot be read).
    pub async fn follow(&self) -> bool {
        let Some(shared) = &self.shared else { return false };
        let mut served = self.served.lock().await;
        let Some(current) = shared.current().await else { return false };
        if served.as_deref() == Some(current.as_str()) {
            return true;
        }
        let Some(snapshot) = shared.read(&current).await else {
            tracing::warn!(snapshot = %current, "cannot read the shared recommendations; serving those held");
            return false;
        };
        tracing::info!(snapshot = %current, events = snapshot.trained.events, "recommendations trained by another replica served");
        self.set_lists(snapshot.lists);
        *self.last.write().expect("recs lock") = Some((snapshot.trained, snapshot.finished_at));
        self.from_another.store(true, std::sync::atomic::Ordering::Release);
        *served = Some(current);
        true
    }

    /// What is known of her, if it is.
    pub fn known(&self, customer: Uuid) -> Option<Arc<Known>> {
        self.shoppers.get(&customer)
    }

    /// A number to take before reading her facts and to give back to [`Recs::keep`].
    pub fn change_mark(&self) -> u64 {
        self.changes.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Keeps what was read of her, unless something changed since `mark` or she changed lately.
    pub fn keep(&self, customer: Uuid, known: Arc<Known>, mark: u64) {
        if self.change_mark() == mark && !self.changed.contains_key(&customer) {
            self.shoppers.insert(customer, known);
        }
    }

    /// An answer shown, with `items` suggestions.
    pub fn count(&self, shown: &Impression, items: usize) {
        let mut counts = self.shown.lock().expect("recs lock");
        let c = counts.entry((shown.day(), shown.context, shown.model)).or_default();
        c.0 += 1;
        c.1 += items as i64;
    }

    /// Adds the answers shown here since the last time to the store's counts (kept here for
    /// the next time when the store fails).
    ///
    /// # Errors
    /// The store's.
    pub async fn save_shown<R: ImpressionRepository>(&self, store: &R) -> Result<usize, rouge_kernel::StoreError> {
        let taken = std::mem::take(&mut *self.shown.lock().expect("recs lock"));
        let shown: Vec<Shown> = taken
            .iter()
            .map(|(&(day, context, model), &(impressions, items))| Shown {
                day,
                context: context.to_owned(),
                model: model.to_owned(),
                impressions,
                items,
            })
            .collect();
        if shown.is_empty() {
            return Ok(0);
        }
        if let Err(e) = store.count_shown(&shown).await {
            let mut counts = self.shown.lock().expect("recs lock");
            for (key, (impressions, items)) in taken {
                let c = counts.entry(key).or_default();
                c.0 += impressions;
                c.1 += items;
            }
            return Err(e);
        }
        Ok(shown.len())
    }

    /// Something of hers changed here (her profile, her behaviour): read her again next time.
    pub fn forget(&self, customer: Uuid) {
        self.changes.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.shoppers.invalidate(&customer);
    }

    /// Events heard by this replica (every replica hears them): a customer they name is read
    /// again, and read through for a few seconds (what changed may be written a moment later).
    pub fn heard(&self, events: &[rouge_kernel::DomainEvent]) {
        for e in events.iter().filter(|e| SHOPPER_EVENTS.contains(&e.event_type.as_str())) {
            if let Some(c) = e.payload.get("customer_id").and_then(|c| c.as_str()).and_then(|c| c.parse().ok()) {
                self.changed.insert(c, ());
                self.forget(c);
            }
        }
    }

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
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
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

/// What serving knows of her: kept in memory, or read now (her profile, her latest 200
/// events) and kept.
///
/// # Errors
/// Her profile or history unreadable now (503), or she is gone.
pub async fn known_of<S: Store>(
    app: &crate::state::AppState<S>,
    customer: Uuid,
) -> Result<Arc<Known>, crate::error::ApiError> {
    if let Some(known) = app.recs.known(customer) {
        return Ok(known);
    }
    let mark = app.recs.change_mark();
    let profile = profile_of(app, customer).await?;
    let history = app.store.behaviour_of(customer, 200).await?;
    let known = Arc::new(Known::of(Some(&profile), &history));
    app.recs.keep(customer, known.clone(), mark);
    Ok(known)
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
    let (lists, finished) = (Arc::new(lists), chrono::Utc::now().timestamp_millis());
    *app.recs.lists.write().expect("recs lock") = lists.clone();
    *app.recs.last.write().expect("recs lock") = Some((trained.clone(), finished));
    app.recs.from_another.store(false, std::sync::atomic::Ordering::Release);
    if let Some(shared) = &app.recs.shared {
        // The other replicas serve it too once they read it; until then, their own.
        let mut served = app.recs.served.lock().await;
        if let Some(name) = shared.publish(trained.clone(), finished, lists).await {
            *served = Some(name);
        }
    }
    tracing::info!(
        events = trained.events,
        shoppers = trained.shoppers,
        model = trained.model.as_deref().unwrap_or("none (too little behaviour)"),
        ms = trained.millis as u64,
        "recommendations trained"
    );
    Ok(trained)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Arc<Known> {
        Arc::new(Known::of(None, &[]))
    }

    #[test]
    fn her_live_list_is_scored_once_per_training() {
        let products: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let items: HashMap<Uuid, Item> =
            products.iter().map(|p| (*p, Item { id: *p, sellable: true, ..Item::default() })).collect();
        let events: Vec<BehaviourEvent> = (0..4)
            .flat_map(|v| {
                products.iter().enumerate().map(move |(n, p)| BehaviourEvent {
                    id: Uuid::now_v7(),
                    kind: EventKind::ProductViewed,
                    customer_id: None,
                    anonymous_id: Some(format!("visitor-{v:04}")),
                    product_id: Some(*p),
                    query: None,
                    unsuitable: false,
                    at: 1_000 + n as i64,
                    impression_id: None,
                })
            })
            .collect();
        let trained = || Arc::new(train(&events, &items, &HashMap::new(), &Settings::default()));
        let (first, second) = (trained(), trained());
        let hers = Known::of(None, &events[..1]);
        let live = hers.live(&first).expect("a model");
        assert!(!live.is_empty());
        assert!(Arc::ptr_eq(&live, &hers.live(&first).unwrap()), "kept");
        let again = hers.live(&second).unwrap();
        assert!(!Arc::ptr_eq(&live, &again), "scored again by another training");
        assert_eq!(*live, *again, "the same behaviour, the same list");
    }

    #[test]
    fn replicas_hear_what_pages_show_and_what_changes_a_shopper() {
        for e in crate::surrogate::EVENTS.iter().chain(SHOPPER_EVENTS) {
            assert!(HEARD.contains(e), "{e} is not heard");
        }
    }

    #[test]
    fn what_is_known_of_her_goes_when_she_changes() {
        let (recs, ana, bea) = (Recs::default(), Uuid::now_v7(), Uuid::now_v7());
        let mark = recs.change_mark();
        recs.keep(ana, known(), mark);
        assert!(recs.known(ana).is_some());
        recs.forget(ana);
        assert!(recs.known(ana).is_none());
        // A reading that a change overlapped is not kept (it may be from before the change).
        let mark = recs.change_mark();
        recs.forget(bea);
        recs.keep(ana, known(), mark);
        assert!(recs.known(ana).is_none());
    }

    #[test]
    fn an_event_naming_her_has_her_read_through_for_a_while() {
        let (recs, ana) = (Recs::default(), Uuid::now_v7());
        recs.keep(ana, known(), recs.change_mark());
        let event =
            |t: &str| rouge_kernel::DomainEvent::new("customer", ana, t, serde_json::json!({"customer_id": ana}));
        recs.heard(&[event("ProductUpdated")]);
        assert!(recs.known(ana).is_some(), "not hers");
        recs.heard(&[event("order.return_requested")]);
        assert!(recs.known(ana).is_none());
        // Her change may not be readable here yet: what is read now is not kept.
        recs.keep(ana, known(), recs.change_mark());
        assert!(recs.known(ana).is_none());
    }
}
