//! How the contexts reach each other, wired here and nowhere else: the in-process clients the
//! orders service uses for the catalogue (the search index's SKU map, with the shop's parcel
//! weight and tax class rules), for inventory (its service over the same store) and for the
//! vault (identity's keys, so order data and stored answers are sealed and rotated like
//! customers'); and the orders service built from them.

use futures::future::BoxFuture;
use rouge_catalog::values::SizeUnit;
use rouge_identity::IdentityService;
use rouge_identity::vault::WrappedKey;
use rouge_inventory::{InventoryError, InventoryRepository, InventoryService, LineRequest};
use rouge_orders::ports::{Basket, Evaluation};
use rouge_orders::{Catalog, PromotionError, Promotions, Sealed, Sealer, SkuView, Stock, StockError};
use rouge_promotions::{PromotionsError, PromotionsRepository, PromotionsService};
use rouge_search::CatalogIndex;
use std::sync::Arc;
use uuid::Uuid;

pub struct IndexCatalog(pub Arc<CatalogIndex>);

impl Catalog for IndexCatalog {
    fn skus<'a>(&'a self, skus: &'a [String]) -> futures::future::BoxFuture<'a, Result<Vec<Option<SkuView>>, String>> {
        Box::pin(std::future::ready(Ok(skus.iter().map(|s| self.view(s)).collect())))
    }
}

impl IndexCatalog {
    fn view(&self, sku: &str) -> Option<SkuView> {
        let s = self.0.sku(sku)?;
        let product = self.0.product_by_id(&s.product_id);
        Some(SkuView {
            sku: s.sku,
            product_id: s.product_id,
            name: s.name,
            unit_price: s.price.amount(),
            currency: s.price.currency().code().to_owned(),
            // Liquids and creams: 1 ml weighs about 1 g, plus 40 % for the jar or bottle.
            unit_grams: s.size.as_ref().map_or(100, |z| match z.unit {
                SizeUnit::Ml | SizeUnit::G => z.amount.saturating_mul(14) / 10,
                SizeUnit::Pcs => z.amount.saturating_mul(20),
            }),
            tax_class: "standard".into(),
            on_sale: s.on_sale,
            brand: s.brand,
            categories: s.categories,
            product_type: product.as_ref().map(|p| p.view.product_type.as_str().to_owned()).unwrap_or_default(),
            size: s.size.as_ref().map(|z| {
                let unit = match z.unit {
                    SizeUnit::Ml => "ml",
                    SizeUnit::G => "g",
                    SizeUnit::Pcs => "pcs",
                };
                (i64::from(z.amount), unit.to_owned())
            }),
            pao_months: product.as_ref().and_then(|p| p.view.pao_months).map(i64::from),
            skin_types: product
                .as_ref()
                .map(|p| p.view.skin_types.iter().map(|t| t.as_str().to_owned()).collect())
                .unwrap_or_default(),
            concerns: product
                .as_ref()
                .map(|p| p.view.concerns.iter().map(|c| c.as_str().to_owned()).collect())
                .unwrap_or_default(),
            ingredient_keys: product.map(|p| p.ingredient_keys.iter().cloned().collect()).unwrap_or_default(),
        })
    }
}

pub struct InventoryStock<S>(pub InventoryService<S>);

fn stock_error(e: InventoryError) -> StockError {
    match e {
        InventoryError::Insufficient { sku, requested, available } => {
            StockError::Insufficient { sku, requested, available }
        }
        // The store could not be reached: nothing was done, as with a remote inventory down.
        InventoryError::Store(e) => StockError::Unavailable(e.to_string()),
        other => StockError::Failed(other.to_string()),
    }
}

fn requests(lines: &[(String, i64)]) -> Vec<LineRequest> {
    lines.iter().map(|(sku, quantity)| LineRequest { sku: sku.clone(), quantity: *quantity }).collect()
}

impl<S: InventoryRepository> Stock for InventoryStock<S> {
    fn reserve<'a>(
        &'a self,
        reference: &'a str,
        lines: &'a [(String, i64)],
    ) -> futures::future::BoxFuture<'a, Result<Uuid, StockError>> {
        Box::pin(async move {
            let lines = requests(lines);
            self.0.reserve(reference, &lines).await.map(|r| r.id).map_err(stock_error)
        })
    }

    fn set_aside<'a>(
        &'a self,
        reference: &'a str,
        lines: &'a [(String, i64)],
        until: i64,
    ) -> futures::future::BoxFuture<'a, Result<Uuid, StockError>> {
        Box::pin(async move {
            let lines = requests(lines);
            self.0.reserve_until(reference, &lines, until).await.map(|r| r.id).map_err(stock_error)
        })
    }

    fn commit(&self, reservation: Uuid, order: Uuid) -> futures::future::BoxFuture<'_, Result<(), StockError>> {
        Box::pin(async move { self.0.commit(reservation, order).await.map(|_| ()).map_err(stock_error) })
    }

    fn release<'a>(
        &'a self,
        reservation: Uuid,
        reason: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<(), StockError>> {
        Box::pin(async move { self.0.release(reservation, reason).await.map(|_| ()).map_err(stock_error) })
    }

    fn restock(&self, reservation: Uuid) -> futures::future::BoxFuture<'_, Result<(), StockError>> {
        Box::pin(async move { self.0.restock(reservation).await.map(|_| ()).map_err(stock_error) })
    }

    fn take_back<'a>(
        &'a self,
        reservation: Uuid,
        units: &'a [(String, i64)],
        sellable: bool,
    ) -> futures::future::BoxFuture<'a, Result<(), StockError>> {
        Box::pin(async move {
            let units = requests(units);
            self.0.take_back(reservation, &units, sellable).await.map(|_| ()).map_err(stock_error)
        })
    }
}

