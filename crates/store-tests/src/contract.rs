//! The behaviours every catalogue store must show. Each function takes a fresh store.

use crate::fixtures;
use rouge_catalog::ports::{CatalogRepository, RepoError};
use rouge_catalog::{CatalogError, CatalogEvent, CatalogService};
use serde_json::json;

async fn with_brand<S: CatalogRepository>(store: &S) -> CatalogService<S> {
    let svc = CatalogService::new(store.clone());
    svc.create_brand(fixtures::brand("Lumen Lab")).await.expect("brand");
    svc
}

pub async fn product_round_trips<S: CatalogRepository>(store: S) {
    let svc = with_brand(&store).await;
    let created = svc.create_product(fixtures::product("Niacinamide Serum", "lumen-lab", "LL-NIA-30")).await.unwrap();
    assert_eq!(store.product(created.id).await.unwrap().as_ref(), Some(&created));
    assert_eq!(store.product_by_slug("niacinamide-serum").await.unwrap().as_ref(), Some(&created));
    assert_eq!(store.products().await.unwrap(), vec![created.clone()]);
    assert_eq!(store.product_count().await.unwrap(), 1);
    assert!(store.product_by_slug("missing").await.unwrap().is_none());
}

pub async fn writes_put_their_events_in_the_outbox_in_order<S: CatalogRepository>(store: S) {
    let svc = with_brand(&store).await;
    let p = svc.create_product(fixtures::product("Serum", "lumen-lab", "SKU-1")).await.unwrap();
    svc.update_product(
        p.id,
        Some(1),
        &json!({"variants": [{"id": p.variants[0].id, "sku": "SKU-1", "price": {"amount": 1999, "currency": "EUR"}}]}),
    )
    .await
    .unwrap();
    let events = store.events_after(0, 100).await.unwrap();
    let names: Vec<_> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(names, ["BrandSaved", "ProductCreated", "ProductUpdated", "VariantPriceChanged"]);
    assert!(events.windows(2).all(|w| w[0].sequence < w[1].sequence));
    assert_eq!(store.head().await.unwrap(), events.last().unwrap().sequence);
    assert_eq!(store.events_after(events[1].sequence, 1).await.unwrap()[0].event_type, "ProductUpdated");
    match CatalogEvent::from_envelope(&events[3]) {
        Some(CatalogEvent::VariantPriceChanged { old, new, .. }) => {
            assert_eq!((old.amount(), new.amount()), (2500, 1999))
        }
        other => panic!("expected a price change, got {other:?}"),
    }
}

pub async fn duplicate_slug_is_refused_and_changes_nothing<S: CatalogRepository>(store: S) {
    let svc = with_brand(&store).await;
    svc.create_product(fixtures::product("Serum", "lumen-lab", "SKU-1")).await.unwrap();
    let head = store.head().await.unwrap();
    let err = svc.create_product(fixtures::product("Serum", "lumen-lab", "SKU-2")).await.unwrap_err();
    assert!(matches!(&err, CatalogError::Conflict(_, f) if f.field == "slug"), "{err:?}");
    assert_eq!(store.product_count().await.unwrap(), 1);
    assert_eq!(store.head().await.unwrap(), head, "no event for a refused write");
}

pub async fn a_sku_belongs_to_one_product<S: CatalogRepository>(store: S) {
    let svc = with_brand(&store).await;
    let first = svc.create_product(fixtures::product("Serum", "lumen-lab", "SKU-1")).await.unwrap();
    let err = svc.create_product(fixtures::product("Toner", "lumen-lab", "SKU-1")).await.unwrap_err();
    assert!(matches!(&err, CatalogError::Conflict(_, f) if f.field == "sku"), "{err:?}");
    assert_eq!(store.product_count().await.unwrap(), 1);
    // Renaming the first product's SKU frees the old one.
    let v = first.variants[0].id;
    svc.update_variant(first.id, v, None, &json!({"sku": "SKU-9"})).await.unwrap();
    svc.create_product(fixtures::product("Toner", "lumen-lab", "SKU-1")).await.expect("SKU-1 is free again");
}

