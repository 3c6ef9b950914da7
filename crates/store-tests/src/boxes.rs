//! The beauty box repository's contract: a month's setup is saved and replaced until it is
//! locked; locking stores its boxes once; what a customer had in earlier months is known; the
//! order that ships a box is recorded once and found again.

use rouge_subscriptions::{BoxFill, BoxInput, BoxMonth, BoxRepository, PoolItem};
use uuid::Uuid;

fn month(m: &str, per_box: u8) -> BoxMonth {
    let input = BoxInput {
        box_sku: "BOX-MONTHLY".into(),
        items_per_box: per_box,
        pool: vec![PoolItem { sku: "A".into(), quantity: 3 }],
    };
    BoxMonth::new(m.into(), input, 1_000)
}

pub async fn a_month_is_set_up_until_locked_and_its_boxes_kept<S: BoxRepository>(store: S) {
    let ana = Uuid::now_v7();
    assert!(store.save_box_month(&month("2026-11", 2)).await.unwrap());
    assert!(store.save_box_month(&month("2026-11", 3)).await.unwrap(), "replaced before the lock");
    assert_eq!(store.box_month("2026-11").await.unwrap().unwrap().items_per_box, 3);
    let (sub, reservation, order) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let mut fills = vec![BoxFill {
        subscription_id: sub,
        customer_id: ana,
        skus: vec!["A".into()],
        short: None,
        reservation_id: Some(reservation),
        order_id: None,
    }];
    assert!(store.lock_box_month("2026-11", &fills, 2_000).await.unwrap());
    assert!(!store.lock_box_month("2026-11", &fills, 3_000).await.unwrap(), "locked once");
    assert!(!store.save_box_month(&month("2026-11", 1)).await.unwrap(), "a locked month does not change");
    let got = store.box_month("2026-11").await.unwrap().unwrap();
    assert_eq!((got.locked, got.items_per_box), (true, 3));
    assert_eq!(store.box_fills("2026-11").await.unwrap(), fills);
    assert!(store.box_of_order(order).await.unwrap().is_none());
    assert_eq!(store.box_of("2026-11", sub).await.unwrap().as_ref(), fills.first());
    assert!(store.box_of("2026-12", sub).await.unwrap().is_none());
    assert!(store.set_box_order("2026-11", sub, order).await.unwrap());
    assert!(!store.set_box_order("2026-11", sub, Uuid::now_v7()).await.unwrap(), "one order ships a box");
    fills[0].order_id = Some(order);
    assert_eq!(store.box_of_order(order).await.unwrap().as_ref(), fills.first());
    assert_eq!(store.box_fills("2026-11").await.unwrap(), fills);
    assert_eq!(store.had_in_boxes(ana, "2026-12").await.unwrap(), ["A"]);
    assert!(store.had_in_boxes(ana, "2026-11").await.unwrap().is_empty(), "only earlier months");
    assert!(store.box_month("2027-01").await.unwrap().is_none());
}
