//! Cart, checkout and order use cases.

use crate::cart::{Address, Cart, CartState, Contact};
use crate::order::{Command, Order, OrderEvent, OrderLine, Status, TimelineEntry};
use crate::ports::{Catalog, OrderFilter, OrdersRepository, Sealed, Sealer, SkuView, Stock, StockError, StoreError};
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
            StoreError::Duplicate(what) => OrdersError::Conflict(format!("{what} already exists")),
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
            StockError::Failed(cause) => OrdersError::Store(cause),
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
    pub totals: Totals,
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
    payments: Arc<Vec<Arc<dyn PaymentProvider>>>,
    sealer: Arc<dyn Sealer>,
    channel: Arc<Channel>,
    /// How long one checkout attempt holds a cart, in milliseconds.
    pub lease_ms: i64,
}

/// A cart checked and priced for payment.
struct Ready {
    provider: Arc<dyn PaymentProvider>,
    contact: Contact,
    views: Vec<Option<SkuView>>,
    money: Vec<LineMoney>,
    totals: Totals,
    country: String,
}

fn now() -> i64 {
    Utc::now().timestamp_millis()
}

fn envelope(order: &Order, e: &OrderEvent) -> DomainEvent {
    let mut payload = serde_json::to_value(e).unwrap_or_default();
    if let Some(m) = payload.as_object_mut() {
        m.insert("order_id".into(), order.id.to_string().into());
        m.insert("number".into(), order.number.into());
        m.insert("customer_id".into(), serde_json::to_value(order.customer_id).unwrap_or_default());
    }
    DomainEvent::new("order", order.id, e.kind(), payload)
}