pub async fn stale_writes_are_refused<S: CatalogRepository>(store: S) {
    let svc = with_brand(&store).await;
    let p = svc.create_product(fixtures::product("Serum", "lumen-lab", "SKU-1")).await.unwrap();
    let mut stale = p.clone();
    stale.version = 5;
    assert_eq!(store.save_product(&stale, &[]).await, Err(RepoError::Stale));
    let err = svc.update_product(p.id, Some(7), &json!({"name": "New"})).await.unwrap_err();
    assert!(matches!(err, CatalogError::Stale(_)));
    assert_eq!(store.product(p.id).await.unwrap().unwrap().name, "Serum");
}

pub async fn concurrent_updates_of_one_version_let_one_win<S: CatalogRepository>(store: S) {
    let svc = with_brand(&store).await;
    let p = svc.create_product(fixtures::product("Serum", "lumen-lab", "SKU-1")).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let mut next = p.clone();
            next.version = 2;
            next.name = format!("Serum {i}");
            let store = store.clone();
            tokio::spawn(async move { store.save_product(&next, &[]).await })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => wins += 1,
            Err(RepoError::Stale) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(store.product(p.id).await.unwrap().unwrap().version, 2);
}

pub async fn brands_categories_and_attributes_keep_their_keys_unique<S: CatalogRepository>(store: S) {
    let svc = with_brand(&store).await;
    let err = svc.create_brand(fixtures::brand("Lumen Lab")).await.unwrap_err();
    assert!(matches!(&err, CatalogError::Conflict(_, f) if f.field == "slug"));
    let skincare = svc.create_category(fixtures::category("Skincare", None)).await.unwrap();
    let serums = svc.create_category(fixtures::category("Serums", Some("skincare"))).await.unwrap();
    assert_eq!(serums.parent_id, Some(skincare.id));
    assert!(svc.create_category(fixtures::category("Serums", None)).await.is_err());
    let cycle = svc.update_category(skincare.id, None, &json!({"parent": "serums"})).await.unwrap_err();
    assert!(matches!(cycle, CatalogError::Invalid(_)), "a category cannot move under its child");
    let def = rouge_catalog::input::AttributeDefinitionInput {
        product_type: rouge_catalog::ProductType::Tools,
        name: "bristle".into(),
        label: "Bristle".into(),
        kind: rouge_catalog::AttributeKind::Enum { values: vec!["synthetic".into()] },
        filterable: true,
    };
    svc.define_attribute(def.clone()).await.unwrap();
    let err = svc.define_attribute(def).await.unwrap_err();
    assert!(matches!(&err, CatalogError::Conflict(_, f) if f.field == "name"), "{err:?}");
    assert_eq!(store.brands().await.unwrap().len(), 1);
    assert_eq!(store.categories().await.unwrap().len(), 2);
    assert_eq!(store.attributes().await.unwrap().len(), 1);
}

pub async fn archiving_keeps_the_product_but_unlists_it<S: CatalogRepository>(store: S) {
    let svc = with_brand(&store).await;
    let p = svc.create_product(fixtures::product("Serum", "lumen-lab", "SKU-1")).await.unwrap();
    let archived = svc.archive_product(p.id, Some(1)).await.unwrap();
    assert!(!archived.is_listed());
    assert_eq!(store.product(p.id).await.unwrap().unwrap().status, rouge_catalog::ProductStatus::Archived);
    let last = store.events_after(0, 100).await.unwrap().pop().unwrap();
    assert_eq!(last.event_type, "ProductArchived");
}

