//! Behaviour in (`POST /v1/events`), on both stores: a storefront's batch is kept once (a
//! retried event is not kept twice), nothing is kept without consent, every mistake is named
//! and nothing of a bad batch is kept; purchases and returns come from orders (a return that did
//! not suit her is marked so); erasure removes her events.

use crate::checkout::{SKU, complete, ready_cart, shop, stocked};
use crate::helpers::{Db, TestApp};
use reqwest::{Method, StatusCode};
use rouge_recommendations::{BehaviourEvent, BehaviourRepository, EventKind};
use serde_json::{Value, json};
use uuid::Uuid;

crate::on_both_stores!(behaviour_is_kept_with_consent_from_storefronts_and_orders_and_erased);

/// Every event kept, oldest first (read from the store, as training does).
async fn kept(app: &TestApp) -> Vec<BehaviourEvent> {
    match &app.db {
        Db::Sqlite(db) => db.store.behaviour_since(0, None, 1000).await.unwrap(),
        Db::Postgres(db) => db.store.behaviour_since(0, None, 1000).await.unwrap(),
    }
}

async fn send(app: &TestApp, token: Option<&str>, body: Value) -> (StatusCode, Value) {
    shop(app, Method::POST, "/v1/events", token, Some(body)).await
}

async fn behaviour_is_kept_with_consent_from_storefronts_and_orders_and_erased(app: &TestApp) {
    stocked(app, SKU, 10).await;
    let (_, listed) = app.get_json("/v1/products?q=glow").await;
    let product = listed["items"][0]["id"].as_str().unwrap().to_owned();

    // An anonymous visitor who agreed: kept, and a retry of the same events keeps nothing twice.
    let viewed = Uuid::now_v7();
    let batch = json!({"anonymous_id": "visitor-0001", "consent": true, "events": [
        {"id": viewed, "type": "product_viewed", "product_id": product},
        {"type": "search_made", "query": "Glow  SERUM"},
    ]});
    let (s, b) = send(app, None, batch.clone()).await;
    assert_eq!((s, b), (StatusCode::ACCEPTED, json!({"accepted": 2, "ignored": 0})));
    let (s, _) = send(
        app,
        None,
        json!({"anonymous_id": "visitor-0001", "consent": true, "events": [
        {"id": viewed, "type": "product_viewed", "product_id": product}]}),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let events = kept(app).await;
    assert_eq!(events.len(), 2, "the retried view kept once: {events:?}");
    assert_eq!(events.iter().filter_map(|e| e.query.as_deref()).collect::<Vec<_>>(), ["glow serum"]);
    assert!(events.iter().all(|e| e.anonymous_id.as_deref() == Some("visitor-0001") && e.customer_id.is_none()));

    // Without consent: answered, nothing kept.
    let (s, b) = send(
        app,
        None,
        json!({"anonymous_id": "visitor-0002", "consent": false, "events": [
        {"type": "wishlisted", "product_id": product}]}),
    )
    .await;
    assert_eq!((s, b), (StatusCode::ACCEPTED, json!({"accepted": 0, "ignored": 1})));

    // A bad batch: every mistake named, nothing of it kept (not even its good events).
    let (s, p) = send(
        app,
        None,
        json!({"anonymous_id": "visitor-0003", "consent": true, "events": [
        {"type": "product_viewed", "product_id": product},
        {"type": "purchased", "product_id": product},
        {"type": "added_to_cart"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["events[1].type", "events[2].product_id"], "{p}");
    let (s, p) =
        send(app, None, json!({"consent": true, "events": [{"type": "product_viewed", "product_id": product}]})).await;
    assert_eq!((s, p["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("anonymous_id")), "{p}");
    let (s, _) = send(app, Some("not-a-token"), batch).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(kept(app).await.len(), 2, "nothing kept from refused batches");

    // A customer: her events are hers; her order's line a purchase, her return one that did
    // not suit her.
    let session = crate::accounts::customer(app, "behaviour@example.com").await;
    let token = session["access_token"].as_str().unwrap().to_owned();
    let (_, me) = shop(app, Method::GET, "/v1/me", Some(&token), None).await;
    let ana: Uuid = me["id"].as_str().unwrap().parse().unwrap();
    let (s, _) = send(
        app,
        Some(&token),
        json!({"consent": true, "events": [
        {"type": "added_to_cart", "product_id": product}]}),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let cart = ready_cart(app, SKU, 1, Some(&token)).await;
    let res = complete(app, &cart, Some(&cart), "tok_visa", Some(&token)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let order: Value = res.json().await.unwrap();
    let id = order["id"].as_str().unwrap();
    let hers = |events: Vec<BehaviourEvent>| -> Vec<(EventKind, bool)> {
        events.iter().filter(|e| e.customer_id == Some(ana)).map(|e| (e.kind, e.unsuitable)).collect()
    };
    app.eventually(|| async { hers(kept(app).await).len() == 2 }).await;
    for step in [
        json!({"action": "capture"}),
        json!({"action": "ship", "carrier": "Colissimo", "tracking": "BH1"}),
        json!({"action": "mark_delivered"}),
    ] {
        let (s, o) = crate::checkout::staff(app, id, step).await;
        assert_eq!(s, StatusCode::OK, "{o}");
    }
    let ret = json!({"lines": [{"sku": SKU, "quantity": 1}], "reason": "It irritated my skin"});
    let (s, o) = shop(app, Method::POST, &format!("/v1/me/orders/{id}/returns"), Some(&token), Some(ret)).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    app.eventually(|| async { hers(kept(app).await).len() == 3 }).await;
    let mine = kept(app).await;
    assert_eq!(
        hers(mine.clone()),
        [(EventKind::AddedToCart, false), (EventKind::Purchased, false), (EventKind::Returned, true)]
    );
    assert!(
        mine.iter()
            .filter(|e| e.customer_id == Some(ana))
            .all(|e| e.product_id.map(|p| p.to_string()) == Some(product.clone()))
    );

    // Erased: her events go, the visitor's stay.
    let (s, _) = shop(app, Method::DELETE, "/v1/me", Some(&token), None).await;
    assert!(s.is_success(), "{s}");
    app.eventually(|| async { hers(kept(app).await).is_empty() }).await;
    assert_eq!(kept(app).await.len(), 2);
}
