//! The consumers on a real RabbitMQ, on SQLite and on PostgreSQL: a work consumer run by two
//! replicas handles each event once, each aggregate's events in commit order; a redelivered message is not applied
//! again (the inbox); a failure is retried through the broker's delay queues and, after the
//! last attempt, parked in the dead-letter queue and listed, and its replay is handled; every
//! replica's read models see every event once, in order, including those committed before
//! they attached.

use futures::future::BoxFuture;
use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use rouge_catalog::CatalogService;
use rouge_kernel::{DeliveryLog, DeliveryState, DomainEvent, Outbox, Relays};
use rouge_messaging::amqp::{AmqpPublisher, spawn_publisher};
use rouge_messaging::broker::{Topology, redeliver, spawn_read_models, spawn_work};
use rouge_messaging::durable::{Handler, RetryPolicy};
use rouge_store_tests::{fixtures, harness};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Notes every attempt on a brand's event; "Fails Twice" fails its first two attempts, "Always
/// Fails" every one until `healed`.
#[derive(Clone, Default)]
struct Recorder {
    /// (brand, its version, handled)
    attempts: Arc<Mutex<Vec<(String, i64, bool)>>>,
    healed: Arc<AtomicBool>,
}

impl Recorder {
    fn tries(&self, name: &str) -> usize {
        self.attempts.lock().unwrap().iter().filter(|(n, _, _)| n == name).count()
    }

    /// The versions of `name` handled, in the order they were.
    fn handled(&self, name: &str) -> Vec<i64> {
        self.attempts.lock().unwrap().iter().filter(|(n, _, ok)| *ok && n == name).map(|(_, v, _)| *v).collect()
    }

    fn successes(&self) -> usize {
        self.attempts.lock().unwrap().iter().filter(|(_, _, ok)| *ok).count()
    }
}

fn brand(e: &DomainEvent) -> (String, i64) {
    match rouge_catalog::CatalogEvent::from_envelope(e) {
        Some(rouge_catalog::CatalogEvent::BrandSaved(b)) => (b.name, b.version),
        other => panic!("not a brand's event: {other:?}"),
    }
}

fn brand_name(e: &DomainEvent) -> String {
    brand(e).0
}

impl Handler for Recorder {
    fn name(&self) -> &'static str {
        "brand-test"
    }

    fn events(&self) -> &'static [&'static str] {
        &["BrandSaved"]
    }

    fn handle(&self, e: DomainEvent) -> BoxFuture<'static, Result<(), String>> {
        let me = self.clone();
        Box::pin(async move {
            let (name, version) = brand(&e);
            // A first version takes its time: were one aggregate's events handled side by side,
            // the later ones would overtake it.
            if version == 1 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let tried = me.tries(&name);
            let ok = match name.as_str() {
                "Fails Twice" => tried >= 2,
                "Always Fails" => me.healed.load(Ordering::SeqCst),
                _ => true,
            };
            me.attempts.lock().unwrap().push((name, version, ok));
            if ok { Ok(()) } else { Err("the test says no".into()) }
        })
    }
}