/// Consumers' delivery records: each event is claimed once per consumer however many times
/// (or replicas) ask, in batches; finished ones are marked done and purged later; a claim
/// whose outcome never came (its server died) comes due for a retry after the lease.
pub async fn deliveries_are_claimed_once_and_unfinished_ones_come_due<S: rouge_kernel::DeliveryLog>(store: S) {
    use rouge_kernel::DomainEvent;
    let event = |kind: &str| DomainEvent::new("order", uuid::Uuid::now_v7(), kind, json!({"n": 1}));
    let (a, b, c) = (event("order.placed"), event("order.placed"), event("order.placed"));
    let now = chrono::Utc::now().timestamp_millis();
    let sorted = |mut v: Vec<uuid::Uuid>| {
        v.sort();
        v
    };

    let first = store.begin_deliveries("order-email", &[a.clone(), b.clone()], now, 1_000).await.unwrap();
    assert_eq!(sorted(first), sorted(vec![a.id, b.id]));
    let second = store.begin_deliveries("order-email", &[b.clone(), c.clone()], now, 1_000).await.unwrap();
    assert_eq!(second, vec![c.id], "b was claimed already");
    assert_eq!(
        store.begin_deliveries("stock", std::slice::from_ref(&a), now, 1_000).await.unwrap(),
        vec![a.id],
        "per consumer"
    );
    assert!(store.begin_deliveries("stock", &[], now, 1_000).await.unwrap().is_empty());

    store.record_successes("order-email", &[a.id, b.id]).await.unwrap();
    assert!(store.take_due(now + 500, 1_000, 10).await.unwrap().is_empty(), "nothing due inside the lease");
    let mut due: Vec<(String, uuid::Uuid)> =
        store.take_due(now + 2_000, 1_000, 10).await.unwrap().into_iter().map(|d| (d.consumer, d.event.id)).collect();
    due.sort();
    let mut expected = vec![("order-email".to_string(), c.id), ("stock".to_string(), a.id)];
    expected.sort();
    assert_eq!(due, expected, "only the unfinished claims come due, each with its event");

    store.record_successes("order-email", &[c.id]).await.unwrap();
    store.record_successes("stock", &[a.id]).await.unwrap();
    assert_eq!(store.purge_done_deliveries(chrono::Utc::now().timestamp_millis() + 1).await.unwrap(), 4);
}

/// The inbox of a broker's consumer: an event it receives is its to handle once; a redelivery
/// while an attempt holds it waits, one after a success or a parking is acknowledged without
/// being applied, and one after a failure is taken again once the pause is over.
pub async fn a_redelivered_event_is_claimed_by_its_id<S: rouge_kernel::DeliveryLog>(store: S) {
    use rouge_kernel::{Claim, DeliveryState, DomainEvent};
    let e = DomainEvent::new("order", uuid::Uuid::now_v7(), "order.placed", json!({"n": 1}));
    let now = 9_000_000;
    let claim = |consumer: &'static str, at: i64| {
        let (store, e) = (store.clone(), e.clone());
        async move { store.claim_deliveries(consumer, std::slice::from_ref(&e), at, 1_000).await.unwrap()[0] }
    };
    assert_eq!(claim("stock", now).await, Claim::Mine);
    assert_eq!(claim("stock", now + 10).await, Claim::Busy, "an attempt holds it");
    assert_eq!(
        claim("stock", now + 1_001).await,
        Claim::Mine,
        "an attempt whose outcome never came is presumed lost after its lease"
    );
    let state = store.record_failure("stock", &e, "lock timeout", now + 1_100, 3, 500).await.unwrap();
    assert_eq!(state, DeliveryState::Retrying);
    assert_eq!(claim("stock", now + 1_200).await, Claim::Busy, "not due yet");
    assert_eq!(claim("stock", now + 1_600).await, Claim::Mine, "due again");
    store.record_successes("stock", &[e.id]).await.unwrap();
    assert_eq!(
        claim("stock", now + 9_999).await,
        Claim::Settled,
        "a redelivery after the success is not applied again"
    );
    assert_eq!(claim("order-email", now).await, Claim::Mine, "per consumer");
    assert_eq!(store.record_failure("order-email", &e, "smtp down", now, 1, 500).await.unwrap(), DeliveryState::Dead);
    assert_eq!(claim("order-email", now + 9_999).await, Claim::Settled, "parked");
    let listed = store.failed_deliveries(10).await.unwrap();
    assert_eq!(listed.len(), 1, "the success is not a failed delivery; the dead letter is: {listed:?}");
    assert_eq!((listed[0].consumer.as_str(), listed[0].attempts), ("order-email", 1));

    // A batch: one answer per event, in order.
    let (f, g) = (event_of(2), event_of(3));
    assert_eq!(store.claim_deliveries("stock", std::slice::from_ref(&f), now, 1_000).await.unwrap(), [Claim::Mine]);
    let batch = [e.clone(), f, g];
    assert_eq!(
        store.claim_deliveries("stock", &batch, now + 10, 1_000).await.unwrap(),
        [Claim::Settled, Claim::Busy, Claim::Mine]
    );
}