/// Seals with a fresh data key per record, wrapped by the identity vault's current master key.
pub struct VaultSealer<S>(pub IdentityService<S>);

impl<S: rouge_identity::IdentityRepository> Sealer for VaultSealer<S> {
    fn seal(&self, owner: &str, plaintext: &[u8]) -> Sealed {
        let vault = self.0.vault();
        let (key, wrapped) = vault.new_data_key(owner);
        Sealed { master_id: wrapped.master_id, key: wrapped.sealed, data: key.seal(owner, plaintext) }
    }

    fn rewrap(&self, owner: &str, master_id: &str, key: &[u8]) -> Result<Option<(String, Vec<u8>)>, String> {
        let vault = self.0.vault();
        if master_id == vault.current_master() {
            return Ok(None);
        }
        let w = vault
            .rewrap(owner, &WrappedKey { master_id: master_id.to_owned(), sealed: key.to_vec() })
            .map_err(|e| e.to_string())?;
        Ok(Some((w.master_id, w.sealed)))
    }

    fn open(&self, owner: &str, s: &Sealed) -> Result<Vec<u8>, String> {
        let vault = self.0.vault();
        let key = vault
            .unwrap_key(owner, &WrappedKey { master_id: s.master_id.clone(), sealed: s.key.clone() })
            .map_err(|e| e.to_string())?;
        key.open(owner, &s.data).map_err(|e| e.to_string())
    }
}

/// Promotions as orders reach them: in process (promotions are deployed with orders).
pub struct LocalPromotions<S>(pub PromotionsService<S>);

fn promotion_error(e: PromotionsError) -> PromotionError {
    match e {
        PromotionsError::UsedUp(why) => PromotionError::UsedUp(why),
        other => PromotionError::Unavailable(other.to_string()),
    }
}

impl<S: PromotionsRepository> Promotions for LocalPromotions<S> {
    fn evaluate<'a>(&'a self, basket: &'a Basket) -> BoxFuture<'a, Result<Evaluation, PromotionError>> {
        Box::pin(async move { self.0.evaluate(basket).await.map_err(promotion_error) })
    }

    fn hold<'a>(
        &'a self,
        reference: &'a str,
        basket: &'a Basket,
    ) -> BoxFuture<'a, Result<(Evaluation, Option<Uuid>), PromotionError>> {
        Box::pin(async move { self.0.hold(reference, basket).await.map_err(promotion_error) })
    }

    fn release(&self, hold: Uuid) -> BoxFuture<'_, Result<(), PromotionError>> {
        Box::pin(async move { self.0.release(hold).await.map_err(promotion_error) })
    }

    fn wants_first_order(&self) -> BoxFuture<'_, bool> {
        Box::pin(self.0.wants_first_order())
    }

    fn knows_code<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<bool, PromotionError>> {
        Box::pin(async move {
            Ok(PromotionsRepository::code(self.0.repo(), code)
                .await
                .map_err(|e| PromotionError::Unavailable(e.to_string()))?
                .is_some())
        })
    }
}

/// The orders service over this store, reaching the catalogue and inventory through `catalog`
/// and `stock` (in-process, or their services over HTTP), promotions in process, taking
/// payments through `payments` only (the built-in `test` provider is among them only when the
/// server was asked for it).
pub fn orders<S: rouge_http::Store>(
    store: &S,
    catalog: Arc<dyn Catalog>,
    stock: Arc<dyn Stock>,
    promotions: PromotionsService<S>,
    identity: &IdentityService<S>,
    channel: rouge_orders::Channel,
    payments: Vec<Arc<dyn rouge_payments::PaymentProvider>>,
) -> rouge_orders::OrdersService<S> {
    rouge_orders::OrdersService::new(
        store.clone(),
        catalog,
        stock,
        Arc::new(LocalPromotions(promotions)),
        payments,
        Arc::new(VaultSealer(identity.clone())),
        channel,
    )
}

/// Customers' segments from identity's profiles, in process.
pub struct LocalProfiles<S>(pub IdentityService<S>);

impl<S: rouge_identity::IdentityRepository> rouge_promotions::Profiles for LocalProfiles<S> {
    fn segments(&self, customer: Uuid) -> BoxFuture<'_, Result<Vec<String>, String>> {
        Box::pin(async move { self.0.profile(customer).await.map(|p| p.segments()).map_err(|e| e.to_string()) })
    }
}

/// Reviewers' profiles from identity, in process.
pub struct LocalReviewers<S>(pub IdentityService<S>);

impl<S: rouge_identity::IdentityRepository> rouge_reviews::Reviewers for LocalReviewers<S> {
    fn profile(&self, customer: Uuid) -> BoxFuture<'_, Result<rouge_reviews::ReviewerProfile, String>> {
        Box::pin(async move {
            self.0.profile(customer).await.map(|p| rouge_http::peers::reviewer_of(&p)).map_err(|e| e.to_string())
        })
    }
}
