//! Orders after checkout: reading them as the caller may, moving them on, recording what
//! payment providers report.

use super::*;

impl<R: OrdersRepository> OrdersService<R> {
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
    #[tracing::instrument(name = "orders.transition", skip_all, fields(order = %id))]
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
    /// back for a cancellation (or leaves it to the `order.cancelled` consumer when inventory
    /// fails) and takes returned units back.
    async fn record(&self, order: Order, sealed: Option<Sealed>, events: Vec<OrderEvent>) -> Result<OrderView> {
        let id = order.id;
        let at = now();
        let mut next = order.clone();
        for e in &events {
            next.apply(e, at);
        }
        let outbox: Vec<DomainEvent> = events.iter().map(|e| envelope(&next, e)).collect();
        self.repo.append_order(&next, order.version, &events, &outbox).await?;
        if events.iter().any(|e| matches!(e, OrderEvent::Cancelled { .. }))
            && let Err(e) = self.stock.restock(order.reservation_id).await
        {
            // The cancellation is recorded; inventory's consumer of `order.cancelled` gives the
            // stock back once the store answers again.
            tracing::warn!(order = %id, error = %e, "a cancelled order's stock is given back later");
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
