//! The behaviours every orders store must show, method by method of [`OrdersRepository`]:
//! carts and their checkout lease, placing and appending to orders, listing, the sealed
//! contacts' keys, and forgetting a customer. The service's tests run through HTTP; these pin
//! the store's own promises, so a store rewritten underneath keeps them.

use rouge_kernel::{DomainEvent, Outbox};
use rouge_orders::{
    Cart, CartState, Order, OrderEvent, OrderFilter, OrderLine, OrdersRepository, Sealed, Status, StoreError, Totals,
};
use uuid::Uuid;

fn sealed(master: &str, data: &[u8]) -> Sealed {
    Sealed { master_id: master.into(), key: vec![7; 40], data: data.to_vec() }
}

fn cart_of(customer: Option<Uuid>) -> Cart {
    let mut c = Cart::new(customer, "EUR", 1_000);
    c.add("SKU-1", 2, 1500).unwrap();
    c.version = 1;
    c
}

fn placed(cart: &Cart) -> OrderEvent {
    let lines = vec![OrderLine {
        sku: "SKU-1".into(),
        product_id: Uuid::new_v4(),
        name: "Glow Serum".into(),
        quantity: 2,
        unit_price: 1500,
        total: 3000,
        discount: 300,
        tax: 450,
        tax_rate_bp: 2000,
        promotion_id: None,
    }];
    OrderEvent::Placed {
        customer_id: cart.customer_id,
        cart_id: cart.id,
        currency: "EUR".into(),
        lines,
        totals: Totals { subtotal: 3000, discount: 300, shipping: 490, tax: 532, total: 3190 },
        shipping_method: "standard".into(),
        country: "FR".into(),
        region: None,
        reservation_id: Uuid::new_v4(),
        // The order keeps which promotions applied (the store must too).
        promotions: vec![rouge_promotions::Applied {
            promotion_id: Uuid::new_v4(),
            name: "Spring".into(),
            code: Some("SPRING10".into()),
            amount: 300,
            free_shipping: false,
            reason: "10 % off your order".into(),
        }],
        promotion_hold: Some(Uuid::new_v4()),
    }
}

/// Places an order for a fresh cart of `customer`, paid by `payment`; the order as stored.
async fn place<S: OrdersRepository>(store: &S, customer: Option<Uuid>, payment: &str, at: i64) -> (Cart, Order) {
    let cart = cart_of(customer);
    store.save_cart(&cart, Some(&sealed("m1", b"cart contact"))).await.unwrap();
    let first = placed(&cart);
    let authorized =
        OrderEvent::PaymentAuthorized { provider: "test".into(), payment_id: payment.into(), amount: 3190 };
    let mut order = Order::start(Uuid::new_v4(), 0, &first, at).unwrap();
    order.apply(&authorized, at);
    let outbox = [DomainEvent::new("order", order.id, "order.placed", serde_json::json!({"id": order.id}))];
    let order = store.place_order(&order, &[first, authorized], Some(&sealed("m1", b"order contact")), &outbox).await;
    (cart, order.unwrap())
}

/// A cart is saved only over the version it was read at; a customer's open cart is found;
/// the checkout lease goes to one key at a time, returns to its own key, lapses, and is given
/// back.
pub async fn carts_are_versioned_and_leased_to_one_attempt_at_a_time<S: OrdersRepository>(store: S) {
    let ana = Uuid::new_v4();
    let mut cart = cart_of(Some(ana));
    store.save_cart(&cart, Some(&sealed("m1", b"ana's contact"))).await.unwrap();
    let (read, contact) = store.cart(cart.id).await.unwrap().expect("saved");
    assert_eq!((read.lines.len(), read.version, read.state), (1, 1, CartState::Open));
    assert_eq!(contact, Some(sealed("m1", b"ana's contact")));
    assert_eq!(store.cart(Uuid::new_v4()).await.unwrap(), None);

    cart.add("SKU-2", 1, 900).unwrap();
    cart.version = 2;
    store.save_cart(&cart, None).await.unwrap();
    let stale = store.save_cart(&cart, None).await;
    assert!(matches!(stale, Err(StoreError::Stale)), "a second save over version 1: {stale:?}");
    let (read, contact) = store.cart(cart.id).await.unwrap().unwrap();
    assert_eq!((read.lines.len(), read.version), (2, 2));
    assert_eq!(contact, Some(sealed("m1", b"ana's contact")), "a save without a contact keeps the stored one");

    assert_eq!(store.open_cart_of(ana).await.unwrap(), Some(cart.id));
    assert_eq!(store.open_cart_of(Uuid::new_v4()).await.unwrap(), None);

    let now = 10_000;
    let taken = store.lease_checkout(cart.id, Some(ana), "k1", now, now + 500).await.unwrap();
    let (leased, _) = taken.expect("an open cart of hers is leased");
    assert_eq!(leased.id, cart.id);
    assert!(store.lease_checkout(cart.id, Some(ana), "k2", now + 1, now + 501).await.unwrap().is_none(), "held");
    assert!(store.lease_checkout(cart.id, Some(ana), "k1", now + 2, now + 502).await.unwrap().is_some(), "its own key");
    assert!(store.lease_checkout(cart.id, None, "k3", now + 3, now + 503).await.unwrap().is_none(), "not a guest's");
    assert!(store.lease_checkout(cart.id, Some(Uuid::new_v4()), "k3", now + 600, now + 900).await.unwrap().is_none());
    assert!(store.lease_checkout(cart.id, Some(ana), "k2", now + 600, now + 900).await.unwrap().is_some(), "lapsed");
    store.end_lease(cart.id, "k2").await.unwrap();
    assert!(
        store.lease_checkout(cart.id, Some(ana), "k4", now + 601, now + 901).await.unwrap().is_some(),
        "given back"
    );
}