async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn work_consumers_handle_each_event_once<S>(store: S, url: &str)
where
    S: Outbox + Relays + DeliveryLog + rouge_catalog::CatalogRepository,
{
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let exchange = format!("rouge.events.test.{}", uuid::Uuid::now_v7().simple());
    let recorder = Recorder::default();
    let handler: Arc<dyn Handler> = Arc::new(recorder.clone());
    let policy = RetryPolicy { max_attempts: 3, backoff: Duration::from_millis(200) };
    let topology = Arc::new(Topology::new(&exchange, std::slice::from_ref(&handler), policy));
    let (stop, stopped) = watch::channel(false);
    let now = chrono::Utc::now().timestamp_millis();
    store.claim_relay(rouge_messaging::amqp::RELAY, "replica-a", now, now + 15_000).await.unwrap();
    let publisher = AmqpPublisher::new(url, &exchange).with_topology(topology.as_ref().clone());
    let relay = spawn_publisher(store.clone(), publisher, "replica-a".into(), stopped.clone());
    // Two replicas run the consumer: the queue's single active consumer takes the messages.
    let replicas: Vec<_> = (0..2)
        .map(|_| spawn_work(url.to_owned(), topology.clone(), store.clone(), handler.clone(), stopped.clone()))
        .collect();

    let catalog = CatalogService::new(store.clone());
    let names: Vec<String> = (0..12).map(|i| format!("Brand {i:02}")).collect();
    let mut ids = vec![];
    for (i, name) in names.iter().enumerate() {
        ids.push(catalog.create_brand(fixtures::brand(name)).await.unwrap().id);
        if i == 3 {
            catalog.create_brand(fixtures::brand("Fails Twice")).await.unwrap();
            catalog.create_brand(fixtures::brand("Always Fails")).await.unwrap();
        }
    }
    // Each brand changes twice more, the brands' changes interleaved.
    for round in 2..=3 {
        for id in &ids {
            let patch = serde_json::json!({"description": format!("Edition {round}.")});
            catalog.update_brand(*id, None, &patch).await.unwrap();
        }
    }
    eventually("every change handled", || recorder.successes() == names.len() * 3 + 1).await;
    for name in &names {
        assert_eq!(recorder.handled(name), [1, 2, 3], "{name}: each event once across both replicas, in order");
    }
    assert_eq!(recorder.tries("Fails Twice"), 3, "two failures retried through the broker, then handled");
    eventually("the last attempt parked", || recorder.tries("Always Fails") == 3).await;

    // Parked: in the dead-letter queue and in the list staff see.
    let conn = Connection::connect(url, ConnectionProperties::default()).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    let dead = topology.dead_queue("brand-test");
    let mut parked = None;
    for _ in 0..200 {
        parked = rouge_store_tests::broker::waiting(&ch, &dead).await;
        if parked > Some(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(parked, Some(1), "the dead-letter queue holds it");
    let listed = store.failed_deliveries(10).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!((listed[0].state, listed[0].attempts), (DeliveryState::Dead, 3));
    assert_eq!(brand_name(&listed[0].event), "Always Fails");

    // A message the broker delivers again (a consumer died before its ack) is not applied twice.
    let again = store.events_after(0, 100).await.unwrap().into_iter().find(|e| brand_name(e) == "Brand 05").unwrap();
    let body = serde_json::to_vec(&again).unwrap();
    let queue = topology.work_queue("brand-test");
    ch.basic_publish(
        "".into(),
        queue.as_str().into(),
        BasicPublishOptions::default(),
        &body,
        BasicProperties::default(),
    )
    .await
    .unwrap();

    // The cause fixed, staff replay the dead letter: it is handled.
    recorder.healed.store(true, Ordering::SeqCst);
    let event = store.replay_delivery("brand-test", listed[0].event.id, chrono::Utc::now().timestamp_millis()).await;
    redeliver(url, &topology, "brand-test", &event.unwrap().unwrap()).await.unwrap();
    eventually("the replayed letter handled", || recorder.tries("Always Fails") == 4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(recorder.handled("Brand 05"), [1, 2, 3], "the redelivery was not applied");
    assert_eq!(store.delivery_backlog().await.unwrap(), (0, 0), "nothing retrying or dead");

    stop.send(true).unwrap();
    relay.await.unwrap();
    for r in replicas {
        r.await.unwrap();
    }
    topology.delete(&ch).await.unwrap();
}

#[tokio::test]
async fn sqlite_work_consumers_handle_each_event_once() {
    let Some(url) = harness::amqp_url().await else { return };
    let db = harness::sqlite().await;
    work_consumers_handle_each_event_once(db.store.clone(), &url).await;
}

#[tokio::test]
async fn postgres_work_consumers_handle_each_event_once() {
    let Some(url) = harness::amqp_url().await else { return };
    let Some(db) = harness::postgres().await else { return };
    work_consumers_handle_each_event_once(db.store.clone(), &url).await;
    db.cleanup().await;
}

async fn every_replica_sees_every_event<S>(store: S, url: &str)
where
    S: Outbox + Relays + rouge_catalog::CatalogRepository,
{
    let exchange = format!("rouge.events.test.{}", uuid::Uuid::now_v7().simple());
    let (stop, stopped) = watch::channel(false);
    let catalog = CatalogService::new(store.clone());
    let before = store.head().await.unwrap();
    // The publisher's place is taken first: everything from here on is published.
    let now = chrono::Utc::now().timestamp_millis();
    store.claim_relay(rouge_messaging::amqp::RELAY, "replica-a", now, now + 15_000).await.unwrap();
    catalog.create_brand(fixtures::brand("Before They Attach")).await.unwrap();
    let relay = spawn_publisher(store.clone(), AmqpPublisher::new(url, &exchange), "replica-a".into(), stopped.clone());
    let mut seen = HashMap::new();
    let mut tasks = vec![];
    for replica in ["r1", "r2"] {
        let got: Arc<Mutex<Vec<i64>>> = Arc::default();
        let g = got.clone();
        let subscriber: rouge_messaging::Subscriber =
            Arc::new(move |events| g.lock().unwrap().extend(events.iter().map(|e| e.sequence)));
        let (_, task) = spawn_read_models(
            url.to_owned(),
            exchange.clone(),
            format!("{replica}-{}", uuid::Uuid::now_v7().simple()),
            store.clone(),
            before,
            &[],
            vec![subscriber],
            stopped.clone(),
        );
        seen.insert(replica, got);
        tasks.push(task);
    }
    // A replica whose read models want categories only: its queue brings just those.
    let categories: Arc<Mutex<Vec<i64>>> = Arc::default();
    let c = categories.clone();
    let only: rouge_messaging::Subscriber = Arc::new(move |events| {
        c.lock().unwrap().extend(events.iter().filter(|e| e.event_type == "CategorySaved").map(|e| e.sequence))
    });
    let (picky, task) = spawn_read_models(
        url.to_owned(),
        exchange.clone(),
        format!("r3-{}", uuid::Uuid::now_v7().simple()),
        store.clone(),
        before,
        &["CategorySaved"],
        vec![only],
        stopped.clone(),
    );
    tasks.push(task);
    for i in 0..20 {
        catalog.create_brand(fixtures::brand(&format!("Brand {i:02}"))).await.unwrap();
        if i == 9 {
            catalog.create_category(fixtures::category("Serums", None)).await.unwrap();
        }
    }
    let all = store.events_after(before, 100).await.unwrap();
    let written: Vec<i64> = all.iter().map(|e| e.sequence).collect();
    assert_eq!(written.len(), 22);
    let serums = all.iter().find(|e| e.event_type == "CategorySaved").unwrap().sequence;
    eventually("the picky replica has the category", || categories.lock().unwrap().contains(&serums)).await;
    assert!(picky.delivered() >= serums);
    assert_eq!(*categories.lock().unwrap(), [serums], "it read the category once");
    for (replica, got) in &seen {
        eventually(&format!("{replica} sees every event"), || got.lock().unwrap().len() >= written.len()).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (replica, got) in &seen {
        assert_eq!(*got.lock().unwrap(), written, "{replica}: every event once, in commit order");
    }
    stop.send(true).unwrap();
    relay.await.unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let conn = Connection::connect(url, ConnectionProperties::default()).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.exchange_delete(exchange.as_str().into(), Default::default()).await.unwrap();
}

#[tokio::test]
async fn sqlite_every_replica_sees_every_event() {
    let Some(url) = harness::amqp_url().await else { return };
    let db = harness::sqlite().await;
    every_replica_sees_every_event(db.store.clone(), &url).await;
}

#[tokio::test]
async fn postgres_every_replica_sees_every_event() {
    let Some(url) = harness::amqp_url().await else { return };
    let Some(db) = harness::postgres().await else { return };
    every_replica_sees_every_event(db.store.clone(), &url).await;
    db.cleanup().await;
}
