//! The outbox published to a real RabbitMQ, on SQLite and on PostgreSQL: every event once, in
//! commit order, with its id, type and aggregate; the position survives a restart, so nothing
//! is published twice; a second replica stands by while the first holds the lease.

use lapin::types::AMQPValue;
use rouge_catalog::CatalogService;
use rouge_kernel::{DomainEvent, Outbox, Relays};
use rouge_messaging::amqp::{AmqpPublisher, RELAY, spawn_publisher};
use rouge_store_tests::broker::Listener;
use rouge_store_tests::{fixtures, harness};
use std::time::Duration;
use tokio::sync::watch;

async fn nothing_more(listener: &Listener) {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let extra = listener.next().await;
    assert!(extra.is_none(), "published twice: {:?}", extra.map(|m| m.delivery.properties.message_id().clone()));
}

async fn publishes_the_outbox_once_in_order<S: Outbox + Relays + rouge_catalog::CatalogRepository>(
    store: S,
    url: &str,
) {
    let listener = Listener::new(url, "#").await;
    let exchange = listener.exchange.clone();
    let catalog = CatalogService::new(store.clone());
    // The publisher's place is taken before the writes (a new one starts at the outbox's head).
    let now = chrono::Utc::now().timestamp_millis();
    assert_eq!(store.claim_relay(RELAY, "replica-a", now, now + 15_000).await.unwrap(), Some(0));
    for name in ["Lumen Lab", "Petal Works", "Rose & Co"] {
        catalog.create_brand(fixtures::brand(name)).await.unwrap();
    }
    let written: Vec<DomainEvent> = store.events_after(0, 100).await.unwrap();
    assert_eq!(written.len(), 3);

    let (stop, stopped) = watch::channel(false);
    let first = spawn_publisher(store.clone(), AmqpPublisher::new(url, &exchange), "replica-a".into(), stopped.clone());
    let got = listener.take(3).await;
    let ids: Vec<String> =
        got.iter().map(|m| m.delivery.properties.message_id().clone().unwrap().to_string()).collect();
    assert_eq!(ids, written.iter().map(|e| e.id.to_string()).collect::<Vec<_>>(), "every event, in commit order");
    for (m, e) in got.iter().zip(&written) {
        assert_eq!(m.delivery.routing_key.as_str(), e.event_type);
        let body: DomainEvent = serde_json::from_slice(&m.delivery.data).unwrap();
        assert_eq!(&body, e);
        let headers = m.delivery.properties.headers().clone().unwrap();
        let aggregate = headers.inner().get("aggregate_id").cloned();
        assert_eq!(aggregate, Some(AMQPValue::LongString(e.aggregate_id.to_string().as_str().into())));
        assert_eq!(m.delivery.properties.delivery_mode(), &Some(2), "persistent");
    }
    nothing_more(&listener).await;
    // A second replica stands by while the first holds the lease: a new event leaves once.
    let second = spawn_publisher(store.clone(), AmqpPublisher::new(url, &exchange), "replica-b".into(), stopped);
    catalog.create_brand(fixtures::brand("While Two Run")).await.unwrap();
    assert_eq!(listener.take(1).await.len(), 1);
    nothing_more(&listener).await;
    stop.send(true).unwrap();
    first.await.unwrap();
    second.await.unwrap();

    // Restarted (the same replica): it carries on from the recorded position.
    let now = chrono::Utc::now().timestamp_millis();
    let last = store.head().await.unwrap();
    assert_eq!(store.claim_relay(RELAY, "replica-a", now, now + 10_000).await.unwrap(), Some(last));
    let (stop, stopped) = watch::channel(false);
    let again = spawn_publisher(store.clone(), AmqpPublisher::new(url, &exchange), "replica-a".into(), stopped);
    catalog.create_brand(fixtures::brand("After The Restart")).await.unwrap();
    let got = listener.take(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].delivery.routing_key.as_str(), "BrandSaved");
    nothing_more(&listener).await;
    stop.send(true).unwrap();
    again.await.unwrap();
    listener.close().await;
}

#[tokio::test]
async fn sqlite_the_outbox_reaches_rabbitmq_once_in_order() {
    let Some(url) = harness::amqp_url().await else { return };
    let db = harness::sqlite().await;
    publishes_the_outbox_once_in_order(db.store.clone(), &url).await;
}

#[tokio::test]
async fn postgres_the_outbox_reaches_rabbitmq_once_in_order() {
    let Some(url) = harness::amqp_url().await else { return };
    let Some(db) = harness::postgres().await else { return };
    publishes_the_outbox_once_in_order(db.store.clone(), &url).await;
    db.cleanup().await;
}
