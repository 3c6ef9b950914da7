//! The JSON shape of every public answer a client builds on (a product, a listing, a cart, an
//! order, a problem), pinned by `insta` snapshots in `tests/api/snapshots/`: a change to any of
//! them shows up in review as a snapshot diff. Both stores must give the same snapshot. Values
//! that differ from run to run (ids, times, cursors) are replaced by placeholders.
//!
//! After an intended change: `INSTA_UPDATE=always cargo test -p rouge-server --test api shapes`
//! and review the `.snap` files.

use crate::checkout::{SKU, complete, ready_cart, stocked};
use crate::helpers::TestApp;
use serde_json::{Value, json};

crate::on_both_stores!(public_answers_keep_their_shape);

/// Placeholders for what changes between runs: UUIDs, RFC 3339 times, epoch milliseconds,
/// opaque cursors and the payment provider's ids.
fn stable(v: Value) -> Value {
    fn walk(key: &str, v: Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k.clone(), walk(&k, v))).collect()),
            Value::Array(a) => Value::Array(a.into_iter().map(|v| walk(key, v)).collect()),
            Value::String(s) if uuid::Uuid::parse_str(&s).is_ok() => json!("[uuid]"),
            // Paths with ids in them (a problem's `instance`).
            Value::String(s) if s.starts_with('/') => {
                let segs: Vec<&str> =
                    s.split('/').map(|seg| if uuid::Uuid::parse_str(seg).is_ok() { "[uuid]" } else { seg }).collect();
                json!(segs.join("/"))
            }
            Value::String(s) if chrono::DateTime::parse_from_rfc3339(&s).is_ok() => json!("[time]"),
            Value::String(_) if key.ends_with("cursor") => json!("[cursor]"),
            Value::String(_) if key == "payment_id" => json!("[payment id]"),
            Value::Number(_) if key.ends_with("_at") || key.ends_with("_ms") || key == "at" => json!("[epoch ms]"),
            other => other,
        }
    }
    walk("", v)
}

async fn public_answers_keep_their_shape(app: &TestApp) {
    stocked(app, SKU, 10).await;
    // The storefront learns of the stock from the receipt's event, moments later.
    let in_stock = || async { app.get_json("/v1/products/glow-serum").await.1["availability"][SKU] == "in_stock" };
    app.eventually(in_stock).await;
    let (_, product) = app.get_json("/v1/products/glow-serum").await;
    insta::assert_json_snapshot!("product", stable(product));
    let (_, listing) = app.get_json("/v1/products?limit=1&skin_type=oily").await;
    insta::assert_json_snapshot!("listing", stable(listing));

    let cart = ready_cart(app, SKU, 2, None).await;
    let (_, priced) = app.get_json(&format!("/v1/carts/{cart}")).await;
    insta::assert_json_snapshot!("cart", stable(priced));
    let order: Value = complete(app, &cart, Some("shape-1"), "tok_visa", None).await.json().await.unwrap();
    insta::assert_json_snapshot!("order", stable(order));

    let res = app.client.post(app.url(&format!("/v1/carts/{cart}/lines"))).json(&json!({"sku": SKU})).send().await;
    let problem: Value = res.unwrap().json().await.unwrap();
    insta::assert_json_snapshot!("problem", stable(problem));
}
