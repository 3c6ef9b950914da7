//! The event consumers this server runs, as durable handlers (claimed once, retried with
//! growing pauses, parked as dead letters after the last attempt).

use futures::future::BoxFuture;
use rouge_http::Store;
use rouge_identity::{EmailRequested, IdentityService};
use rouge_kernel::DomainEvent;
use rouge_messaging::Mailer;
use rouge_messaging::durable::Handler;
use rouge_orders::{Contact, Sealer};

/// The work consumers (name, event types): on a broker, one queue each.
pub const WORK: [(&str, &[&str]); 5] = [
    (MAILER.0, MAILER.1),
    (STOCK.0, STOCK.1),
    (ORDER_EMAIL.0, ORDER_EMAIL.1),
    (PROMOTIONS.0, PROMOTIONS.1),
    (REVIEWS.0, REVIEWS.1),
];
const MAILER: (&str, &[&str]) = ("mailer", &["EmailRequested"]);
const STOCK: (&str, &[&str]) = ("stock", &["order.placed", "order.cancelled"]);
const ORDER_EMAIL: (&str, &[&str]) = ("order-email", &["order.placed"]);
const PROMOTIONS: (&str, &[&str]) = ("promotions", &["order.placed", "order.cancelled"]);
const REVIEWS: (&str, &[&str]) = ("reviews", &["CustomerErased"]);

/// An erased customer's reviews stay, anonymised; her votes and reports go.
pub struct ReviewErasure<S>(pub rouge_reviews::ReviewsService<S>);

impl<S: Store> Handler for ReviewErasure<S> {
    fn name(&self) -> &'static str {
        REVIEWS.0
    }

    fn events(&self) -> &'static [&'static str] {
        REVIEWS.1
    }

    fn handle(&self, e: DomainEvent) -> BoxFuture<'static, Result<(), String>> {
        let reviews = self.0.clone();
        Box::pin(async move {
            let Some(customer) = e.payload.get("customer_id").and_then(|c| c.as_str()).and_then(|c| c.parse().ok())
            else {
                return Err(format!("{} without a customer_id", e.event_type));
            };
            let n = reviews.forget_customer(customer).await.map_err(|err| err.to_string())?;
            tracing::info!(reviews = n, "an erased customer's reviews anonymised");
            Ok(())
        })
    }
}

/// Account emails identity asks for (verification, password reset).
pub struct AccountMail<S> {
    pub identity: IdentityService<S>,
    pub mailer: Mailer,
    pub public_url: String,
}

impl<S: Store> Handler for AccountMail<S> {
    fn name(&self) -> &'static str {
        MAILER.0
    }

    fn events(&self) -> &'static [&'static str] {
        MAILER.1
    }

    fn handle(&self, e: DomainEvent) -> BoxFuture<'static, Result<(), String>> {
        let (identity, mailer, base) = (self.identity.clone(), self.mailer.clone(), self.public_url.clone());
        Box::pin(async move {
            let req: EmailRequested =
                serde_json::from_value(e.payload).map_err(|err| format!("malformed event: {err}"))?;
            match identity.render_email(&req, &base).await.map_err(|err| err.to_string())? {
                Some(mail) => {
                    mailer.send(&mail.to, &mail.subject, &mail.body).await?;
                    tracing::info!(event = %e.id, customer = %req.customer_id, template = ?req.template, "email sent");
                }
                None => tracing::info!(event = %e.id, "email dropped: the customer was erased"),
            }
            Ok(())
        })
    }
}

/// Commits a placed order's stock: the checkout leaves it held for the order, this turns it
/// into a sale (taken off hand); gives a cancelled order's stock back. Idempotent, so every
/// replica may run it.
pub struct StockCommit<S>(pub rouge_inventory::InventoryService<S>, pub OrderFacts<S>);

/// What inventory's consumer reads of an order (its status and reservation): from the store
/// when orders run here, else asked of the orders service.
#[derive(Clone)]
pub enum OrderFacts<S> {
    Local(S),
    Remote(rouge_http::remote::Remote),
}

impl<S: Store> rouge_reviews::Purchases for OrderFacts<S> {
    fn purchase(
        &self,
        order: uuid::Uuid,
    ) -> rouge_reviews::ports::BoxFuture<'_, Result<Option<rouge_reviews::Purchase>, String>> {
        Box::pin(async move {
            Ok(self.of(order).await?.map(|f| rouge_reviews::Purchase {
                customer_id: f.customer_id,
                status: f.status,
                skus: f.skus,
            }))
        })
    }
}

impl<S: Store> OrderFacts<S> {
    async fn of(&self, order: uuid::Uuid) -> Result<Option<rouge_http::rest::internal::OrderFacts>, String> {
        match self {
            OrderFacts::Local(store) => Ok(rouge_orders::OrdersRepository::order(store, order)
                .await
                .map_err(|err| err.to_string())?
                .map(|(o, _)| rouge_http::rest::internal::OrderFacts::of(&o))),
            OrderFacts::Remote(orders) => match orders.get(&format!("/internal/v1/orders/{order}")).await {
                Ok(facts) => Ok(Some(facts)),
                Err(rouge_http::remote::RemoteError::Refused { status: 404, .. }) => Ok(None),
                Err(e) => Err(e.to_string()),
            },
        }
    }
}