fn event_of(n: i64) -> rouge_kernel::DomainEvent {
    rouge_kernel::DomainEvent::new("order", uuid::Uuid::now_v7(), "order.placed", json!({"n": n}))
}

/// An idempotency key is claimed once; the same request meanwhile is "in flight", another
/// request with it a mismatch; the stored answer is replayed; an abandoned or dead claim is
/// taken again; answers are re-sealed in pages, deleted with their owner, and expire.
pub async fn idempotency_keys_claim_answer_replay_and_expire<S: rouge_kernel::IdempotencyStore>(store: S) {
    use rouge_kernel::{Begin, StoredResponse};
    let (lease, ttl) = (60_000, 86_400_000);
    let now = 1_000_000;
    assert_eq!(store.begin("POST /v1/carts", "k1", "h1", now, lease, ttl).await.unwrap(), Begin::Started);
    assert_eq!(store.begin("POST /v1/carts", "k1", "h1", now + 1, lease, ttl).await.unwrap(), Begin::InFlight);
    assert_eq!(store.begin("POST /v1/carts", "k1", "h2", now + 1, lease, ttl).await.unwrap(), Begin::Mismatch);
    assert_eq!(
        store.begin("POST /v1/brands", "k1", "h9", now + 1, lease, ttl).await.unwrap(),
        Begin::Started,
        "per scope"
    );

    let answer = StoredResponse {
        status: 201,
        headers: vec![("location".into(), "/v1/carts/c1".into())],
        body: b"sealed answer".to_vec(),
        owner: Some("ana".into()),
    };
    store.finish("POST /v1/carts", "k1", &answer).await.unwrap();
    assert_eq!(store.begin("POST /v1/carts", "k1", "h1", now + 2, lease, ttl).await.unwrap(), Begin::Done(answer));
    assert_eq!(store.begin("POST /v1/carts", "k1", "h2", now + 2, lease, ttl).await.unwrap(), Begin::Mismatch);

    // A failed request frees its key; a claim whose server died is taken over after the lease.
    assert_eq!(store.begin("POST /v1/carts", "k2", "h1", now, lease, ttl).await.unwrap(), Begin::Started);
    store.abandon("POST /v1/carts", "k2", now).await.unwrap();
    assert_eq!(store.begin("POST /v1/carts", "k2", "h1", now + 3, lease, ttl).await.unwrap(), Begin::Started);
    assert_eq!(store.begin("POST /v1/carts", "k2", "h1", now + 10, lease, ttl).await.unwrap(), Begin::InFlight);
    store.abandon("POST /v1/carts", "k2", now).await.unwrap();
    assert_eq!(
        store.begin("POST /v1/carts", "k2", "h1", now + 11, lease, ttl).await.unwrap(),
        Begin::InFlight,
        "a late release of an earlier attempt leaves the claim of the one holding the key"
    );
    assert_eq!(store.begin("POST /v1/carts", "k2", "h1", now + lease + 10, lease, ttl).await.unwrap(), Begin::Started);

    let other = StoredResponse { status: 200, headers: vec![], body: b"bea's".to_vec(), owner: Some("bea".into()) };
    store.finish("POST /v1/carts", "k2", &other).await.unwrap();
    let page = store.stored_bodies(None, 1).await.unwrap();
    assert_eq!(page.len(), 1);
    let rest = store.stored_bodies(Some((&page[0].scope, &page[0].key)), 10).await.unwrap();
    let mut keys: Vec<String> = page.iter().chain(&rest).map(|b| b.key.clone()).collect();
    keys.sort();
    assert_eq!(keys, ["k1", "k2"], "only finished answers, each once across pages");
    assert!(store.replace_body("POST /v1/carts", "k1", b"sealed answer", b"resealed").await.unwrap());
    assert!(
        !store.replace_body("POST /v1/carts", "k1", b"sealed answer", b"again").await.unwrap(),
        "changed meanwhile"
    );
    match store.begin("POST /v1/carts", "k1", "h1", now + 4, lease, ttl).await.unwrap() {
        Begin::Done(r) => assert_eq!(r.body, b"resealed"),
        other => panic!("{other:?}"),
    }

    assert_eq!(store.forget_owner("ana").await.unwrap(), 1);
    assert_eq!(store.begin("POST /v1/carts", "k1", "h1", now + 5, lease, ttl).await.unwrap(), Begin::Started, "gone");
    assert_eq!(store.purge_idempotency(now + ttl - 1).await.unwrap(), 0, "nothing has expired yet");
    assert!(store.purge_idempotency(now + lease + 10 + ttl + 1).await.unwrap() >= 3, "all have expired");
    assert!(store.stored_bodies(None, 10).await.unwrap().is_empty());
}

