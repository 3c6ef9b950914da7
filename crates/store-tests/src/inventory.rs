//! The behaviours every inventory store must show, through the inventory service.

use chrono::{NaiveDate, Utc};
use rouge_inventory::{
    InventoryError, InventoryRepository, InventoryService, LineRequest, Movement, Receipt, ReservationState,
    ReserveRequest,
};
use rouge_kernel::Outbox;

fn in_days(n: i64) -> Option<NaiveDate> {
    Some(Utc::now().date_naive() + chrono::Duration::days(n))
}

fn receipt(sku: &str, location: &str, batch: &str, expires_in_days: Option<i64>, quantity: i64) -> Receipt {
    Receipt {
        sku: sku.into(),
        location: location.into(),
        batch: batch.into(),
        expires_on: expires_in_days.and_then(in_days),
        quantity,
        reference: Some("PO-1".into()),
    }
}

fn line(sku: &str, quantity: i64) -> LineRequest {
    LineRequest { sku: sku.into(), quantity }
}

async fn assert_ledger_agrees<S: InventoryRepository>(store: &S) {
    assert_eq!(store.discrepancies().await.unwrap(), vec![], "every lot equals the sum of its ledger");
}

/// The one-query sellable figures agree with each SKU's stock read lot by lot.
async fn assert_sellable_agrees<S: InventoryRepository>(svc: &InventoryService<S>) {
    let all = svc.sellable_by_sku().await.unwrap();
    assert!(!all.is_empty());
    for (sku, n) in all {
        assert_eq!(n, svc.stock(&sku).await.unwrap().available, "{sku}");
    }
}

async fn events_of<S: Outbox>(store: &S, kind: &str) -> Vec<serde_json::Value> {
    store
        .events_after(0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == kind)
        .map(|e| e.payload)
        .collect()
}

/// Receive lots, reserve first-expired-first-out (never a lot inside the expiry window),
/// commit one reservation, release another; the ledger explains every number.
pub async fn reservations_take_the_soonest_sellable_expiry_and_the_ledger_agrees<S: InventoryRepository + Outbox>(
    store: S,
) {
    let svc = InventoryService::new(store.clone());
    let late = svc.receive(&receipt("SERUM-30", "main", "B-LATE", Some(400), 10)).await.unwrap();
    let soon = svc.receive(&receipt("SERUM-30", "main", "B-SOON", Some(90), 4)).await.unwrap();
    let inside = svc.receive(&receipt("SERUM-30", "main", "B-EXPIRING", Some(10), 50)).await.unwrap();
    let again = svc.receive(&receipt("SERUM-30", "main", "B-LATE", Some(400), 5)).await.unwrap();
    assert_eq!((again.id, again.on_hand), (late.id, 15), "the same batch at the same place is one lot");

    let level = svc.stock("SERUM-30").await.unwrap();
    assert_eq!((level.on_hand, level.reserved, level.available), (69, 0, 19), "the expiring lot is not for sale");
    assert_eq!(svc.sellable_by_sku().await.unwrap(), vec![("SERUM-30".to_string(), 19)]);

    let held = svc.reserve("checkout-1", &[line("SERUM-30", 3), line("SERUM-30", 3)]).await.unwrap();
    let taken: Vec<(String, i64)> = held.lines.iter().map(|a| (a.batch.clone(), a.quantity)).collect();
    assert_eq!(taken, [("B-SOON".to_string(), 4), ("B-LATE".to_string(), 2)], "soonest expiry first, lines merged");
    assert!(held.lines.iter().all(|a| a.lot_id != inside.id));

    let short = svc.reserve("checkout-2", &[line("SERUM-30", 14)]).await.unwrap_err();
    assert_eq!(short, InventoryError::Insufficient { sku: "SERUM-30".into(), requested: 14, available: 13 });
    assert_eq!(svc.stock("SERUM-30").await.unwrap().available, 13, "a refused reservation holds nothing");

    let other = svc.reserve("checkout-3", &[line("SERUM-30", 5)]).await.unwrap();
    let order = uuid::Uuid::now_v7();
    let sold = svc.commit(held.id, order).await.unwrap();
    assert_eq!((sold.state, sold.order_id), (ReservationState::Committed, Some(order)));
    assert_eq!(svc.commit(held.id, order).await.unwrap(), sold, "committing again to the same order changes nothing");
    assert!(matches!(svc.commit(held.id, uuid::Uuid::now_v7()).await, Err(InventoryError::Conflict(_))));
    svc.release(other.id, "cart abandoned").await.unwrap();
    assert_eq!(svc.release(other.id, "again").await.unwrap().state, ReservationState::Released);
    assert!(matches!(svc.commit(other.id, order).await, Err(InventoryError::Conflict(_))), "released is final");
    assert!(matches!(svc.release(held.id, "late").await, Err(InventoryError::Conflict(_))), "sold is final");

    let level = svc.stock("SERUM-30").await.unwrap();
    assert_eq!((level.on_hand, level.reserved, level.available), (63, 0, 13));
    assert_sellable_agrees(&svc).await;
    assert_eq!(store.lot(soon.id).await.unwrap().unwrap().on_hand, 0);
    assert_eq!(store.orders_of_batch("B-SOON").await.unwrap(), vec![(order, "SERUM-30".to_string(), 4)]);
    assert_eq!(store.orders_of_batch("B-EXPIRING").await.unwrap(), vec![]);

    let kinds: Vec<Movement> = store.ledger("SERUM-30", 0, 100).await.unwrap().iter().map(|e| e.movement).collect();
    use Movement::*;
    assert_eq!(kinds, [Receive, Receive, Receive, Receive, Reserve, Reserve, Reserve, Commit, Commit, Release]);
    assert_ledger_agrees(&store).await;
    assert_eq!(store.rebuild().await.unwrap(), 0, "nothing to rebuild");
}

