//! Carts and checkout in GraphQL, so a storefront can run on GraphQL alone: `cart`,
//! `createCart`, `addCartLine`, `setCartLineQuantity`, `removeCartLine`, `setCheckoutDetails`,
//! `Cart.shippingMethods`, `mergeCart` and `completeCheckout`. The same service and rules as
//! the REST routes: a guest cart is reached by its random id, a customer's only with her
//! token (a bad token is refused, never taken for a guest), and completing needs an
//! idempotency key, with which a retry never reserves or charges twice.

use crate::error::ApiError;
use crate::graphql::accounts::Caller;
use crate::graphql::orders::{OrderGql, gql_error};
use crate::state::{AppState, Store};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use futures::future::BoxFuture;
use rouge_catalog::FieldError;
use rouge_orders::{CartState, CheckoutInput, OrderView, OrdersError, PaymentInput, PricedCart, ShippingOption};
use uuid::Uuid;

type Shopper = rouge_orders::Caller;

/// The cart operations GraphQL needs, without naming the store type.
pub trait Carts: Send + Sync {
    /// The shopper behind the request: a guest, or the customer her token names.
    fn shopper<'a>(&'a self, caller: Option<&'a Caller>) -> BoxFuture<'a, Result<Shopper, ()>>;
    fn create(&self, who: Shopper) -> BoxFuture<'_, Result<PricedCart, OrdersError>>;
    fn cart(&self, who: Shopper, id: Uuid) -> BoxFuture<'_, Result<PricedCart, OrdersError>>;
    fn add_line(&self, who: Shopper, id: Uuid, sku: String, qty: i64)
    -> BoxFuture<'_, Result<PricedCart, OrdersError>>;
    fn set_quantity(
        &self,
        who: Shopper,
        id: Uuid,
        line: Uuid,
        qty: i64,
    ) -> BoxFuture<'_, Result<PricedCart, OrdersError>>;
    fn set_checkout(
        &self,
        who: Shopper,
        id: Uuid,
        input: CheckoutInput,
    ) -> BoxFuture<'_, Result<PricedCart, OrdersError>>;
    fn shipping(&self, who: Shopper, id: Uuid) -> BoxFuture<'_, Result<Vec<ShippingOption>, OrdersError>>;
    fn merge(&self, customer: Uuid, id: Uuid) -> BoxFuture<'_, Result<PricedCart, OrdersError>>;
    /// The guest cart a replenishment reminder's link makes (the same one again).
    fn reorder(&self, token: String) -> BoxFuture<'_, Result<PricedCart, ApiError>>;
    fn add_code(&self, who: Shopper, id: Uuid, code: String) -> BoxFuture<'_, Result<PricedCart, OrdersError>>;
    fn remove_code(&self, who: Shopper, id: Uuid, code: String) -> BoxFuture<'_, Result<PricedCart, OrdersError>>;
    fn set_samples(&self, who: Shopper, id: Uuid, skus: Vec<String>) -> BoxFuture<'_, Result<PricedCart, OrdersError>>;
    fn complete<'a>(
        &'a self,
        who: Shopper,
        id: Uuid,
        payment: PaymentInput,
        key: &'a str,
    ) -> BoxFuture<'a, Result<(OrderView, bool), OrdersError>>;
}

