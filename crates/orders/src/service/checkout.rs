//! Checkout: a ready cart, its stock held, its payment authorized, its order placed; and
//! giving up cleanly when any step fails.

use super::*;

/// A cart checked and priced for payment.
struct Ready {
    provider: Arc<dyn PaymentProvider>,
    contact: Contact,
    views: Vec<Option<SkuView>>,
    money: Vec<LineMoney>,
    totals: Totals,
    country: String,
}

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

    /// Checks that a cart is ready to pay for and prices it.
    fn ready(
        &self,
        cart: &Cart,
        sealed: Option<&Sealed>,
        payment: &PaymentInput,
        views: Vec<Option<SkuView>>,
    ) -> Result<Ready> {
        let provider = self.provider(&payment.provider)?;
        let contact = self.open_contact(cart.id, sealed)?;
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
        // Priced by the catalogue as it is now; when it cannot be asked, the lease is given
        // back and nothing else was done (503).
        let ready = match self.views(&cart).await.and_then(|views| self.ready(&cart, sealed.as_ref(), payment, views)) {
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
            Err(StoreError::Duplicate { .. }) => {
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
}