/// A flash sale at the store: 500 concurrent reservations of one unit against 100 units.
/// Exactly 100 succeed, the rest are told the SKU is sold out, nothing goes negative, and the
/// ledger sums match. `inventory.stock_out` is announced once.
pub async fn concurrent_reservations_never_oversell<S: InventoryRepository + Outbox>(store: S) {
    let svc = InventoryService::new(store.clone());
    svc.receive(&receipt("DROP-LIPSTICK", "main", "L1", Some(700), 60)).await.unwrap();
    svc.receive(&receipt("DROP-LIPSTICK", "store", "L2", Some(500), 40)).await.unwrap();
    let tasks: Vec<_> = (0..500)
        .map(|i| {
            let svc = svc.clone();
            tokio::spawn(async move { svc.reserve(&format!("buyer-{i}"), &[line("DROP-LIPSTICK", 1)]).await })
        })
        .collect();
    let mut held = vec![];
    let mut sold_out = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(r) => held.push(r),
            Err(InventoryError::Insufficient { available: 0, .. }) => sold_out += 1,
            Err(e) => panic!("a buyer got neither stock nor a sold-out answer: {e}"),
        }
    }
    assert_eq!((held.len(), sold_out), (100, 400));
    let level = svc.stock("DROP-LIPSTICK").await.unwrap();
    assert_eq!((level.on_hand, level.reserved, level.available), (100, 100, 0));
    for r in &held {
        svc.commit(r.id, uuid::Uuid::now_v7()).await.unwrap();
    }
    let level = svc.stock("DROP-LIPSTICK").await.unwrap();
    assert_eq!((level.on_hand, level.reserved, level.available), (0, 0, 0));
    assert!(level.lots.iter().all(|l| l.on_hand >= 0 && l.reserved >= 0));
    assert_ledger_agrees(&store).await;
    let out = events_of(&store, "inventory.stock_out").await;
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(events_of(&store, "inventory.stock_low").await.len(), 1);
}