impl<S: Store> Carts for AppState<S> {
    fn reorder(&self, token: String) -> BoxFuture<'_, Result<PricedCart, ApiError>> {
        Box::pin(async move { crate::rest::reorders::reorder_cart(self, &token).await.map(|(cart, _)| cart) })
    }

    fn shopper<'a>(&'a self, caller: Option<&'a Caller>) -> BoxFuture<'a, Result<Shopper, ()>> {
        Box::pin(async move {
            let Some(bearer) = caller.and_then(|c| c.bearer.as_deref()) else { return Ok(Shopper::default()) };
            let verified = caller.and_then(|c| c.verified.as_ref());
            let id = crate::rest::auth::customer(self, Some(bearer), verified).await.map_err(|_| ())?;
            Ok(Shopper { customer: Some(id) })
        })
    }
    fn create(&self, who: Shopper) -> BoxFuture<'_, Result<PricedCart, OrdersError>> {
        Box::pin(async move { self.orders.create_cart(who).await.map(|(cart, _)| cart) })
    }
    fn cart(&self, who: Shopper, id: Uuid) -> BoxFuture<'_, Result<PricedCart, OrdersError>> {
        Box::pin(self.orders.cart(who, id))
    }
    fn add_line(
        &self,
        who: Shopper,
        id: Uuid,
        sku: String,
        qty: i64,
    ) -> BoxFuture<'_, Result<PricedCart, OrdersError>> {
        Box::pin(async move { self.orders.add_line(who, id, &sku, qty).await })
    }
    fn set_quantity(
        &self,
        who: Shopper,
        id: Uuid,
        line: Uuid,
        qty: i64,
    ) -> BoxFuture<'_, Result<PricedCart, OrdersError>> {
        Box::pin(self.orders.set_quantity(who, id, line, qty))
    }
    fn set_checkout(
        &self,
        who: Shopper,
        id: Uuid,
        input: CheckoutInput,
    ) -> BoxFuture<'_, Result<PricedCart, OrdersError>> {
        Box::pin(self.orders.set_checkout(who, id, input))
    }
    fn shipping(&self, who: Shopper, id: Uuid) -> BoxFuture<'_, Result<Vec<ShippingOption>, OrdersError>> {
        Box::pin(self.orders.shipping_options(who, id))
    }
    fn merge(&self, customer: Uuid, id: Uuid) -> BoxFuture<'_, Result<PricedCart, OrdersError>> {
        Box::pin(self.orders.merge(customer, id))
    }
    fn add_code(&self, who: Shopper, id: Uuid, code: String) -> BoxFuture<'_, Result<PricedCart, OrdersError>> {
        Box::pin(async move { self.orders.add_code(who, id, &code).await })
    }
    fn remove_code(&self, who: Shopper, id: Uuid, code: String) -> BoxFuture<'_, Result<PricedCart, OrdersError>> {
        Box::pin(async move { self.orders.remove_code(who, id, &code).await })
    }
    fn set_samples(&self, who: Shopper, id: Uuid, skus: Vec<String>) -> BoxFuture<'_, Result<PricedCart, OrdersError>> {
        Box::pin(async move { self.orders.set_samples(who, id, &skus).await })
    }
    fn complete<'a>(
        &'a self,
        who: Shopper,
        id: Uuid,
        payment: PaymentInput,
        key: &'a str,
    ) -> BoxFuture<'a, Result<(OrderView, bool), OrdersError>> {
        Box::pin(async move { crate::rest::carts::place(self, who, id, &payment, key).await })
    }
}

fn carts<'a>(ctx: &Context<'a>) -> &'a std::sync::Arc<dyn Carts> {
    ctx.data_unchecked::<std::sync::Arc<dyn Carts>>()
}

async fn shopper(ctx: &Context<'_>) -> async_graphql::Result<Shopper> {
    carts(ctx).shopper(ctx.data_opt::<Caller>()).await.map_err(|()| {
        ApiError::Unauthorized("the bearer token is not a valid customer token; send none to shop as a guest".into())
            .into_graphql()
    })
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "CartState")]
pub enum CartStateGql {
    Open,
    /// Became an order.
    Completed,
    /// Merged into the customer's cart at log-in.
    Merged,
}

impl From<CartState> for CartStateGql {
    fn from(s: CartState) -> Self {
        match s {
            CartState::Open => CartStateGql::Open,
            CartState::Completed => CartStateGql::Completed,
            CartState::Merged => CartStateGql::Merged,
        }
    }
}