/// A failed delivery waits twice as long after each failure, is parked after the last
/// attempt, is listed (dead first) and counted, and a dead letter can be replayed once.
pub async fn failed_deliveries_back_off_park_and_replay<S: rouge_kernel::DeliveryLog>(store: S) {
    use rouge_kernel::{DeliveryState, DomainEvent};
    let a = DomainEvent::new("order", uuid::Uuid::now_v7(), "order.placed", json!({"n": 1}));
    let b = DomainEvent::new("order", uuid::Uuid::now_v7(), "order.placed", json!({"n": 2}));
    let now = 5_000_000;
    let state = store.record_failure("mailer", &a, "smtp down", now, 3, 100).await.unwrap();
    assert_eq!(state, DeliveryState::Retrying);
    let listed = store.failed_deliveries(10).await.unwrap();
    assert_eq!((listed[0].attempts, listed[0].next_at, listed[0].last_error.as_str()), (1, now + 100, "smtp down"));
    store.record_failure("mailer", &a, "smtp down", now + 100, 3, 100).await.unwrap();
    assert_eq!(store.failed_deliveries(10).await.unwrap()[0].next_at, now + 100 + 200, "twice as long");
    let parked = store.record_failure("mailer", &a, "still down", now + 300, 3, 100).await.unwrap();
    assert_eq!(parked, DeliveryState::Dead);
    store.record_failure("stock", &b, "lock timeout", now, 3, 100).await.unwrap();
    assert_eq!(store.delivery_backlog().await.unwrap(), (1, 1), "one retrying, one dead");

    let listed = store.failed_deliveries(10).await.unwrap();
    assert_eq!(
        listed.iter().map(|d| (d.consumer.as_str(), d.state)).collect::<Vec<_>>(),
        [("mailer", DeliveryState::Dead), ("stock", DeliveryState::Retrying)],
        "dead letters first"
    );
    assert_eq!(listed[0].event, a, "the event itself is kept");
    let due = store.take_due(now + 100, 1_000, 10).await.unwrap();
    assert_eq!(due.iter().map(|d| d.event.id).collect::<Vec<_>>(), [b.id], "dead letters are not retried");

    assert!(store.replay_delivery("mailer", b.id, now).await.unwrap().is_none(), "no such dead letter");
    assert_eq!(store.replay_delivery("mailer", a.id, now + 400).await.unwrap(), Some(a.clone()), "with its event");
    assert_eq!(store.delivery_backlog().await.unwrap(), (2, 0));
    assert!(store.replay_delivery("mailer", a.id, now + 401).await.unwrap().is_none(), "replayed once");
    let due = store.take_due(now + 5_000, 1_000, 10).await.unwrap();
    let replayed = due.iter().find(|d| d.event.id == a.id).expect("the replayed letter comes due");
    assert_eq!((replayed.consumer.as_str(), replayed.state), ("mailer", DeliveryState::Retrying));
}