impl<R: OrdersRepository> OrdersService<R> {
    pub fn new(
        repo: R,
        catalog: Arc<dyn Catalog>,
        stock: Arc<dyn Stock>,
        payments: Vec<Arc<dyn PaymentProvider>>,
        sealer: Arc<dyn Sealer>,
        channel: Channel,
    ) -> Self {
        Self {
            repo,
            catalog,
            stock,
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

    fn open_contact(&self, owner: Uuid, sealed: Option<&Sealed>) -> Result<Contact> {
        match sealed {
            None => Ok(Contact::default()),
            Some(s) => {
                let bytes = self.sealer.open(&owner.to_string(), s).map_err(OrdersError::Store)?;
                serde_json::from_slice(&bytes).map_err(|e| OrdersError::Store(format!("sealed contact: {e}")))
            }
        }
    }

    /// A cart the caller may use: a customer's only to her; another's answers 404.
    async fn load(&self, caller: Caller, id: Uuid) -> Result<(Cart, Option<Sealed>)> {
        let (cart, sealed) = self.repo.cart(id).await?.ok_or_else(|| OrdersError::NotFound("cart".into()))?;
        if cart.customer_id.is_some() && cart.customer_id != caller.customer {
            return Err(OrdersError::NotFound("cart".into()));
        }
        Ok((cart, sealed))
    }

    async fn load_open(&self, caller: Caller, id: Uuid) -> Result<(Cart, Option<Sealed>)> {
        let (cart, sealed) = self.load(caller, id).await?;
        if cart.state != CartState::Open {
            return Err(OrdersError::Conflict(format!("the cart is {}; start a new one", cart.state.as_str())));
        }
        if cart.checkout_until.is_some_and(|t| t > now()) {
            return Err(OrdersError::Conflict("a checkout of this cart is in progress; wait for its answer".into()));
        }
        Ok((cart, sealed))
    }

    fn views(&self, cart: &Cart) -> Vec<Option<SkuView>> {
        cart.lines.iter().map(|l| self.catalog.sku(&l.sku)).collect()
    }

    fn price_lines(cart: &Cart, views: &[Option<SkuView>]) -> Vec<PriceLine> {
        cart.lines
            .iter()
            .zip(views)
            .map(|(l, v)| PriceLine {
                unit_price: v.as_ref().map_or(l.price_when_added, |v| v.unit_price),
                quantity: l.quantity,
                tax_class: v.as_ref().map_or_else(|| "standard".into(), |v| v.tax_class.clone()),
                unit_grams: v.as_ref().map_or(0, |v| v.unit_grams),
            })
            .collect()
    }

    fn priced(&self, cart: &Cart, contact: Contact) -> PricedCart {
        let views = self.views(cart);
        let lines = Self::price_lines(cart, &views);
        let dest = cart.country.as_deref().map(|c| (c, cart.region.as_deref()));
        let (money, totals) = self
            .channel
            .price(&lines, dest, cart.shipping_method.as_deref())
            .or_else(|_| self.channel.price(&lines, dest, None))
            .unwrap_or_else(|_| (vec![], Totals::default()));
        PricedCart {
            id: cart.id,
            customer_id: cart.customer_id,
            state: cart.state,
            currency: cart.currency.clone(),
            lines: cart
                .lines
                .iter()
                .zip(views.iter().zip(money.iter().chain(std::iter::repeat(&LineMoney {
                    total: 0,
                    tax: 0,
                    rate_bp: 0,
                }))))
                .map(|(l, (v, m))| {
                    let unit = v.as_ref().map_or(l.price_when_added, |v| v.unit_price);
                    PricedLine {
                        id: l.id,
                        sku: l.sku.clone(),
                        name: v.as_ref().map_or_else(|| l.sku.clone(), |v| v.name.clone()),
                        quantity: l.quantity,
                        unit_price: unit,
                        total: m.total,
                        tax: m.tax,
                        price_when_added: l.price_when_added,
                        price_changed: unit != l.price_when_added,
                        on_sale: v.as_ref().is_some_and(|v| v.on_sale),
                    }
                })
                .collect(),
            totals,
            prices_include_tax: self.channel.prices_include_tax,
            email: contact.email,
            shipping_address: contact.shipping_address,
            billing_address: contact.billing_address,
            shipping_method: cart.shipping_method.clone(),
            version: cart.version,
        }
    }

    async fn save(&self, mut cart: Cart, sealed: Option<&Sealed>) -> Result<Cart> {
        cart.version += 1;
        cart.updated_at = now();
        self.repo.save_cart(&cart, sealed).await?;
        Ok(cart)
    }

    /// A new cart: the customer's if she is logged in (her open cart, when she has one).
    ///
    /// # Errors
    /// The store's errors.
    pub async fn create_cart(&self, caller: Caller) -> Result<(PricedCart, bool)> {
        if let Some(c) = caller.customer
            && let Some(id) = self.repo.open_cart_of(c).await?
        {
            return Ok((self.cart(caller, id).await?, false));
        }
        let cart = self.save(Cart::new(caller.customer, &self.channel.currency, now()), None).await?;
        Ok((self.priced(&cart, Contact::default()), true))
    }

    /// # Errors
    /// `NotFound` for a cart that is not the caller's.
    pub async fn cart(&self, caller: Caller, id: Uuid) -> Result<PricedCart> {
        let (cart, sealed) = self.load(caller, id).await?;
        let contact = self.open_contact(cart.id, sealed.as_ref())?;
        Ok(self.priced(&cart, contact))
    }

    /// # Errors
    /// `Invalid` for an unknown SKU or a product not on sale, or quantities out of bounds.
    pub async fn add_line(&self, caller: Caller, id: Uuid, sku: &str, quantity: i64) -> Result<PricedCart> {
        let (mut cart, sealed) = self.load_open(caller, id).await?;
        let view = self.catalog.sku(sku.trim()).filter(|v| v.on_sale).ok_or_else(|| {
            invalid("sku", "unknown_sku", format!("`{}` is not on sale", sku.chars().take(64).collect::<String>()))
        })?;
        cart.add(&view.sku, quantity, view.unit_price).map_err(|v| OrdersError::Invalid(v.errors().to_vec()))?;
        let cart = self.save(cart, sealed.as_ref()).await?;
        let contact = self.open_contact(cart.id, sealed.as_ref())?;
        Ok(self.priced(&cart, contact))
    }

    /// Sets a line's quantity; 0 removes it.
    ///
    /// # Errors
    /// `NotFound` for a line the cart does not have; `Invalid` for a quantity out of bounds.
    pub async fn set_quantity(&self, caller: Caller, id: Uuid, line: Uuid, quantity: i64) -> Result<PricedCart> {
        let (mut cart, sealed) = self.load_open(caller, id).await?;
        if !(0..=crate::cart::MAX_QUANTITY).contains(&quantity) {
            return Err(invalid("quantity", "out_of_range", format!("between 0 and {}", crate::cart::MAX_QUANTITY)));
        }
        let pos =
            cart.lines.iter().position(|l| l.id == line).ok_or_else(|| OrdersError::NotFound("cart line".into()))?;
        if quantity == 0 {
            cart.lines.remove(pos);
        } else {
            cart.lines[pos].quantity = quantity;
        }
        let cart = self.save(cart, sealed.as_ref()).await?;
        let contact = self.open_contact(cart.id, sealed.as_ref())?;
        Ok(self.priced(&cart, contact))
    }

    /// Sets any of email, addresses and shipping method (unset fields keep their values).
    ///
    /// # Errors
    /// `Invalid` with every bad field.
    pub async fn set_checkout(&self, caller: Caller, id: Uuid, input: CheckoutInput) -> Result<PricedCart> {
        let (mut cart, sealed) = self.load_open(caller, id).await?;
        let mut contact = self.open_contact(cart.id, sealed.as_ref())?;
        let mut v = Validation::new();
        if let Some(email) = &input.email {
            match rouge_kernel::email::Email::parse(email) {
                Ok(e) => contact.email = Some(e.as_str().to_owned()),
                Err(e) => v.push("email", "invalid", e.to_string()),
            }
        }
        if let Some(a) = &input.shipping_address {
            a.validate("shipping_address", &mut v);
        }
        if let Some(a) = &input.billing_address {
            a.validate("billing_address", &mut v);
        }
        if !v.is_empty() {
            return Err(OrdersError::Invalid(v.errors().to_vec()));
        }
        if let Some(a) = input.shipping_address {
            cart.country = Some(a.country.clone());
            cart.region = a.region.clone();
            if contact.billing_address.is_none() && input.billing_address.is_none() {
                contact.billing_address = Some(a.clone());
            }
            contact.shipping_address = Some(a);
        }
        if let Some(a) = input.billing_address {
            contact.billing_address = Some(a);
        }
        if let Some(m) = input.shipping_method {
            cart.shipping_method = Some(m);
        }
        if let Some(m) = &cart.shipping_method {
            let country = cart.country.clone().unwrap_or_default();
            let views = self.views(&cart);
            match self.channel.price(
                &Self::price_lines(&cart, &views),
                Some((&country, cart.region.as_deref())),
                Some(m),
            ) {
                Ok(_) => {}
                Err(e @ PricingError::NoSuchMethod(..)) if cart.country.is_some() => {
                    return Err(invalid("shipping_method", "unavailable", e.to_string()));
                }
                Err(e @ PricingError::TooHeavy(..)) => {
                    return Err(invalid("shipping_method", "too_heavy", e.to_string()));
                }
                Err(_) => return Err(invalid("shipping_method", "needs_address", "set a shipping address first")),
            }
        }
        let bytes = serde_json::to_vec(&contact).map_err(|e| OrdersError::Store(e.to_string()))?;
        let sealed = self.sealer.seal(&cart.id.to_string(), &bytes);
        let cart = self.save(cart, Some(&sealed)).await?;
        Ok(self.priced(&cart, contact))
    }

    /// The shipping methods for the cart's destination, priced for its parcel.
    ///
    /// # Errors
    /// `Invalid` when the cart has no shipping address yet.
    pub async fn shipping_options(&self, caller: Caller, id: Uuid) -> Result<Vec<ShippingOption>> {
        let (cart, _) = self.load(caller, id).await?;
        let country = cart
            .country
            .clone()
            .ok_or_else(|| invalid("shipping_address", "required", "set a shipping address first"))?;
        let views = self.views(&cart);
        let lines = Self::price_lines(&cart, &views);
        Ok(self
            .channel
            .methods_for(&lines, &country)
            .into_iter()
            .map(|(m, p)| ShippingOption { code: m.code.clone(), name: m.name.clone(), price: p.ok() })
            .collect())
    }

    /// Merges a guest cart into the customer's open cart (or makes it hers).
    ///
    /// # Errors
    /// `NotFound` for a cart that is another customer's; `Conflict` when it is not open.
    pub async fn merge(&self, customer: Uuid, guest: Uuid) -> Result<PricedCart> {
        let caller = Caller { customer: Some(customer) };
        let (mut cart, sealed) = self.load_open(caller, guest).await?;
        if cart.customer_id == Some(customer) {
            return self.cart(caller, guest).await;
        }
        match self.repo.open_cart_of(customer).await? {
            Some(mine) => {
                let (mut target, target_sealed) = self.load_open(caller, mine).await?;
                target.absorb(&cart);
                let target = self.save(target, target_sealed.as_ref()).await?;
                cart.state = CartState::Merged;
                self.save(cart, sealed.as_ref()).await?;
                let contact = self.open_contact(target.id, target_sealed.as_ref())?;
                Ok(self.priced(&target, contact))
            }
            None => {
                cart.customer_id = Some(customer);
                let cart = self.save(cart, sealed.as_ref()).await?;
                let contact = self.open_contact(cart.id, sealed.as_ref())?;
                Ok(self.priced(&cart, contact))
            }
        }
    }

    fn provider(&self, name: &str) -> Result<Arc<dyn PaymentProvider>> {
        self.payments.iter().find(|p| p.name() == name).cloned().ok_or_else(|| {
            let known: Vec<&str> = self.payments.iter().map(|p| p.name()).collect();
            let message = if known.is_empty() {
                "this shop takes no payments: no payment provider is configured".to_owned()
            } else {
                format!("`{name}` is not a payment provider of this shop; live providers: {}", known.join(", "))
            };
            invalid("payment.provider", "unknown_provider", message)
        })
    }

    /// Checks that a cart is ready to pay for and prices it.
    fn ready(&self, cart: &Cart, sealed: Option<&Sealed>, payment: &PaymentInput) -> Result<Ready> {
        let provider = self.provider(&payment.provider)?;
        let contact = self.open_contact(cart.id, sealed)?;
        let views = self.views(cart);
        let mut v = Validation::new();
        if cart.lines.is_empty() {
            v.push("lines", "required", "the cart is empty");
        }
        for (l, view) in cart.lines.iter().zip(&views) {
            if !view.as_ref().is_some_and(|v| v.on_sale) {
                v.push(format!("lines.{}", l.id), "not_on_sale", format!("{} is no longer on sale; remove it", l.sku));
            }
        }
        if contact.email.is_none() {
            v.push("email", "required", "set the email for the order confirmation");
        }
        if contact.shipping_address.is_none() {
            v.push("shipping_address", "required", "set a shipping address");
        }
        if cart.shipping_method.is_none() {
            v.push("shipping_method", "required", "choose a shipping method");
        }
        if payment.token.trim().is_empty() || payment.token.len() > 255 {
            v.push("payment.token", "invalid", "the provider's card token, 1 to 255 characters");
        }
        if !v.is_empty() {
            return Err(OrdersError::Invalid(v.errors().to_vec()));
        }
        let lines = Self::price_lines(cart, &views);
        let country = cart.country.clone().unwrap_or_default();
        let (money, totals) = self
            .channel
            .price(&lines, Some((&country, cart.region.as_deref())), cart.shipping_method.as_deref())
            .map_err(|e| invalid("shipping_method", "unavailable", e.to_string()))?;
        Ok(Ready { provider, contact, views, money, totals, country })
    }

    /// Completes a checkout: holds the stock, authorizes the payment, places the order.
    /// `key` (the request's Idempotency-Key) names this attempt: a retry with it never
    /// reserves or charges twice.
    ///
    /// # Errors
    /// `Invalid` when the cart is not ready; `OutOfStock`; the payment's refusals; `Conflict`
    /// while another attempt holds the cart.
    ///
    /// Returns the order and whether this call placed it: a cart that already became an order
    /// answers with that order (a retry whose first answer was lost, even across a crash).
    pub async fn complete(
        &self,
        caller: Caller,
        id: Uuid,
        payment: &PaymentInput,
        key: &str,
    ) -> Result<(OrderView, bool)> {
        // The lease and the cart in one write: from here on this attempt alone may use it.
        let t = now();
        let Some((cart, sealed)) = self.repo.lease_checkout(id, caller.customer, key, t, t + self.lease_ms).await?
        else {
            // Not taken: say why.
            let (cart, _) = self.load(caller, id).await?;
            if cart.state == CartState::Completed
                && let Some(order) = self.repo.order_of_cart(cart.id).await?
            {
                return Ok((self.order(Access::Staff, order).await?, false));
            }
            if cart.state != CartState::Open {
                return Err(OrdersError::Conflict(format!("the cart is {}", cart.state.as_str())));
            }
            return Err(OrdersError::Conflict("another checkout of this cart is in progress".into()));
        };
        let ready = match self.ready(&cart, sealed.as_ref(), payment) {
            Ok(r) => r,
            Err(e) => {
                self.repo.end_lease(cart.id, key).await?;
                return Err(e);
            }
        };
        let Ready { provider, contact, views, money, totals, country } = ready;
        let attempt = format!("{}:{key}", cart.id);
        let wanted: Vec<(String, i64)> = cart.lines.iter().map(|l| (l.sku.clone(), l.quantity)).collect();
        let reservation = match self.stock.reserve(&attempt, &wanted).await {
            Ok(r) => r,
            Err(e) => {
                self.repo.end_lease(cart.id, key).await?;
                return Err(e.into());
            }
        };
        let request = AuthorizeRequest {
            amount: totals.total,
            currency: cart.currency.clone(),
            token: payment.token.trim().to_owned(),
            idempotency_key: attempt.clone(),
            reference: format!("cart {}", cart.id),
        };
        let outcome = match provider.authorize(request).await {
            Ok(o) => o,
            // The answer was lost: ask what became of this attempt before anything else.
            Err(PaymentError::Unreachable(first)) => match provider.lookup(&attempt).await {
                Ok(Some(o)) => o,
                // Unknown: keep the stock and the lease; a retry with the same key asks again.
                Ok(None) | Err(_) => return Err(OrdersError::PaymentUnknown(first)),
            },
            Err(PaymentError::Rejected(why)) => {
                self.give_up(&cart, key, reservation, "payment refused").await;
                return Err(OrdersError::PaymentFailed(why));
            }
        };
        let payment_id = match outcome {
            Outcome::Authorized { payment_id } => payment_id,
            Outcome::Declined { code, message } => {
                self.give_up(&cart, key, reservation, "payment declined").await;
                return Err(OrdersError::PaymentDeclined { code, message });
            }
            Outcome::RequiresAction { action_url, .. } => {
                self.give_up(&cart, key, reservation, "payment needs action").await;
                return Err(OrdersError::PaymentRequiresAction { action_url });
            }
        };
        let order_lines: Vec<OrderLine> = cart
            .lines
            .iter()
            .zip(views.iter().zip(&money))
            .map(|(l, (v, m))| {
                let v = v.as_ref().expect("checked on sale above");
                OrderLine {
                    sku: l.sku.clone(),
                    product_id: v.product_id,
                    name: v.name.clone(),
                    quantity: l.quantity,
                    unit_price: v.unit_price,
                    total: m.total,
                    tax: m.tax,
                    tax_rate_bp: m.rate_bp,
                }
            })
            .collect();
        let placed = OrderEvent::Placed {
            customer_id: cart.customer_id,
            cart_id: cart.id,
            currency: cart.currency.clone(),
            lines: order_lines,
            totals,
            shipping_method: cart.shipping_method.clone().unwrap_or_default(),
            country,
            region: cart.region.clone(),
            reservation_id: reservation,
        };
        let authorized = OrderEvent::PaymentAuthorized {
            provider: provider.name().into(),
            payment_id: payment_id.clone(),
            amount: totals.total,
        };
        let at = now();
        let mut order = Order::start(Uuid::new_v4(), 0, &placed, at).map_err(|e| OrdersError::Store(e.0))?;
        order.apply(&authorized, at);
        let events = [placed, authorized];
        let outbox: Vec<DomainEvent> = events.iter().map(|e| envelope(&order, e)).collect();
        let order = match self.repo.place_order(&order, &events, sealed.as_ref(), &outbox).await {
            Ok(o) => o,
            Err(StoreError::Duplicate(_)) => {
                // Another attempt placed this cart's order first: undo this one.
                let _ = provider.void(&payment_id).await;
                self.give_up(&cart, key, reservation, "cart already ordered").await;
                return Err(OrdersError::Conflict("this cart was already ordered".into()));
            }
            Err(e) => return Err(e.into()),
        };
        // The stock stays held for the order until the `order.placed` consumer commits it (within
        // moments, and after a crash on restart): held stock is not for sale either.
        let timeline = events
            .into_iter()
            .enumerate()
            .map(|(i, event)| TimelineEntry { seq: i as i64 + 1, at: order.placed_at, event })
            .collect();
        let view = OrderView {
            order,
            email: contact.email,
            shipping_address: contact.shipping_address,
            billing_address: contact.billing_address,
            timeline,
        };
        Ok((view, true))
    }

    async fn give_up(&self, cart: &Cart, key: &str, reservation: Uuid, why: &str) {
        if let Err(e) = self.stock.release(reservation, why).await {
            tracing::warn!(cart = %cart.id, error = %e, "could not release a checkout's stock; it expires on its own");
        }
        if let Err(e) = self.repo.end_lease(cart.id, key).await {
            tracing::warn!(cart = %cart.id, error = %e, "could not end a checkout lease; it expires on its own");
        }
    }

    async fn view(&self, order: Order, sealed: Option<Sealed>) -> Result<OrderView> {
        let contact = self.open_contact(order.cart_id, sealed.as_ref())?;
        let timeline = self.repo.order_events(order.id).await?;
        Ok(OrderView {
            order,
            email: contact.email,
            shipping_address: contact.shipping_address,
            billing_address: contact.billing_address,
            timeline,
        })
    }

    /// An order as `access` may see it; one it may not answers `NotFound`, as if absent.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn order(&self, access: Access, id: Uuid) -> Result<OrderView> {
        let (order, sealed) = self.repo.order(id).await?.ok_or_else(|| OrdersError::NotFound("order".into()))?;
        if !access.permits(&order) {
            return Err(OrdersError::NotFound("order".into()));
        }
        self.view(order, sealed).await
    }

    /// Every order of a customer with its contact and timeline (her data export).
    ///
    /// # Errors
    /// The store's errors.
    pub async fn export_for(&self, customer: Uuid) -> Result<Vec<OrderView>> {
        let mut out = vec![];
        let mut filter = OrderFilter { customer_id: Some(customer), limit: 100, ..OrderFilter::default() };
        loop {
            let page = self.repo.orders(&filter).await?;
            let last = page.last().map(|o| o.number);
            for o in page.iter() {
                out.push(self.order(Access::Staff, o.id).await?);
            }
            match last {
                Some(n) if page.len() as i64 == filter.limit => filter.before_number = Some(n),
                _ => return Ok(out),
            }
        }
    }

    /// Erasure: her carts and orders lose their email and addresses; orders keep their lines,
    /// amounts and destination country (what accounts and tax law need). Returns how many
    /// records changed.
    ///
    /// # Errors
    /// The store's errors.
    pub async fn forget_customer(&self, customer: Uuid) -> Result<u64> {
        Ok(self.repo.forget_contacts_of(customer).await?)
    }

    /// # Errors
    /// The store's errors.
    pub async fn orders(&self, filter: &OrderFilter) -> Result<Vec<Order>> {
        Ok(self.repo.orders(filter).await?)
    }

    /// Moves an order on. `caller` = `Some` for a customer (only her own order, only returns).
    ///
    /// # Errors
    /// `Transition` when the order's state does not allow it; `Stale` when `expected` is not
    /// its version; payment refusals.
    pub async fn transition(
        &self,
        caller: Option<Caller>,
        id: Uuid,
        cmd: &Command,
        expected: Option<i64>,
    ) -> Result<OrderView> {
        let (order, sealed) = self.repo.order(id).await?.ok_or_else(|| OrdersError::NotFound("order".into()))?;
        if let Some(c) = caller {
            if !c.customer.is_some_and(|me| Access::Owner(me).permits(&order)) {
                return Err(OrdersError::NotFound("order".into()));
            }
            if !matches!(cmd, Command::RequestReturn { .. }) {
                return Err(OrdersError::Transition("customers may only request returns".into()));
            }
        }
        if expected.is_some_and(|v| v != order.version) {
            return Err(OrdersError::Stale);
        }
        let mut events = order.decide(cmd).map_err(|e| OrdersError::Transition(e.0))?;
        let pay = order.payment.clone().unwrap_or_default();
        let provider = || self.provider(&pay.provider);
        let payment_err = |e: PaymentError| match e {
            PaymentError::Unreachable(m) => OrdersError::PaymentUnknown(m),
            PaymentError::Rejected(m) => OrdersError::PaymentFailed(m),
        };
        for e in &mut events {
            match e {
                OrderEvent::PaymentCaptured { amount } => {
                    provider()?
                        .capture(&pay.payment_id, *amount, &format!("{id}:capture"))
                        .await
                        .map_err(payment_err)?;
                }
                OrderEvent::Refunded { refund_id, amount } => {
                    let key = format!("{id}:refund:{}", order.version);
                    *refund_id = provider()?.refund(&pay.payment_id, *amount, &key).await.map_err(payment_err)?;
                }
                OrderEvent::Cancelled { .. } if pay.captured == 0 && order.status == Status::Authorized => {
                    provider()?.void(&pay.payment_id).await.map_err(payment_err)?;
                }
                _ => {}
            }
        }
        self.record(order, sealed, events).await
    }

    /// Records what the payment provider reports after the fact (its webhooks): a capture or
    /// refund made in its dashboard, an authorization cancelled or expired (the order is then
    /// cancelled and its stock given back). Totals are compared with what the order already
    /// has, so a repeated or late report changes nothing. `None` when no order has this
    /// payment through `provider` (a provider speaks only for the payments made through it).
    ///
    /// # Errors
    /// `Stale` when the order changed meanwhile (the provider retries); the store's errors.
    pub async fn record_payment(
        &self,
        provider: &str,
        payment_id: &str,
        fact: &PaymentFact,
    ) -> Result<Option<OrderView>> {
        let Some(id) = self.repo.order_by_payment(payment_id).await? else {
            return Ok(None);
        };
        let (order, sealed) = self.repo.order(id).await?.ok_or_else(|| OrdersError::NotFound("order".into()))?;
        let pay = order.payment.clone().unwrap_or_default();
        if pay.provider != provider {
            tracing::warn!(order = %order.id, paid_through = %pay.provider, reporter = provider,
                "a payment provider reported on a payment it did not take; ignored");
            return Ok(None);
        }
        let events = match fact {
            PaymentFact::Captured { total } if order.status == Status::Authorized && *total > pay.captured => {
                vec![OrderEvent::PaymentCaptured { amount: total - pay.captured }]
            }
            PaymentFact::Refunded { total, refund_id } if (*total).min(pay.captured) > pay.refunded => {
                let amount = (*total).min(pay.captured) - pay.refunded;
                vec![OrderEvent::Refunded { refund_id: refund_id.clone(), amount }]
            }
            PaymentFact::Voided if matches!(order.status, Status::Placed | Status::Authorized) => {
                vec![OrderEvent::Cancelled {
                    reason: "the payment's authorization was cancelled at the provider".into(),
                }]
            }
            _ => vec![],
        };
        if events.is_empty() {
            return Ok(Some(self.view(order, sealed).await?));
        }
        tracing::info!(order = %order.id, payment = payment_id, ?fact, "recording what the payment provider reported");
        self.record(order, sealed, events).await.map(Some)
    }

    /// Appends `events` to the order (its projection and outbox in one write), then gives stock
    /// back for a cancellation and takes returned units back.
    async fn record(&self, order: Order, sealed: Option<Sealed>, events: Vec<OrderEvent>) -> Result<OrderView> {
        let id = order.id;
        let at = now();
        let mut next = order.clone();
        for e in &events {
            next.apply(e, at);
        }
        let outbox: Vec<DomainEvent> = events.iter().map(|e| envelope(&next, e)).collect();
        self.repo.append_order(&next, order.version, &events, &outbox).await?;
        if events.iter().any(|e| matches!(e, OrderEvent::Cancelled { .. })) {
            self.stock.restock(order.reservation_id).await?;
        }
        for e in &events {
            if let OrderEvent::ReturnReceived { return_id, restock } = e {
                let history = self.repo.order_events(id).await?;
                let units: Vec<(String, i64)> = history
                    .iter()
                    .find_map(|t| match &t.event {
                        OrderEvent::ReturnRequested { return_id: r, lines, .. } if r == return_id => {
                            Some(lines.iter().map(|u| (u.sku.clone(), u.quantity)).collect())
                        }
                        _ => None,
                    })
                    .unwrap_or_default();
                self.stock.take_back(order.reservation_id, &units, *restock).await?;
            }
        }
        self.view(next, sealed).await
    }
}

/// Rebuilds every order's projection from its events; returns how many differed from the
/// live projection (and were replaced). `rouge orders rebuild` runs it.
///
/// # Errors
/// The store's errors, or a history that does not replay.
pub async fn rebuild<R: OrdersRepository>(repo: &R) -> Result<usize> {
    let mut changed = 0;
    for (id, number) in repo.order_ids().await? {
        let events = repo.order_events(id).await?;
        let rebuilt = Order::replay(id, number, &events).map_err(|e| OrdersError::Store(e.0))?;
        let live = repo.order(id).await?.map(|(o, _)| o);
        if live.as_ref() != Some(&rebuilt) {
            changed += 1;
            repo.replace_projection(&rebuilt).await?;
        }
    }
    Ok(changed)
}

/// Re-wraps every cart's and order's data key under the sealer's current master key (after a
/// master key rotation, before the old key is removed); returns how many changed.
///
/// # Errors
/// The store's errors, or a key that does not open.
pub async fn rewrap_keys<R: OrdersRepository>(repo: &R, sealer: &dyn Sealer, current: &str) -> Result<usize> {
    let mut changed = 0;
    for k in repo.sealed_keys(current).await? {
        if let Some((master, key)) =
            sealer.rewrap(&k.owner.to_string(), &k.master_id, &k.key).map_err(OrdersError::Store)?
            && repo.replace_sealed_key(&k, &master, &key).await?
        {
            changed += 1;
        }
    }
    Ok(changed)
}