/// A postal address.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(name = "Address", input_name = "AddressInput")]
pub struct AddressGql {
    /// Who receives parcels there.
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    /// State, province or county, where taxes depend on it.
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. FR.
    pub country: String,
    /// For the carrier.
    pub phone: Option<String>,
}

impl From<rouge_orders::Address> for AddressGql {
    fn from(a: rouge_orders::Address) -> Self {
        let rouge_orders::Address { name, line1, line2, city, postal_code, region, country, phone } = a;
        AddressGql { name, line1, line2, city, postal_code, region, country, phone }
    }
}

impl From<AddressGql> for rouge_orders::Address {
    fn from(a: AddressGql) -> Self {
        let AddressGql { name, line1, line2, city, postal_code, region, country, phone } = a;
        rouge_orders::Address { name, line1, line2, city, postal_code, region, country, phone }
    }
}

#[derive(SimpleObject)]
pub struct CartLine {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    /// Minor units, now.
    pub unit_price: i64,
    pub total: i64,
    /// The promotions' share of this line.
    pub discount: i64,
    pub tax: i64,
    /// The unit price when the line was added.
    pub price_when_added: i64,
    pub price_changed: bool,
    /// False when the product left the storefront: the cart cannot check out with it.
    pub on_sale: bool,
}

/// Minor units of the cart's currency.
#[derive(SimpleObject)]
pub struct CartTotals {
    pub subtotal: i64,
    pub discount: i64,
    pub shipping: i64,
    /// All tax: lines and shipping.
    pub tax: i64,
    /// What the shopper pays.
    pub total: i64,
}

/// A shipping method to the cart's address, priced for its parcel.
#[derive(SimpleObject)]
pub struct ShippingMethod {
    pub code: String,
    pub name: String,
    /// Minor units; null when the method cannot carry this parcel.
    pub price: Option<i64>,
}

/// A cart, priced now from the catalogue.
pub struct Cart {
    cart: PricedCart,
    shopper: Shopper,
}

