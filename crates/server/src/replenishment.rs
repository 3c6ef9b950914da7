//! Replenishment reminders at work, where orders run (an erased customer's subscriptions are
//! cancelled, and a cancelled box order's items given back, by the same consumer): the
//! `replenishment` consumer predicts
//! from each placed order when its customer runs out of each line (and when an opened product
//! passes its PAO), a cancelled order takes its reminders back, an erased customer's go; the
//! sender emails what is due, once, with a one-click reorder link (`PUT /v1/reorders/{token}`
//! makes a cart of the line).

use futures::future::BoxFuture;
use rouge_http::Store;
use rouge_kernel::DomainEvent;
use rouge_messaging::Mailer;
use rouge_messaging::durable::Handler;
use rouge_orders::{Catalog, Contact, Sealer, Stock};
use rouge_subscriptions::{Bought, Reminder, ReminderKind, ReminderState};
use std::sync::Arc;
use std::time::Duration;

/// When reminders go.
#[derive(Debug, Clone)]
pub struct ReplenishmentOptions {
    /// Days before she runs out.
    pub days_before: i64,
    /// How often the sender looks for due reminders.
    pub every: Duration,
    /// The soonest a reminder goes after the purchase.
    pub not_before: Duration,
}

impl Default for ReplenishmentOptions {
    fn default() -> Self {
        Self { days_before: 7, every: Duration::from_secs(60), not_before: Duration::from_secs(86_400) }
    }
}

const EVENTS: &[&str] = &["order.placed", "order.cancelled", "CustomerErased"];

/// The consumer.
pub struct Predict<S> {
    pub store: S,
    pub catalog: Arc<dyn Catalog>,
    /// Inventory, to give a cancelled box order's set-aside items back.
    pub stock: Arc<dyn Stock>,
    pub opts: ReplenishmentOptions,
}

impl<S: Store> Handler for Predict<S> {
    fn name(&self) -> &'static str {
        "replenishment"
    }

    fn events(&self) -> &'static [&'static str] {
        EVENTS
    }

    fn handle(&self, e: DomainEvent) -> BoxFuture<'static, Result<(), String>> {
        let (store, catalog, opts) = (self.store.clone(), self.catalog.clone(), self.opts.clone());
        let stock = self.stock.clone();
        Box::pin(async move {
            match e.event_type.as_str() {
                "order.cancelled" => {
                    store.cancel_reminders(e.aggregate_id).await.map_err(|err| err.to_string())?;
                    // A box's items were sold to its renewal order apart from the checkout's
                    // stock: they go back with the order (restocking twice changes nothing).
                    let shipped = store.box_of_order(e.aggregate_id).await.map_err(|err| err.to_string())?;
                    if let Some(reservation) = shipped.and_then(|b| b.reservation_id) {
                        stock.restock(reservation).await.map_err(|err| err.to_string())?;
                        tracing::info!(order = %e.aggregate_id, "a cancelled order's beauty box items went back to stock");
                    }
                    Ok(())
                }
                "CustomerErased" => {
                    let Some(c) = e.payload.get("customer_id").and_then(|c| c.as_str()).and_then(|c| c.parse().ok())
                    else {
                        return Err("CustomerErased without a customer_id".into());
                    };
                    store.forget_reminders(c).await.map_err(|err| err.to_string())?;
                    // Her subscriptions end with her account (and their saved card with them).
                    rouge_subscriptions::SubscriptionRepository::forget_subscriptions(&store, c)
                        .await
                        .map(|_| ())
                        .map_err(|err| err.to_string())
                }
                _ => predict(&store, catalog.as_ref(), &e, &opts).await,
            }
        })
    }
}

