//! Carts, checkout, payments and orders over HTTP, on both stores: the happy path through
//! fulfilment, declines, a flash sale, concurrent retries, unknown payment outcomes,
//! cancellations and who may see what.

use crate::helpers::{Db, TestApp, serum, test_options};
use reqwest::{Method, StatusCode};
use rouge_payments::TestProvider;
use serde_json::{Value, json};
use std::sync::Arc;

crate::on_both_stores!(
    a_guest_checks_out_and_staff_fulfil_the_order,
    declined_payments_release_the_stock_and_keep_the_cart,
    bad_checkout_requests_get_problems,
    customers_see_only_their_own_carts_and_orders,
    cancelling_restocks_and_refunds_are_bounded,
    a_cancellation_recorded_while_inventory_failed_still_gives_the_stock_back,
    unknown_payment_outcomes_are_reconciled_not_charged_twice,
    a_confirmation_email_that_cannot_be_sent_becomes_a_dead_letter_and_is_replayed,
    graphql_orders_answer_like_rest,
    a_storefront_checks_out_on_graphql_alone,
);

pub const SKU: &str = "LL-GLOW-30";

pub async fn stocked(app: &TestApp, sku: &str, units: i64) {
    app.brand("Lumen Lab").await;
    app.product(serum("Glow Serum", "lumen-lab", sku, 2900)).await;
    receive(app, sku, units).await;
}

