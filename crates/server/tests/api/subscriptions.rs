//! Subscriptions end to end, on both stores: a customer subscribes to a variant of her order,
//! skips a period (a retried skip skips nothing more), her renewals go through the checkout
//! with her saved card and ship where the first order went, each period once even with two
//! replicas renewing; a declined card is retried on the dunning schedule with emails, then the
//! subscription pauses; a new card and a resume bring it back.

use crate::checkout::{SKU, complete, ready_cart, shop, stocked};
use crate::helpers::{Db, TestApp, test_options};
use reqwest::{Method, StatusCode};
use rouge_subscriptions::SubscriptionRepository;
use serde_json::{Value, json};
use std::time::Duration;
use uuid::Uuid;

/// Renewals looked for every 50 ms.
pub fn options() -> rouge_server::Options {
    let mut opts = test_options();
    opts.renewals_every = Duration::from_millis(50);
    opts
}

/// Makes a subscription due at `at` (in the past), as the clock would in a few weeks.
async fn due_at<S: SubscriptionRepository>(store: &S, id: Uuid, at: i64) {
    let mut s = store.subscription(id).await.unwrap().unwrap();
    let read_at = s.updated_at;
    s.next_at = at;
    s.updated_at = read_at + 1;
    store.save_subscription(&s, Some(read_at), "subscription.changed").await.unwrap();
}

pub async fn make_due_at(app: &TestApp, id: &str, at: i64) {
    let id: Uuid = id.parse().unwrap();
    match &app.db {
        Db::Sqlite(d) => due_at(&d.store, id, at).await,
        Db::Postgres(d) => due_at(&d.store, id, at).await,
    }
}

async fn make_due(app: &TestApp, id: &str) {
    make_due_at(app, id, chrono::Utc::now().timestamp_millis() - 1).await;
}

async fn subscription(app: &TestApp, token: &str, id: &str) -> Value {
    shop(app, Method::GET, &format!("/v1/subscriptions/{id}"), Some(token), None).await.1
}

/// Waits until the subscription satisfies `done`; returns it.
pub async fn until(app: &TestApp, token: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let s = subscription(app, token, id).await;
        if done(&s) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the subscription never got there: {}", subscription(app, token, id).await);
}

