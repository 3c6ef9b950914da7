//! `AMQP_URL` set: a change made through the API reaches RabbitMQ as its event (the publisher's
//! own behaviour is tested in `crates/messaging/tests/amqp.rs`).

use crate::helpers::{TestApp, test_options};
use lapin::options::{BasicGetOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties, ExchangeKind};
use std::time::Duration;

async fn a_change_through_the_api_is_published(pg: bool) {
    let Some(url) = rouge_store_tests::harness::amqp_url().await else { return };
    let conn = Connection::connect(&url, ConnectionProperties::default()).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    let exchange = format!("rouge.events.api-test.{}", uuid::Uuid::now_v7().simple());
    let durable = ExchangeDeclareOptions { durable: true, ..ExchangeDeclareOptions::default() };
    ch.exchange_declare(exchange.as_str().into(), ExchangeKind::Topic, durable, FieldTable::default()).await.unwrap();
    let q = QueueDeclareOptions { exclusive: true, auto_delete: true, ..QueueDeclareOptions::default() };
    let queue = ch.queue_declare("".into(), q, FieldTable::default()).await.unwrap().name().to_string();
    let bind = QueueBindOptions::default();
    ch.queue_bind(queue.as_str().into(), exchange.as_str().into(), "BrandSaved".into(), bind, FieldTable::default())
        .await
        .unwrap();

    let mut opts = test_options();
    (opts.amqp_url, opts.amqp_exchange) = (Some(url), exchange.clone());
    let Some(app) = TestApp::on(pg, opts).await else { return };
    let brand = app.brand("Petal Works").await;
    let mut got = None;
    for _ in 0..1000 {
        got = ch.basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true }).await.unwrap();
        if got.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let message = got.expect("the brand's event reached the broker");
    let event: serde_json::Value = serde_json::from_slice(&message.delivery.data).unwrap();
    assert_eq!(event["event_type"], "BrandSaved");
    assert_eq!(event["aggregate_id"], brand["id"]);
    app.stop().await;
    ch.exchange_delete(exchange.as_str().into(), Default::default()).await.unwrap();
}

#[tokio::test]
async fn sqlite_a_change_through_the_api_is_published() {
    a_change_through_the_api_is_published(false).await;
}

#[tokio::test]
async fn postgres_a_change_through_the_api_is_published() {
    a_change_through_the_api_is_published(true).await;
}
