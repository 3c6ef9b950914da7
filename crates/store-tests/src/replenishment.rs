//! The replenishment repository's contract: an order's reminders are added once, buying the
//! variant again cancels the earlier pending ones and shows when she bought it before; a due
//! reminder is claimed by one sender at a time until its lease ends, sent once, found by its
//! token's hash, remembers one cart; a cancelled order's reminders go; erasure removes hers.

use rouge_subscriptions::{Reminder, ReminderKind, ReminderState, ReplenishmentRepository};
use uuid::Uuid;

fn reminder(customer: Uuid, order: Uuid, kind: ReminderKind, bought_at: i64, due_at: i64) -> Reminder {
    Reminder {
        id: Uuid::now_v7(),
        kind,
        customer_id: Some(customer),
        order_id: order,
        sku: "LL-NIA-30".into(),
        quantity: 1,
        bought_at,
        predicted_at: due_at + 7,
        due_at,
        basis: "1 × 30 ml at about 0.50 ml a day".into(),
        state: ReminderState::Pending,
        cart_id: None,
    }
}

pub async fn reminders_are_added_once_superseded_claimed_and_sent_once<S: ReplenishmentRepository>(store: S) {
    let (ana, first, second) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let a = reminder(ana, first, ReminderKind::Runout, 1_000, 5_000);
    store.add_reminders(std::slice::from_ref(&a)).await.unwrap();
    store.add_reminders(&[Reminder { id: Uuid::now_v7(), ..a.clone() }]).await.unwrap();
    assert_eq!(store.reminders_of(ana).await.unwrap().len(), 1, "an order's reminder once");
    assert_eq!(store.bought_before(ana, "LL-NIA-30").await.unwrap(), [1_000]);

    // She buys it again: the first order's pending reminder is moot.
    let b = reminder(ana, second, ReminderKind::Runout, 3_000, 9_000);
    store.add_reminders(std::slice::from_ref(&b)).await.unwrap();
    let mine = store.reminders_of(ana).await.unwrap();
    let states: Vec<ReminderState> = mine.iter().map(|r| r.state).collect();
    assert_eq!(states, [ReminderState::Pending, ReminderState::Cancelled], "newest first: {mine:?}");
    assert_eq!(store.bought_before(ana, "LL-NIA-30").await.unwrap(), [1_000, 3_000]);

    assert!(store.claim_due_reminders(8_000, 8_500, 10).await.unwrap().is_empty(), "not due yet");
    let claimed = store.claim_due_reminders(9_000, 9_500, 10).await.unwrap();
    assert_eq!(claimed.iter().map(|r| r.id).collect::<Vec<_>>(), [b.id]);
    assert!(store.claim_due_reminders(9_100, 9_600, 10).await.unwrap().is_empty(), "leased to one sender");
    assert_eq!(
        store.claim_due_reminders(9_500, 10_000, 10).await.unwrap().len(),
        1,
        "a lease that ran out is taken again"
    );
    assert!(!store.release_reminder_claim(b.id, 9_500).await.unwrap(), "not an earlier claim's");
    assert!(store.release_reminder_claim(b.id, 10_000).await.unwrap());
    assert_eq!(store.claim_due_reminders(9_501, 10_100, 10).await.unwrap().len(), 1, "given back early");
    // A claiming whose answer was lost: every claim of its lease is given back, no other.
    assert_eq!(store.release_reminder_claims(10_099).await.unwrap(), 0, "another lease");
    assert_eq!(store.release_reminder_claims(10_100).await.unwrap(), 1);
    assert_eq!(store.claim_due_reminders(9_502, 10_100, 10).await.unwrap().len(), 1, "claimable again");
    store.mark_sent(b.id, "hash-b", 9_600).await.unwrap();
    assert!(store.claim_due_reminders(20_000, 20_500, 10).await.unwrap().is_empty(), "sent once");
    let found = store.by_token("hash-b").await.unwrap().unwrap();
    assert_eq!((found.id, found.state), (b.id, ReminderState::Sent));
    assert!(store.by_token("hash-x").await.unwrap().is_none());
    let cart = Uuid::now_v7();
    assert!(store.set_cart(b.id, cart).await.unwrap());
    assert!(!store.set_cart(b.id, Uuid::now_v7()).await.unwrap(), "one cart per link");
    assert_eq!(store.by_token("hash-b").await.unwrap().unwrap().cart_id, Some(cart));

    // A cancelled order's reminders go; her erasure removes the rest.
    let third = Uuid::now_v7();
    let c = reminder(Uuid::now_v7(), third, ReminderKind::Pao, 4_000, 6_000);
    store.add_reminders(std::slice::from_ref(&c)).await.unwrap();
    store.cancel_reminders(third).await.unwrap();
    assert!(store.claim_due_reminders(30_000, 30_500, 10).await.unwrap().is_empty(), "cancelled");
    assert_eq!(store.forget_reminders(ana).await.unwrap(), 2);
    assert!(store.reminders_of(ana).await.unwrap().is_empty());
}