/// The outbox's reads by type page through what happened since a moment, oldest first, and
/// find the last event of some types up to a point.
pub async fn the_outbox_pages_by_type_and_time<S: CatalogRepository>(store: S) {
    let svc = with_brand(&store).await;
    let before = chrono::Utc::now() - chrono::Duration::seconds(5);
    for i in 0..3 {
        svc.create_product(fixtures::product(&format!("Serum {i}"), "lumen-lab", &format!("SKU-{i}"))).await.unwrap();
    }
    let first = store.recent_events("ProductCreated", before, 0, 2).await.unwrap();
    assert_eq!(first.len(), 2);
    let rest = store.recent_events("ProductCreated", before, first[1].sequence, 2).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert!(first[1].sequence < rest[0].sequence);
    assert!(first.iter().chain(&rest).all(|e| e.event_type == "ProductCreated"), "only that type");
    let later = chrono::Utc::now() + chrono::Duration::seconds(5);
    assert!(store.recent_events("ProductCreated", later, 0, 10).await.unwrap().is_empty(), "nothing since then");
    // The last event of some types, up to a point.
    let head = store.head().await.unwrap();
    let last = rest[0].sequence;
    assert_eq!(store.last_of(&["BrandSaved", "ProductCreated"], head).await.unwrap(), last);
    assert_eq!(store.last_of(&["ProductCreated"], last - 1).await.unwrap(), first[1].sequence, "at most");
    assert!(store.last_of(&["BrandSaved"], head).await.unwrap() < first[0].sequence);
    assert_eq!(store.last_of(&["Nothing"], head).await.unwrap(), 0);
    assert_eq!(store.last_of(&[], head).await.unwrap(), 0);
}

/// Every commit that adds outbox events wakes whoever waits on the store's commit hook (the
/// relays), once per commit, and a refused write wakes nobody (orders' writes are counted in
/// the `orders` contract).
pub async fn commits_with_events_fire_the_commit_hook<S: CatalogRepository>(store: S) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let fired = std::sync::Arc::new(AtomicUsize::new(0));
    let count = fired.clone();
    store.commit_hook().add(move || {
        count.fetch_add(1, Ordering::SeqCst);
    });
    let svc = with_brand(&store).await;
    assert_eq!(fired.load(Ordering::SeqCst), 1, "the brand's save");
    let p = svc.create_product(fixtures::product("Serum", "lumen-lab", "SKU-1")).await.unwrap();
    assert_eq!(fired.load(Ordering::SeqCst), 2);
    let refused = svc.create_product(fixtures::product("Serum", "lumen-lab", "SKU-2")).await;
    assert!(refused.is_err(), "a taken slug");
    assert_eq!(fired.load(Ordering::SeqCst), 2, "a refused write commits nothing");
    svc.update_product(p.id, Some(1), &json!({"description": "Now with zinc."})).await.unwrap();
    assert_eq!(fired.load(Ordering::SeqCst), 3);
}

/// The health port: the readiness probe and the liveness ping both answer on a live store.
pub async fn the_store_answers_its_health_checks<S: rouge_kernel::Ping>(store: S) {
    store.ping().await.expect("ping");
    store.probe().await.expect("probe");
    // Again: the probe keeps its own connection and reuses it.
    store.probe().await.expect("probe again");
}

/// One replica at a time holds a publisher's lease; its position survives it, only the holder
/// advances it, never backwards, and a lease that ran out passes to another. A new publisher
/// starts at the outbox's head (the shop's history is not published again).
pub async fn one_replica_at_a_time_publishes_and_its_position_is_kept<S: rouge_kernel::Relays + CatalogRepository>(
    store: S,
) {
    with_brand(&store).await;
    let head = store.head().await.unwrap();
    assert!(head > 0);
    assert_eq!(
        store.claim_relay("amqp", "a", 1_000, 6_000).await.unwrap(),
        Some(head),
        "a new publisher starts at the head"
    );
    assert_eq!(store.claim_relay("amqp", "b", 2_000, 7_000).await.unwrap(), None, "a holds it");
    assert_eq!(store.relay_position("amqp").await.unwrap(), Some(head));
    assert_eq!(store.relay_position("never-ran").await.unwrap(), None);
    assert!(store.advance_relay("amqp", "a", 40).await.unwrap());
    assert_eq!(store.relay_position("amqp").await.unwrap(), Some(40));
    assert!(!store.advance_relay("amqp", "b", 50).await.unwrap(), "only the holder advances");
    assert!(!store.advance_relay("amqp", "a", 30).await.unwrap(), "never backwards");
    assert_eq!(store.claim_relay("amqp", "a", 3_000, 8_000).await.unwrap(), Some(40), "the holder renews");
    assert_eq!(store.claim_relay("amqp", "b", 8_001, 13_000).await.unwrap(), Some(40), "b carries on after a's lease");
    assert!(!store.advance_relay("amqp", "a", 60).await.unwrap(), "a lost it");
    assert_eq!(store.claim_relay("other", "a", 8_002, 9_000).await.unwrap(), Some(head), "names are apart");
}
