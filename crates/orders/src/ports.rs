//! What orders need from a store, and from the other contexts (typed clients with an
//! in-process implementation in the HTTP crate).

use crate::cart::Cart;
use crate::order::{Order, OrderEvent, Status, TimelineEntry};
use futures::future::BoxFuture;
use rouge_kernel::DomainEvent;
use std::future::Future;
use uuid::Uuid;

pub use rouge_kernel::{StoreError, StoreResult};

/// Personal data sealed by the vault: the data key wrapped by a master key, and the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub master_id: String,
    pub key: Vec<u8>,
    pub data: Vec<u8>,
}

/// A record's wrapped data key, for re-wrapping under a new master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedKeyRef {
    /// `carts` or `orders`.
    pub table: &'static str,
    pub id: Uuid,
    /// What the data is bound to (the cart's id, for orders too).
    pub owner: Uuid,
    pub master_id: String,
    pub key: Vec<u8>,
}

/// Seals and opens personal data; `owner` binds the ciphertext to its record.
pub trait Sealer: Send + Sync + 'static {
    fn seal(&self, owner: &str, plaintext: &[u8]) -> Sealed;

    /// The same data key wrapped under the current master key; `None` when it already is.
    ///
    /// # Errors
    /// When the key does not open.
    fn rewrap(&self, owner: &str, master_id: &str, key: &[u8]) -> Result<Option<(String, Vec<u8>)>, String>;

    /// # Errors
    /// When the key or the data does not open (wrong owner, tampering, a retired master key).
    fn open(&self, owner: &str, sealed: &Sealed) -> Result<Vec<u8>, String>;
}

#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub customer_id: Option<Uuid>,
    pub status: Option<Status>,
    /// Orders with a number below this (the cursor of the previous page).
    pub before_number: Option<i64>,
    pub limit: i64,
}

/// The orders repository. Orders are stored as their events plus a projection row; writes
/// are optimistic on the order's version (its last event's sequence).
pub trait OrdersRepository: Clone + Send + Sync + 'static {
    /// Saves a cart if the stored version is `cart.version - 1` (inserts at version 1).
    ///
    /// # Errors
    /// `Stale` when someone saved it meanwhile.
    fn save_cart(&self, cart: &Cart, contact: Option<&Sealed>) -> impl Future<Output = StoreResult<()>> + Send;

    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn cart(&self, id: Uuid) -> impl Future<Output = StoreResult<Option<(Cart, Option<Sealed>)>>> + Send;

    /// The customer's open cart, if she has one.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn open_cart_of(&self, customer: Uuid) -> impl Future<Output = StoreResult<Option<Uuid>>> + Send;

    /// Takes the cart's checkout lease for `key` until `until` (ms) and returns the cart as
    /// leased, in one write: only an open cart of `customer` (or a guest cart), unless another
    /// key holds an unexpired lease. `None` when not taken (the caller reads the cart to say
    /// why).
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn lease_checkout(
        &self,
        cart: Uuid,
        customer: Option<Uuid>,
        key: &str,
        now: i64,
        until: i64,
    ) -> impl Future<Output = StoreResult<Option<(Cart, Option<Sealed>)>>> + Send;

    /// The order paid by the provider's payment `payment_id`.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn order_by_payment(&self, payment_id: &str) -> impl Future<Output = StoreResult<Option<Uuid>>> + Send;

    /// Gives the lease back (after a failed payment).
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn end_lease(&self, cart: Uuid, key: &str) -> impl Future<Output = StoreResult<()>> + Send;

    /// Places an order: its first events, its projection with the next order number, the
    /// sealed contact, the cart marked completed, and `outbox` events, in one transaction.
    ///
    /// # Errors
    /// `Duplicate` when the cart already became an order.
    fn place_order(
        &self,
        order: &Order,
        events: &[OrderEvent],
        contact: Option<&Sealed>,
        outbox: &[DomainEvent],
    ) -> impl Future<Output = StoreResult<Order>> + Send;

    /// Appends events to an order whose stored version is `expected`, with the new projection.
    ///
    /// # Errors
    /// `Stale` when the order moved on meanwhile.
    fn append_order(
        &self,
        order: &Order,
        expected: i64,
        events: &[OrderEvent],
        outbox: &[DomainEvent],
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn order(&self, id: Uuid) -> impl Future<Output = StoreResult<Option<(Order, Option<Sealed>)>>> + Send;

    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn order_of_cart(&self, cart: Uuid) -> impl Future<Output = StoreResult<Option<Uuid>>> + Send;

    /// Newest first.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn orders(&self, filter: &OrderFilter) -> impl Future<Output = StoreResult<Vec<Order>>> + Send;

    /// An order's events, oldest first.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn order_events(&self, id: Uuid) -> impl Future<Output = StoreResult<Vec<TimelineEntry>>> + Send;

    /// Every order's id and number, for rebuilding projections.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn order_ids(&self) -> impl Future<Output = StoreResult<Vec<(Uuid, i64)>>> + Send;

    /// Destroys the sealed contact (email, addresses) of a customer's carts and orders, which
    /// keep their lines, amounts and destination country; returns how many records changed.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn forget_contacts_of(&self, customer: Uuid) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Carts' and orders' data keys not wrapped by `current` master key.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn sealed_keys(&self, current: &str) -> impl Future<Output = StoreResult<Vec<SealedKeyRef>>> + Send;

    /// How many carts' and orders' contact keys each master key id wraps.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn contacts_by_master(&self) -> impl Future<Output = StoreResult<Vec<(String, i64)>>> + Send;

    /// Replaces a record's wrapped key if it is still `old`; `false` when it changed meanwhile.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn replace_sealed_key(
        &self,
        old: &SealedKeyRef,
        master_id: &str,
        key: &[u8],
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Replaces a projection (rebuilding from events).
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn replace_projection(&self, order: &Order) -> impl Future<Output = StoreResult<()>> + Send;
}