/// Units of a SKU received (batch B1, at `main`, expiring in a year).
pub async fn receive(app: &TestApp, sku: &str, units: i64) {
    let expires = (chrono::Utc::now().date_naive() + chrono::Duration::days(365)).to_string();
    let (s, b) = app
        .post(
            "/v1/admin/inventory/receipts",
            json!({"sku": sku, "location": "main", "batch": "B1", "expires_on": expires, "quantity": units}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

pub fn address() -> Value {
    json!({"name": "Camille Martin", "line1": "12 rue des Lilas", "city": "Lyon", "postal_code": "69003", "country": "FR"})
}

/// A request as a shopper: a guest, or with a customer's token.
pub async fn shop(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = app.client.request(method, app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A cart with `quantity` of `sku`, an email, an address and standard shipping; its id.
pub async fn ready_cart(app: &TestApp, sku: &str, quantity: i64, token: Option<&str>) -> String {
    let (s, cart) = shop(app, Method::POST, "/v1/carts", token, None).await;
    assert!(s.is_success(), "{cart}");
    let id = cart["id"].as_str().unwrap().to_owned();
    let (s, b) = shop(
        app,
        Method::POST,
        &format!("/v1/carts/{id}/lines"),
        token,
        Some(json!({"sku": sku, "quantity": quantity})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let details = json!({"email": "camille@example.com", "shipping_address": address(), "shipping_method": "standard"});
    let (s, b) = shop(app, Method::PUT, &format!("/v1/carts/{id}/checkout"), token, Some(details)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    id
}

pub async fn complete(
    app: &TestApp,
    cart: &str,
    key: Option<&str>,
    card: &str,
    token: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(&format!("/v1/carts/{cart}/complete")))
        .json(&json!({"payment": {"provider": "test", "token": card}}));
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("request")
}

/// A SKU's (on hand, reserved, available).
pub async fn stock_of(app: &TestApp, sku: &str) -> (i64, i64, i64) {
    let (_, l) = app.get_json_as_admin(&format!("/v1/admin/inventory/skus/{sku}")).await;
    (l["on_hand"].as_i64().unwrap(), l["reserved"].as_i64().unwrap(), l["available"].as_i64().unwrap())
}

pub async fn staff(app: &TestApp, order: &str, body: Value) -> (StatusCode, Value) {
    app.post(&format!("/v1/admin/orders/{order}/transitions"), body).await
}

async fn rebuild_changes_nothing(app: &TestApp) {
    let changed = match &app.db {
        Db::Sqlite(d) => rouge_orders::service::rebuild(&d.store).await.unwrap(),
        Db::Postgres(d) => rouge_orders::service::rebuild(&d.store).await.unwrap(),
    };
    assert_eq!(changed, 0, "every projection equals the replay of its events");
}

async fn a_guest_checks_out_and_staff_fulfil_the_order(app: &TestApp) {
    stocked(app, SKU, 10).await;
    let cart = ready_cart(app, SKU, 2, None).await;
    let (_, priced) = shop(app, Method::GET, &format!("/v1/carts/{cart}"), None, None).await;
    // 2 × 29.00 incl. 20 % French VAT; standard shipping is free from 50 EUR.
    assert_eq!(priced["totals"], json!({"subtotal": 5800, "discount": 0, "shipping": 0, "tax": 967, "total": 5800}));
    assert_eq!(priced["lines"][0]["price_changed"], false);
    let (_, methods) = shop(app, Method::GET, &format!("/v1/carts/{cart}/shipping-methods"), None, None).await;
    assert_eq!(
        methods["items"],
        json!([{"code": "standard", "name": "Standard (3–5 days)", "price": 0}, {"code": "express", "name": "Express (next day)", "price": 1490}])
    );

    let res = complete(app, &cart, None, "tok_visa", None).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "no Idempotency-Key");
    let p: Value = res.json().await.unwrap();
    assert_eq!(p["type"], "/problems/idempotency-key");

    let res = complete(app, &cart, Some("order-1"), "tok_visa", None).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let order: Value = res.json().await.unwrap();
    assert_eq!((order["status"].as_str(), order["totals"]["total"].as_i64()), (Some("authorized"), Some(5800)));
    assert_eq!(order["email"], "camille@example.com");
    assert_eq!(order["shipping_address"]["city"], "Lyon");
    assert!(order["number"].as_i64().unwrap() > 1000);
    let id = order["id"].as_str().unwrap().to_owned();

    let again = complete(app, &cart, Some("order-1"), "tok_visa", None).await;
    assert_eq!(
        (again.status(), again.headers()["idempotent-replayed"].to_str().unwrap()),
        (StatusCode::CREATED, "true")
    );
    assert_eq!(again.json::<Value>().await.unwrap(), order, "a retry gets the first answer");
    let other = complete(app, &cart, Some("order-1"), "tok_mastercard", None).await;
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY, "same key, different request");
    let late = complete(app, &cart, Some("order-2"), "tok_visa", None).await;
    assert_eq!(late.status(), StatusCode::OK, "a completed cart does not order twice: it answers with its order");
    assert_eq!(late.json::<Value>().await.unwrap()["id"], order["id"]);

    app.eventually(|| async { stock_of(app, SKU).await == (8, 0, 8) }).await;
    let (_, recall) = app.get_json_as_admin("/v1/admin/batches/B1/orders").await;
    assert_eq!(recall["items"], json!([{"order_id": id, "sku": SKU, "quantity": 2}]));
    let (_, guest_view) = shop(app, Method::GET, &format!("/v1/orders/{id}"), None, None).await;
    assert_eq!(guest_view["id"], id.as_str());

    let (s, o) = staff(app, &id, json!({"action": "ship", "carrier": "Colissimo", "tracking": "6A123"})).await;
    assert_eq!((s, o["type"].as_str()), (StatusCode::CONFLICT, Some("/problems/invalid-transition")), "capture first");
    let (s, o) = staff(app, &id, json!({"action": "capture"})).await;
    assert_eq!((s, o["status"].as_str()), (StatusCode::OK, Some("paid")), "{o}");
    let part =
        json!({"action": "ship", "carrier": "Colissimo", "tracking": "6A123", "lines": [{"sku": SKU, "quantity": 1}]});
    let (s, o) = staff(app, &id, part).await;
    assert_eq!((s, o["status"].as_str()), (StatusCode::OK, Some("partially_shipped")), "{o}");
    let too_many =
        json!({"action": "ship", "carrier": "Colissimo", "tracking": "6A124", "lines": [{"sku": SKU, "quantity": 2}]});
    assert_eq!(staff(app, &id, too_many).await.0, StatusCode::CONFLICT);
    let (_, o) = staff(app, &id, json!({"action": "ship", "carrier": "Colissimo", "tracking": "6A124"})).await;
    assert_eq!(o["status"], "shipped");
    let (_, o) = staff(app, &id, json!({"action": "mark_delivered"})).await;
    assert_eq!(o["status"], "delivered");
    let kinds: Vec<&str> =
        o["timeline"].as_array().unwrap().iter().map(|e| e["event"]["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["placed", "payment_authorized", "payment_captured", "shipped", "shipped", "delivered"]);

    let (_, listed) = app.get_json_as_admin("/v1/admin/orders?status=delivered").await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));

    // One opened jar comes back: it goes to quarantine, not back on sale.
    let ret =
        json!({"action": "request_return", "lines": [{"sku": SKU, "quantity": 1}], "reason": "opened; irritation"});
    let (s, o) = staff(app, &id, ret).await;
    assert_eq!((s, o["status"].as_str()), (StatusCode::OK, Some("return_requested")), "{o}");
    let return_id = o["open_returns"][0].as_str().unwrap().to_owned();
    let (s, o) = staff(app, &id, json!({"action": "receive_return", "return_id": return_id, "restock": false})).await;
    assert_eq!((s, o["status"].as_str()), (StatusCode::OK, Some("returned")), "{o}");
    assert_eq!(stock_of(app, SKU).await, (9, 0, 8), "on hand again, but not for sale");
    let (_, level) = app.get_json_as_admin(&format!("/v1/admin/inventory/skus/{SKU}")).await;
    let quarantined: Vec<&Value> =
        level["lots"].as_array().unwrap().iter().filter(|l| l["quarantined"] == true).collect();
    assert_eq!(quarantined.len(), 1);
    assert_eq!(
        (quarantined[0]["location"].as_str(), quarantined[0]["batch"].as_str()),
        (Some("quarantine"), Some("B1"))
    );
    let again = json!({"action": "receive_return", "return_id": return_id, "restock": true});
    assert_eq!(staff(app, &id, again).await.0, StatusCode::CONFLICT, "a return is received once");
    rebuild_changes_nothing(app).await;
}

async fn declined_payments_release_the_stock_and_keep_the_cart(app: &TestApp) {
    stocked(app, SKU, 5).await;
    let cart = ready_cart(app, SKU, 3, None).await;
    for (card, code) in [("tok_decline", "card_declined"), ("tok_insufficient_funds", "insufficient_funds")] {
        let res = complete(app, &cart, Some(card), card, None).await;
        assert_eq!(res.status(), StatusCode::PAYMENT_REQUIRED);
        let p: Value = res.json().await.unwrap();
        assert_eq!(
            (p["type"].as_str(), p["errors"][0]["code"].as_str()),
            (Some("/problems/payment-declined"), Some(code))
        );
        assert_eq!(stock_of(app, SKU).await, (5, 0, 5), "the held stock went back");
    }
    let res = complete(app, &cart, Some("3ds"), "tok_requires_action", None).await;
    assert_eq!(res.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(res.json::<Value>().await.unwrap()["type"], "/problems/payment-requires-action");
    let res = complete(app, &cart, Some("good-card"), "tok_visa", None).await;
    assert_eq!(res.status(), StatusCode::CREATED, "the cart is still there for another card");
    app.eventually(|| async { stock_of(app, SKU).await == (2, 0, 2) }).await;
}

async fn bad_checkout_requests_get_problems(app: &TestApp) {
    stocked(app, SKU, 5).await;
    let (_, cart) = shop(app, Method::POST, "/v1/carts", None, None).await;
    let id = cart["id"].as_str().unwrap();
    let lines = format!("/v1/carts/{id}/lines");
    for (body, code) in [
        (json!({"sku": "NOPE", "quantity": 1}), "unknown_sku"),
        (json!({"sku": SKU, "quantity": 0}), "out_of_range"),
        (json!({"sku": SKU, "quantity": 100}), "out_of_range"),
    ] {
        let (s, p) = shop(app, Method::POST, &lines, None, Some(body)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert_eq!(p["errors"][0]["code"], code);
    }
    let res = complete(app, id, Some("k"), "tok_visa", None).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p: Value = res.json().await.unwrap();
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["lines", "email", "shipping_address", "shipping_method"], "every missing piece at once");
    let bad = json!({"email": "not-an-email", "shipping_address": {"name": "", "line1": "x", "city": "y", "postal_code": "1", "country": "France"}});
    let (s, p) = shop(app, Method::PUT, &format!("/v1/carts/{id}/checkout"), None, Some(bad)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["email", "shipping_address.name", "shipping_address.country"]);
    let us = json!({"shipping_address": {"name": "A", "line1": "x", "city": "y", "postal_code": "1", "country": "US"}, "shipping_method": "standard"});
    let (s, p) = shop(app, Method::PUT, &format!("/v1/carts/{id}/checkout"), None, Some(us)).await;
    assert_eq!((s, p["errors"][0]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unavailable")));
    let (s, _) = shop(app, Method::GET, &format!("/v1/carts/{}", uuid::Uuid::new_v4()), None, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let ready = ready_cart(app, SKU, 1, None).await;
    let res = app
        .client
        .post(app.url(&format!("/v1/carts/{ready}/complete")))
        .header("idempotency-key", "k2")
        .json(&json!({"payment": {"provider": "paypal", "token": "x"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json::<Value>().await.unwrap()["errors"][0]["code"], "unknown_provider");
    assert_eq!(stock_of(app, SKU).await, (5, 0, 5), "refused checkouts hold nothing");
}

async fn register(app: &TestApp, email: &str) -> String {
    crate::accounts::customer(app, email).await["access_token"].as_str().unwrap().to_owned()
}

async fn customers_see_only_their_own_carts_and_orders(app: &TestApp) {
    stocked(app, SKU, 10).await;
    let ana = register(app, "ana@example.com").await;
    let bea = register(app, "bea@example.com").await;
    // A guest cart, filled before logging in, merges into her cart.
    let (_, guest) = shop(app, Method::POST, "/v1/carts", None, None).await;
    let guest = guest["id"].as_str().unwrap().to_owned();
    shop(app, Method::POST, &format!("/v1/carts/{guest}/lines"), None, Some(json!({"sku": SKU, "quantity": 1}))).await;
    let mine = ready_cart(app, SKU, 2, Some(&ana)).await;
    let (s, merged) = shop(app, Method::POST, &format!("/v1/carts/{guest}/merge"), Some(&ana), None).await;
    assert_eq!((s, merged["id"].as_str()), (StatusCode::OK, Some(mine.as_str())));
    assert_eq!(merged["lines"][0]["quantity"], 3);
    let (s, _) =
        shop(app, Method::POST, &format!("/v1/carts/{guest}/lines"), None, Some(json!({"sku": SKU, "quantity": 1})))
            .await;
    assert_eq!(s, StatusCode::CONFLICT, "the guest cart was merged");

    for (method, path) in
        [(Method::GET, format!("/v1/carts/{mine}")), (Method::GET, format!("/v1/carts/{mine}/shipping-methods"))]
    {
        assert_eq!(shop(app, method.clone(), &path, Some(&bea), None).await.0, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(shop(app, method, &path, None, None).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    let (s, _) = shop(
        app,
        Method::POST,
        &format!("/v1/carts/{mine}/lines"),
        Some(&bea),
        Some(json!({"sku": SKU, "quantity": 1})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(complete(app, &mine, Some("b"), "tok_visa", Some(&bea)).await.status(), StatusCode::NOT_FOUND);
    let (s, b) = shop(app, Method::GET, "/v1/carts/whatever", Some("not-a-token"), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");

    let res = complete(app, &mine, Some("a"), "tok_visa", Some(&ana)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let order: Value = res.json().await.unwrap();
    let id = order["id"].as_str().unwrap();
    let (_, list) = shop(app, Method::GET, "/v1/me/orders", Some(&ana), None).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    let (_, list) = shop(app, Method::GET, "/v1/me/orders", Some(&bea), None).await;
    assert_eq!(list["items"], json!([]));
    assert_eq!(shop(app, Method::GET, &format!("/v1/me/orders/{id}"), Some(&bea), None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(shop(app, Method::GET, &format!("/v1/orders/{id}"), None, None).await.0, StatusCode::NOT_FOUND);
    let ret = json!({"lines": [{"sku": SKU, "quantity": 1}], "reason": "wrong shade"});
    let (s, _) = shop(app, Method::POST, &format!("/v1/me/orders/{id}/returns"), Some(&bea), Some(ret.clone())).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, p) = shop(app, Method::POST, &format!("/v1/me/orders/{id}/returns"), Some(&ana), Some(ret)).await;
    assert_eq!(
        (s, p["type"].as_str()),
        (StatusCode::CONFLICT, Some("/problems/invalid-transition")),
        "not shipped yet"
    );
    let (s, o) = shop(app, Method::GET, &format!("/v1/me/orders/{id}"), Some(&ana), None).await;
    assert_eq!((s, o["email"].as_str()), (StatusCode::OK, Some("camille@example.com")));

    // Her export holds her orders; erasing her leaves the order without email or addresses
    // but with what the accounts need.
    let (s, export) = shop(app, Method::GET, "/v1/me/export", Some(&ana), None).await;
    assert_eq!((s, export["orders"][0]["id"].as_str()), (StatusCode::OK, Some(id)), "{export}");
    assert_eq!(export["orders"][0]["shipping_address"]["city"], "Lyon");
    assert_eq!(shop(app, Method::DELETE, "/v1/me", Some(&ana), None).await.0, StatusCode::NO_CONTENT);
    let (_, kept) = app.get_json_as_admin(&format!("/v1/admin/orders/{id}")).await;
    assert_eq!((kept["email"].clone(), kept["shipping_address"].clone()), (Value::Null, Value::Null), "{kept}");
    assert_eq!(kept["totals"], order["totals"]);
    assert_eq!(kept["lines"], order["lines"]);
    assert_eq!(kept["country"], "FR");
}

/// A cancellation is recorded first and gives its stock back right after; when that second
/// step fails (inventory's store went away in between), inventory's consumer of
/// `order.cancelled` gives it back, once.
async fn a_cancellation_recorded_while_inventory_failed_still_gives_the_stock_back(app: &TestApp) {
    use rouge_orders::{OrderEvent, OrdersRepository};
    async fn cancel_without_restock<R: OrdersRepository>(repo: &R, id: uuid::Uuid) {
        let (order, _) = repo.order(id).await.unwrap().expect("the order");
        let cancelled = OrderEvent::Cancelled { reason: "changed her mind".into() };
        let mut next = order.clone();
        next.apply(&cancelled, chrono::Utc::now().timestamp_millis());
        let event = rouge_kernel::DomainEvent::new("order", id, "order.cancelled", json!({"order_id": id}));
        repo.append_order(&next, order.version, &[cancelled], &[event]).await.unwrap();
    }
    stocked(app, SKU, 3).await;
    let cart = ready_cart(app, SKU, 2, None).await;
    let order: Value = complete(app, &cart, Some("k"), "tok_visa", None).await.json().await.unwrap();
    let id: uuid::Uuid = order["id"].as_str().unwrap().parse().unwrap();
    app.eventually(|| async { stock_of(app, SKU).await == (1, 0, 1) }).await;
    match &app.db {
        Db::Sqlite(d) => cancel_without_restock(&d.store, id).await,
        Db::Postgres(d) => cancel_without_restock(&d.store, id).await,
    }
    app.eventually(|| async { stock_of(app, SKU).await == (3, 0, 3) }).await;
    let (_, ledger) = app.get_json_as_admin(&format!("/v1/admin/inventory/skus/{SKU}/ledger")).await;
    let kinds: Vec<&str> =
        ledger["items"].as_array().unwrap().iter().map(|e| e["movement"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["receive", "reserve", "commit", "restock"], "given back once");
}

async fn cancelling_restocks_and_refunds_are_bounded(app: &TestApp) {
    stocked(app, SKU, 4).await;
    let cart = ready_cart(app, SKU, 2, None).await;
    let order: Value = complete(app, &cart, Some("k"), "tok_visa", None).await.json().await.unwrap();
    let id = order["id"].as_str().unwrap();
    app.eventually(|| async { stock_of(app, SKU).await == (2, 0, 2) }).await;
    let (_, o) = staff(app, id, json!({"action": "capture"})).await;
    let etag = format!("\"v{}\"", o["version"]);
    let refund = |amount: i64, etag: String| async move {
        let res = app
            .client
            .post(app.url(&format!("/v1/admin/orders/{id}/refunds")))
            .bearer_auth(&app.admin_key)
            .header("if-match", etag)
            .json(&json!({"amount": amount}))
            .send()
            .await
            .unwrap();
        (res.status(), res.json::<Value>().await.unwrap_or(Value::Null))
    };
    let (s, _) = refund(5801, etag.clone()).await;
    assert_eq!(s, StatusCode::CONFLICT, "never more than was captured");
    let (s, o) = refund(800, etag.clone()).await;
    assert_eq!((s, o["payment"]["refunded"].as_i64()), (StatusCode::OK, Some(800)), "{o}");
    let (s, _) = refund(100, etag).await;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED, "a stale ETag");
    let (s, o) = staff(app, id, json!({"action": "cancel", "reason": "customer asked"})).await;
    assert_eq!((s, o["status"].as_str()), (StatusCode::OK, Some("cancelled")), "{o}");
    assert_eq!(o["payment"]["refunded"], 5800, "cancelling refunds the rest");
    assert_eq!(stock_of(app, SKU).await, (4, 0, 4), "the units are back on sale");
    let (s, _) = staff(app, id, json!({"action": "cancel", "reason": "again"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, ledger) = app.get_json_as_admin(&format!("/v1/admin/inventory/skus/{SKU}/ledger")).await;
    let kinds: Vec<&str> =
        ledger["items"].as_array().unwrap().iter().map(|e| e["movement"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["receive", "reserve", "commit", "restock"]);
    rebuild_changes_nothing(app).await;
}

async fn unknown_payment_outcomes_are_reconciled_not_charged_twice(app: &TestApp) {
    stocked(app, SKU, 5).await;
    // The bank said yes but the answer was lost: the checkout asks again and places the order.
    let cart = ready_cart(app, SKU, 1, None).await;
    let res = complete(app, &cart, Some("t1"), "tok_timeout", None).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    // No answer at all: 503, the stock stays held for this attempt, a retry asks again.
    let cart = ready_cart(app, SKU, 2, None).await;
    let res = complete(app, &cart, Some("t2"), "tok_unreachable", None).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(res.json::<Value>().await.unwrap()["type"], "/problems/payment-pending");
    app.eventually(|| async { stock_of(app, SKU).await == (4, 2, 2) }).await;
    let (s, p) =
        shop(app, Method::POST, &format!("/v1/carts/{cart}/lines"), None, Some(json!({"sku": SKU, "quantity": 1})))
            .await;
    assert_eq!(s, StatusCode::CONFLICT, "the cart cannot change while its payment is pending: {p}");
    let res = complete(app, &cart, Some("t2"), "tok_unreachable", None).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(stock_of(app, SKU).await, (4, 2, 2), "the retry holds the same stock, not more");
    let res = complete(app, &cart, Some("t3"), "tok_visa", None).await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "the first attempt still holds the cart");
}

/// A flash sale through the API: 100 units, 500 shoppers checking out at once. Exactly 100
/// orders; everyone else is told it sold out; stock ends at zero and the ledger agrees.
async fn flash_sale(app: &TestApp) {
    stocked(app, "DROP-1", 100).await;
    let carts: Vec<String> = futures::future::join_all((0..500).map(|_| ready_cart(app, "DROP-1", 1, None))).await;
    let results = futures::future::join_all(carts.iter().enumerate().map(|(i, c)| async move {
        let res = complete(app, c, Some(&format!("buyer-{i}")), "tok_visa", None).await;
        let status = res.status();
        (status, res.json::<Value>().await.unwrap_or(Value::Null))
    }))
    .await;
    let sold = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    let sold_out: Vec<&Value> = results.iter().filter(|(s, _)| *s == StatusCode::CONFLICT).map(|(_, b)| b).collect();
    assert_eq!(
        (sold, sold_out.len()),
        (100, 400),
        "{:?}",
        results.iter().find(|(s, _)| !matches!(*s, StatusCode::CREATED | StatusCode::CONFLICT))
    );
    assert!(sold_out.iter().all(|p| p["type"] == "/problems/sold-out" && p["errors"][0]["code"] == "sold_out"));
    app.eventually(|| async { stock_of(app, "DROP-1").await == (0, 0, 0) }).await;
    let (_, listed) = app.get_json("/v1/products").await;
    let page = format!("/v1/products/{}", listed["items"][0]["slug"].as_str().unwrap());
    app.eventually(|| async { app.get_json(&page).await.1["availability"]["DROP-1"] == "sold_out" }).await;
    let mut numbers: Vec<i64> = results.iter().filter_map(|(_, b)| b["number"].as_i64()).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), 100, "100 distinct orders");
    let discrepancies = match &app.db {
        Db::Sqlite(d) => rouge_inventory::InventoryRepository::discrepancies(&d.store).await.unwrap(),
        Db::Postgres(d) => rouge_inventory::InventoryRepository::discrepancies(&d.store).await.unwrap(),
    };
    assert_eq!(discrepancies, vec![]);
}

/// The same checkout sent five times at once with one key: one order, one charge.
async fn concurrent_retries(app: &TestApp, provider: &TestProvider) {
    stocked(app, SKU, 10).await;
    let cart = ready_cart(app, SKU, 2, None).await;
    let attempts =
        futures::future::join_all((0..5).map(|_| complete(app, &cart, Some("same-key"), "tok_visa", None))).await;
    let statuses: Vec<StatusCode> = attempts.iter().map(reqwest::Response::status).collect();
    assert!(statuses.iter().all(|s| matches!(*s, StatusCode::CREATED | StatusCode::CONFLICT)), "{statuses:?}");
    assert!(statuses.contains(&StatusCode::CREATED));
    let last = complete(app, &cart, Some("same-key"), "tok_visa", None).await;
    assert_eq!(last.status(), StatusCode::CREATED);
    let (_, all) = app.get_json_as_admin("/v1/admin/orders").await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(1), "one order");
    assert_eq!(provider.charges(), 1, "one charge");
    app.eventually(|| async { stock_of(app, SKU).await == (8, 0, 8) }).await;
}

mod load {
    use super::*;

    async fn with_provider(pg: bool) -> Option<(TestApp, Arc<TestProvider>)> {
        let provider = Arc::new(TestProvider::new());
        let mut opts = test_options();
        opts.payments = vec![provider.clone()];
        let app = TestApp::on(pg, opts).await?;
        Some((app, provider))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_flash_sale_sells_exactly_the_stock() {
        let (app, _) = with_provider(false).await.unwrap();
        flash_sale(&app).await;
        app.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_flash_sale_sells_exactly_the_stock() {
        let Some((app, _)) = with_provider(true).await else { return };
        flash_sale(&app).await;
        app.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_five_concurrent_retries_make_one_order_and_one_charge() {
        let (app, p) = with_provider(false).await.unwrap();
        concurrent_retries(&app, &p).await;
        app.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_five_concurrent_retries_make_one_order_and_one_charge() {
        let Some((app, p)) = with_provider(true).await else { return };
        concurrent_retries(&app, &p).await;
        app.stop().await;
    }
}

pub async fn a_confirmation_email_that_cannot_be_sent_becomes_a_dead_letter_and_is_replayed(app: &TestApp) {
    stocked(app, SKU, 5).await;
    let cart = ready_cart(app, SKU, 1, None).await;
    let order: Value = complete(app, &cart, Some("k1"), "tok_visa", None).await.json().await.unwrap();
    let mail = app.smtp.wait_for("camille@example.com", "is confirmed").await;
    assert!(mail.contains(&format!("#{}", order["number"])), "{mail}");
    assert!(mail.contains("1 × Glow Serum (LL-GLOW-30)  29.00 EUR"), "{mail}");

    // The mail server goes down: the next confirmation is retried, then parked.
    app.smtp.refuse(true);
    let cart = ready_cart(app, SKU, 1, None).await;
    let order: Value = complete(app, &cart, Some("k2"), "tok_visa", None).await.json().await.unwrap();
    let dead = || async {
        let (_, list) = app.get_json_as_admin("/v1/admin/dead-letters").await;
        list["items"].as_array().cloned().unwrap_or_default().into_iter().find(|d| d["state"] == "dead")
    };
    app.eventually(|| async { dead().await.is_some() }).await;
    let letter = dead().await.unwrap();
    assert_eq!(
        (letter["consumer"].as_str(), letter["event_type"].as_str()),
        (Some("order-email"), Some("order.placed"))
    );
    assert_eq!(letter["attempts"], 3);
    assert_eq!(letter["payload"]["order_id"], order["id"]);
    assert!(letter["last_error"].as_str().unwrap().contains("SMTP"), "{letter}");
    assert_eq!(app.smtp.count_to("camille@example.com"), 1, "nothing was sent meanwhile");

    // Fixed: staff replay it and the email goes out.
    app.smtp.refuse(false);
    let event = letter["event_id"].as_str().unwrap();
    let res = app.admin(Method::POST, &format!("/v1/admin/dead-letters/order-email/{event}/replay"), &json!({})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    app.eventually(|| async { app.smtp.count_to("camille@example.com") == 2 }).await;
    app.eventually(|| async {
        let (_, list) = app.get_json_as_admin("/v1/admin/dead-letters").await;
        list["items"] == json!([])
    })
    .await;
    let res = app.admin(Method::POST, &format!("/v1/admin/dead-letters/order-email/{event}/replay"), &json!({})).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "nothing left to replay");
}

use crate::graphql::gql_as as gql;

/// GraphQL has the same orders and the same rules: her orders for her, staff fields by
/// permission.
async fn graphql_orders_answer_like_rest(app: &TestApp) {
    stocked(app, SKU, 5).await;
    let ana = register(app, "ana@example.com").await;
    let bea = register(app, "bea@example.com").await;
    let cart = ready_cart(app, SKU, 2, Some(&ana)).await;
    let order: Value = complete(app, &cart, Some("g1"), "tok_visa", Some(&ana)).await.json().await.unwrap();
    let id = order["id"].as_str().unwrap();

    let q = "{ myOrders { edges { node { id number status total lines { sku quantity } } } } }";
    let mine = gql(app, Some(&ana), q, json!({})).await;
    let first = &mine["data"]["myOrders"]["edges"][0]["node"];
    assert_eq!(first["id"], id, "{mine}");
    assert_eq!(first["lines"], json!([{"sku": SKU, "quantity": 2}]));
    assert_eq!(first["total"], order["totals"]["total"]);
    let one = "query($id: UUID!) { myOrder(id: $id) { id status email timeline } }";
    let theirs = gql(app, Some(&bea), one, json!({"id": id})).await;
    assert_eq!(theirs["errors"][0]["extensions"]["code"], "NOT_FOUND", "{theirs}");
    let nobody = gql(app, None, "{ myOrders { edges { node { id } } } }", json!({})).await;
    assert_eq!(nobody["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let own = gql(app, Some(&ana), one, json!({"id": id})).await;
    assert_eq!(own["data"]["myOrder"]["timeline"].as_array().map(Vec::len), Some(2), "{own}");

    // Her orders page like a Relay connection, with the same cursors as REST's list.
    let second_cart = ready_cart(app, SKU, 1, Some(&ana)).await;
    let second: Value = complete(app, &second_cart, Some("g2"), "tok_visa", Some(&ana)).await.json().await.unwrap();
    let page = "query($after: String) { myOrders(first: 1, after: $after) {
        edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
    let p1 = gql(app, Some(&ana), page, json!({})).await;
    let c1 = &p1["data"]["myOrders"];
    assert_eq!(c1["edges"][0]["node"]["id"], second["id"], "newest first: {p1}");
    assert_eq!(
        (c1["pageInfo"]["hasNextPage"].as_bool(), c1["pageInfo"]["hasPreviousPage"].as_bool()),
        (Some(true), Some(false))
    );
    let (_, rest) = shop(app, Method::GET, "/v1/me/orders?limit=1", Some(&ana), None).await;
    assert_eq!(rest["next_cursor"], c1["pageInfo"]["endCursor"], "one cursor for both APIs");
    let p2 = gql(app, Some(&ana), page, json!({"after": c1["pageInfo"]["endCursor"]})).await;
    let c2 = &p2["data"]["myOrders"];
    assert_eq!(c2["edges"][0]["node"]["id"], id, "{p2}");
    assert_eq!(
        (c2["pageInfo"]["hasNextPage"].as_bool(), c2["pageInfo"]["hasPreviousPage"].as_bool()),
        (Some(false), Some(true))
    );
    let bad = gql(app, Some(&ana), page, json!({"after": "nonsense"})).await;
    assert_eq!(bad["errors"][0]["extensions"]["fields"], json!(["after"]), "{bad}");

    // Staff fields: the owner's API key may; a customer may not.
    let staff_q = "{ orders(status: \"authorized\") { edges { node { id number placedAt } } } }";
    let denied = gql(app, Some(&ana), staff_q, json!({})).await;
    assert_eq!(denied["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{denied}");
    let listed = gql(app, Some(&app.admin_key), staff_q, json!({})).await;
    let nodes = &listed["data"]["orders"]["edges"];
    assert_eq!(
        (nodes[0]["node"]["id"].as_str(), nodes[1]["node"]["id"].as_str()),
        (second["id"].as_str(), Some(id)),
        "{listed}"
    );
    let placed = nodes[1]["node"]["placedAt"].as_str().expect("a DateTime, not a number");
    assert!(chrono::DateTime::parse_from_rfc3339(placed).is_ok(), "{placed}");
    let capture = "mutation($id: UUID!) { transitionOrder(order: $id, command: {action: \"capture\"}) { status } }";
    let captured = gql(app, Some(&app.admin_key), capture, json!({"id": id})).await;
    assert_eq!(captured["data"]["transitionOrder"]["status"], "paid", "{captured}");
    // Audited exactly like the REST route: one filter finds the change whichever way it came.
    let (_, trail) = app.get_json_as_admin("/v1/admin/audit?route=/v1/admin/orders/{id}/transitions").await;
    let entry = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"].as_str().is_some_and(|p| p.contains(id)))
        .unwrap_or_else(|| panic!("the GraphQL capture is in the audit trail: {trail}"));
    assert_eq!((entry["action"].as_str(), entry["after"]["status"].as_str()), (Some("POST"), Some("paid")), "{entry}");
    let by_customer = gql(app, Some(&ana), capture, json!({"id": id})).await;
    assert_eq!(by_customer["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let ret = "mutation($id: UUID!) { requestReturn(order: $id, lines: [{sku: \"LL-GLOW-30\", quantity: 1}], reason: \"shade\") { status } }";
    let early = gql(app, Some(&ana), ret, json!({"id": id})).await;
    assert_eq!(early["errors"][0]["extensions"]["code"], "CONFLICT", "not shipped yet: {early}");
    let (_, rest) = shop(app, Method::GET, &format!("/v1/me/orders/{id}"), Some(&ana), None).await;
    assert_eq!(rest["status"], "paid", "REST sees what GraphQL did");
}

/// The whole checkout of a storefront that speaks only GraphQL: find a product, fill a cart,
/// give the details, pick a shipping method, pay with an idempotency key, retry safely, and
/// fetch each object again by id through `node`.
async fn a_storefront_checks_out_on_graphql_alone(app: &TestApp) {
    stocked(app, SKU, 5).await;
    let found = gql(
        app,
        None,
        r#"{ products(filter: {q: "glow"}, first: 1) {
            pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
            edges { cursor node { id name variants { sku availability } } } } }"#,
        json!({}),
    )
    .await;
    let conn = &found["data"]["products"];
    let product = &conn["edges"][0]["node"];
    assert_eq!(product["variants"][0]["sku"], SKU, "{found}");
    assert_eq!(conn["pageInfo"]["startCursor"], conn["edges"][0]["cursor"], "Relay page info: {found}");
    assert_eq!(conn["pageInfo"]["hasPreviousPage"], false);

    let fields = "id state currency lines { id sku quantity unitPrice total } totals { subtotal shipping tax total }";
    let created = gql(app, None, &format!("mutation {{ createCart {{ {fields} }} }}"), json!({})).await;
    let cart = created["data"]["createCart"]["id"].as_str().unwrap_or_else(|| panic!("{created}")).to_owned();
    assert_eq!(created["data"]["createCart"]["state"], "OPEN");

    let add = format!(
        "mutation($c: UUID!, $sku: String!, $q: Int!) {{ addCartLine(cartId: $c, sku: $sku, quantity: $q) {{ {fields} }} }}"
    );
    let refused = gql(app, None, &add, json!({"c": cart, "sku": SKU, "q": 0})).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{refused}");
    assert_eq!(refused["errors"][0]["extensions"]["fields"], json!(["quantity"]), "{refused}");
    // The same mistakes answer alike in REST and GraphQL: the same problem type and fields.
    let (_, rest) =
        shop(app, Method::POST, &format!("/v1/carts/{cart}/lines"), None, Some(json!({"sku": SKU, "quantity": 0})))
            .await;
    assert_eq!(refused["errors"][0]["extensions"]["type"], rest["type"], "{rest}");
    assert_eq!(refused["errors"][0]["extensions"]["errors"], rest["errors"], "{rest}");
    let nowhere = uuid::Uuid::new_v4();
    let missing = gql(app, None, &add, json!({"c": nowhere, "sku": SKU, "q": 1})).await;
    let (_, rest) =
        shop(app, Method::POST, &format!("/v1/carts/{nowhere}/lines"), None, Some(json!({"sku": SKU, "quantity": 1})))
            .await;
    assert_eq!(missing["errors"][0]["extensions"]["code"], "NOT_FOUND", "{missing}");
    assert_eq!(missing["errors"][0]["extensions"]["type"], rest["type"], "{rest}");
    let added = gql(app, None, &add, json!({"c": cart, "sku": SKU, "q": 3})).await;
    let line = added["data"]["addCartLine"]["lines"][0].clone();
    assert_eq!((line["sku"].as_str(), line["quantity"].as_i64()), (Some(SKU), Some(3)), "{added}");
    let set = format!(
        "mutation($c: UUID!, $l: UUID!) {{ setCartLineQuantity(cartId: $c, lineId: $l, quantity: 2) {{ {fields} }} }}"
    );
    let two = gql(app, None, &set, json!({"c": cart, "l": line["id"]})).await;
    assert_eq!(two["data"]["setCartLineQuantity"]["totals"]["subtotal"], 5800, "{two}");

    let details = r#"mutation($c: UUID!, $d: CheckoutDetailsInput!) {
        setCheckoutDetails(cartId: $c, details: $d) { email shippingAddress { city country } shippingMethod
            totals { shipping total } shippingMethods { code name price } } }"#;
    let address = json!({"name": "Camille Martin", "line1": "12 rue des Lilas", "city": "Lyon", "postalCode": "69003", "country": "FR"});
    let bad = gql(app, None, details, json!({"c": cart, "d": {"email": "not an email"}})).await;
    assert_eq!(bad["errors"][0]["extensions"]["fields"], json!(["email"]), "{bad}");
    let given =
        gql(app, None, details, json!({"c": cart, "d": {"email": "camille@example.com", "shippingAddress": address}}))
            .await;
    let given = &given["data"]["setCheckoutDetails"];
    assert_eq!(given["shippingAddress"], json!({"city": "Lyon", "country": "FR"}), "{given}");
    let methods = given["shippingMethods"].as_array().unwrap();
    assert!(methods.iter().any(|m| m["code"] == "express" && m["price"].as_i64() > Some(0)), "{given}");
    let chosen = gql(app, None, details, json!({"c": cart, "d": {"shippingMethod": "express"}})).await;
    let chosen = &chosen["data"]["setCheckoutDetails"];
    assert_eq!(
        (chosen["shippingMethod"].as_str(), chosen["email"].as_str()),
        (Some("express"), Some("camille@example.com"))
    );
    assert!(chosen["totals"]["shipping"].as_i64() > Some(0), "{chosen}");
    let total = chosen["totals"]["total"].clone();

    let complete = r#"mutation($c: UUID!, $k: String!, $card: String!) {
        completeCheckout(cartId: $c, payment: {provider: "test", token: $card}, idempotencyKey: $k) {
            placed order { id status total email lines { sku quantity } } } }"#;
    let no_key = gql(app, None, complete, json!({"c": cart, "k": "", "card": "tok_visa"})).await;
    assert_eq!(no_key["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{no_key}");
    let declined = gql(app, None, complete, json!({"c": cart, "k": "gql-1", "card": "tok_decline"})).await;
    assert_eq!(declined["errors"][0]["extensions"]["code"], "PAYMENT_DECLINED", "{declined}");
    assert_eq!(stock_of(app, SKU).await, (5, 0, 5), "a declined card holds no stock");
    let placed = gql(app, None, complete, json!({"c": cart, "k": "gql-2", "card": "tok_visa"})).await;
    let done = &placed["data"]["completeCheckout"];
    assert_eq!(done["placed"], true, "{placed}");
    assert_eq!((done["order"]["status"].as_str(), &done["order"]["total"]), (Some("authorized"), &total));
    assert_eq!(done["order"]["lines"], json!([{"sku": SKU, "quantity": 2}]));
    let order = done["order"]["id"].as_str().unwrap().to_owned();
    // A retry whose answer was lost: the same order, no second charge or hold.
    let again = gql(app, None, complete, json!({"c": cart, "k": "gql-2", "card": "tok_visa"})).await;
    assert_eq!(again["data"]["completeCheckout"]["placed"], false, "{again}");
    assert_eq!(again["data"]["completeCheckout"]["order"]["id"], order.as_str());
    app.eventually(|| async { stock_of(app, SKU).await == (3, 0, 3) }).await;
    let (_, rest) = app.get_json_as_admin(&format!("/v1/admin/orders/{order}")).await;
    assert_eq!(rest["totals"]["total"], total, "REST sees the order GraphQL placed");

    // Relay's object identification: each object again by its id alone, as far as the caller
    // may see it.
    let node = r#"query($id: ID!) { node(id: $id) { __typename id
        ... on Product { name } ... on Cart { state } ... on Order { status } } }"#;
    let p = gql(app, None, node, json!({"id": product["id"]})).await;
    assert_eq!(
        (p["data"]["node"]["__typename"].as_str(), &p["data"]["node"]["name"]),
        (Some("Product"), &product["name"])
    );
    let c = gql(app, None, node, json!({"id": cart})).await;
    assert_eq!(c["data"]["node"]["state"], "COMPLETED", "{c}");
    let hidden = gql(app, None, node, json!({"id": order})).await;
    assert_eq!(hidden["data"]["node"], Value::Null, "a guest cannot fetch orders by id: {hidden}");
    let staff = gql(app, Some(&app.admin_key), node, json!({"id": order})).await;
    assert_eq!(staff["data"]["node"]["status"], "authorized", "{staff}");
    let nothing = gql(app, None, node, json!({"id": "not-an-id"})).await;
    assert_eq!(nothing["data"]["node"], Value::Null);

    // A customer's cart: only with her token; a bad token is refused, never taken for a guest.
    let ana = register(app, "ana@example.com").await;
    let hers = gql(app, Some(&ana), "mutation { createCart { id } }", json!({})).await;
    let hers = hers["data"]["createCart"]["id"].as_str().unwrap().to_owned();
    let read = "query($id: UUID!) { cart(id: $id) { id lines { sku } } }";
    let as_guest = gql(app, None, read, json!({"id": hers})).await;
    assert_eq!(as_guest["errors"][0]["extensions"]["code"], "NOT_FOUND", "{as_guest}");
    let forged = gql(app, Some("not.a.token"), read, json!({"id": hers})).await;
    assert_eq!(forged["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{forged}");
    let own = gql(app, Some(&ana), read, json!({"id": hers})).await;
    assert_eq!(own["data"]["cart"]["id"], hers.as_str(), "{own}");
}

/// Checkout through the Stripe provider, against a local stand-in serving Stripe's recorded
/// answers; and Stripe's webhooks, verified by signature.
pub mod stripe {
    use super::*;
    use hmac::{KeyInit, Mac};

    fn fixture(name: &str) -> String {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../payments/tests/fixtures/stripe/");
        std::fs::read_to_string(format!("{dir}{name}.json")).unwrap()
    }

    /// Stripe's recorded answers; each successful authorization gets its own PaymentIntent id
    /// (`pi_3QRecorded0001`, `…0002`, …).
    async fn stand_in() -> String {
        stand_in_seeing().await.0
    }

    /// The stand-in, and the PaymentIntent requests it was sent (form bodies).
    pub async fn stand_in_seeing() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
        let made = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let saw = seen.clone();
        let app = axum::Router::new().route(
            "/v1/payment_intents",
            axum::routing::post(move |body: String| {
                let made = made.clone();
                saw.lock().unwrap().push(body.clone());
                async move {
                    if body.contains("pm_card_chargeDeclinedInsufficientFunds") {
                        (axum::http::StatusCode::PAYMENT_REQUIRED, fixture("error_card_declined"))
                    } else {
                        let n = made.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                        let intent = fixture("intent_requires_capture").replace("pi_3QRecorded0001", &pi(n));
                        (axum::http::StatusCode::OK, intent)
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (base, seen)
    }

    fn pi(n: usize) -> String {
        format!("pi_3QRecorded{n:04}")
    }

    fn sign(secret: &str, t: i64, payload: &str) -> String {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.{payload}").as_bytes());
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        format!("t={t},v1={hex}")
    }

    async fn app_with_stripe(store: &str) -> Option<TestApp> {
        app_with_stripe_and(store, true).await
    }

    async fn app_with_stripe_and(store: &str, test_payments: bool) -> Option<TestApp> {
        let base = stand_in().await;
        let mut opts = test_options();
        opts.test_payments = test_payments;
        opts.stripe = Some(Arc::new(
            rouge_payments::StripeProvider::new("sk_test_recorded", Some("whsec_test".into()), Some(&base)).unwrap(),
        ));
        match store {
            "sqlite" => Some(TestApp::sqlite_with(opts).await),
            _ => TestApp::postgres_with(opts).await,
        }
    }

    #[tokio::test]
    async fn sqlite_stripe_checkout_and_webhooks() {
        let app = app_with_stripe("sqlite").await.unwrap();
        stripe_checkout_and_webhooks(&app, &app.base).await;
        app.stop().await;
    }

    #[tokio::test]
    async fn postgres_stripe_checkout_and_webhooks() {
        let Some(app) = app_with_stripe("postgres").await else { return };
        stripe_checkout_and_webhooks(&app, &app.base).await;
        app.stop().await;
    }

    /// The payments service apart (`--services payments`, holding Stripe's keys and the test
    /// provider), the other services in the shop's process: checkouts, captures and refunds go
    /// to it over HTTP, Stripe's webhooks come to it and are recorded by orders over HTTP; with
    /// it down a checkout is 503 `payment-pending` and its retry with the same key pays once.
    async fn payments_apart(pg: bool) {
        use rouge_http::services::{Service, Services};
        let payments_addr = format!("127.0.0.1:{}", crate::helpers::free_port());
        let mut opts = test_options();
        opts.services = Services::parse("catalog,inventory,orders,identity").unwrap();
        opts.peer_urls = vec![(Service::Payments, format!("http://{payments_addr}"))];
        opts.peer_policy.open_for = std::time::Duration::from_millis(200);
        let Some(app) = TestApp::on(pg, opts).await else { return };
        let payments_opts = || {
            let mut p = test_options();
            p.services = Services::parse("payments").unwrap();
            p.peer_urls = vec![(Service::Orders, app.base.clone()), (Service::Identity, app.base.clone())];
            p
        };
        let mut p = payments_opts();
        p.stripe = Some(Arc::new(
            rouge_payments::StripeProvider::new("sk_test_recorded", Some("whsec_test".into()), Some(&stand_in().await))
                .unwrap(),
        ));
        let payments = app.replica_at(&payments_addr, p).await;
        let (s, _) = app.get_json("/v1/payments/stripe/webhook").await;
        assert_eq!(s, StatusCode::NOT_FOUND, "the webhook is the payments service's");
        stripe_checkout_and_webhooks(&app, &payments.base).await;

        // The payments service down: the checkout's outcome is unknown (503, Retry-After), its
        // stock stays held for the retry, which pays once the service is back.
        payments.stop().await;
        let cart = ready_cart(&app, SKU, 1, None).await;
        let res = complete(&app, &cart, Some("apart-1"), "tok_visa", None).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(res.headers().contains_key("retry-after"));
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["type"], "/problems/payment-pending", "{problem}");
        let payments = app.replica_at(&payments_addr, payments_opts()).await;
        let mut paid = Value::Null;
        for _ in 0..100 {
            let res = complete(&app, &cart, Some("apart-1"), "tok_visa", None).await;
            if res.status() == StatusCode::CREATED {
                paid = res.json().await.unwrap();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(paid["payment"]["provider"], "test", "{paid}");
        let (_, orders) = app.get_json_as_admin("/v1/admin/orders?limit=100").await;
        let of_cart = orders["items"].as_array().unwrap().iter().filter(|o| o["cart_id"] == cart.as_str()).count();
        assert_eq!(of_cart, 1, "one order for the cart: {orders}");
        payments.stop().await;
        app.stop().await;
    }

    #[tokio::test]
    async fn sqlite_payments_apart() {
        payments_apart(false).await;
    }

    #[tokio::test]
    async fn postgres_payments_apart() {
        payments_apart(true).await;
    }

    #[tokio::test]
    async fn sqlite_a_live_shop_refuses_test_cards() {
        let app = app_with_stripe_and("sqlite", false).await.unwrap();
        a_live_shop_refuses_test_cards(&app).await;
        app.stop().await;
    }

    #[tokio::test]
    async fn postgres_a_live_shop_refuses_test_cards() {
        let Some(app) = app_with_stripe_and("postgres", false).await else { return };
        a_live_shop_refuses_test_cards(&app).await;
        app.stop().await;
    }

    /// Without `--demo` or `ROUGE_TEST_PAYMENTS`, the test provider's cards are no way to pay:
    /// the answer names the providers that are live, and nothing is held or placed.
    async fn a_live_shop_refuses_test_cards(app: &TestApp) {
        stocked(app, SKU, 5).await;
        let cart = ready_cart(app, SKU, 2, None).await;
        let res = complete(app, &cart, Some("free-order"), "tok_visa", None).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let p: Value = res.json().await.unwrap();
        assert_eq!(p["errors"][0]["field"], "payment.provider", "{p}");
        let why = p["errors"][0]["message"].as_str().unwrap();
        assert!(why.contains("live providers: stripe") && !why.contains("test,"), "{p}");
        assert_eq!(stock_of(app, SKU).await, (5, 0, 5), "nothing held");
        let (_, orders) = app.get_json_as_admin("/v1/admin/orders").await;
        assert_eq!(orders["items"], json!([]), "no order placed");
        let (s, c) = shop(app, Method::GET, &format!("/v1/carts/{cart}"), None, None).await;
        assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("open")), "{c}");
    }

    /// Checkout and webhooks with Stripe, its webhooks sent to `webhooks` (the shop, or the
    /// payments service when it runs apart).
    async fn stripe_checkout_and_webhooks(app: &TestApp, webhooks: &str) {
        stocked(app, SKU, 5).await;
        let pay = |cart: String, key: &'static str, pm: &'static str| async move {
            let res = app
                .client
                .post(app.url(&format!("/v1/carts/{cart}/complete")))
                .header("idempotency-key", key)
                .json(&json!({"payment": {"provider": "stripe", "token": pm}}))
                .send()
                .await
                .unwrap();
            (res.status(), res.json::<Value>().await.unwrap())
        };
        let cart = ready_cart(app, SKU, 2, None).await;
        let (s, p) = pay(cart.clone(), "s1", "pm_card_chargeDeclinedInsufficientFunds").await;
        assert_eq!(
            (s, p["errors"][0]["code"].as_str()),
            (StatusCode::PAYMENT_REQUIRED, Some("insufficient_funds")),
            "{p}"
        );
        let (s, order) = pay(cart, "s2", "pm_card_visa").await;
        assert_eq!(s, StatusCode::CREATED, "{order}");
        assert_eq!(order["payment"]["provider"], "stripe");
        assert_eq!(order["payment"]["payment_id"], pi(1));
        let (id, total) = (order["id"].as_str().unwrap().to_owned(), order["totals"]["total"].as_i64().unwrap());

        let hook = |payload: String, sig: String| async move {
            let res = app
                .client
                .post(format!("{webhooks}/v1/payments/stripe/webhook"))
                .header("stripe-signature", sig)
                .body(payload)
                .send()
                .await
                .unwrap();
            (res.status(), res.json::<Value>().await.unwrap_or(Value::Null))
        };
        let now = chrono::Utc::now().timestamp();
        let signed = |payload: &str| sign("whsec_test", now, payload);
        let succeeded = fixture("webhook_payment_intent_succeeded");
        assert_eq!(hook(succeeded.clone(), sign("whsec_wrong", now, &succeeded)).await.0, StatusCode::BAD_REQUEST);
        assert_eq!(hook(succeeded.clone(), sign("whsec_test", now - 600, &succeeded)).await.0, StatusCode::BAD_REQUEST);
        let (_, unchanged) = app.get_json_as_admin(&format!("/v1/admin/orders/{id}")).await;
        assert_eq!(unchanged["status"], "authorized", "a refused webhook records nothing");

        // Captured in Stripe's dashboard: the order is paid, once however often Stripe says so.
        let captured = succeeded.replace("5800", &total.to_string());
        for _ in 0..2 {
            let (s, ack) = hook(captured.clone(), signed(&captured)).await;
            assert_eq!((s, &ack["order"]), (StatusCode::OK, &json!({"id": id, "status": "paid"})), "{ack}");
        }
        // Partly refunded there: recorded with Stripe's refund id, once.
        let refunded = fixture("webhook_charge_refunded");
        for _ in 0..2 {
            assert_eq!(hook(refunded.clone(), signed(&refunded)).await.0, StatusCode::OK);
        }
        let (_, seen) = app.get_json_as_admin(&format!("/v1/admin/orders/{id}")).await;
        assert_eq!(
            (seen["payment"]["captured"].as_i64(), seen["payment"]["refunded"].as_i64()),
            (Some(total), Some(1500)),
            "{seen}"
        );
        let kinds: Vec<&str> =
            seen["timeline"].as_array().unwrap().iter().map(|t| t["event"]["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["placed", "payment_authorized", "payment_captured", "refunded"], "{seen}");
        assert_eq!(seen["timeline"][3]["event"]["refund_id"], "re_3QRecorded0002");

        // Another order whose authorization is cancelled in Stripe (or expires): it is cancelled
        // and its units are for sale again.
        let (s, second) = pay(ready_cart(app, SKU, 3, None).await, "s3", "pm_card_visa").await;
        assert_eq!((s, second["payment"]["payment_id"].as_str()), (StatusCode::CREATED, Some(pi(2).as_str())));
        app.eventually(|| async { stock_of(app, SKU).await == (0, 0, 0) }).await;
        let canceled = fixture("webhook_payment_intent_canceled").replace(&pi(1), &pi(2));
        let (s, ack) = hook(canceled.clone(), signed(&canceled)).await;
        assert_eq!((s, ack["order"]["status"].as_str()), (StatusCode::OK, Some("cancelled")), "{ack}");
        app.eventually(|| async { stock_of(app, SKU).await == (3, 0, 3) }).await;
        let (s, ack) = hook(canceled.clone(), signed(&canceled)).await;
        assert_eq!((s, ack["order"]["status"].as_str()), (StatusCode::OK, Some("cancelled")), "once");

        // Events about nothing Rouge holds are acknowledged.
        let stranger = canceled.replace(&pi(2), "pi_unknown");
        let (s, ack) = hook(stranger.clone(), signed(&stranger)).await;
        assert_eq!((s, ack), (StatusCode::OK, json!({"received": true, "order": null})));

        // Stripe speaks only for payments made through Stripe: a signed event naming another
        // provider's payment leaves that order alone.
        let res = complete(app, &ready_cart(app, SKU, 1, None).await, Some("t1"), "tok_visa", None).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let other: Value = res.json().await.unwrap();
        let other_pay = other["payment"]["payment_id"].as_str().unwrap();
        let forged = canceled.replace(&pi(2), other_pay);
        let (s, ack) = hook(forged.clone(), signed(&forged)).await;
        assert_eq!((s, ack), (StatusCode::OK, json!({"received": true, "order": null})));
        let (_, seen) = app.get_json_as_admin(&format!("/v1/admin/orders/{}", other["id"].as_str().unwrap())).await;
        assert_eq!(seen["status"], "authorized", "{seen}");
        rebuild_changes_nothing(app).await;
    }
}
