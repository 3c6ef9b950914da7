use rouge_catalog::{CatalogRepository, CatalogService};
use rouge_identity::{AuditRepository, IdentityRepository, IdentityService, StaffRepository};
use rouge_inventory::{InventoryRepository, InventoryService};
use rouge_kernel::{Inbox, Ping};
use rouge_messaging::RelayHandle;
use rouge_search::CatalogIndex;
use std::sync::Arc;

/// Everything a store must offer the HTTP layer.
pub trait Store:
    CatalogRepository + IdentityRepository + StaffRepository + AuditRepository + InventoryRepository + Inbox + Ping
{
}
impl<T> Store for T where
    T: CatalogRepository + IdentityRepository + StaffRepository + AuditRepository + InventoryRepository + Inbox + Ping
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
    pub graphql: crate::graphql::CatalogSchema,
    pub cache: crate::cache::ResponseCache,
    pub gateway: Arc<crate::gateway::Gateway>,
    pub identity: IdentityService<S>,
    pub inventory: InventoryService<S>,
    /// An external OpenID Connect issuer whose tokens are accepted too.
    pub oidc: Option<Arc<crate::oidc::Oidc>>,
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
        Self(Arc::new(Parts {
            identity,
            oidc,
            gateway: Arc::new(gateway),
            cache,
            catalog: CatalogService::new(store.clone()),
            inventory: InventoryService::new(store.clone()),
            store,
            graphql: crate::graphql::schema(index.clone()),
            index,
            relay,
        }))
    }
}

impl<S> AppState<S> {
    /// Changes the inventory rules; only while the state is not yet shared (at start).
    ///
    /// # Panics
    /// When called after the state was cloned.
    #[must_use]
    pub fn with_inventory(mut self, f: impl FnOnce(&mut InventoryService<S>)) -> Self {
        f(&mut Arc::get_mut(&mut self.0).expect("configured before it is shared").inventory);
        self
    }
}

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}
