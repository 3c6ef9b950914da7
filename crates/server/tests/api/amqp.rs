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
    let topology = rouge_server::topology(&opts);
    let Some(app) = TestApp::on(pg, opts).await else { return };
    let brand = app.brand("Petal Works").await;
    let got = events(&listener, 1).await;
    let event = got.first().expect("the brand's event reached the broker");
    assert_eq!(event["event_type"], "BrandSaved");
    assert_eq!(event["aggregate_id"], brand["id"]);
    assert!(event["trace"].as_str().is_some_and(|t| t.len() == 55), "a new trace: {event}");

    // A caller's W3C trace context travels with the events its request causes.
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let res = app
        .client
        .post(app.url("/v1/admin/brands"))
        .bearer_auth(&app.admin_key)
        .header("traceparent", parent)
        .json(&serde_json::json!({"name": "Traced Works"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    let m = listener.take(1).await.pop().expect("the traced brand's event reached the broker");
    let header = rouge_store_tests::broker::header(&m, "traceparent");
    let body: Value = serde_json::from_slice(&m.delivery.data).unwrap();
    let trace = body["trace"].as_str().unwrap();
    assert_eq!(header.as_deref(), Some(trace), "the header carries the event's trace");
    assert!(trace.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "the caller's trace: {trace}");
    assert!(!trace.contains("00f067aa0ba902b7"), "under a span of ours: {trace}");
    app.stop().await;
    topology.delete(&listener.channel).await.unwrap();
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
    let topology = rouge_server::topology(&opts);
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
    topology.delete(&listener.channel).await.unwrap();
}

#[tokio::test]
async fn sqlite_a_broker_outage_loses_nothing() {
    a_broker_outage_loses_nothing(false).await;
}

#[tokio::test]
async fn postgres_a_broker_outage_loses_nothing() {
    a_broker_outage_loses_nothing(true).await;
}

/// The dead-letter routes on the broker transport: a confirmation that cannot be sent is retried
/// through the broker's delay queues, parked, listed, and its replay sent (the same checks as
/// on the in-process transport).
async fn dead_letters_on_the_broker(pg: bool) {
    let Some(url) = rouge_store_tests::harness::amqp_url().await else { return };
    let mut opts = test_options();
    opts.amqp_url = Some(url.clone());
    opts.amqp_exchange = format!("rouge.events.dead.{}", uuid::Uuid::now_v7().simple());
    let topology = rouge_server::topology(&opts);
    let Some(app) = TestApp::on(pg, opts).await else { return };
    crate::checkout::a_confirmation_email_that_cannot_be_sent_becomes_a_dead_letter_and_is_replayed(&app).await;
    let (_conn, channel) = rouge_store_tests::broker::channel(&url).await;
    let parked = rouge_store_tests::broker::waiting(&channel, &topology.dead_queue("order-email")).await;
    assert_eq!(parked, Some(1), "the letter was parked in the broker's dead-letter queue");
    app.stop().await;
    topology.delete(&channel).await.unwrap();
}

#[tokio::test]
async fn sqlite_dead_letters_on_the_broker() {
    dead_letters_on_the_broker(false).await;
}

#[tokio::test]
async fn postgres_dead_letters_on_the_broker() {
    dead_letters_on_the_broker(true).await;
}

/// Whether every order has its stock committed: (orders, committed).
async fn committed<S: rouge_http::Store>(store: &S) -> (usize, usize) {
    let orders = store.orders(&rouge_orders::OrderFilter { limit: 1000, ..Default::default() }).await.unwrap();
    let mut done = 0;
    for o in &orders {
        let r = store.reservation(o.reservation_id).await.unwrap();
        done += usize::from(
            r.is_some_and(|r| r.state == rouge_inventory::ReservationState::Committed && r.order_id == Some(o.id)),
        );
    }
    (orders.len(), done)
}

/// The drill: the broker is cut for a minute (first silent, then refusing) while shoppers check
/// out, a burst at the start and a trickle after. Every checkout succeeds meanwhile; once the
/// broker is back, every placed order's stock is committed and its confirmation sent, exactly
/// once.
async fn a_minute_without_the_broker_during_a_checkout_burst(pg: bool) {
    use crate::checkout::{SKU, complete, ready_cart, stocked};
    let Some(url) = rouge_store_tests::harness::amqp_url().await else { return };
    let broker = url.split('@').next_back().unwrap().split('/').next().unwrap().to_owned();
    let proxy = FaultProxy::start(&broker).await;
    let mut opts = test_options();
    opts.amqp_url = Some(url.replace(&broker, &proxy.addr.to_string()));
    opts.amqp_exchange = format!("rouge.events.cut.{}", uuid::Uuid::now_v7().simple());
    let topology = rouge_server::topology(&opts);
    let Some(app) = TestApp::on(pg, opts).await else { return };
    stocked(&app, SKU, 200).await;
    let cut = tokio::time::Instant::now();
    proxy.set(Mode::Blackhole);
    let mut numbers = vec![];
    let place = |i: usize| {
        let app = &app;
        async move {
            let cart = ready_cart(app, SKU, 1, None).await;
            let res = complete(app, &cart, Some(&format!("cut-{i}")), "tok_visa", None).await;
            assert_eq!(res.status(), reqwest::StatusCode::CREATED, "checkout {i} during the cut");
            res.json::<Value>().await.unwrap()["number"].as_i64().unwrap()
        }
    };
    // The burst: 24 checkouts, eight at a time.
    for wave in 0..3 {
        let orders = futures::future::join_all((0..8).map(|j| place(wave * 8 + j))).await;
        numbers.extend(orders);
    }
    // The trickle, while the cut lasts: silent for half a minute, then refusing.
    let mut i = 24;
    while cut.elapsed() < Duration::from_secs(60) {
        if cut.elapsed() > Duration::from_secs(30) {
            proxy.set(Mode::Refuse);
        }
        numbers.push(place(i).await);
        i += 1;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let sent_during_cut = app.smtp.mails().len();
    proxy.set(Mode::Pass);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let (orders, done) = match &app.db {
            crate::helpers::Db::Sqlite(d) => committed(&d.store).await,
            crate::helpers::Db::Postgres(d) => committed(&d.store).await,
        };
        let mailed = app.smtp.count_to("camille@example.com");
        if (orders, done, mailed) == (numbers.len(), numbers.len(), numbers.len()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "after the cut: {done} of {orders} orders committed, {mailed} of {} confirmations sent",
            numbers.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sent_during_cut, 0, "no confirmation can leave while the broker is away");
    // Exactly once: a little later, still one confirmation per order.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mails = app.smtp.mails();
    for n in &numbers {
        let subject = format!("Your order #{n} is confirmed");
        assert_eq!(mails.iter().filter(|m| m.contains(&subject)).count(), 1, "order {n}: one confirmation");
    }
    assert_eq!(mails.len(), numbers.len());
    app.stop().await;
    let (_conn, channel) = rouge_store_tests::broker::channel(&url).await;
    topology.delete(&channel).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_minute_without_the_broker_during_a_checkout_burst() {
    a_minute_without_the_broker_during_a_checkout_burst(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_minute_without_the_broker_during_a_checkout_burst() {
    a_minute_without_the_broker_during_a_checkout_burst(true).await;
}

/// Deletes what servers with the default settings declared on the broker for `exchange` (their
/// work consumers' queues, the exchange).
pub async fn forget(url: &str, exchange: &str) {
    let opts = rouge_server::Options { amqp_exchange: exchange.to_owned(), ..rouge_server::Options::default() };
    let (_conn, channel) = rouge_store_tests::broker::channel(url).await;
    rouge_server::topology(&opts).delete(&channel).await.unwrap();
}
