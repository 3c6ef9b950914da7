//! Subscription renewals, where orders run: every replica looks for due subscriptions, claims
//! each for one attempt, and renews its next period through the checkout (a cart of her own,
//! apart from the one she shops with; stock held, tax and promotions as any order; paid with
//! her saved payment method). A period has one renewal row and one cart (a cart becomes one
//! order at most), and each attempt one checkout key, so it is never renewed twice, whichever
//! replica or retry gets there. A declined payment is
//! tried again on the dunning schedule with an email each time, then the subscription pauses.

use rouge_http::Store;
use rouge_messaging::Mailer;
use rouge_orders::{Access, Caller, CheckoutInput, OrdersError, OrdersService, PaymentInput};
use rouge_subscriptions::Subscription;
use std::time::Duration;
use uuid::Uuid;

/// Looks for due renewals every `every` until `stop`.
pub async fn renew_due<S: Store>(
    store: S,
    orders: OrdersService<S>,
    mailer: Mailer,
    every: Duration,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let failed = crate::schedule::FailedClaims::default();
    crate::schedule::every(every, stop, || async {
        failed
            .give_back(
                |id, lease| store.release_subscription_claim(id, lease),
                |lease| store.release_subscription_claims(lease),
            )
            .await;
        let now = chrono::Utc::now().timestamp_millis();
        let lease = now + 120_000;
        match store.claim_due_subscriptions(now, lease, 20).await {
            Ok(due) => {
                for s in due {
                    if let Err(e) = renew(&store, &orders, &mailer, s.clone()).await {
                        // Tried again at the next look (the period's cart and checkout key
                        // make a retry place its order once).
                        tracing::warn!(subscription = %s.id, error = %e, "a renewal did not go through; tried again shortly");
                        failed.push(s.id, lease);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim due subscriptions; will retry");
                failed.push_lost(lease);
            }
        }
    })
    .await
}

/// Renews the next period of `s`.
///
/// # Errors
/// What should be tried again (the store, a service that did not answer).
pub async fn renew<S: Store>(
    store: &S,
    orders: &OrdersService<S>,
    mailer: &Mailer,
    mut s: Subscription,
) -> Result<(), String> {
    let period = s.period + 1;
    let read_at = s.updated_at;
    let now = || chrono::Utc::now().timestamp_millis();
    let renewal = store.renewal(s.id, period).await.map_err(|e| e.to_string())?;
    let her = Caller { customer: Some(s.customer_id) };
    let order_id = match renewal.order_id {
        Some(o) => o,
        None => {
            // The period's cart is named before it is made: a renewer that stops in between
            // leaves a name the next one makes, never a cart of hers nobody knows.
            let cart = match renewal.cart_id {
                Some(c) => c,
                None => {
                    store.set_renewal_cart(s.id, period, rouge_kernel::new_id()).await.map_err(|e| e.to_string())?
                }
            };
            let origin = orders.order(Access::Staff, s.origin_order_id).await.map_err(|e| e.to_string())?;
            if let Some(setback) = box_not_ready(store, &mut s).await? {
                return tell(store, mailer, &origin.email, &s, read_at, setback).await;
            }
            let current = match orders.cart(her, cart).await {
                Ok(c) => c,
                Err(OrdersError::NotFound(_)) => {
                    orders.renewal_cart(s.customer_id, cart).await.map_err(|e| e.to_string())?
                }
                Err(e) => return Err(e.to_string()),
            };
            if current.lines.is_empty() {
                if let Err(e) = orders.add_line(her, cart, &s.sku, s.quantity).await {
                    let setback = held_up(&mut s, &e.to_string());
                    return tell(store, mailer, &origin.email, &s, read_at, setback).await;
                }
                let input = CheckoutInput {
                    email: origin.email.clone(),
                    shipping_address: origin.shipping_address.clone(),
                    billing_address: origin.billing_address.clone(),
                    shipping_method: Some(origin.order.shipping_method.clone()),
                };
                orders.set_checkout(her, cart, input).await.map_err(|e| e.to_string())?;
            }
            let payment = PaymentInput {
                provider: s.payment.provider.clone(),
                token: s.payment.token.clone(),
                off_session_customer: s.payment.customer.clone(),
            };
            // One key per attempt, named by the version it read: a dunning retry (perhaps with
            // another card) is a new payment attempt, an attempt cut short and taken up again
            // is the same one; the period's one cart still makes one order at most.
            let key = format!("renewal-{}-{period}-{read_at}", s.id.simple());
            match orders.complete(her, cart, &payment, &key).await {
                Ok((view, _)) => {
                    store.set_renewal_order(s.id, period, view.order.id).await.map_err(|e| e.to_string())?;
                    view.order.id
                }
                Err(OrdersError::PaymentDeclined { code, message }) => {
                    let setback = declined(&mut s, &format!("{message} ({code})"));
                    return tell(store, mailer, &origin.email, &s, read_at, setback).await;
                }
                Err(e @ (OrdersError::OutOfStock { .. } | OrdersError::Invalid(_))) => {
                    let setback = held_up(&mut s, &e.to_string());
                    return tell(store, mailer, &origin.email, &s, read_at, setback).await;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    };
    ship_box(store, orders, &s, order_id).await?;
    s.renewed(period, order_id, now());
    store.save_subscription(&s, Some(read_at), "subscription.renewed").await.map_err(|e| e.to_string())?;
    tracing::info!(subscription = %s.id, period, order = %order_id, "subscription renewed");
    Ok(())
}

use crate::schedule::day;

/// The month whose box a renewal ships: that of its due date.
fn box_month(s: &Subscription) -> String {
    rouge_subscriptions::month_of(s.next_at)
}

/// A box subscription is charged only for a box that is made up: while staff have not locked
/// its month, the renewal waits a day; when the month was locked before she subscribed (no box
/// of hers), it waits for the next month's.
async fn box_not_ready<S: Store>(store: &S, s: &mut Subscription) -> Result<Option<Setback>, String> {
    let month = box_month(s);
    let Some(b) = store.box_month(&month).await.map_err(|e| e.to_string())? else { return Ok(None) };
    if b.box_sku != s.sku {
        return Ok(None);
    }
    if !b.locked {
        return Ok(Some(held_up(s, &format!("the box of {month} is not made up yet"))));
    }
    if store.box_of(&month, s.id).await.map_err(|e| e.to_string())?.is_some() {
        return Ok(None);
    }
    s.next_at = rouge_subscriptions::month_start(&month, 1).ok_or_else(|| format!("{month} has no next month"))?;
    s.updated_at = chrono::Utc::now().timestamp_millis();
    let body = format!(
        "The box of {month} was made up before your subscription to {} began, so your first box is that of {}.\n",
        s.sku,
        day(s.next_at)
    );
    Ok(Some(("subscription.changed", "Your first box is next month's", body)))
}

/// A box subscription's renewal ships her box of the month: its items, set aside when staff
/// locked the month, are sold to the renewal order (so its batches trace to her order), once.
async fn ship_box<S: Store>(store: &S, orders: &OrdersService<S>, s: &Subscription, order: Uuid) -> Result<(), String> {
    let month = box_month(s);
    let Some(fill) = store.box_of(&month, s.id).await.map_err(|e| e.to_string())? else { return Ok(()) };
    match (fill.order_id, fill.reservation_id) {
        (Some(shipped), _) if shipped != order => {
            tracing::warn!(subscription = %s.id, %month, %shipped, "her box of this month shipped with an earlier order");
        }
        (_, None) => {}
        (_, Some(reservation)) => match orders.stock().commit(reservation, order).await {
            Ok(()) => {
                store.set_box_order(&month, s.id, order).await.map_err(|e| e.to_string())?;
                tracing::info!(subscription = %s.id, %month, %order, items = fill.skus.len(), "beauty box shipped with the renewal");
            }
            // Inventory cannot be asked now: tried again (the order stays the period's).
            Err(e @ rouge_orders::StockError::Unavailable(_)) => {
                return Err(format!("her box's items cannot be sold to the order yet: {e}"));
            }
            // Its hold is gone (ran out, given back): the renewal stands; staff must pack her
            // box from stock, and say so.
            Err(e) => {
                tracing::error!(subscription = %s.id, %month, %order, error = %e,
                    "her box's set-aside items are no longer held: pack her box from stock by hand");
            }
        },
    }
    Ok(())
}

/// What a renewal that did not go through says: its event, and the email's subject and body.
type Setback = (&'static str, &'static str, String);

/// The payment was declined: tried again on the dunning schedule, then paused.
fn declined(s: &mut Subscription, why: &str) -> Setback {
    match s.payment_failed(chrono::Utc::now().timestamp_millis()) {
        Some(retry) => (
            "subscription.payment_failed",
            "Your subscription's payment did not go through",
            format!(
                "We could not take the payment for your subscription to {} ({why}). We will try again on {}; \
                 to use another card, update the subscription's payment method before then.\n",
                s.sku,
                day(retry)
            ),
        ),
        None => (
            "subscription.paused",
            "Your subscription is paused",
            format!(
                "The payment for your subscription to {} failed {} times ({why}), so it is paused. Update its \
                 payment method and resume it whenever you like.\n",
                s.sku, s.failures
            ),
        ),
    }
}

/// The variant cannot be sold now (sold out, no longer on sale): tried again in a day; no
/// payment was attempted, so it does not count towards pausing.
fn held_up(s: &mut Subscription, why: &str) -> Setback {
    let now = chrono::Utc::now().timestamp_millis();
    s.next_at = now + rouge_subscriptions::replenishment::DAY_MS;
    s.updated_at = now;
    let body =
        format!("Your subscription to {} could not be renewed today ({why}). We will try again tomorrow.\n", s.sku);
    ("subscription.changed", "Your subscription is delayed", body)
}

/// Saves the subscription after a setback and tells her.
async fn tell<S: Store>(
    store: &S,
    mailer: &Mailer,
    email: &Option<String>,
    s: &Subscription,
    read_at: i64,
    (event, subject, body): Setback,
) -> Result<(), String> {
    store.save_subscription(s, Some(read_at), event).await.map_err(|e| e.to_string())?;
    tracing::info!(subscription = %s.id, event, failures = s.failures, "a renewal did not go through");
    if let Some(to) = email {
        mailer.send(to, subject, &body).await?;
    }
    Ok(())
}
