//! Every POST that creates or charges honours `Idempotency-Key`: the test walks the OpenAPI
//! document, and for each such operation it lists (all POSTs but the few that create nothing)
//! checks that the document declares the header and that a retry with the same key gets the
//! first answer back, marked `Idempotent-Replayed: true`, without doing the work again. A
//! POST the document lists without a case here fails the test.

use crate::accounts::customer;
use crate::checkout::ready_cart;
use crate::helpers::{TestApp, serum};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;

crate::on_both_stores!(every_creating_post_replays);

struct Replays<'a> {
    app: &'a TestApp,
    tried: BTreeSet<String>,
}

impl Replays<'_> {
    /// Sends the request twice with one key: the second answer must be the first, replayed.
    async fn twice(&mut self, template: &str, path: &str, token: &str, body: Value) -> Value {
        let key = uuid::Uuid::now_v7().to_string();
        let send = || {
            let req = self.app.client.post(self.app.url(path)).header("idempotency-key", &key).json(&body);
            // An empty token: a guest.
            if token.is_empty() { req } else { req.bearer_auth(token) }.send()
        };
        let first = send().await.unwrap();
        let status = first.status();
        assert!(first.headers().get("idempotent-replayed").is_none(), "{path}: the first answer is no replay");
        let first: Value = first.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "POST {path}: {status} {first}");
        let again = send().await.unwrap();
        assert_eq!(
            (again.status(), again.headers().get("idempotent-replayed").and_then(|v| v.to_str().ok())),
            (status, Some("true")),
            "POST {path} replays"
        );
        assert_eq!(again.json::<Value>().await.unwrap_or(Value::Null), first, "POST {path}: the first answer");
        self.tried.insert(template.to_owned());
        first
    }
}

