use rouge_catalog::{CatalogRepository, CatalogService};
use rouge_identity::{AuditRepository, IdentityRepository, IdentityService, StaffRepository};
use rouge_inventory::{InventoryRepository, InventoryService};
use rouge_kernel::Ping;
use rouge_kernel::{DeliveryLog, IdempotencyStore};
use rouge_orders::{OrdersRepository, OrdersService};
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
    + rouge_kernel::Relays
    + rouge_webhooks::WebhookRepository
    + rouge_promotions::PromotionsRepository
    + rouge_reviews::ReviewsRepository
    + rouge_subscriptions::ReplenishmentRepository
    + rouge_subscriptions::SubscriptionRepository
    + rouge_subscriptions::BoxRepository
    + rouge_recommendations::BehaviourRepository
    + rouge_recommendations::ImpressionRepository
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
        + rouge_kernel::Relays
        + rouge_webhooks::WebhookRepository
        + rouge_promotions::PromotionsRepository
        + rouge_reviews::ReviewsRepository
        + rouge_subscriptions::ReplenishmentRepository
        + rouge_subscriptions::SubscriptionRepository
        + rouge_subscriptions::BoxRepository
        + rouge_recommendations::BehaviourRepository
        + rouge_recommendations::ImpressionRepository
{
}

/// What every handler shares. A handle: cloning it (axum does, per request and per
/// middleware) is one reference count, not one per part.
pub struct AppState<S>(Arc<Parts<S>>);

pub struct Parts<S> {
    pub catalog: CatalogService<S>,
    pub store: S,
    pub index: Arc<CatalogIndex>,
    pub cache: crate::cache::ResponseCache,
    pub gateway: Arc<crate::gateway::Gateway>,
    pub identity: IdentityService<S>,
    pub inventory: InventoryService<S>,
    pub orders: OrdersService<S>,
    /// Promotions (staff's; carts and checkouts reach them through `orders`).
    pub promotions: rouge_promotions::PromotionsService<S>,
    /// Reviews (deployed with the catalogue).
    pub reviews: rouge_reviews::ReviewsService<S>,
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
    /// Seals what is stored with personal data in it (idempotent answers), with the vault's
    /// keys.
    pub sealer: Arc<dyn rouge_orders::Sealer>,
    /// On a broker: sends a replayed dead letter (consumer, event) back to its consumer's
    /// queue. Without one, the server's retry task picks replays up from the store.
    pub redeliver: Option<Redeliver>,
    /// The services this process runs (`rouge serve --services`); the others are peers.
    pub services: crate::services::Services,
    /// Peers that handlers call directly when their service runs elsewhere.
    pub peers: Peers,
    /// The catalogue's variants as orders and inventory see them: the local index, or the
    /// catalogue service over HTTP.
    pub skus: Arc<dyn rouge_orders::Catalog>,
    /// The payment providers this process runs (the payments service's), by name.
    pub payments: Vec<Arc<dyn rouge_payments::PaymentProvider>>,
    /// Webhook targets in internal ranges are accepted (tests; never a live shop).
    pub webhooks_allow_internal: bool,
    /// The recommendations this catalogue process serves (its last training's lists).
    pub recs: Arc<crate::recs::Recs>,
}

/// The peer services handlers reach when theirs is not in this process (`None`: it is).
#[derive(Debug, Clone, Default)]
pub struct Peers {
    /// Resolves bearer tokens (sessions and staff accounts live in identity's tables).
    pub identity: Option<crate::remote::Remote>,
    /// Erases and exports a customer's orders for identity's `/v1/me`; records what payment
    /// providers' webhooks say for payments.
    pub orders: Option<crate::remote::Remote>,
}

/// See [`Parts::redeliver`].
pub type Redeliver = Arc<dyn Fn(String, rouge_kernel::DomainEvent) + Send + Sync>;

impl<S> std::ops::Deref for AppState<S> {
    type Target = Parts<S>;

    fn deref(&self) -> &Parts<S> {
        &self.0
    }
}

impl<S: Store> AppState<S> {
    /// The state, finished: the server wires the parts (`rouge-server`'s `wiring`) and hands
    /// them over once.
    pub fn new(parts: Parts<S>) -> Self {
        Self(Arc::new(parts))
    }
}

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}
