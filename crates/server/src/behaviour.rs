//! Purchases and returns into the recommendations' behaviour (the `recommendations`
//! consumer, where the catalogue runs): each line of a placed order a `purchased` event of
//! hers, each returned line a `returned` one (marked unsuitable when her reason says it did
//! not suit her); an erased customer's behaviour goes. Idempotent: an event handled again
//! records nothing new.

use futures::future::BoxFuture;
use rouge_http::Store;
use rouge_kernel::DomainEvent;
use rouge_messaging::durable::Handler;
use rouge_orders::OrderEvent;
use rouge_recommendations::impressions::{ATTRIBUTION_DAYS, DAY_MS};
use rouge_recommendations::{BehaviourEvent, EventKind, purchase_id, unsuitable};
use uuid::Uuid;

pub const NAME: &str = "recommendations";
pub const EVENTS: &[&str] = &["order.placed", "order.return_requested", "CustomerErased"];

/// The store, and what the recommendations served here know of customers (forgotten when
/// hers changed).
pub struct Behaviour<S>(pub S, pub std::sync::Arc<rouge_http::recs::Recs>);

impl<S: Store> Handler for Behaviour<S> {
    fn name(&self) -> &'static str {
        NAME
    }

    fn events(&self) -> &'static [&'static str] {
        EVENTS
    }

    fn handle(&self, e: DomainEvent) -> BoxFuture<'static, Result<(), String>> {
        let (store, recs) = (self.0.clone(), self.1.clone());
        Box::pin(async move {
            let at = e.occurred_at.timestamp_millis();
            let events = match e.event_type.as_str() {
                "order.placed" => {
                    let OrderEvent::Placed { customer_id, lines, .. } = order_event(e.payload)? else {
                        return Err("order.placed is not a placed order".into());
                    };
                    // A guest's order teaches nothing about a customer.
                    let Some(customer) = customer_id else { return Ok(()) };
                    // A product she clicked from recommendations lately is bought from them.
                    let recent = store.behaviour_of(customer, 200).await.map_err(|err| err.to_string())?;
                    let since = at - ATTRIBUTION_DAYS * DAY_MS;
                    let clicked = |product: Uuid| {
                        recent
                            .iter()
                            .filter(|e| {
                                (since..=at).contains(&e.at)
                                    && e.kind.from_storefront()
                                    && e.product_id == Some(product)
                            })
                            .find_map(|e| e.impression_id)
                    };
                    lines
                        .iter()
                        .map(|l| BehaviourEvent {
                            id: purchase_id(e.aggregate_id, &l.sku),
                            kind: EventKind::Purchased,
                            customer_id: Some(customer),
                            anonymous_id: None,
                            product_id: Some(l.product_id),
                            query: None,
                            unsuitable: false,
                            at,
                            impression_id: clicked(l.product_id),
                        })
                        .collect()
                }
                "order.return_requested" => {
                    let OrderEvent::ReturnRequested { return_id, lines, reason, .. } = order_event(e.payload)? else {
                        return Err("order.return_requested is not a return".into());
                    };
                    let mut events = vec![];
                    for l in &lines {
                        // What she bought, as recorded when the order was placed (a guest's: none).
                        let Some(bought) = store
                            .behaviour_event(purchase_id(e.aggregate_id, &l.sku))
                            .await
                            .map_err(|err| err.to_string())?
                        else {
                            continue;
                        };
                        events.push(BehaviourEvent {
                            id: Uuid::new_v5(
                                &Uuid::NAMESPACE_OID,
                                format!("behaviour/return/{return_id}/{}", l.sku).as_bytes(),
                            ),
                            kind: EventKind::Returned,
                            unsuitable: unsuitable(&reason),
                            at,
                            ..bought
                        });
                    }
                    events
                }
                _ => {
                    let customer: Uuid = e
                        .payload
                        .get("customer_id")
                        .and_then(|c| c.as_str())
                        .and_then(|c| c.parse().ok())
                        .ok_or_else(|| format!("{} without a customer_id", e.event_type))?;
                    let n = store.erase_behaviour(customer).await.map_err(|err| err.to_string())?;
                    recs.forget(customer);
                    tracing::info!(events = n, "an erased customer's behaviour removed");
                    return Ok(());
                }
            };
            store.record_behaviour(&events).await.map_err(|err| err.to_string())?;
            for c in events.iter().filter_map(|e| e.customer_id) {
                recs.forget(c);
            }
            Ok(())
        })
    }
}