async fn every_creating_post_replays(app: &TestApp) {
    let (_, doc) = app.get_json("/openapi.json").await;
    let mut creating = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(op) = item.get("post") else { continue };
        if rouge_http::openapi::NOT_IDEMPOTENT.contains(&path.as_str()) {
            continue;
        }
        let declared = op["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"));
        assert!(declared, "POST {path} declares the Idempotency-Key header");
        creating.insert(path.clone());
    }
    let mut r = Replays { app, tried: BTreeSet::new() };
    let admin = app.admin_key.clone();
    let admin = admin.as_str();

    // Catalogue.
    r.twice("/v1/admin/brands", "/v1/admin/brands", admin, json!({"name": "Replay Brand"})).await;
    r.twice("/v1/admin/categories", "/v1/admin/categories", admin, json!({"name": "Replay Care"})).await;
    let attribute = json!({"product_type": "skincare", "name": "finish", "label": "Finish", "kind": {"type": "text"}});
    r.twice("/v1/admin/attributes", "/v1/admin/attributes", admin, attribute).await;
    let product = r
        .twice("/v1/admin/products", "/v1/admin/products", admin, serum("Replay Serum", "replay-brand", "RP-1", 2500))
        .await;
    let id = product["id"].as_str().unwrap();
    let variant =
        json!({"sku": "RP-2", "price": {"amount": 3900, "currency": "EUR"}, "size": {"amount": 50, "unit": "ml"}});
    r.twice("/v1/admin/products/{id}/variants", &format!("/v1/admin/products/{id}/variants"), admin, variant).await;
    let (_, stored) = app.get_json_as_admin(&format!("/v1/admin/products/{id}")).await;
    assert_eq!(stored["variants"].as_array().map(Vec::len), Some(2), "the variant was added once");
    app.eventually(|| async { app.get("/v1/products/replay-serum").await.status() == StatusCode::OK }).await;

    // Stock.
    let expires = (chrono::Utc::now().date_naive() + chrono::Duration::days(365)).to_string();
    let receipt = json!({"sku": "RP-1", "location": "main", "batch": "R1", "expires_on": expires, "quantity": 30});
    let lot = r.twice("/v1/admin/inventory/receipts", "/v1/admin/inventory/receipts", admin, receipt).await;
    let lot = lot["id"].as_str().unwrap();
    let adjust = json!({"delta": -1, "reason": "broken in transit"});
    r.twice(
        "/v1/admin/inventory/lots/{id}/adjustments",
        &format!("/v1/admin/inventory/lots/{lot}/adjustments"),
        admin,
        adjust,
    )
    .await;
    let transfer = json!({"to_location": "paris-store", "quantity": 2});
    r.twice(
        "/v1/admin/inventory/lots/{id}/transfers",
        &format!("/v1/admin/inventory/lots/{lot}/transfers"),
        admin,
        transfer,
    )
    .await;
    let (_, level) = app.get_json_as_admin("/v1/admin/inventory/skus/RP-1").await;
    assert_eq!(level["on_hand"], 29, "received once, adjusted once: {level}");

    // Staff, roles, keys.
    let role = r
        .twice(
            "/v1/admin/roles",
            "/v1/admin/roles",
            admin,
            json!({"name": "Replayer", "permissions": ["catalog:read"]}),
        )
        .await;
    let staff =
        json!({"email": "rp@shop.example", "name": "Rae", "password": "staff passphrase", "role_id": role["id"]});
    r.twice("/v1/admin/staff", "/v1/admin/staff", admin, staff).await;
    let key = r
        .twice(
            "/v1/admin/api-keys",
            "/v1/admin/api-keys",
            admin,
            json!({"name": "ERP", "permissions": ["catalog:read"]}),
        )
        .await;
    let (_, keys) = app.get_json_as_admin("/v1/admin/api-keys").await;
    assert_eq!(keys["items"].as_array().unwrap().iter().filter(|k| k["id"] == key["id"]).count(), 1, "one key minted");

    // Behaviour in (a retry with the same key: the first answer; the events kept once).
    let events = json!({"anonymous_id": "replay-visitor", "consent": true, "events": [
        {"type": "product_viewed", "product_id": id}]});
    let first = r.twice("/v1/events", "/v1/events", "", events).await;
    assert_eq!(first["accepted"], 1, "{first}");

    // Accounts, carts, checkout.
    let register = json!({"email": "rp@example.com", "password": "correct horse battery"});
    r.twice("/v1/auth/register", "/v1/auth/register", "", register).await;
    let cart = r.twice("/v1/carts", "/v1/carts", "", json!({})).await;
    let cart = cart["id"].as_str().unwrap();
    r.twice("/v1/carts/{id}/lines", &format!("/v1/carts/{cart}/lines"), "", json!({"sku": "RP-1", "quantity": 1}))
        .await;
    let (_, seen) = app.get_json(&format!("/v1/carts/{cart}")).await;
    assert_eq!(seen["lines"][0]["quantity"], 1, "the line was added once: {seen}");

    // Promotions and codes, and a code on the cart.
    let promo =
        json!({"name": "Replay 10", "benefit": {"kind": "percent_off", "percent_bp": 1000}, "requires_code": true});
    let made = r.twice("/v1/admin/promotions", "/v1/admin/promotions", admin, promo).await;
    let (_, all) = app.get_json_as_admin("/v1/admin/promotions").await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(1), "one promotion: {all}");
    let codes = format!("/v1/admin/promotions/{}/codes", made["id"].as_str().unwrap());
    let batch = r.twice("/v1/admin/promotions/{id}/codes", &codes, admin, json!({"count": 3, "max_uses": 1})).await;
    assert_eq!(app.get_json_as_admin(&codes).await.1["items"].as_array().map(Vec::len), Some(3), "one batch: {batch}");
    let code = batch["items"][0]["code"].clone();
    let entered = r.twice("/v1/carts/{id}/codes", &format!("/v1/carts/{cart}/codes"), "", json!({"code": code})).await;
    assert_eq!(entered["promotions"]["codes"], json!([code]));
    let shopper = customer(app, "rhea@example.com").await;
    let shopper = shopper["access_token"].as_str().unwrap();
    r.twice("/v1/carts/{id}/merge", &format!("/v1/carts/{cart}/merge"), shopper, json!({})).await;
    let paying = ready_cart(app, "RP-1", 1, Some(shopper)).await;
    let pay = json!({"payment": {"provider": "test", "token": "tok_visa"}});
    let order = r.twice("/v1/carts/{id}/complete", &format!("/v1/carts/{paying}/complete"), shopper, pay).await;
    let order = order["id"].as_str().unwrap();

    // Orders: capture charges, returns, refunds give money back.
    let transitions = format!("/v1/admin/orders/{order}/transitions");
    let paid = r.twice("/v1/admin/orders/{id}/transitions", &transitions, admin, json!({"action": "capture"})).await;
    assert_eq!(paid["status"], "paid");
    for step in
        [json!({"action": "ship", "carrier": "Colissimo", "tracking": "RP1"}), json!({"action": "mark_delivered"})]
    {
        let res = app.admin(Method::POST, &transitions, &step).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    // Reviews: a review of the delivered line, once.
    let review = json!({"order_id": order, "sku": "RP-1", "rating": 5, "title": "Lovely", "text": "Soft skin.",
        "display_name": "Rhea"});
    let made = r.twice("/v1/products/{slug}/reviews", "/v1/products/replay-serum/reviews", shopper, review).await;
    assert_eq!(made["status"], "pending", "{made}");
    let (_, queue) = app.get_json_as_admin("/v1/admin/reviews").await;
    assert_eq!(queue["items"].as_array().map(Vec::len), Some(1), "one review: {queue}");
    // Subscriptions: one subscription to the delivered variant.
    let subscribe = json!({"order_id": order, "sku": "RP-1", "cadence_weeks": 4,
        "payment": {"provider": "test", "token": "pm_card_visa"}});
    r.twice("/v1/subscriptions", "/v1/subscriptions", shopper, subscribe).await;
    let (_, subs) = app.get_json_as_admin("/v1/admin/subscriptions").await;
    assert_eq!(subs["items"].as_array().map(Vec::len), Some(1), "one subscription: {subs}");
    let ret = json!({"lines": [{"sku": "RP-1", "quantity": 1}], "reason": "wrong shade"});
    let returned = r.twice("/v1/me/orders/{id}/returns", &format!("/v1/me/orders/{order}/returns"), shopper, ret).await;
    assert_eq!(returned["open_returns"].as_array().map(Vec::len), Some(1), "one return: {returned}");
    let refunds = format!("/v1/admin/orders/{order}/refunds");
    let refund = r.twice("/v1/admin/orders/{id}/refunds", &refunds, admin, json!({"amount": 100})).await;
    assert_eq!(refund["payment"]["refunded"], 100, "refunded once: {refund}");

    // Dead letters: a confirmation that could not be sent, replayed once.
    app.smtp.refuse(true);
    let parked = ready_cart(app, "RP-1", 1, None).await;
    let res = app
        .client
        .post(app.url(&format!("/v1/carts/{parked}/complete")))
        .header("idempotency-key", "parked")
        .json(&json!({"payment": {"provider": "test", "token": "tok_visa"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let dead = || async {
        let (_, list) = app.get_json_as_admin("/v1/admin/dead-letters").await;
        list["items"].as_array().cloned().unwrap_or_default().into_iter().find(|d| d["state"] == "dead")
    };
    app.eventually(|| async { dead().await.is_some() }).await;
    app.smtp.refuse(false);
    let letter = dead().await.unwrap();
    let (consumer, event) = (letter["consumer"].as_str().unwrap(), letter["event_id"].as_str().unwrap());
    r.twice(
        "/v1/admin/dead-letters/{consumer}/{event}/replay",
        &format!("/v1/admin/dead-letters/{consumer}/{event}/replay"),
        admin,
        json!({}),
    )
    .await;

    // Webhooks: an endpoint registered once (its secret in the replayed answer too), a rotation
    // made once, a delivery replayed.
    let hook = json!({"url": "https://erp.example.com/rouge", "event_types": ["BrandSaved"]});
    let made = r.twice("/v1/admin/webhooks", "/v1/admin/webhooks", admin, hook).await;
    let id = made["id"].as_str().unwrap().to_owned();
    let (_, all) = app.get_json_as_admin("/v1/admin/webhooks").await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(1), "one endpoint: {all}");
    let rotate = format!("/v1/admin/webhooks/{id}/rotate-secret");
    let rotated = r.twice("/v1/admin/webhooks/{id}/rotate-secret", &rotate, admin, json!({})).await;
    assert_ne!(rotated["secret"], made["secret"]);
    app.brand("Webhook Brand").await;
    let log = format!("/v1/admin/webhooks/{id}/deliveries");
    app.eventually(|| async { app.get_json_as_admin(&log).await.1["items"][0]["event_id"].is_string() }).await;
    let event = app.get_json_as_admin(&log).await.1["items"][0]["event_id"].as_str().unwrap().to_owned();
    let replay = format!("/v1/admin/webhooks/{id}/deliveries/{event}/replay");
    r.twice("/v1/admin/webhooks/{id}/deliveries/{event}/replay", &replay, admin, json!({})).await;

    assert_eq!(r.tried, creating, "a replay case for every creating POST the document lists");
}