/// Reservations whose time ran out give their stock back.
pub async fn expired_reservations_are_released<S: InventoryRepository + Outbox>(store: S) {
    let svc = InventoryService::new(store.clone());
    svc.receive(&receipt("MASK-1", "main", "M1", None, 2)).await.unwrap();
    let past = ReserveRequest {
        id: uuid::Uuid::now_v7(),
        reference: "slow-shopper".into(),
        lines: vec![line("MASK-1", 2)],
        expires_at: Utc::now().timestamp_millis() - 1,
    };
    store.reserve(&past, &svc.rules()).await.unwrap();
    let fresh = svc.reserve("quick", &[line("MASK-1", 1)]).await;
    assert!(matches!(fresh, Err(InventoryError::Insufficient { available: 0, .. })));
    assert_eq!(events_of(&store, "inventory.stock_out").await.len(), 1);
    assert_eq!(store.expired(Utc::now().timestamp_millis(), 10).await.unwrap(), vec![past.id]);
    assert_eq!(svc.release_expired().await.unwrap(), 1);
    assert_eq!(svc.release_expired().await.unwrap(), 0);
    assert_eq!(store.reservation(past.id).await.unwrap().unwrap().state, ReservationState::Released);
    assert_eq!(svc.stock("MASK-1").await.unwrap().available, 2);
    // The first receipt put it in stock; the release put it back.
    assert_eq!(events_of(&store, "inventory.back_in_stock").await.len(), 2);
    assert_ledger_agrees(&store).await;
}

/// Adjustments, transfers and quarantine never take a lot below what it has reserved, and a
/// batch is one expiry date.
pub async fn adjustments_transfers_and_quarantine_keep_stock_whole<S: InventoryRepository + Outbox>(store: S) {
    let svc = InventoryService::new(store.clone());
    let lot = svc.receive(&receipt("OIL-50", "main", "O1", Some(300), 10)).await.unwrap();
    let clash = svc.receive(&receipt("OIL-50", "main", "O1", Some(301), 1)).await;
    assert!(matches!(clash, Err(rouge_inventory::ReceiveError::Inventory(InventoryError::Conflict(_)))));
    svc.reserve("c", &[line("OIL-50", 6)]).await.unwrap();
    let too_much = svc.adjust(lot.id, -5, "broken bottles").await;
    assert!(matches!(too_much, Err(rouge_inventory::ReceiveError::Inventory(InventoryError::Insufficient { .. }))));
    assert_eq!(svc.adjust(lot.id, -4, "broken bottles").await.unwrap().on_hand, 6);
    assert!(matches!(svc.adjust(lot.id, 0, "x").await, Err(rouge_inventory::ReceiveError::Invalid(_))));
    assert!(matches!(
        svc.transfer(lot.id, "paris", 1).await,
        Err(rouge_inventory::ReceiveError::Inventory(InventoryError::Insufficient { .. }))
    ));
    svc.adjust(lot.id, 3, "found in the back room").await.unwrap();
    let (from, to) = svc.transfer(lot.id, "paris", 2).await.unwrap();
    assert_eq!((from.on_hand, to.on_hand, to.location.as_str(), to.batch.as_str()), (7, 2, "paris", "O1"));
    assert_eq!(to.expires_on, lot.expires_on);
    assert_eq!(store.lots_of_batch("O1").await.unwrap().len(), 2);
    svc.set_quarantine(to.id, true).await.unwrap();
    assert_eq!(svc.stock("OIL-50").await.unwrap().available, 1, "quarantined stock is not for sale");
    assert_sellable_agrees(&svc).await;
    let missing = svc.adjust(uuid::Uuid::now_v7(), 1, "x").await;
    assert!(matches!(missing, Err(rouge_inventory::ReceiveError::Inventory(InventoryError::NotFound(_)))));
    let reasons: Vec<Option<String>> =
        store.ledger("OIL-50", 0, 100).await.unwrap().into_iter().filter_map(|e| e.reason.map(Some)).collect();
    assert_eq!(reasons, [Some("broken bottles".to_string()), Some("found in the back room".to_string())]);
    assert_ledger_agrees(&store).await;
}