/// An order event's payload as the orders service wrote it (the event, plus the order's
/// reference fields, which the event's own type ignores).
fn order_event(payload: serde_json::Value) -> Result<OrderEvent, String> {
    serde_json::from_value(payload).map_err(|err| format!("malformed event: {err}"))
}

/// Purges behaviour older than `days`, at start and then daily (every catalogue replica may:
/// a delete of what is too old is the same whoever runs it).
pub async fn purge_old<S: Store>(store: S, days: i64, stop: tokio::sync::watch::Receiver<bool>) {
    crate::schedule::every(std::time::Duration::from_secs(86_400), stop, || {
        let store = store.clone();
        async move {
            let before = chrono::Utc::now().timestamp_millis() - days * DAY_MS;
            match store.purge_behaviour(before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(events = n, days, "behaviour past its retention purged"),
                Err(e) => tracing::warn!(error = %e, "cannot purge old behaviour; will try again tomorrow"),
            }
        }
    })
    .await;
}

/// Trains the recommendations at start and then every `every`; between trainings keeps the
/// products' facts (stock, listings) current every second. With Redis, the replicas share
/// one training: a replica serving the current shared lists trains only when it takes the
/// period's lease, and every replica reads a newer shared snapshot within seconds.
pub async fn train_regularly<S: Store>(
    app: rouge_http::AppState<S>,
    every: std::time::Duration,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let secs = std::time::Duration::from_secs;
    let facts = beside(&app, &stop, secs(1), |app| {
        app.recs.refresh_items(&app.index, &app.stock);
        async {}
    });
    let shown = beside(&app, &stop, secs(SHOWN_SECS), save_shown);
    let follow = app.recs.shared().map(|_| {
        beside(&app, &stop, secs(FOLLOW_SECS), |app| async move {
            app.recs.follow().await;
        })
    });
    crate::schedule::every(every, stop, || {
        let app = app.clone();
        async move {
            if let Some(shared) = app.recs.shared() {
                // Whoever trains takes the period's lease; a replica serving the current
                // shared lists leaves the training to the lease's holder.
                let following = shared.connected().await && app.recs.follow().await;
                if !shared.lease(every).await && following {
                    tracing::debug!("another replica trains the recommendations this period");
                    return;
                }
            }
            if let Err(e) = rouge_http::recs::train_here(&app).await {
                tracing::warn!(error = %e, "cannot train the recommendations now; the last lists stay served");
            }
        }
    })
    .await;
    facts.abort();
    if let Some(follow) = follow {
        follow.abort();
    }
    let _ = shown.await;
    // What was shown since the last time is counted before the server stops.
    save_shown(app).await;
}

/// Runs `tick` on its own task every `period` until `stop`.
fn beside<S: Store, F, Fut>(
    app: &rouge_http::AppState<S>,
    stop: &tokio::sync::watch::Receiver<bool>,
    period: std::time::Duration,
    tick: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(rouge_http::AppState<S>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let (app, stop) = (app.clone(), stop.clone());
    tokio::spawn(async move { crate::schedule::every(period, stop, || tick(app.clone())).await })
}

/// How often a replica looks for a newer shared snapshot of the recommendations.
const FOLLOW_SECS: u64 = 2;

/// How often a replica adds the recommendations it showed to the store's counts.
const SHOWN_SECS: u64 = 10;

async fn save_shown<S: Store>(app: rouge_http::AppState<S>) {
    if let Err(e) = app.recs.save_shown(&app.store).await {
        tracing::warn!(error = %e, "cannot count the recommendations shown now; will try again");
    }
}