async fn predict<S: Store>(
    store: &S,
    catalog: &dyn Catalog,
    e: &DomainEvent,
    opts: &ReplenishmentOptions,
) -> Result<(), String> {
    let Some((order, _)) =
        rouge_orders::OrdersRepository::order(store, e.aggregate_id).await.map_err(|err| err.to_string())?
    else {
        return Err("the placed order is gone".into());
    };
    let skus: Vec<String> = order.lines.iter().map(|l| l.sku.clone()).collect();
    let views = catalog.skus(&skus).await?;
    let at = e.occurred_at.timestamp_millis();
    let mut made = vec![];
    for (line, view) in order.lines.iter().zip(views) {
        let Some(v) = view else { continue };
        let earlier = match order.customer_id {
            Some(c) => store.bought_before(c, &line.sku).await.map_err(|err| err.to_string())?,
            None => vec![],
        };
        let bought = Bought {
            sku: line.sku.clone(),
            quantity: line.quantity,
            size: v.size.clone(),
            pao_months: v.pao_months,
            product_type: v.product_type.clone(),
            categories: v.categories.clone(),
            at,
        };
        let not_before = opts.not_before.as_millis() as i64;
        for (kind, predicted_at, due_at, basis) in
            rouge_subscriptions::reminders(&bought, &earlier, opts.days_before, not_before)
        {
            made.push(Reminder {
                id: rouge_kernel::new_id(),
                kind,
                customer_id: order.customer_id,
                order_id: order.id,
                sku: line.sku.clone(),
                quantity: line.quantity,
                bought_at: at,
                predicted_at,
                due_at,
                basis,
                state: ReminderState::Pending,
                cart_id: None,
            });
        }
    }
    store.add_reminders(&made).await.map_err(|err| err.to_string())?;
    if !made.is_empty() {
        tracing::info!(order = %order.id, reminders = made.len(), "replenishment reminders planned");
    }
    Ok(())
}

/// Sends due reminders every `opts.every` until `stop`.
pub async fn send_due<S: Store>(
    store: S,
    catalog: Arc<dyn Catalog>,
    sealer: crate::wiring::VaultSealer<S>,
    mailer: Mailer,
    opts: ReplenishmentOptions,
    public_url: String,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let failed = crate::schedule::FailedClaims::default();
    crate::schedule::every(opts.every, stop, || async {
        failed
            .give_back(|id, lease| store.release_reminder_claim(id, lease), |lease| store.release_reminder_claims(lease))
            .await;
        let now = chrono::Utc::now().timestamp_millis();
        let lease = now + 60_000;
        match store.claim_due_reminders(now, lease, 50).await {
            Ok(due) => {
                for r in due {
                    if let Err(e) = send(&store, catalog.as_ref(), &sealer, &mailer, &public_url, &r).await {
                        tracing::warn!(reminder = %r.id, error = %e, "a replenishment reminder was not sent; tried again shortly");
                        failed.push(r.id, lease);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim due replenishment reminders; will retry");
                failed.push_lost(lease);
            }
        }
    })
    .await
}

use crate::schedule::day;

async fn send<S: Store>(
    store: &S,
    catalog: &dyn Catalog,
    sealer: &crate::wiring::VaultSealer<S>,
    mailer: &Mailer,
    public_url: &str,
    r: &Reminder,
) -> Result<(), String> {
    let (token, hash) = rouge_identity::tokens::new_secret();
    let found = rouge_orders::OrdersRepository::order(store, r.order_id).await.map_err(|e| e.to_string())?;
    let contact: Contact = match &found {
        Some((order, Some(sealed))) => {
            serde_json::from_slice(&sealer.open(&order.cart_id.to_string(), sealed)?).map_err(|e| e.to_string())?
        }
        _ => Contact::default(),
    };
    let Some(to) = contact.email else {
        // Nobody to tell (an erased customer's order keeps no address): done with it.
        store.mark_sent(r.id, &hash, chrono::Utc::now().timestamp_millis()).await.map_err(|e| e.to_string())?;
        return Ok(());
    };
    let name = catalog.skus(std::slice::from_ref(&r.sku)).await?.pop().flatten().map_or(r.sku.clone(), |v| v.name);
    // The shop's page for it calls `PUT /v1/reorders/{token}`.
    let link = format!("{}/reorder?token={token}", public_url.trim_end_matches('/'));
    let (subject, body) = match r.kind {
        ReminderKind::Runout => (
            format!("Running low on {name}?"),
            format!(
                "Your {name} may run out around {} ({}).\n\nReorder it in one click: {link}\n",
                day(r.predicted_at),
                r.basis
            ),
        ),
        ReminderKind::Pao => (
            format!("Time for a fresh {name}"),
            format!(
                "The {name} you bought on {} passes its period after opening ({}) around {}: after that it may \
                 no longer work as it should.\n\nReorder it in one click: {link}\n",
                day(r.bought_at),
                r.basis,
                day(r.predicted_at)
            ),
        ),
    };
    mailer.send(&to, &subject, &body).await?;
    store.mark_sent(r.id, &hash, chrono::Utc::now().timestamp_millis()).await.map_err(|e| e.to_string())?;
    tracing::info!(reminder = %r.id, kind = r.kind.as_str(), "replenishment reminder sent");
    Ok(())
}
