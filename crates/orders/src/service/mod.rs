//! Cart, checkout and order use cases, by idea: `carts` (shopping: lines, details,
//! shipping, merging), `checkout` (holding stock, paying, placing), `lifecycle` (reading
//! orders and moving them on, payments' facts) and `maintenance` (customers' data, rebuilds,
//! key rotation). This module holds the service, its errors and the types its callers see.

mod carts;
mod checkout;
mod lifecycle;
mod maintenance;
mod quote;

pub use maintenance::{rebuild, rewrap_keys};
pub use quote::{CartPromotions, FreeItem};

use crate::cart::{Address, Cart, CartState, Contact};
use crate::order::{Command, Order, OrderEvent, OrderLine, Status, TimelineEntry};
use crate::ports::{
    Catalog, OrderFilter, OrdersRepository, Promotions, Sealed, Sealer, SkuView, Stock, StockError, StoreError,
};
use crate::pricing::{Channel, LineMoney, PriceLine, PricingError, Totals};
use chrono::Utc;
use rouge_kernel::{DomainEvent, FieldError, Validation};
use rouge_payments::{AuthorizeRequest, Outcome, PaymentError, PaymentFact, PaymentProvider};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrdersError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("no such {0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("not enough stock of {sku}: {requested} asked, {available} available")]
    OutOfStock { sku: String, requested: i64, available: i64 },
    #[error("the payment was declined: {message}")]
    PaymentDeclined { code: String, message: String },
    #[error("the payment needs the shopper's confirmation at {action_url}")]
    PaymentRequiresAction { action_url: String },
    #[error("the payment's outcome is not known yet ({0}); retry with the same Idempotency-Key")]
    PaymentUnknown(String),
    #[error("the payment provider refused: {0}")]
    PaymentFailed(String),
    /// A discount the cart showed ran out during this checkout: nothing was charged or held.
    #[error("{0}")]
    PromotionUsedUp(String),
    #[error("{0}")]
    Transition(String),
    #[error("the order was changed by someone else; read it again")]
    Stale,
    #[error("the store failed: {0}")]
    Store(String),
}

pub type Result<T> = std::result::Result<T, OrdersError>;

impl From<StoreError> for OrdersError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Stale => OrdersError::Stale,
            e @ StoreError::Duplicate { .. } => OrdersError::Conflict(e.to_string()),
            StoreError::Unavailable(cause) => OrdersError::Store(cause),
        }
    }
}

impl From<StockError> for OrdersError {
    fn from(e: StockError) -> Self {
        match e {
            StockError::Insufficient { sku, requested, available } => {
                OrdersError::OutOfStock { sku, requested, available }
            }
            StockError::Failed(cause) | StockError::Unavailable(cause) => OrdersError::Store(cause),
        }
    }
}

fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> OrdersError {
    OrdersError::Invalid(vec![FieldError { field: field.into(), code, message: message.into() }])
}

/// Who may read an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Staff: any order.
    Staff,
    /// A customer: her own orders only.
    Owner(Uuid),
    /// Whoever holds an order's (random) id: a guest order, or the caller's own.
    Holder(Caller),
}

impl Access {
    pub fn permits(self, order: &Order) -> bool {
        match self {
            Access::Staff => true,
            Access::Owner(c) => order.customer_id == Some(c),
            Access::Holder(caller) => order.customer_id.is_none() || order.customer_id == caller.customer,
        }
    }
}

/// Who is asking: a customer (by her token) or a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Caller {
    pub customer: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PricedLine {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub total: i64,
    /// The promotions' share of this line.
    pub discount: i64,
    pub tax: i64,
    /// The unit price when the line was added; differs from `unit_price` when it changed since.
    pub price_when_added: i64,
    pub price_changed: bool,
    /// False when the product left the storefront: the cart cannot check out with it.
    pub on_sale: bool,
}