/// A variant as the catalogue sells it (sent between services as JSON).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SkuView {
    pub sku: String,
    pub product_id: Uuid,
    pub name: String,
    pub unit_price: i64,
    pub currency: String,
    pub unit_grams: u32,
    pub tax_class: String,
    pub on_sale: bool,
    /// The brand's slug (promotions target brands).
    #[serde(default)]
    pub brand: String,
    /// The slugs of the product's category and every one above it.
    #[serde(default)]
    pub categories: Vec<String>,
    /// The product type (`skincare`, `makeup`…), for replenishment.
    #[serde(default)]
    pub product_type: String,
    /// The variant's size (`amount` of `unit`: ml, g, pcs), for replenishment.
    #[serde(default)]
    pub size: Option<(i64, String)>,
    /// The product's period after opening, in months.
    #[serde(default)]
    pub pao_months: Option<i64>,
    /// The skin types the product is for (beauty boxes fill by them).
    #[serde(default)]
    pub skin_types: Vec<String>,
    /// The concerns it treats.
    #[serde(default)]
    pub concerns: Vec<String>,
    /// Its ingredients as the catalogue normalises them (a box never gives one she avoids).
    #[serde(default)]
    pub ingredient_keys: Vec<String>,
}

/// The catalogue, as orders see it.
pub trait Catalog: Send + Sync + 'static {
    /// The variants of `skus`, in order (`None`: no such variant).
    ///
    /// # Errors
    /// The cause, when the catalogue cannot be asked (a remote one is down).
    fn skus<'a>(&'a self, skus: &'a [String]) -> BoxFuture<'a, Result<Vec<Option<SkuView>>, String>>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StockError {
    #[error("not enough stock of {sku}: {requested} asked, {available} available")]
    Insufficient { sku: String, requested: i64, available: i64 },
    #[error("{0}")]
    Failed(String),
    /// Inventory could not be asked (a remote one is down): nothing was done.
    #[error("inventory is unavailable: {0}")]
    Unavailable(String),
}

/// Inventory, as orders see it.
pub trait Stock: Send + Sync + 'static {
    /// Holds the lines for a checkout; returns the reservation's id.
    fn reserve<'a>(&'a self, reference: &'a str, lines: &'a [(String, i64)])
    -> BoxFuture<'a, Result<Uuid, StockError>>;
    /// Sets units aside until `until` (milliseconds since the Unix epoch) for a later order (a
    /// month's beauty boxes); again with the same reference: the same reservation.
    fn set_aside<'a>(
        &'a self,
        reference: &'a str,
        lines: &'a [(String, i64)],
        until: i64,
    ) -> BoxFuture<'a, Result<Uuid, StockError>>;
    /// Sells units set aside to an order (a checkout's own reservation is sold by inventory's
    /// answer to `order.placed`); again to the same order: nothing.
    fn commit(&self, reservation: Uuid, order: Uuid) -> BoxFuture<'_, Result<(), StockError>>;
    fn release<'a>(&'a self, reservation: Uuid, reason: &'a str) -> BoxFuture<'a, Result<(), StockError>>;
    /// Gives a cancelled order's units back (released if still held, restocked if sold), once.
    /// Selling the reservation to the order is inventory's answer to `order.placed`.
    fn restock(&self, reservation: Uuid) -> BoxFuture<'_, Result<(), StockError>>;
    /// Takes returned units back: on sale when `sellable`, else into quarantine.
    fn take_back<'a>(
        &'a self,
        reservation: Uuid,
        units: &'a [(String, i64)],
        sellable: bool,
    ) -> BoxFuture<'a, Result<(), StockError>>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromotionError {
    /// A discount the cart showed ran out meanwhile; nothing was held.
    #[error("{0}")]
    UsedUp(String),
    /// Promotions could not be asked: nothing was held.
    #[error("promotions are unavailable: {0}")]
    Unavailable(String),
}

/// Promotions, as orders see them.
pub trait Promotions: Send + Sync + 'static {
    /// What the promotions make of a basket now (no budget held).
    fn evaluate<'a>(&'a self, basket: &'a Basket) -> BoxFuture<'a, Result<Evaluation, PromotionError>>;
    /// Prices a basket for a checkout attempt and holds the budgets of what applied (`None`:
    /// nothing to hold). Again with the same `reference`: the same hold.
    fn hold<'a>(
        &'a self,
        reference: &'a str,
        basket: &'a Basket,
    ) -> BoxFuture<'a, Result<(Evaluation, Option<Uuid>), PromotionError>>;
    /// Gives a hold's budgets back (a checkout that failed); again: nothing.
    fn release(&self, hold: Uuid) -> BoxFuture<'_, Result<(), PromotionError>>;
    /// Whether a code (normalized) is one of the shop's.
    fn knows_code<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<bool, PromotionError>>;
    /// Whether a live promotion is for first orders (else a cart need not ask whether its
    /// customer has ordered before). When unsure: true.
    fn wants_first_order(&self) -> BoxFuture<'_, bool> {
        Box::pin(std::future::ready(true))
    }
}

pub use rouge_promotions::{Basket, BasketLine, Evaluation};
