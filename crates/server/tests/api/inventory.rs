//! Inventory over HTTP: receiving lots with batch numbers and expiry dates, adjusting,
//! transferring, quarantining, the ledger, batch look-ups and what the storefront sees.

use crate::helpers::{TestApp, serum};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

crate::on_both_stores!(stock_is_received_moved_and_shown, bad_stock_requests_get_problems_and_change_nothing);

fn in_days(n: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(n)).to_string()
}

async fn send(app: &TestApp, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
    let res = app.admin(method, path, &body).await;
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn stock_is_received_moved_and_shown(app: &TestApp) {
    app.brand("Lumen Lab").await;
    let product = app.product(serum("Glow Serum", "lumen-lab", "LL-GLOW-30", 2900)).await;
    let product_page = format!("/v1/products/{}", product["slug"].as_str().unwrap());
    let shown_on_page = |page: String| async move {
        let res = app.get(&page).await;
        let etag = res.headers()["etag"].to_str().unwrap().to_owned();
        let body: Value = res.json().await.unwrap();
        (body["availability"]["LL-GLOW-30"].as_str().unwrap_or_default().to_owned(), etag, body)
    };
    let (status, never_stocked, body) = shown_on_page(product_page.clone()).await;
    assert_eq!(status, "sold_out", "a SKU never stocked is sold out on its page: {body}");
    assert_eq!(body["name"], "Glow Serum", "the page is still the product's");
    let receipt = |batch: &str, days: i64, qty: i64| json!({"sku": "LL-GLOW-30", "location": "main", "batch": batch, "expires_on": in_days(days), "quantity": qty, "reference": "PO-77"});
    let (s, a) = send(app, Method::POST, "/v1/admin/inventory/receipts", receipt("A1", 400, 20)).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    assert_eq!((a["on_hand"].as_i64(), a["reserved"].as_i64()), (Some(20), Some(0)));
    let (s, _) = send(app, Method::POST, "/v1/admin/inventory/receipts", receipt("A0", 10, 7)).await;
    assert_eq!(s, StatusCode::CREATED, "stock that expires soon is received, but not sold");
    app.eventually(|| async { shown_on_page(product_page.clone()).await.0 == "in_stock" }).await;
    let (_, in_stock, _) = shown_on_page(product_page.clone()).await;
    assert_ne!(in_stock, never_stocked, "a status change makes a new ETag");
    let revalidated =
        app.client.get(app.url(&product_page)).header("if-none-match", &never_stocked).send().await.unwrap();
    assert_eq!(revalidated.status(), StatusCode::OK, "a copy from before the receipt is stale");

    let (s, level) = app.get_json_as_admin("/v1/admin/inventory/skus/LL-GLOW-30").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((level["on_hand"].as_i64(), level["available"].as_i64()), (Some(27), Some(20)), "{level}");

    let lot = a["id"].as_str().unwrap();
    let (s, adj) = send(
        app,
        Method::POST,
        &format!("/v1/admin/inventory/lots/{lot}/adjustments"),
        json!({"delta": -2, "reason": "two bottles broke"}),
    )
    .await;
    assert_eq!((s, adj["on_hand"].as_i64()), (StatusCode::OK, Some(18)), "{adj}");
    let (s, moved) = send(
        app,
        Method::POST,
        &format!("/v1/admin/inventory/lots/{lot}/transfers"),
        json!({"to_location": "paris-store", "quantity": 5}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{moved}");
    assert_eq!((moved["from"]["on_hand"].as_i64(), moved["to"]["on_hand"].as_i64()), (Some(13), Some(5)));
    assert_eq!(moved["to"]["batch"], "A1");
    assert_eq!(moved["to"]["expires_on"], a["expires_on"], "a batch keeps its expiry wherever it goes");

    let (s, lots) = app.get_json_as_admin("/v1/admin/batches/A1").await;
    assert_eq!((s, lots["items"].as_array().map(Vec::len)), (StatusCode::OK, Some(2)));
    let (s, orders) = app.get_json_as_admin("/v1/admin/batches/A1/orders").await;
    assert_eq!((s, &orders["items"]), (StatusCode::OK, &json!([])), "no order has received this batch yet");

    let (s, page) = app.get_json_as_admin("/v1/admin/inventory/skus/LL-GLOW-30/ledger?limit=3").await;
    assert_eq!(s, StatusCode::OK);
    let kinds: Vec<&str> = page["items"].as_array().unwrap().iter().map(|e| e["movement"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["receive", "receive", "adjust"]);
    assert_eq!(page["items"][2]["reason"], "two bottles broke");
    let next = page["next_cursor"].as_str().expect("a next page");
    let (_, rest) = app.get_json_as_admin(&format!("/v1/admin/inventory/skus/LL-GLOW-30/ledger?cursor={next}")).await;
    let kinds: Vec<&str> = rest["items"].as_array().unwrap().iter().map(|e| e["movement"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["transfer_out", "transfer_in"]);
    assert_eq!(rest["next_cursor"], Value::Null);

    let (s, shown) = app.get_json("/v1/stock?sku=LL-GLOW-30&sku=NOT-A-SKU").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(shown["items"], json!([{"sku": "LL-GLOW-30", "status": "in_stock", "available": null}]));

    // Quarantining the main lot leaves the 5 in Paris: low stock, and the count is shown.
    let (s, _) =
        send(app, Method::PUT, &format!("/v1/admin/inventory/lots/{lot}/quarantine"), json!({"quarantined": true}))
            .await;
    assert_eq!(s, StatusCode::OK);
    let (_, shown) = app.get_json("/v1/stock?sku=LL-GLOW-30").await;
    assert_eq!(shown["items"], json!([{"sku": "LL-GLOW-30", "status": "low_stock", "available": 5}]));
    app.eventually(|| async { shown_on_page(product_page.clone()).await.0 == "low_stock" }).await;

    // Every change is in the audit trail with who made it.
    let (_, audit) = app.get_json_as_admin("/v1/admin/audit?route=/v1/admin/inventory/receipts").await;
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(2));
}

async fn bad_stock_requests_get_problems_and_change_nothing(app: &TestApp) {
    app.brand("Lumen Lab").await;
    app.product(serum("Glow Serum", "lumen-lab", "LL-GLOW-30", 2900)).await;
    let cases = [
        (json!({"sku": "NOPE", "location": "main", "batch": "B", "quantity": 1}), 422, "unknown_sku"),
        (json!({"sku": "LL-GLOW-30", "location": "main", "batch": "B", "quantity": 0}), 422, "out_of_range"),
        (json!({"sku": "LL-GLOW-30", "location": "", "batch": "B", "quantity": 1}), 422, "invalid"),
        (
            json!({"sku": "LL-GLOW-30", "location": "main", "batch": "B", "quantity": 1, "expires_on": in_days(-1)}),
            422,
            "expired",
        ),
    ];
    for (body, status, code) in cases {
        let res = app.admin(Method::POST, "/v1/admin/inventory/receipts", &body).await;
        assert_eq!(res.status().as_u16(), status, "{body}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let p: Value = res.json().await.unwrap();
        assert!(p["errors"].as_array().unwrap().iter().any(|e| e["code"] == code), "{p}");
    }
    let (s, lot) = send(
        app,
        Method::POST,
        "/v1/admin/inventory/receipts",
        json!({"sku": "LL-GLOW-30", "location": "main", "batch": "B", "quantity": 3, "expires_on": in_days(300)}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, p) = send(
        app,
        Method::POST,
        "/v1/admin/inventory/receipts",
        json!({"sku": "LL-GLOW-30", "location": "main", "batch": "B", "quantity": 3, "expires_on": in_days(301)}),
    )
    .await;
    assert_eq!((s, p["type"].as_str()), (StatusCode::CONFLICT, Some("/problems/conflict")), "{p}");
    let id = lot["id"].as_str().unwrap();
    let (s, p) = send(
        app,
        Method::POST,
        &format!("/v1/admin/inventory/lots/{id}/adjustments"),
        json!({"delta": -4, "reason": "lost"}),
    )
    .await;
    assert_eq!((s, p["type"].as_str()), (StatusCode::CONFLICT, Some("/problems/insufficient-stock")), "{p}");
    let (s, _) =
        send(app, Method::POST, &format!("/v1/admin/inventory/lots/{id}/adjustments"), json!({"delta": -1})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a reason is required");
    let (s, _) = send(
        app,
        Method::POST,
        &format!("/v1/admin/inventory/lots/{id}/transfers"),
        json!({"to_location": "main", "quantity": 1}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "not to where it already is");
    let other = uuid::Uuid::now_v7();
    let (s, _) = send(
        app,
        Method::POST,
        &format!("/v1/admin/inventory/lots/{other}/adjustments"),
        json!({"delta": 1, "reason": "x"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.get_json_as_admin("/v1/admin/batches/NEVER").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.get_json_as_admin("/v1/admin/inventory/skus/LL-GLOW-30/ledger?limit=0").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = app.get_json("/v1/stock").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let (_, level) = app.get_json_as_admin("/v1/admin/inventory/skus/LL-GLOW-30").await;
    assert_eq!((level["on_hand"].as_i64(), level["lots"].as_array().map(Vec::len)), (Some(3), Some(1)), "{level}");
    let (_, ledger) = app.get_json_as_admin("/v1/admin/inventory/skus/LL-GLOW-30/ledger").await;
    assert_eq!(ledger["items"].as_array().map(Vec::len), Some(1), "refused requests left no entry");
}