impl<S: Store> Handler for StockCommit<S> {
    fn name(&self) -> &'static str {
        STOCK.0
    }

    fn events(&self) -> &'static [&'static str] {
        STOCK.1
    }

    fn exclusive(&self) -> bool {
        false
    }

    fn handle(&self, e: DomainEvent) -> BoxFuture<'static, Result<(), String>> {
        let (inventory, orders) = (self.0.clone(), self.1.clone());
        Box::pin(async move {
            if e.event_type == "order.cancelled" {
                // The cancellation gives the stock back as it is recorded; this makes sure it
                // happened when that failed (an outage just after the cancellation's commit).
                // Restocking twice changes nothing.
                let order = orders.of(e.aggregate_id).await?.ok_or("the cancelled order is gone")?;
                return inventory.restock(order.reservation_id).await.map(|_| ()).map_err(|err| err.to_string());
            }
            let reservation = e
                .payload
                .get("reservation_id")
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse().ok())
                .ok_or("order.placed without a reservation id")?;
            match inventory.commit(reservation, e.aggregate_id).await {
                Ok(_) => Ok(()),
                // Released: fine if the order was cancelled first (its stock went back then).
                Err(rouge_inventory::InventoryError::Conflict(why)) => {
                    let order = orders.of(e.aggregate_id).await?;
                    if order.is_some_and(|o| o.status == rouge_orders::Status::Cancelled.as_str()) {
                        tracing::info!(order = %e.aggregate_id, "order cancelled before its stock was committed");
                        Ok(())
                    } else {
                        Err(why)
                    }
                }
                Err(err) => Err(err.to_string()),
            }
        })
    }
}

/// Spends a placed order's promotion budgets (the checkout left them held for it); gives a
/// cancelled order's back. Idempotent, so every replica may run it; runs where orders do
/// (promotions are deployed with them).
pub struct PromotionSpend<S>(pub rouge_promotions::PromotionsService<S>, pub S);

impl<S: Store> Handler for PromotionSpend<S> {
    fn name(&self) -> &'static str {
        PROMOTIONS.0
    }

    fn events(&self) -> &'static [&'static str] {
        PROMOTIONS.1
    }

    fn exclusive(&self) -> bool {
        false
    }

    fn handle(&self, e: DomainEvent) -> BoxFuture<'static, Result<(), String>> {
        let (promotions, store) = (self.0.clone(), self.1.clone());
        Box::pin(async move {
            if e.event_type == "order.cancelled" {
                let (order, _) = rouge_orders::OrdersRepository::order(&store, e.aggregate_id)
                    .await
                    .map_err(|err| err.to_string())?
                    .ok_or("the cancelled order is gone")?;
                if order.promotions.is_empty() {
                    return Ok(());
                }
                promotions.give_back(order.id, order.promotion_hold).await.map_err(|err| err.to_string())?;
                tracing::info!(order = %order.id, "a cancelled order's promotion uses given back");
                return Ok(());
            }
            let applied: Vec<rouge_promotions::Applied> = match e.payload.get("promotions") {
                Some(v) => serde_json::from_value(v.clone()).map_err(|err| format!("malformed event: {err}"))?,
                None => vec![],
            };
            let hold = e.payload.get("promotion_hold").and_then(|v| v.as_str()).and_then(|s| s.parse().ok());
            if applied.is_empty() && hold.is_none() {
                return Ok(());
            }
            promotions.spend(e.aggregate_id, hold, &applied).await.map_err(|err| err.to_string())
        })
    }
}

/// The order confirmation email.
pub struct OrderMail<S> {
    pub store: S,
    pub sealer: crate::wiring::VaultSealer<S>,
    pub mailer: Mailer,
}

fn money(minor: i64, currency: &str) -> String {
    format!("{}.{:02} {currency}", minor / 100, minor % 100)
}

impl<S: Store> Handler for OrderMail<S> {
    fn name(&self) -> &'static str {
        ORDER_EMAIL.0
    }

    fn events(&self) -> &'static [&'static str] {
        ORDER_EMAIL.1
    }

    fn handle(&self, e: DomainEvent) -> BoxFuture<'static, Result<(), String>> {
        let (store, mailer) = (self.store.clone(), self.mailer.clone());
        let sealer = crate::wiring::VaultSealer(self.sealer.0.clone());
        Box::pin(async move {
            let (order, sealed) =
                store.order(e.aggregate_id).await.map_err(|err| err.to_string())?.ok_or("the order is gone")?;
            let contact: Contact = match sealed {
                Some(s) => serde_json::from_slice(&sealer.open(&order.cart_id.to_string(), &s)?)
                    .map_err(|err| err.to_string())?,
                None => Contact::default(),
            };
            let Some(to) = contact.email else {
                tracing::info!(order = %order.id, "no email on the order: no confirmation sent");
                return Ok(());
            };
            let mut body = format!("Thank you for your order #{}.\n\n", order.number);
            for l in &order.lines {
                body.push_str(&format!(
                    "{} × {} ({})  {}\n",
                    l.quantity,
                    l.name,
                    l.sku,
                    money(l.total, &order.currency)
                ));
            }
            let t = order.totals;
            body.push_str(&format!(
                "\nShipping ({}): {}\nTotal: {} (of which tax {})\n",
                order.shipping_method,
                money(t.shipping, &order.currency),
                money(t.total, &order.currency),
                money(t.tax, &order.currency)
            ));
            mailer.send(&to, &format!("Your order #{} is confirmed", order.number), &body).await?;
            tracing::info!(order = %order.id, number = order.number, "order confirmation sent");
            Ok(())
        })
    }
}
