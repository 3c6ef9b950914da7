//! The services this process does not run, reached over HTTP (`rouge serve --services …`):
//! which ones it needs, where they answer, and how their stock levels reach the storefront.

use rouge_http::Store;
use rouge_http::remote::{Policy, Remote, TokenSource};
use rouge_http::services::{Service, Services};
use rouge_identity::IdentityService;
use std::sync::Arc;

/// The peers a process calls; `None` where the service runs here or is not needed.
#[derive(Debug, Default)]
pub struct Peers {
    pub catalog: Option<Remote>,
    pub inventory: Option<Remote>,
    pub identity: Option<Remote>,
    pub orders: Option<Remote>,
    pub payments: Option<Remote>,
}

/// The environment variable naming where `s` answers.
pub fn url_variable(s: Service) -> String {
    format!("ROUGE_{}_URL", s.as_str().to_uppercase())
}

/// Where the services `services` does not run answer: `ROUGE_<SERVICE>_URL`, else
/// `ROUGE_PEERS_URL`.
pub fn urls_from_env(services: Services) -> Vec<(Service, String)> {
    let shared = std::env::var("ROUGE_PEERS_URL").ok().filter(|u| !u.is_empty());
    Service::ALL
        .into_iter()
        .filter(|s| !services.has(*s))
        .filter_map(|s| {
            let own = std::env::var(url_variable(s)).ok().filter(|u| !u.is_empty());
            own.or_else(|| shared.clone()).map(|u| (s, u))
        })
        .collect()
}

impl Peers {
    /// The peers `services` need, at `urls`, calling with service tokens of `identity`'s keys.
    ///
    /// # Errors
    /// A needed peer without a URL, or a URL that is not http(s).
    pub fn connect<S: Store>(
        services: Services,
        urls: &[(Service, String)],
        policy: Policy,
        identity: &IdentityService<S>,
    ) -> anyhow::Result<Self> {
        let has = |s| services.has(s);
        let caller = services.to_string();
        let keys = identity.clone();
        let token: TokenSource = Arc::new(move || keys.tokens().issue_service(&caller, chrono::Utc::now().timestamp()));
        let peer = |s: Service, needed: bool| -> anyhow::Result<Option<Remote>> {
            if has(s) || !needed {
                return Ok(None);
            }
            let Some((_, url)) = urls.iter().find(|(p, _)| *p == s) else {
                anyhow::bail!(
                    "this process runs {services}, which calls the {s} service: say where it answers with {} \
                     (or ROUGE_PEERS_URL, a load balancer in front of every service)",
                    url_variable(s)
                );
            };
            tracing::info!(service = %s, %url, "calling this service over HTTP");
            Remote::new(s, url, token.clone(), policy).map(Some).map_err(|e| anyhow::anyhow!(e))
        };
        Ok(Self {
            // Orders price lines, inventory checks SKUs it receives.
            catalog: peer(Service::Catalog, has(Service::Orders) || has(Service::Inventory))?,
            // Orders reserve stock; the storefront shows it.
            inventory: peer(Service::Inventory, has(Service::Orders) || has(Service::Catalog))?,
            // Every service's customer and staff routes resolve bearer tokens.
            identity: peer(Service::Identity, true)?,
            // Identity's erasure and export reach the customer's orders; inventory's consumer
            // reads a cancelled order's reservation; payments' webhooks are recorded on orders;
            // reviews (with the catalogue) ask whether a purchase was delivered.
            orders: peer(
                Service::Orders,
                has(Service::Identity) || has(Service::Inventory) || has(Service::Payments) || has(Service::Catalog),
            )?,
            // Checkouts authorize, staff capture and refund through the payment providers.
            payments: peer(Service::Payments, has(Service::Orders))?,
        })
    }
}

/// Where the storefront's stock levels come from: inventory here, or the inventory service.
#[derive(Clone)]
pub enum Levels<S> {
    Local(rouge_inventory::InventoryService<S>),
    Remote(rouge_http::peers::RemoteStock),
}

impl<S: Store> Levels<S> {
    /// Every SKU's sellable stock.
    ///
    /// # Errors
    /// The cause, when it cannot be read.
    pub async fn all(&self) -> Result<Vec<(String, i64)>, String> {
        match self {
            Levels::Local(i) => i.sellable_by_sku().await.map_err(|e| e.to_string()),
            Levels::Remote(r) => r.sellable().await.map_err(|e| e.to_string()),
        }
    }

    /// Reads `skus` again after their level events: one by one here, all at once from the
    /// inventory service (one call, and level events are rare).
    pub async fn refresh(&self, board: &rouge_http::availability::StockBoard, skus: &[String], low: i64) {
        match self {
            Levels::Local(inventory) => {
                for sku in skus {
                    match inventory.stock(sku).await {
                        Ok(level) => board.set(sku, level.available, low),
                        Err(e) => {
                            tracing::warn!(%sku, error = %e, "cannot read stock for the storefront; the next refresh will");
                        }
                    }
                }
            }
            Levels::Remote(_) => match self.all().await {
                Ok(all) => board.replace_all(&all, low),
                Err(e) => tracing::warn!(error = %e, "cannot read stock for the storefront; the next refresh will"),
            },
        }
    }
}