async fn subscriptions_renew_once_per_period_and_dun_declined_cards(app: &TestApp) {
    stocked(app, SKU, 20).await;
    let ana = crate::accounts::customer(app, "ana.sub@example.com").await;
    let ana = ana["access_token"].as_str().unwrap().to_owned();
    let cart = ready_cart(app, SKU, 1, Some(&ana)).await;
    let res = complete(app, &cart, Some("first"), "tok_visa", Some(&ana)).await;
    let first: Value = res.json().await.unwrap();
    let order = first["id"].as_str().unwrap().to_owned();

    let body = |token: &str| json!({"order_id": order, "sku": SKU, "cadence_weeks": 4, "payment": {"provider": "test", "token": token}});
    let bad = json!({"order_id": order, "sku": "NOPE", "cadence_weeks": 0, "payment": {"provider": "test", "token": "pm_card_visa"}});
    let (s, p) = shop(app, Method::POST, "/v1/subscriptions", Some(&ana), Some(bad)).await;
    assert_eq!((s, p["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("cadence_weeks")), "{p}");
    let bea = crate::accounts::customer(app, "bea.sub@example.com").await;
    let bea = bea["access_token"].as_str().unwrap().to_owned();
    let (s, p) = shop(app, Method::POST, "/v1/subscriptions", Some(&bea), Some(body("pm_card_visa"))).await;
    assert_eq!((s, p["errors"][0]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("not_yours")), "{p}");

    let (s, sub) = shop(app, Method::POST, "/v1/subscriptions", Some(&ana), Some(body("pm_card_visa"))).await;
    assert_eq!(s, StatusCode::CREATED, "{sub}");
    assert_eq!((sub["status"].as_str(), sub["period"].as_i64()), (Some("active"), Some(0)));
    assert!(!sub.to_string().contains("pm_card_visa"), "the saved card's token is never shown: {sub}");
    let id = sub["id"].as_str().unwrap().to_owned();
    let next = sub["next_at"].as_i64().unwrap();
    let week = 7 * 86_400_000;
    assert!((next - chrono::Utc::now().timestamp_millis() - 4 * week).abs() < 60_000, "a cadence from now");

    // Skip the first period; the same skip again skips nothing more.
    let skip = format!("/v1/subscriptions/{id}/skip");
    let (_, skipped) = shop(app, Method::PUT, &skip, Some(&ana), Some(json!({"period": 1}))).await;
    assert_eq!((skipped["period"].as_i64(), skipped["next_at"].as_i64()), (Some(1), Some(next + 4 * week)));
    let (s, again) = shop(app, Method::PUT, &skip, Some(&ana), Some(json!({"period": 1}))).await;
    assert_eq!((s, again["period"].as_i64()), (StatusCode::OK, Some(1)));

    // Two replicas renew: period 2 is renewed once, shipped where the first order went.
    let replica = app.replica_with(options()).await;
    make_due(app, &id).await;
    let renewed = until(app, &ana, &id, |s| s["period"] == 2).await;
    let renewal = renewed["last_order_id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, mine) = shop(app, Method::GET, "/v1/me/orders", Some(&ana), None).await;
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(2), "one renewal for the period: {mine}");
    let (_, placed) = shop(app, Method::GET, &format!("/v1/me/orders/{renewal}"), Some(&ana), None).await;
    assert_eq!(
        (placed["status"].as_str(), placed["lines"][0]["sku"].as_str()),
        (Some("authorized"), Some(SKU)),
        "{placed}"
    );
    assert_eq!(placed["shipping_address"], first["shipping_address"], "shipped where the first order went");
    // Her own cart is not the renewal's.
    let (_, hers) = shop(app, Method::POST, "/v1/carts", Some(&ana), None).await;
    assert_eq!(hers["lines"], json!([]), "{hers}");
    replica.stop().await;

    // A declined card: retried on the dunning schedule with an email each time, then paused.
    let (_, changed) = shop(
        app,
        Method::PATCH,
        &format!("/v1/subscriptions/{id}"),
        Some(&ana),
        Some(json!({"payment": {"provider": "test", "token": "pm_card_declined"}})),
    )
    .await;
    assert_eq!(changed["payment_provider"], "test");
    for failures in 1..=3 {
        make_due(app, &id).await;
        until(app, &ana, &id, |s| s["failures"] == failures).await;
    }
    let paused = subscription(app, &ana, &id).await;
    assert_eq!((paused["status"].as_str(), paused["period"].as_i64()), (Some("paused"), Some(2)), "{paused}");
    app.smtp.wait_for("camille@example.com", "will try again on").await;
    app.smtp.wait_for("camille@example.com", "so it is paused").await;
    // A new card and a resume: the next renewal goes through.
    let (s, resumed) = shop(
        app,
        Method::PATCH,
        &format!("/v1/subscriptions/{id}"),
        Some(&ana),
        Some(json!({"status": "active", "payment": {"provider": "test", "token": "pm_card_visa"}})),
    )
    .await;
    assert_eq!((s, resumed["failures"].as_i64()), (StatusCode::OK, Some(0)), "{resumed}");
    make_due(app, &id).await;
    until(app, &ana, &id, |s| s["period"] == 3).await;
    let (_, all) = app.get_json_as_admin("/v1/admin/subscriptions").await;
    assert_eq!(all["items"][0]["id"], id.as_str());
    // GraphQL: hers, a change and a skip as over REST.
    let res = crate::graphql::gql_as(app, Some(&ana), "{ mySubscriptions }", json!({})).await;
    assert_eq!(res["data"]["mySubscriptions"][0]["id"], id.as_str(), "{res}");
    let change = "mutation($id: UUID!, $i: JSON!) { changeSubscription(id: $id, input: $i) }";
    let res = crate::graphql::gql_as(app, Some(&ana), change, json!({"id": id, "i": {"cadence_weeks": 6}})).await;
    assert_eq!(res["data"]["changeSubscription"]["cadence_weeks"], 6, "{res}");
    let skip = "mutation($id: UUID!, $p: Int!) { skipSubscription(id: $id, period: $p) }";
    let res = crate::graphql::gql_as(app, Some(&ana), skip, json!({"id": id, "p": 4})).await;
    assert_eq!(res["data"]["skipSubscription"]["period"], 4, "{res}");
    let res = crate::graphql::gql_as(app, Some(&bea), "{ mySubscriptions }", json!({})).await;
    assert_eq!(res["data"]["mySubscriptions"], json!([]), "only hers: {res}");
    // Cancelled for good.
    let (_, gone) =
        shop(app, Method::PATCH, &format!("/v1/subscriptions/{id}"), Some(&ana), Some(json!({"status": "cancelled"})))
            .await;
    assert_eq!(gone["status"], "cancelled");
    let (s, _) =
        shop(app, Method::PATCH, &format!("/v1/subscriptions/{id}"), Some(&ana), Some(json!({"quantity": 2}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Staff filter and page: a second one of hers, newer; by status and SKU, a page at a time;
    // a bad filter is a 400.
    let (s, second) = shop(app, Method::POST, "/v1/subscriptions", Some(&ana), Some(body("pm_card_visa"))).await;
    assert_eq!(s, StatusCode::CREATED, "{second}");
    let active = format!("/v1/admin/subscriptions?status=active&sku={SKU}");
    let (_, page) = app.get_json_as_admin(&active).await;
    assert_eq!((page["items"].as_array().map(Vec::len), &page["next_cursor"]), (Some(1), &Value::Null), "{page}");
    let (_, first) = app.get_json_as_admin("/v1/admin/subscriptions?limit=1").await;
    assert_eq!(first["items"][0]["id"], second["id"], "newest first: {first}");
    let next = first["next_cursor"].as_str().expect("a next page");
    let (_, rest) = app.get_json_as_admin(&format!("/v1/admin/subscriptions?limit=1&cursor={next}")).await;
    assert_eq!((rest["items"][0]["id"].as_str(), &rest["next_cursor"]), (Some(id.as_str()), &Value::Null), "{rest}");
    let (_, cancelled) = app.get_json_as_admin("/v1/admin/subscriptions?status=cancelled").await;
    assert_eq!(cancelled["items"][0]["id"], id.as_str(), "{cancelled}");
    let (s, p) = app.get_json_as_admin("/v1/admin/subscriptions?status=sleeping&limit=0").await;
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!((s, fields), (StatusCode::BAD_REQUEST, vec!["status", "limit"]), "{p}");
}

#[tokio::test]
async fn sqlite_subscriptions_renew_once_per_period_and_dun_declined_cards() {
    let app = TestApp::sqlite_with(options()).await;
    subscriptions_renew_once_per_period_and_dun_declined_cards(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn postgres_subscriptions_renew_once_per_period_and_dun_declined_cards() {
    let Some(app) = TestApp::postgres_with(options()).await else { return };
    subscriptions_renew_once_per_period_and_dun_declined_cards(&app).await;
    app.stop().await;
}

/// The database flaps while a subscription is due (PostgreSQL cut and restored, again and
/// again, by a proxy the test owns): the renewal loop rides it out, and the period is renewed
/// once, with one order, once the database stays up.
#[tokio::test]
async fn postgres_a_flapping_database_renews_a_period_once() {
    use crate::faults::{FaultProxy, Mode};
    let proxy = FaultProxy::start("127.0.0.1:5432").await;
    let Some(shop_app) = TestApp::postgres_via(proxy.addr, options()).await else { return };
    let app = &shop_app;
    stocked(app, SKU, 5).await;
    let ana = crate::accounts::customer(app, "ana.flap@example.com").await;
    let ana = ana["access_token"].as_str().unwrap().to_owned();
    let cart = ready_cart(app, SKU, 1, Some(&ana)).await;
    let first: Value = complete(app, &cart, Some("first"), "tok_visa", Some(&ana)).await.json().await.unwrap();
    let body = json!({"order_id": first["id"], "sku": SKU, "cadence_weeks": 4,
        "payment": {"provider": "test", "token": "pm_card_visa"}});
    let (s, sub) = shop(app, Method::POST, "/v1/subscriptions", Some(&ana), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{sub}");
    let id = sub["id"].as_str().unwrap().to_owned();
    make_due(app, &id).await;
    for pause in [20, 35, 50, 80, 120, 200] {
        proxy.set(Mode::Down);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        proxy.set(Mode::Pass);
        tokio::time::sleep(Duration::from_millis(pause / 2)).await;
    }
    let renewed = until(app, &ana, &id, |s| s["period"] == 1).await;
    assert_eq!(renewed["failures"], 0, "an outage is not a declined card: {renewed}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, mine) = shop(app, Method::GET, "/v1/me/orders", Some(&ana), None).await;
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(2), "one renewal for the period: {mine}");
    let (_, again) = shop(app, Method::GET, &format!("/v1/subscriptions/{id}"), Some(&ana), None).await;
    assert_eq!(again["period"], 1, "renewed once: {again}");
    shop_app.stop().await;
}

/// With Stripe, a renewal charges the saved PaymentMethod of the subscription's Stripe
/// Customer off-session.
async fn stripe_renewals_are_charged_off_session(app: &TestApp, seen: &std::sync::Mutex<Vec<String>>) {
    stocked(app, SKU, 5).await;
    let ana = crate::accounts::customer(app, "ana.stripe.sub@example.com").await;
    let ana = ana["access_token"].as_str().unwrap().to_owned();
    let cart = ready_cart(app, SKU, 1, Some(&ana)).await;
    let first: Value = complete(app, &cart, Some("first"), "tok_visa", Some(&ana)).await.json().await.unwrap();
    let body = json!({"order_id": first["id"], "sku": SKU, "cadence_weeks": 2,
        "payment": {"provider": "stripe", "token": "pm_card_visa", "customer": "cus_Ana"}});
    let (s, sub) = shop(app, Method::POST, "/v1/subscriptions", Some(&ana), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{sub}");
    assert!(!sub.to_string().contains("cus_Ana"), "the saved method's customer is not shown: {sub}");
    let id = sub["id"].as_str().unwrap().to_owned();
    make_due(app, &id).await;
    until(app, &ana, &id, |s| s["period"] == 1).await;
    let bodies = seen.lock().unwrap().clone();
    let renewal = bodies.iter().find(|b| b.contains("pm_card_visa")).unwrap_or_else(|| panic!("{bodies:?}"));
    assert!(renewal.contains("customer=cus_Ana") && renewal.contains("off_session=true"), "{renewal}");
}

async fn app_with_stripe(pg: bool) -> Option<(TestApp, std::sync::Arc<std::sync::Mutex<Vec<String>>>)> {
    let (base, seen) = crate::checkout::stripe::stand_in_seeing().await;
    let mut opts = options();
    opts.stripe = Some(std::sync::Arc::new(
        rouge_payments::StripeProvider::new("sk_test_recorded", Some("whsec_test".into()), Some(&base)).unwrap(),
    ));
    let app = if pg { TestApp::postgres_with(opts).await? } else { TestApp::sqlite_with(opts).await };
    Some((app, seen))
}

#[tokio::test]
async fn sqlite_stripe_renewals_are_charged_off_session() {
    let (app, seen) = app_with_stripe(false).await.unwrap();
    stripe_renewals_are_charged_off_session(&app, &seen).await;
    app.stop().await;
}

#[tokio::test]
async fn postgres_stripe_renewals_are_charged_off_session() {
    let Some((app, seen)) = app_with_stripe(true).await else { return };
    stripe_renewals_are_charged_off_session(&app, &seen).await;
    app.stop().await;
}
