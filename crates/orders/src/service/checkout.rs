//! Checkout: a ready cart, its stock held, its payment authorized, its order placed; and
//! giving up cleanly when any step fails.

use super::quote::Quote;
use super::*;
use crate::ports::Evaluation;

impl<R: OrdersRepository> OrdersService<R> {
    pub(super) fn provider(&self, name: &str) -> Result<Arc<dyn PaymentProvider>> {
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

    /// Checks that a cart is ready to pay for: its provider and contact.
    fn ready(
        &self,
        cart: &Cart,
        sealed: Option<&Sealed>,
        payment: &PaymentInput,
        views: &[Option<SkuView>],
    ) -> Result<(Arc<dyn PaymentProvider>, Contact)> {
        let provider = self.provider(&payment.provider)?;
        let contact = self.open_contact(cart.id, sealed)?;
        let mut v = Validation::new();
        if cart.lines.is_empty() {
            v.push("lines", "required", "the cart is empty");
        }
        for (l, view) in cart.lines.iter().zip(views) {
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
        Ok((provider, contact))
    }

    /// Prices a ready cart for this attempt, its promotions' budgets held for it.
    async fn priced_for_checkout(
        &self,
        cart: &Cart,
        views: Vec<Option<SkuView>>,
        attempt: &str,
    ) -> Result<(Quote, Evaluation, Option<Uuid>)> {
        let basket = self.basket(cart, &views).await?;
        let (ev, hold) = self.promotions.hold(attempt, &basket).await?;
        let failed = match self.quote(cart, views, ev.clone(), None).await {
            Ok(Ok(q)) => return Ok((q, ev, hold)),
            Ok(Err(e)) => invalid("shipping_method", "unavailable", e.to_string()),
            Err(e) => e,
        };
        if let Some(h) = hold {
            self.release_hold(h).await;
        }
        Err(failed)
    }

    /// Holds the stock of the cart's lines and free items. A free item whose stock ran out is
    /// left out (a gift is given while stocks last) and the cart priced again without it.
    async fn reserve(&self, cart: &Cart, attempt: &str, mut quote: Quote, mut ev: Evaluation) -> Result<(Quote, Uuid)> {
        loop {
            let mut wanted: Vec<(String, i64)> = cart.lines.iter().map(|l| (l.sku.clone(), l.quantity)).collect();
            for (item, _) in &quote.free {
                match wanted.iter_mut().find(|w| w.0 == item.sku) {
                    Some(w) => w.1 += item.quantity,
                    None => wanted.push((item.sku.clone(), item.quantity)),
                }
            }
            match self.stock.reserve(attempt, &wanted).await {
                Ok(r) => return Ok((quote, r)),
                Err(StockError::Insufficient { sku, .. }) if quote.free.iter().any(|(f, _)| f.sku == sku) => {
                    tracing::info!(cart = %cart.id, sku = %sku, "a free item ran out: left out of this order");
                    ev.gifts.retain(|g| g.sku != sku);
                    if let Some(s) = ev.samples.as_mut() {
                        s.chosen.retain(|c| c != &sku);
                    }
                    quote = match self.quote(cart, quote.views, ev.clone(), None).await? {
                        Ok(q) => q,
                        Err(e) => return Err(invalid("shipping_method", "unavailable", e.to_string())),
                    };
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn release_hold(&self, hold: Uuid) {
        if let Err(e) = self.promotions.release(hold).await {
            tracing::warn!(hold = %hold, error = %e, "could not give a checkout's promotion budgets back; they expire on their own");
        }
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
    #[tracing::instrument(name = "orders.complete_checkout", skip_all)]
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
        // Priced by the catalogue as it is now, promotions' budgets held; when either cannot
        // be asked, the lease is given back and nothing else was done (503).
        let attempt = format!("{}:{key}", cart.id);
        let checked = async {
            let views = self.views(&cart).await?;
            let (provider, contact) = self.ready(&cart, sealed.as_ref(), payment, &views)?;
            let (quote, ev, hold) = self.priced_for_checkout(&cart, views, &attempt).await?;
            Ok::<_, OrdersError>((provider, contact, quote, ev, hold))
        };
        let (provider, contact, quote, ev, hold) = match checked.await {
            Ok(r) => r,
            Err(e) => {
                self.repo.end_lease(cart.id, key).await?;
                return Err(e);
            }
        };
        let (quote, reservation) = match self.reserve(&cart, &attempt, quote, ev).await {
            Ok(r) => r,
            Err(e) => {
                if let Some(h) = hold {
                    self.release_hold(h).await;
                }
                self.repo.end_lease(cart.id, key).await?;
                return Err(e);
            }
        };
        let country = cart.country.clone().unwrap_or_default();
        let totals = quote.totals;
        let request = AuthorizeRequest {
            amount: totals.total,
            currency: cart.currency.clone(),
            token: payment.token.trim().to_owned(),
            idempotency_key: attempt.clone(),
            reference: format!("cart {}", cart.id),
            off_session_customer: payment.off_session_customer.clone(),
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
                self.give_up(&cart, key, reservation, hold, "payment refused").await;
                return Err(OrdersError::PaymentFailed(why));
            }
        };
        let payment_id = match outcome {
            Outcome::Authorized { payment_id } => payment_id,
            Outcome::Declined { code, message } => {
                self.give_up(&cart, key, reservation, hold, "payment declined").await;
                return Err(OrdersError::PaymentDeclined { code, message });
            }
            Outcome::RequiresAction { action_url, .. } => {
                self.give_up(&cart, key, reservation, hold, "payment needs action").await;
                return Err(OrdersError::PaymentRequiresAction { action_url });
            }
        };
        let mut order_lines: Vec<OrderLine> = cart
            .lines
            .iter()
            .zip(quote.views.iter().zip(&quote.money))
            .map(|(l, (v, m))| {
                let v = v.as_ref().expect("checked on sale above");
                OrderLine {
                    sku: l.sku.clone(),
                    product_id: v.product_id,
                    name: v.name.clone(),
                    quantity: l.quantity,
                    unit_price: v.unit_price,
                    total: m.total,
                    discount: m.discount,
                    tax: m.tax,
                    tax_rate_bp: m.rate_bp,
                    promotion_id: None,
                }
            })
            .collect();
        order_lines.extend(quote.free.iter().zip(&quote.money[cart.lines.len()..]).map(|((item, v), m)| OrderLine {
            sku: item.sku.clone(),
            product_id: v.product_id,
            name: v.name.clone(),
            quantity: item.quantity,
            unit_price: 0,
            total: 0,
            discount: 0,
            tax: 0,
            tax_rate_bp: m.rate_bp,
            promotion_id: Some(item.promotion_id),
        }));
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
            promotions: quote.promotions.applied.clone(),
            promotion_hold: hold,
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
            Err(StoreError::Duplicate { .. }) => {
                // Another attempt placed this cart's order first: undo this one.
                let _ = provider.void(&payment_id).await;
                self.give_up(&cart, key, reservation, hold, "cart already ordered").await;
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

    async fn give_up(&self, cart: &Cart, key: &str, reservation: Uuid, hold: Option<Uuid>, why: &str) {
        if let Err(e) = self.stock.release(reservation, why).await {
            tracing::warn!(cart = %cart.id, error = %e, "could not release a checkout's stock; it expires on its own");
        }
        if let Some(h) = hold {
            self.release_hold(h).await;
        }
        if let Err(e) = self.repo.end_lease(cart.id, key).await {
            tracing::warn!(cart = %cart.id, error = %e, "could not end a checkout lease; it expires on its own");
        }
    }
}
