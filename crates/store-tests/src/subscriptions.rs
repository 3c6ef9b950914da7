//! The subscriptions repository's contract: a subscription round-trips and is saved only over
//! the version it was read at; a due active one is claimed by one renewer at a time; a
//! period's renewal is made once and keeps its first cart; erasure cancels hers and forgets
//! their payment tokens.

use rouge_kernel::StoreError;
use rouge_subscriptions::{
    SavedPayment, Subscription, SubscriptionFilter, SubscriptionInput, SubscriptionRepository, SubscriptionStatus,
};
use uuid::Uuid;

fn subscription(customer: Uuid, now: i64) -> Subscription {
    SubscriptionInput {
        order_id: Uuid::now_v7(),
        sku: "LL-NIA-30".into(),
        quantity: 2,
        cadence_weeks: 4,
        payment: SavedPayment { provider: "test".into(), token: "pm_visa".into(), customer: Some("cus_ana".into()) },
    }
    .into_subscription(customer, now)
}

pub async fn subscriptions_round_trip_claim_once_and_renew_each_period_once<S: SubscriptionRepository>(store: S) {
    let ana = Uuid::now_v7();
    let mut s = subscription(ana, 1_000);
    store.save_subscription(&s, None, "subscription.created").await.unwrap();
    let got = store.subscription(s.id).await.unwrap().unwrap();
    assert_eq!(got, s);
    assert_eq!((got.payment.token.as_str(), got.payment.customer.as_deref()), ("pm_visa", Some("cus_ana")));
    let read_at = s.updated_at;
    s.quantity = 3;
    s.updated_at = 2_000;
    store.save_subscription(&s, Some(read_at), "subscription.changed").await.unwrap();
    let stale = Subscription { quantity: 1, updated_at: 3_000, ..s.clone() };
    assert!(matches!(
        store.save_subscription(&stale, Some(read_at), "subscription.changed").await,
        Err(StoreError::Stale)
    ));
    let of = |customer: Uuid| SubscriptionFilter { customer: Some(customer), ..SubscriptionFilter::default() };
    assert_eq!(store.subscriptions(&of(ana), 10).await.unwrap().len(), 1);
    assert!(store.subscriptions(&of(Uuid::now_v7()), 10).await.unwrap().is_empty());
    // Filters and pages (newest first).
    let mut other = s.clone();
    (other.id, other.customer_id) = (Uuid::now_v7(), Uuid::now_v7());
    (other.sku, other.status) = ("BOX-MONTHLY".into(), SubscriptionStatus::Paused);
    store.save_subscription(&other, None, "subscription.created").await.unwrap();
    let by = |status, sku: Option<&str>, before| SubscriptionFilter {
        status,
        sku: sku.map(str::to_owned),
        before,
        ..SubscriptionFilter::default()
    };
    let ids = |v: Vec<Subscription>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(ids(store.subscriptions(&by(None, None, None), 10).await.unwrap()), [other.id, s.id], "newest first");
    assert_eq!(ids(store.subscriptions(&by(None, None, None), 1).await.unwrap()), [other.id]);
    assert_eq!(ids(store.subscriptions(&by(None, None, Some(other.id)), 1).await.unwrap()), [s.id], "the next page");
    assert_eq!(
        ids(store.subscriptions(&by(Some(SubscriptionStatus::Paused), None, None), 10).await.unwrap()),
        [other.id]
    );
    assert_eq!(ids(store.subscriptions(&by(None, Some("BOX-MONTHLY"), None), 10).await.unwrap()), [other.id]);
    let none = by(Some(SubscriptionStatus::Active), Some("BOX-MONTHLY"), None);
    assert!(store.subscriptions(&none, 10).await.unwrap().is_empty());

    let due = s.next_at;
    assert!(store.claim_due_subscriptions(due - 1, due + 100, 10).await.unwrap().is_empty(), "not due yet");
    assert_eq!(store.claim_due_subscriptions(due, due + 100, 10).await.unwrap().len(), 1);
    assert!(store.claim_due_subscriptions(due + 50, due + 150, 10).await.unwrap().is_empty(), "leased");
    assert_eq!(store.claim_due_subscriptions(due + 100, due + 200, 10).await.unwrap().len(), 1, "the lease ran out");
    assert!(!store.release_subscription_claim(s.id, due + 100).await.unwrap(), "not an earlier claim's");
    assert!(store.release_subscription_claim(s.id, due + 200).await.unwrap());
    assert_eq!(store.claim_due_subscriptions(due + 101, due + 300, 10).await.unwrap().len(), 1, "given back early");
    // A claiming whose answer was lost: every claim of its lease is given back, no other.
    assert_eq!(store.release_subscription_claims(due + 299).await.unwrap(), 0, "another lease");
    assert_eq!(store.release_subscription_claims(due + 300).await.unwrap(), 1);
    assert_eq!(store.claim_due_subscriptions(due + 102, due + 400, 10).await.unwrap().len(), 1, "claimable again");

    let r = store.renewal(s.id, 1).await.unwrap();
    assert_eq!((r.period, r.cart_id, r.order_id), (1, None, None));
    let cart = Uuid::now_v7();
    assert_eq!(store.set_renewal_cart(s.id, 1, cart).await.unwrap(), cart);
    assert_eq!(store.set_renewal_cart(s.id, 1, Uuid::now_v7()).await.unwrap(), cart, "one cart per period");
    let order = Uuid::now_v7();
    store.set_renewal_order(s.id, 1, order).await.unwrap();
    assert_eq!(store.renewal(s.id, 1).await.unwrap().order_id, Some(order));
    assert_eq!(store.renewal(s.id, 2).await.unwrap().cart_id, None, "each period its own");

    assert_eq!(store.forget_subscriptions(ana).await.unwrap(), 1);
    let gone = store.subscription(s.id).await.unwrap().unwrap();
    assert_eq!((gone.status, gone.payment.token.as_str()), (SubscriptionStatus::Cancelled, ""));
    assert!(store.claim_due_subscriptions(i64::MAX / 2, i64::MAX / 2, 10).await.unwrap().is_empty());
}
