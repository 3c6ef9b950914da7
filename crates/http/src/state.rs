use rouge_catalog::{CatalogRepository, CatalogService};
use rouge_identity::{AuditRepository, IdentityRepository, IdentityService, StaffRepository};
use rouge_inventory::{InventoryRepository, InventoryService};
use rouge_kernel::Ping;
use rouge_kernel::{DeliveryLog, IdempotencyStore};
use rouge_messaging::RelayHandle;
use rouge_orders::{Channel, OrdersRepository, OrdersService};
use rouge_payments::PaymentProvider;
use rouge_search::CatalogIndex;
use std::sync::Arc;

/// Everything a store must offer the HTTP layer.
pub trait Store:
    CatalogRepository
    + IdentityRepository
    + StaffRepository
    + AuditRepository
    + InventoryRepository
    + OrdersRepository
    + IdempotencyStore
    + DeliveryLog
    + Ping
{
}
impl<T> Store for T where
    T: CatalogRepository
        + IdentityRepository
        + StaffRepository
        + AuditRepository
        + InventoryRepository
        + OrdersRepository
        + IdempotencyStore
        + DeliveryLog
        + Ping
{
}

/// What every handler shares. A handle: cloning it (axum does, per request and per
/// middleware) is one reference count, not one per part.
pub struct AppState<S>(Arc<Parts<S>>);

pub struct Parts<S> {
    pub catalog: CatalogService<S>,
    pub store: S,
    pub index: Arc<CatalogIndex>,
    pub relay: RelayHandle,
    pub graphql: crate::graphql::Schemas,
    pub cache: crate::cache::ResponseCache,
    pub gateway: Arc<crate::gateway::Gateway>,
    pub identity: IdentityService<S>,
    pub inventory: InventoryService<S>,
    pub orders: OrdersService<S>,
    /// A request holding an idempotency key this long without answering is presumed dead
    /// (its server crashed) and a retry may take the key over.
    pub idempotency_lease: std::time::Duration,
    /// The Stripe provider, when configured: its webhooks are verified with its secret.
    pub stripe: Option<Arc<rouge_payments::StripeProvider>>,
    /// An external OpenID Connect issuer whose tokens are accepted too.
    pub oidc: Option<Arc<crate::oidc::Oidc>>,
    /// What product pages show of stock (kept current by the server's relay subscriber).
    pub stock: Arc<crate::availability::StockBoard>,
    /// Whether the store answers (kept by the server's watchdog).
    pub health: Arc<crate::ops::StoreHealth>,
}

impl<S> std::ops::Deref for AppState<S> {
    type Target = Parts<S>;

    fn deref(&self) -> &Parts<S> {
        &self.0
    }
}

impl<S: Store> AppState<S> {
    pub fn new(
        store: S,
        index: Arc<CatalogIndex>,
        relay: RelayHandle,
        cache: crate::cache::ResponseCache,
        gateway: crate::gateway::Gateway,
        identity: IdentityService<S>,
        oidc: Option<Arc<crate::oidc::Oidc>>,
    ) -> Self {
        let inventory = InventoryService::new(store.clone());
        let stock: Arc<crate::availability::StockBoard> = Arc::default();
        let orders = orders(&store, &index, &identity, inventory.clone(), Channel::default(), vec![]);
        Self(Arc::new(Parts {
            identity,
            oidc,
            gateway: Arc::new(gateway),
            cache,
            catalog: CatalogService::new(store.clone()),
            inventory,
            orders,
            idempotency_lease: std::time::Duration::from_secs(60),
            stripe: None,
            stock: stock.clone(),
            health: Arc::default(),
            store,
            graphql: crate::graphql::schema(index.clone(), stock),
            index,
            relay,
        }))
    }
}

/// The orders service over this store, reaching the other contexts in-process, taking
/// payments through `payments` only (the built-in `test` provider is among them only when the
/// server was asked for it).
fn orders<S: Store>(
    store: &S,
    index: &Arc<CatalogIndex>,
    identity: &IdentityService<S>,
    inventory: InventoryService<S>,
    channel: Channel,
    payments: Vec<Arc<dyn PaymentProvider>>,
) -> OrdersService<S> {
    OrdersService::new(
        store.clone(),
        Arc::new(crate::commerce::IndexCatalog(index.clone())),
        Arc::new(crate::commerce::InventoryStock(inventory)),
        payments,
        Arc::new(crate::commerce::VaultSealer(identity.clone())),
        channel,
    )
}

impl<S: Store> AppState<S> {
    /// Shares `board` as what product pages show of stock; only at start.
    ///
    /// # Panics
    /// When called after the state was cloned.
    #[must_use]
    pub fn with_stock_board(mut self, board: Arc<crate::availability::StockBoard>) -> Self {
        let parts = Arc::get_mut(&mut self.0).expect("configured before it is shared");
        parts.graphql = crate::graphql::schema(parts.index.clone(), board.clone());
        parts.stock = board;
        self
    }

    /// Sets the stock rules, the sales channel and the payment providers; only at start,
    /// before the state is shared.
    ///
    /// # Panics
    /// When called after the state was cloned.
    #[must_use]
    pub fn with_commerce(
        mut self,
        stock_rules: impl FnOnce(&mut InventoryService<S>),
        channel: Channel,
        mut payments: Vec<Arc<dyn PaymentProvider>>,
        idempotency_lease: std::time::Duration,
        stripe: Option<Arc<rouge_payments::StripeProvider>>,
    ) -> Self {
        let parts = Arc::get_mut(&mut self.0).expect("configured before it is shared");
        parts.idempotency_lease = idempotency_lease;
        if let Some(s) = &stripe {
            payments.push(s.clone());
        }
        parts.stripe = stripe;
        stock_rules(&mut parts.inventory);
        parts.orders = orders(&parts.store, &parts.index, &parts.identity, parts.inventory.clone(), channel, payments);
        self
    }
}

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}
