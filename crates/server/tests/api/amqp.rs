//! `AMQP_URL` set: a change made through the API reaches RabbitMQ as its event (the publisher's
//! own behaviour is tested in `crates/messaging/tests/amqp.rs`), and a broker that vanishes,
//! cut by a fault-injecting proxy the test owns, loses nothing: writes keep committing, and
//! the backlog reaches the broker in order once it is back.

use crate::faults::{FaultProxy, Mode};
use crate::helpers::{TestApp, test_options};
use rouge_store_tests::broker::Listener;
use serde_json::Value;
use std::time::Duration;

/// The events that reach `listener`: up to `n` of them.
async fn events(listener: &Listener, n: usize) -> Vec<Value> {
    listener.take(n).await.iter().map(|m| serde_json::from_slice(&m.delivery.data).unwrap()).collect()
}

async fn a_change_through_the_api_is_published(pg: bool) {
    let Some(url) = rouge_store_tests::harness::amqp_url().await else { return };
    let listener = Listener::new(&url, "BrandSaved").await;
    let mut opts = test_options();
    (opts.amqp_url, opts.amqp_exchange) = (Some(url), listener.exchange.clone());
    let Some(app) = TestApp::on(pg, opts).await else { return };
    let brand = app.brand("Petal Works").await;
    let got = events(&listener, 1).await;
    let event = got.first().expect("the brand's event reached the broker");
    assert_eq!(event["event_type"], "BrandSaved");
    assert_eq!(event["aggregate_id"], brand["id"]);
    app.stop().await;
    listener.close().await;
}

#[tokio::test]
async fn sqlite_a_change_through_the_api_is_published() {
    a_change_through_the_api_is_published(false).await;
}

#[tokio::test]
async fn postgres_a_change_through_the_api_is_published() {
    a_change_through_the_api_is_published(true).await;
}

async fn a_broker_outage_loses_nothing(pg: bool) {
    let Some(url) = rouge_store_tests::harness::amqp_url().await else { return };
    let listener = Listener::new(&url, "#").await;
    let broker = url.split('@').next_back().unwrap().split('/').next().unwrap().to_owned();
    let proxy = FaultProxy::start(&broker).await;
    let mut opts = test_options();
    opts.amqp_url = Some(url.replace(&broker, &proxy.addr.to_string()));
    opts.amqp_exchange = listener.exchange.clone();
    let Some(app) = TestApp::on(pg, opts).await else { return };
    app.brand("Before The Cut").await;
    assert_eq!(events(&listener, 1).await.len(), 1, "published while the broker is there");

    // The broker vanishes under an open connection (it goes silent: the sneaky case, where
    // only a missing confirm tells), then refuses (reconnecting fails, again and again), then
    // a new connection hears nothing, then it comes back.
    for (mode, names) in [(Mode::Blackhole, 0..7), (Mode::Refuse, 7..14), (Mode::Blackhole, 14..20)] {
        proxy.set(mode);
        for n in names {
            app.brand(&format!("During The Cut {n}")).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    proxy.set(Mode::Pass);

    let got = events(&listener, 20).await;
    let mut seen = std::collections::HashSet::new();
    let first: Vec<i64> =
        got.iter().filter(|e| seen.insert(e["id"].to_string())).map(|e| e["sequence"].as_i64().unwrap()).collect();
    assert_eq!(first.len(), 20, "every event written during the cut reached the broker: {got:?}");
    assert!(first.windows(2).all(|w| w[0] < w[1]), "in commit order: {first:?}");
    app.stop().await;
    listener.close().await;
}

#[tokio::test]
async fn sqlite_a_broker_outage_loses_nothing() {
    a_broker_outage_loses_nothing(false).await;
}

#[tokio::test]
async fn postgres_a_broker_outage_loses_nothing() {
    a_broker_outage_loses_nothing(true).await;
}