/// A cart as the shopper sees it: priced now, from the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PricedCart {
    pub id: Uuid,
    pub customer_id: Option<Uuid>,
    pub state: CartState,
    pub currency: String,
    pub lines: Vec<PricedLine>,
    /// Gifts and picked samples the promotions add (free, shipped with the order).
    pub free_items: Vec<FreeItem>,
    pub totals: Totals,
    /// Which promotions applied and why; which did not and why not.
    pub promotions: CartPromotions,
    pub prices_include_tax: bool,
    pub email: Option<String>,
    pub shipping_address: Option<Address>,
    pub billing_address: Option<Address>,
    pub shipping_method: Option<String>,
    pub version: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutInput {
    pub email: Option<String>,
    pub shipping_address: Option<Address>,
    /// Defaults to the shipping address.
    pub billing_address: Option<Address>,
    pub shipping_method: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShippingOption {
    pub code: String,
    pub name: String,
    /// Minor units; null when the method cannot carry this parcel.
    pub price: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentInput {
    /// `test` (built in) or another configured provider.
    pub provider: String,
    /// The provider's token for the shopper's card (e.g. `tok_visa` with `test`).
    pub token: String,
    /// Set by the shop for a subscription's renewal (never from a request): the provider's
    /// customer holding the saved method `token`; the payment is made off-session.
    #[serde(skip)]
    #[schema(ignore)]
    pub off_session_customer: Option<String>,
}

/// An order with its sealed contact opened, for its owner or staff.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderView {
    #[serde(flatten)]
    pub order: Order,
    pub email: Option<String>,
    pub shipping_address: Option<Address>,
    pub billing_address: Option<Address>,
    pub timeline: Vec<TimelineEntry>,
}

#[derive(Clone)]
pub struct OrdersService<R> {
    repo: R,
    catalog: Arc<dyn Catalog>,
    stock: Arc<dyn Stock>,
    promotions: Arc<dyn Promotions>,
    payments: Arc<Vec<Arc<dyn PaymentProvider>>>,
    sealer: Arc<dyn Sealer>,
    channel: Arc<Channel>,
    /// How long one checkout attempt holds a cart, in milliseconds.
    pub lease_ms: i64,
}

fn now() -> i64 {
    Utc::now().timestamp_millis()
}

/// What every order event's payload carries besides the event itself (its `type` and fields).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct OrderRef {
    pub order_id: uuid::Uuid,
    pub number: i64,
    pub customer_id: Option<uuid::Uuid>,
}

fn envelope(order: &Order, e: &OrderEvent) -> DomainEvent {
    let mut payload = serde_json::to_value(e).unwrap_or_default();
    let about = OrderRef { order_id: order.id, number: order.number, customer_id: order.customer_id };
    if let (Some(m), serde_json::Value::Object(about)) =
        (payload.as_object_mut(), serde_json::to_value(about).unwrap_or_default())
    {
        m.extend(about);
    }
    DomainEvent::new("order", order.id, e.kind(), payload)
}

impl<R: OrdersRepository> OrdersService<R> {
    pub fn new(
        repo: R,
        catalog: Arc<dyn Catalog>,
        stock: Arc<dyn Stock>,
        promotions: Arc<dyn Promotions>,
        payments: Vec<Arc<dyn PaymentProvider>>,
        sealer: Arc<dyn Sealer>,
        channel: Channel,
    ) -> Self {
        Self {
            repo,
            catalog,
            stock,
            promotions,
            payments: Arc::new(payments),
            sealer,
            channel: Arc::new(channel),
            lease_ms: 120_000,
        }
    }

    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    pub fn repo(&self) -> &R {
        &self.repo
    }

    /// Inventory, as orders reach it (in process or over HTTP).
    pub fn stock(&self) -> &dyn Stock {
        self.stock.as_ref()
    }

    fn open_contact(&self, owner: Uuid, sealed: Option<&Sealed>) -> Result<Contact> {
        match sealed {
            None => Ok(Contact::default()),
            Some(s) => {
                let bytes = self.sealer.open(&owner.to_string(), s).map_err(OrdersError::Store)?;
                serde_json::from_slice(&bytes).map_err(|e| OrdersError::Store(format!("sealed contact: {e}")))
            }
        }
    }
}