/// Placing writes the order, its events, its number, the cart's completion and the outbox in
/// one go, once per cart; appends are optimistic; lists are newest first and filter; a
/// projection can be replaced.
pub async fn orders_are_placed_once_appended_in_turn_and_listed<S: OrdersRepository + Outbox>(store: S) {
    let ana = Uuid::new_v4();
    let head = store.head().await.unwrap();
    let woken = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = woken.clone();
    store.commit_hook().add(move || {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    });
    let (cart, first) = place(&store, Some(ana), "pay_1", 5_000).await;
    assert_eq!(woken.load(std::sync::atomic::Ordering::SeqCst), 1, "placing woke the relay");
    assert!(first.number > 0 && first.version == 2, "{first:?}");
    let (_, second) = place(&store, None, "pay_2", 6_000).await;
    assert!(second.number > first.number, "numbers increase: {} then {}", first.number, second.number);
    let outbox = store.events_after(head, 10).await.unwrap();
    assert_eq!(outbox.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>(), ["order.placed", "order.placed"]);

    // One order per cart.
    let again = Order::start(Uuid::new_v4(), 0, &placed(&cart), 5_001).unwrap();
    let dup = store.place_order(&again, &[placed(&cart)], None, &[]).await;
    assert!(matches!(&dup, Err(StoreError::Duplicate { field, .. }) if field == "cart"), "{dup:?}");
    let (done, _) = store.cart(cart.id).await.unwrap().unwrap();
    assert_eq!(done.state, CartState::Completed);
    assert_eq!(store.open_cart_of(ana).await.unwrap(), None, "a completed cart is not her open cart");

    assert_eq!(store.order_of_cart(cart.id).await.unwrap(), Some(first.id));
    assert_eq!(store.order_by_payment("pay_1").await.unwrap(), Some(first.id));
    assert_eq!(store.order_by_payment("pay_404").await.unwrap(), None);
    let (read, contact) = store.order(first.id).await.unwrap().expect("placed");
    assert_eq!((read.number, read.status, read.totals.total), (first.number, Status::Authorized, 3190));
    assert_eq!((&read.promotions, read.promotion_hold), (&first.promotions, first.promotion_hold), "promotions kept");
    assert_eq!(read.promotions.len(), 1);
    assert_eq!(contact, Some(sealed("m1", b"order contact")));
    assert_eq!(store.order(Uuid::new_v4()).await.unwrap(), None);

    let mut moved = read.clone();
    let captured = OrderEvent::PaymentCaptured { amount: 3190 };
    moved.apply(&captured, 7_000);
    moved.version = 3;
    let note = [DomainEvent::new("order", moved.id, "order.paid", serde_json::json!({}))];
    let before = woken.load(std::sync::atomic::Ordering::SeqCst);
    store.append_order(&moved, 2, std::slice::from_ref(&captured), &note).await.unwrap();
    assert_eq!(woken.load(std::sync::atomic::Ordering::SeqCst), before + 1, "an append with events woke it");
    let stale = store.append_order(&moved, 2, std::slice::from_ref(&captured), &[]).await;
    assert!(matches!(stale, Err(StoreError::Stale)), "{stale:?}");
    let timeline = store.order_events(first.id).await.unwrap();
    assert_eq!(timeline.iter().map(|t| t.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(matches!(timeline[2].event, OrderEvent::PaymentCaptured { amount: 3190 }));
    assert_eq!(store.order(first.id).await.unwrap().unwrap().0.status, Status::Paid);

    let all = store.orders(&OrderFilter { limit: 10, ..OrderFilter::default() }).await.unwrap();
    assert_eq!(all.iter().map(|o| o.id).collect::<Vec<_>>(), [second.id, first.id], "newest first");
    let hers = store.orders(&OrderFilter { customer_id: Some(ana), limit: 10, ..OrderFilter::default() }).await;
    assert_eq!(hers.unwrap().iter().map(|o| o.id).collect::<Vec<_>>(), [first.id]);
    let paid = store.orders(&OrderFilter { status: Some(Status::Paid), limit: 10, ..OrderFilter::default() }).await;
    assert_eq!(paid.unwrap().iter().map(|o| o.id).collect::<Vec<_>>(), [first.id]);
    let page = OrderFilter { before_number: Some(second.number), limit: 10, ..OrderFilter::default() };
    assert_eq!(store.orders(&page).await.unwrap().iter().map(|o| o.id).collect::<Vec<_>>(), [first.id]);
    assert_eq!(store.orders(&OrderFilter { limit: 1, ..OrderFilter::default() }).await.unwrap().len(), 1);

    let mut ids = store.order_ids().await.unwrap();
    ids.sort_by_key(|(_, n)| *n);
    assert_eq!(ids, [(first.id, first.number), (second.id, second.number)]);

    let mut rebuilt = store.order(second.id).await.unwrap().unwrap().0;
    rebuilt.shipping_method = "express".into();
    store.replace_projection(&rebuilt).await.unwrap();
    assert_eq!(store.order(second.id).await.unwrap().unwrap().0.shipping_method, "express");
}

/// Every sealed contact's key is listed for re-wrapping until it is under the current master
/// key; a re-wrap loses to a concurrent one; forgetting a customer destroys her contacts and
/// keeps her orders' figures.
pub async fn sealed_contacts_are_rewrapped_and_forgotten<S: OrdersRepository>(store: S) {
    let ana = Uuid::new_v4();
    let (cart, order) = place(&store, Some(ana), "pay_a", 5_000).await;
    let (guest_cart, guest_order) = place(&store, None, "pay_g", 6_000).await;

    let old = store.sealed_keys("m2").await.unwrap();
    let mut tables: Vec<(&str, Uuid)> = old.iter().map(|k| (k.table, k.id)).collect();
    tables.sort();
    let mut expected =
        vec![("carts", cart.id), ("carts", guest_cart.id), ("orders", order.id), ("orders", guest_order.id)];
    expected.sort();
    assert_eq!(tables, expected);
    let of_order = old.iter().find(|k| k.id == order.id).unwrap();
    assert_eq!((of_order.owner, of_order.master_id.as_str()), (cart.id, "m1"), "an order's data is bound to its cart");
    assert_eq!(store.contacts_by_master().await.unwrap(), [("m1".to_owned(), 4)]);

    for k in &old {
        assert!(store.replace_sealed_key(k, "m2", &[9; 40]).await.unwrap());
        assert!(!store.replace_sealed_key(k, "m2", &[8; 40]).await.unwrap(), "it changed meanwhile");
    }
    assert_eq!(store.sealed_keys("m2").await.unwrap(), vec![]);
    assert_eq!(store.contacts_by_master().await.unwrap(), [("m2".to_owned(), 4)]);
    let (_, contact) = store.order(order.id).await.unwrap().unwrap();
    assert_eq!(
        contact.map(|s| (s.master_id, s.key, s.data)),
        Some(("m2".into(), vec![9; 40], b"order contact".to_vec()))
    );

    assert_eq!(store.forget_contacts_of(ana).await.unwrap(), 2, "her cart and her order");
    let (kept, contact) = store.order(order.id).await.unwrap().unwrap();
    assert_eq!((contact, kept.totals.total, kept.country.as_str()), (None, 3190, "FR"));
    assert_eq!(store.cart(cart.id).await.unwrap().unwrap().1, None);
    assert!(store.order(guest_order.id).await.unwrap().unwrap().1.is_some(), "others' contacts stay");
    assert_eq!(store.forget_contacts_of(ana).await.unwrap(), 0);
}
