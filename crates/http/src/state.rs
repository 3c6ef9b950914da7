use rouge_catalog::{CatalogRepository, CatalogService};
use rouge_identity::{AuditRepository, IdentityRepository, IdentityService, StaffRepository};
use rouge_kernel::{Inbox, Ping};
use rouge_messaging::RelayHandle;
use rouge_search::CatalogIndex;
use std::sync::Arc;

/// Everything a store must offer the HTTP layer.
pub trait Store: CatalogRepository + IdentityRepository + StaffRepository + AuditRepository + Inbox + Ping {}
impl<T: CatalogRepository + IdentityRepository + StaffRepository + AuditRepository + Inbox + Ping> Store for T {}

pub struct AppState<S> {
    pub catalog: CatalogService<S>,
    pub store: S,
    pub index: Arc<CatalogIndex>,
    pub relay: RelayHandle,
    pub graphql: crate::graphql::CatalogSchema,
    pub cache: crate::cache::ResponseCache,
    pub gateway: crate::gateway::Gateway,
    pub identity: IdentityService<S>,
    /// An external OpenID Connect issuer whose tokens are accepted too.
    pub oidc: Option<Arc<crate::oidc::Oidc>>,
}

impl<S: Store> AppState<S> {
    pub fn new(
        store: S,
        index: Arc<CatalogIndex>,
        relay: RelayHandle,
        cache: crate::cache::ResponseCache,
        gateway: crate::gateway::Gateway,
        identity: IdentityService<S>,
    ) -> Self {
        Self {
            identity,
            oidc: None,
            gateway,
            cache,
            catalog: CatalogService::new(store.clone()),
            store,
            graphql: crate::graphql::schema(index.clone()),
            index,
            relay,
        }
    }
}

impl<S: Clone> Clone for AppState<S> {
    fn clone(&self) -> Self {
        Self {
            catalog: self.catalog.clone(),
            store: self.store.clone(),
            index: self.index.clone(),
            relay: self.relay.clone(),
            graphql: self.graphql.clone(),
            cache: self.cache.clone(),
            gateway: self.gateway.clone(),
            identity: self.identity.clone(),
            oidc: self.oidc.clone(),
        }
    }
}