/// A retried reservation finds the one its attempt already holds; an order cancelled before
/// its stock was committed gets the held units back, and the commitment arriving afterwards
/// takes nothing.
pub async fn retries_hold_once_and_cancelling_before_commit_gives_stock_back<S: InventoryRepository + Outbox>(
    store: S,
) {
    let svc = InventoryService::new(store.clone());
    svc.receive(&receipt("BALM-1", "main", "K1", Some(400), 5)).await.unwrap();
    let first = svc.reserve("cart-9:key-1", &[line("BALM-1", 2)]).await.unwrap();
    let retry = svc.reserve("cart-9:key-1", &[line("BALM-1", 2)]).await.unwrap();
    assert_eq!(retry.id, first.id, "the retry holds the same stock, not more");
    assert_eq!(svc.stock("BALM-1").await.unwrap().available, 3);

    let order = uuid::Uuid::now_v7();
    let back = svc.restock(first.id).await.unwrap();
    assert_eq!(back.state, ReservationState::Released, "held stock is released, not restocked");
    assert_eq!(svc.restock(first.id).await.unwrap().state, ReservationState::Released, "once");
    assert!(matches!(svc.commit(first.id, order).await, Err(InventoryError::Conflict(_))), "nothing left to sell");
    let level = svc.stock("BALM-1").await.unwrap();
    assert_eq!((level.on_hand, level.reserved, level.available), (5, 0, 5));

    // A new attempt of the same reference after the release holds afresh.
    let again = svc.reserve("cart-9:key-1", &[line("BALM-1", 1)]).await.unwrap();
    assert_ne!(again.id, first.id);
    svc.commit(again.id, order).await.unwrap();
    assert_eq!(svc.restock(again.id).await.unwrap().state, ReservationState::Restocked);
    let level = svc.stock("BALM-1").await.unwrap();
    assert_eq!((level.on_hand, level.reserved, level.available), (5, 0, 5));
    assert_ledger_agrees(&store).await;
}

/// Returned units go back where they came from when they can be sold again, or into a
/// quarantined lot of the same batch when they cannot; more than was sold is refused, and so
/// is a reservation that never sold.
pub async fn returns_come_back_into_their_lots_or_quarantine<S: InventoryRepository + Outbox>(store: S) {
    let svc = InventoryService::new(store.clone());
    let lot = svc.receive(&receipt("CREAM-50", "main", "B-RET", Some(300), 10)).await.unwrap();
    let sold = svc.reserve("order-ret", &[line("CREAM-50", 4)]).await.unwrap();
    svc.commit(sold.id, uuid::Uuid::now_v7()).await.unwrap();
    assert_eq!(svc.stock("CREAM-50").await.unwrap().on_hand, 6);

    let back = svc.take_back(sold.id, &[line("CREAM-50", 1)], true).await.unwrap();
    assert_eq!(back.iter().map(|l| (l.id, l.quarantined)).collect::<Vec<_>>(), [(lot.id, false)]);
    assert_eq!(svc.stock("CREAM-50").await.unwrap().available, 7, "sellable again");

    let opened = svc.take_back(sold.id, &[line("CREAM-50", 2)], false).await.unwrap();
    assert_eq!(opened.len(), 1);
    assert!(opened[0].quarantined && opened[0].id != lot.id, "{opened:?}");
    assert_eq!((opened[0].batch.as_str(), opened[0].on_hand), ("B-RET", 2));
    let level = svc.stock("CREAM-50").await.unwrap();
    assert_eq!((level.on_hand, level.available), (9, 7), "opened units are counted, not sold");

    // What was sold bounds one return (the orders context counts what came back before).
    let too_many = svc.take_back(sold.id, &[line("CREAM-50", 5)], true).await.unwrap_err();
    assert!(matches!(too_many, InventoryError::Conflict(_)), "4 sold: {too_many:?}");
    let held = svc.reserve("order-held", &[line("CREAM-50", 1)]).await.unwrap();
    let never_sold = svc.take_back(held.id, &[line("CREAM-50", 1)], true).await.unwrap_err();
    assert!(matches!(never_sold, InventoryError::Conflict(_)), "{never_sold:?}");
    assert_ledger_agrees(&store).await;
}