#[Object]
impl Cart {
    /// Also the cart's id in REST (`/v1/carts/{id}`) and for `node(id:)`.
    pub async fn id(&self) -> async_graphql::ID {
        self.cart.id.into()
    }
    async fn customer_id(&self) -> Option<Uuid> {
        self.cart.customer_id
    }
    async fn state(&self) -> CartStateGql {
        self.cart.state.into()
    }
    async fn currency(&self) -> &str {
        &self.cart.currency
    }
    async fn lines(&self) -> Vec<CartLine> {
        self.cart
            .lines
            .iter()
            .map(|l| CartLine {
                id: l.id,
                sku: l.sku.clone(),
                name: l.name.clone(),
                quantity: l.quantity,
                unit_price: l.unit_price,
                total: l.total,
                discount: l.discount,
                tax: l.tax,
                price_when_added: l.price_when_added,
                price_changed: l.price_changed,
                on_sale: l.on_sale,
            })
            .collect()
    }
    /// Gifts and picked samples the promotions add (free, shipped with the order).
    async fn free_items(&self) -> Vec<super::promotions::FreeItem> {
        self.cart.free_items.iter().map(Into::into).collect()
    }
    /// Which promotions applied and why; which did not and why not.
    async fn promotions(&self) -> super::promotions::CartPromotions {
        (&self.cart.promotions).into()
    }
    async fn totals(&self) -> CartTotals {
        let t = &self.cart.totals;
        CartTotals { subtotal: t.subtotal, discount: t.discount, shipping: t.shipping, tax: t.tax, total: t.total }
    }
    /// Whether line prices include tax (the channel's basis).
    async fn prices_include_tax(&self) -> bool {
        self.cart.prices_include_tax
    }
    async fn email(&self) -> Option<&str> {
        self.cart.email.as_deref()
    }
    async fn shipping_address(&self) -> Option<AddressGql> {
        self.cart.shipping_address.clone().map(AddressGql::from)
    }
    async fn billing_address(&self) -> Option<AddressGql> {
        self.cart.billing_address.clone().map(AddressGql::from)
    }
    /// The chosen shipping method's code.
    async fn shipping_method(&self) -> Option<&str> {
        self.cart.shipping_method.as_deref()
    }
    async fn version(&self) -> i64 {
        self.cart.version
    }
    /// The shipping methods to the cart's address (set one with `setCheckoutDetails`).
    async fn shipping_methods(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ShippingMethod>> {
        let all = carts(ctx).shipping(self.shopper, self.cart.id).await.map_err(gql_error)?;
        Ok(all.into_iter().map(|o| ShippingMethod { code: o.code, name: o.name, price: o.price }).collect())
    }
}

/// Email, addresses and shipping method; unset fields keep their values.
#[derive(InputObject, Default)]
pub struct CheckoutDetailsInput {
    pub email: Option<String>,
    pub shipping_address: Option<AddressGql>,
    /// Defaults to the shipping address.
    pub billing_address: Option<AddressGql>,
    pub shipping_method: Option<String>,
}

#[derive(InputObject)]
#[graphql(name = "PaymentInput")]
pub struct PaymentInputGql {
    /// A configured provider (`test` only in demo mode).
    pub provider: String,
    /// The provider's token for the shopper's card.
    pub token: String,
}

/// The placed order, and whether this call placed it (false: a retry, or the cart had already
/// become this order).
#[derive(SimpleObject)]
pub struct CheckoutResult {
    pub order: OrderGql,
    pub placed: bool,
}

/// The shopper's cart `id` (a guest's by its id alone; a customer's only with her token).
pub async fn cart(ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Cart> {
    let who = shopper(ctx).await?;
    let cart = carts(ctx).cart(who, id).await.map_err(gql_error)?;
    Ok(Cart { cart, shopper: who })
}

/// The cart `id`, when the caller may see it (for `node(id:)`; staff credentials see no carts).
pub async fn node(ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Option<Cart>> {
    let Ok(who) = shopper(ctx).await else { return Ok(None) };
    match carts(ctx).cart(who, id).await {
        Ok(cart) => Ok(Some(Cart { cart, shopper: who })),
        Err(OrdersError::NotFound(_)) => Ok(None),
        Err(e) => Err(gql_error(e)),
    }
}

fn idempotency_key(key: &str) -> async_graphql::Result<()> {
    if crate::idempotency::valid_key(key) {
        return Ok(());
    }
    Err(ApiError::Invalid(vec![FieldError {
        field: "idempotencyKey".into(),
        code: "invalid",
        message: "1 to 255 visible ASCII characters (e.g. a UUID)".into(),
    }])
    .into_graphql())
}

/// Runs a cart change as the request's shopper and answers with the cart it gives.
async fn as_shopper<'a, F>(ctx: &Context<'a>, change: F) -> async_graphql::Result<Cart>
where
    F: FnOnce(&'a dyn Carts, Shopper) -> BoxFuture<'a, Result<PricedCart, OrdersError>>,
{
    let who = shopper(ctx).await?;
    let cart = change(carts(ctx).as_ref(), who).await.map_err(gql_error)?;
    Ok(Cart { cart, shopper: who })
}

#[derive(Default)]
pub struct CartMutation;

#[Object]
impl CartMutation {
    /// A new cart (for a logged-in customer: her open cart, when she has one).
    async fn create_cart(&self, ctx: &Context<'_>) -> async_graphql::Result<Cart> {
        as_shopper(ctx, |c, who| c.create(who)).await
    }

    /// The guest cart a replenishment reminder's one-click link makes, holding what she bought
    /// (as `PUT /v1/reorders/{token}`; the same cart again).
    async fn reorder(&self, ctx: &Context<'_>, token: String) -> async_graphql::Result<Cart> {
        let cart = carts(ctx).reorder(token).await.map_err(|e| e.into_graphql())?;
        Ok(Cart { cart, shopper: Shopper::default() })
    }

    /// Adds units of a SKU (to its line, when the cart has one).
    async fn add_cart_line(
        &self,
        ctx: &Context<'_>,
        cart_id: Uuid,
        sku: String,
        quantity: i64,
    ) -> async_graphql::Result<Cart> {
        as_shopper(ctx, |c, who| c.add_line(who, cart_id, sku, quantity)).await
    }

    /// Sets a line's quantity; 0 removes the line.
    async fn set_cart_line_quantity(
        &self,
        ctx: &Context<'_>,
        cart_id: Uuid,
        line_id: Uuid,
        quantity: i64,
    ) -> async_graphql::Result<Cart> {
        as_shopper(ctx, |c, who| c.set_quantity(who, cart_id, line_id, quantity)).await
    }

    async fn remove_cart_line(&self, ctx: &Context<'_>, cart_id: Uuid, line_id: Uuid) -> async_graphql::Result<Cart> {
        as_shopper(ctx, |c, who| c.set_quantity(who, cart_id, line_id, 0)).await
    }

    /// Enters a promotion code (any case). One the shop does not have is refused; one that does
    /// not apply stays on the cart and `promotions.notApplied` says why.
    async fn apply_cart_code(&self, ctx: &Context<'_>, cart_id: Uuid, code: String) -> async_graphql::Result<Cart> {
        as_shopper(ctx, |c, who| c.add_code(who, cart_id, code)).await
    }

    async fn remove_cart_code(&self, ctx: &Context<'_>, cart_id: Uuid, code: String) -> async_graphql::Result<Cart> {
        as_shopper(ctx, |c, who| c.remove_code(who, cart_id, code)).await
    }

    /// Picks the free samples a samples promotion offers (replacing an earlier pick).
    async fn pick_cart_samples(
        &self,
        ctx: &Context<'_>,
        cart_id: Uuid,
        skus: Vec<String>,
    ) -> async_graphql::Result<Cart> {
        as_shopper(ctx, |c, who| c.set_samples(who, cart_id, skus)).await
    }

    /// Email, shipping and billing address (sealed at rest), shipping method.
    async fn set_checkout_details(
        &self,
        ctx: &Context<'_>,
        cart_id: Uuid,
        details: CheckoutDetailsInput,
    ) -> async_graphql::Result<Cart> {
        let input = CheckoutInput {
            email: details.email,
            shipping_address: details.shipping_address.map(Into::into),
            billing_address: details.billing_address.map(Into::into),
            shipping_method: details.shipping_method,
        };
        as_shopper(ctx, |c, who| c.set_checkout(who, cart_id, input)).await
    }

    /// After logging in: a guest cart joins the customer's open cart (or becomes hers).
    async fn merge_cart(&self, ctx: &Context<'_>, cart_id: Uuid) -> async_graphql::Result<Cart> {
        let me = crate::graphql::accounts::customer_id(ctx).await?;
        let cart = carts(ctx).merge(me, cart_id).await.map_err(gql_error)?;
        Ok(Cart { cart, shopper: Shopper { customer: Some(me) } })
    }

    /// Places the order: holds the stock, authorizes the payment. Send a fresh
    /// `idempotencyKey` (e.g. a UUID) and reuse it on retries: a retry answers with the same
    /// order and never charges twice (`PAYMENT_PENDING`: retry with the same key).
    async fn complete_checkout(
        &self,
        ctx: &Context<'_>,
        cart_id: Uuid,
        payment: PaymentInputGql,
        idempotency_key: String,
    ) -> async_graphql::Result<CheckoutResult> {
        self::idempotency_key(&idempotency_key)?;
        let who = shopper(ctx).await?;
        let payment = PaymentInput { provider: payment.provider, token: payment.token, off_session_customer: None };
        let (view, placed) = carts(ctx).complete(who, cart_id, payment, &idempotency_key).await.map_err(gql_error)?;
        Ok(CheckoutResult { order: view.into(), placed })
    }
}
