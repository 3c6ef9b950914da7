//! The monthly beauty box end to end, on both stores: staff set a month up, preview and lock
//! it; each subscriber's box avoids her ingredients and what she had before, suits her skin
//! first, within the pool; locking sets every box's items aside in inventory, all or nothing;
//! she reads her box, not another's; a locked month does not change. Her renewal in the month
//! ships her box: its items are sold to the renewal order (a batch recall finds it), and go
//! back to stock when that order is cancelled; a renewal waits while the month is not made
//! up, and one who subscribed after the lock is charged from next month's box.

use crate::checkout::{complete, ready_cart, receive, shop, staff, stock_of};
use crate::helpers::TestApp;
use crate::helpers::serum;
use crate::subscriptions::{make_due_at, options, until};
use reqwest::{Method, StatusCode};
use rouge_subscriptions::{month_of, month_start};
use serde_json::{Value, json};

fn product(name: &str, sku: &str, skin: &str, inci: &[&str]) -> Value {
    let mut p = serum(name, "lumen-lab", sku, 1500);
    p["skin_types"] = json!([skin]);
    p["ingredients"] = json!(inci);
    p
}

/// A customer with this profile who bought the box and subscribes to it monthly: her token
/// and the subscription's id.
async fn subscriber(app: &TestApp, email: &str, profile: Value) -> (String, String) {
    let s = crate::accounts::customer(app, email).await;
    let token = s["access_token"].as_str().unwrap().to_owned();
    let (st, b) = shop(app, Method::PATCH, "/v1/me", Some(&token), Some(json!({"beauty_profile": profile}))).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let cart = ready_cart(app, "BOX-1", 1, Some(&token)).await;
    let order: Value = complete(app, &cart, Some(email), "tok_visa", Some(&token)).await.json().await.unwrap();
    let sub = json!({"order_id": order["id"], "sku": "BOX-1", "cadence_weeks": 4,
        "payment": {"provider": "test", "token": "pm_card_visa"}});
    let (st, b) = shop(app, Method::POST, "/v1/subscriptions", Some(&token), Some(sub)).await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    (token, b["id"].as_str().unwrap().to_owned())
}

fn box_of<'a>(page: &'a Value, customer_sku_count: usize, skus: &[&str]) -> Option<&'a Value> {
    page["boxes"].as_array()?.iter().find(|b| {
        b["skus"]
            .as_array()
            .is_some_and(|s| s.len() == customer_sku_count && skus.iter().all(|k| s.contains(&json!(k))))
    })
}

async fn boxes_are_filled_by_profile_previewed_and_locked(app: &TestApp) {
    // This month (a renewal ships the box of the month it is due in) and the next.
    let start = month_start(&month_of(chrono::Utc::now().timestamp_millis()), 0).unwrap();
    let this = month_of(start);
    let next = month_of(month_start(&this, 1).unwrap());
    let admin_box = |m: &str| format!("/v1/admin/boxes/{m}");
    app.brand("Lumen Lab").await;
    app.product(product("Monthly Box", "BOX-1", "normal", &["Aqua"])).await;
    app.product(product("Clear Serum", "CS-1", "oily", &["Aqua", "Niacinamide"])).await;
    app.product(product("Clay Mask", "MK-1", "oily", &["Kaolin", "Aqua"])).await;
    app.product(product("Rose Cream", "RC-1", "dry", &["Aqua", "Parfum", "Shea Butter"])).await;
    receive(app, "BOX-1", 10).await;
    let (ana, ana_sub) =
        subscriber(app, "ana.box@example.com", json!({"skin_type": "oily", "avoid_ingredients": ["fragrance"]})).await;
    let (bea, bea_sub) = subscriber(app, "bea.box@example.com", json!({"skin_type": "dry"})).await;

    let setup = json!({"box_sku": "BOX-1", "items_per_box": 2,
        "pool": [{"sku": "CS-1", "quantity": 5}, {"sku": "MK-1", "quantity": 5}, {"sku": "RC-1", "quantity": 5}]});
    let res = app.admin(Method::PUT, "/v1/admin/boxes/2026-13", &setup).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "not a month");
    let unknown = json!({"box_sku": "BOX-1", "items_per_box": 2, "pool": [{"sku": "NOPE", "quantity": 5}]});
    let res = app.admin(Method::PUT, &admin_box(&this), &unknown).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app.admin(Method::PUT, &admin_box(&this), &setup).await;
    assert_eq!(res.status(), StatusCode::OK);

    // A renewal due while the month is not made up waits (no charge, no order).
    make_due_at(app, &bea_sub, start + 1).await;
    app.smtp.wait_for("camille@example.com", "is not made up yet").await;
    let waiting = until(app, &bea, &bea_sub, |s| s["next_at"].as_i64() > Some(start + 1)).await;
    assert_eq!((waiting["period"].as_i64(), waiting["failures"].as_i64()), (Some(0), Some(0)), "{waiting}");

    let (_, preview) = app.get_json_as_admin(&format!("{}/preview", admin_box(&this))).await;
    assert_eq!(preview["boxes"].as_array().map(Vec::len), Some(2), "{preview}");
    assert!(box_of(&preview, 2, &["CS-1", "MK-1"]).is_some(), "oily skin, no fragrance: {preview}");
    assert!(box_of(&preview, 2, &["RC-1"]).is_some(), "dry skin gets the cream first: {preview}");
    let (s, _) = shop(app, Method::GET, &format!("/v1/boxes/{this}"), Some(&ana), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not before the lock");

    // The boxes need 2 CS-1, 1 MK-1 and 1 RC-1: without the cream nothing is set aside.
    receive(app, "CS-1", 2).await;
    receive(app, "MK-1", 1).await;
    let lock = format!("{}/lock", admin_box(&this));
    let res = app.admin(Method::PUT, &lock, &json!({})).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let refused: Value = res.json().await.unwrap();
    assert!(refused["detail"].as_str().is_some_and(|d| d.contains("RC-1")), "{refused}");
    let (_, unlocked) = app.get_json_as_admin(&admin_box(&this)).await;
    assert_eq!(unlocked["locked"], false, "{unlocked}");
    assert_eq!((stock_of(app, "CS-1").await, stock_of(app, "MK-1").await), ((2, 0, 2), (1, 0, 1)), "all or nothing");

    receive(app, "RC-1", 5).await;
    let res = app.admin(Method::PUT, &lock, &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let locked: Value = res.json().await.unwrap();
    assert_eq!(locked["locked"], true);
    assert!(locked["boxes"].as_array().unwrap().iter().all(|b| b["reservation_id"].is_string()), "{locked}");
    let set_aside = [(2, 2, 0), (1, 1, 0), (5, 1, 4)];
    let levels = [stock_of(app, "CS-1").await, stock_of(app, "MK-1").await, stock_of(app, "RC-1").await];
    assert_eq!(levels, set_aside, "every box's items are set aside");
    let res = app.admin(Method::PUT, &lock, &json!({})).await;
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["boxes"], locked["boxes"], "locked once");
    assert_eq!(stock_of(app, "CS-1").await, (2, 2, 0), "set aside once");
    let res = app.admin(Method::PUT, &admin_box(&this), &setup).await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "a locked month does not change");

    let (s, mine) = shop(app, Method::GET, &format!("/v1/boxes/{this}"), Some(&ana), None).await;
    assert_eq!(s, StatusCode::OK, "{mine}");
    let mut skus: Vec<String> = serde_json::from_value(mine[0]["skus"].clone()).unwrap();
    skus.sort();
    assert_eq!(skus, ["CS-1", "MK-1"], "hers only: {mine}");
    let (_, hers) = shop(app, Method::GET, &format!("/v1/boxes/{this}"), Some(&bea), None).await;
    assert!(hers[0]["skus"].as_array().unwrap().contains(&json!("RC-1")), "{hers}");

    // GraphQL: her box; staff's preview (not hers to ask).
    let my_box = format!("{{ myBox(month: \"{this}\") }}");
    let res = crate::graphql::gql_as(app, Some(&ana), &my_box, json!({})).await;
    assert_eq!(res["data"]["myBox"], mine, "{res}");
    let preview_query = format!("{{ boxPreview(month: \"{this}\") }}");
    let res = crate::graphql::gql_as(app, Some(&ana), &preview_query, json!({})).await;
    assert!(res["errors"].is_array(), "customers do not preview: {res}");
    let admin = app.admin_key.clone();
    let res = crate::graphql::gql_as(app, Some(&admin), &preview_query, json!({})).await;
    assert_eq!(res["data"]["boxPreview"]["boxes"], locked["boxes"], "{res}");

    // Her renewal this month ships her box: its items are sold to the renewal order.
    make_due_at(app, &ana_sub, start + 1).await;
    let renewed = until(app, &ana, &ana_sub, |s| s["period"] == 1).await;
    let order = renewed["last_order_id"].as_str().unwrap().to_owned();
    let (_, page) = app.get_json_as_admin(&admin_box(&this)).await;
    let shipped = page["boxes"].as_array().unwrap().iter().find(|b| b["order_id"] == json!(order));
    assert!(shipped.is_some_and(|b| b["skus"] == mine[0]["skus"]), "{page}");
    assert_eq!((stock_of(app, "CS-1").await, stock_of(app, "MK-1").await), ((1, 1, 0), (0, 0, 0)), "sold to her order");
    let (_, recall) = app.get_json_as_admin("/v1/admin/batches/B1/orders").await;
    let of_order = |sku: &str| json!({"order_id": order, "sku": sku, "quantity": 1});
    let items = recall["items"].as_array().unwrap();
    assert!(items.contains(&of_order("MK-1")) && items.contains(&of_order("CS-1")), "a recall finds her box: {recall}");
    // Cancelled, the order gives its box back.
    let (s, o) = staff(app, &order, json!({"action": "cancel", "reason": "customer asked"})).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    app.eventually(|| async { stock_of(app, "MK-1").await == (1, 0, 1) }).await;
    assert_eq!(stock_of(app, "CS-1").await, (2, 1, 1), "Bea's box stays set aside");

    // A box whose hold ran out (here: given back) does not stop her renewal: renewed, the box
    // left for staff to pack by hand (no order recorded on it).
    let beas =
        locked["boxes"].as_array().unwrap().iter().find(|b| b["skus"].as_array().unwrap().contains(&json!("RC-1")));
    let hold: uuid::Uuid = beas.unwrap()["reservation_id"].as_str().unwrap().parse().unwrap();
    release_hold(app, hold).await;
    make_due_at(app, &bea_sub, start + 1).await;
    until(app, &bea, &bea_sub, |s| s["period"] == 1).await;
    let (_, page) = app.get_json_as_admin(&admin_box(&this)).await;
    let hers = page["boxes"].as_array().unwrap().iter().find(|b| b["reservation_id"] == json!(hold.to_string()));
    assert!(hers.is_some_and(|b| b["order_id"].is_null()), "{page}");

    // Who subscribes after the lock has no box this month: charged from next month's.
    let (cara, cara_sub) = subscriber(app, "cara.box@example.com", json!({"skin_type": "normal"})).await;
    make_due_at(app, &cara_sub, start + 1).await;
    app.smtp.wait_for("camille@example.com", "your first box is that of").await;
    let moved = until(app, &cara, &cara_sub, |s| s["next_at"].as_i64() == month_start(&this, 1)).await;
    assert_eq!(moved["period"], 0, "not charged: {moved}");

    // Next month, the same pool: no repeats, so Ana's box is short (the cream has fragrance).
    app.admin(Method::PUT, &admin_box(&next), &setup).await;
    let (_, coming) = app.get_json_as_admin(&format!("{}/preview", admin_box(&next))).await;
    let short = coming["boxes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["skus"] == json!([]))
        .unwrap_or_else(|| panic!("{coming}"));
    assert!(short["short"].as_str().is_some_and(|s| s.starts_with("0 of 2")), "{coming}");

    // Locked through GraphQL, audited under the REST route as the REST lock is; set-ups are
    // audited too (the refused ones changed nothing and left no entry).
    receive(app, "MK-1", 5).await;
    let lock_next = format!("mutation {{ lockBox(month: \"{next}\") }}");
    let res = crate::graphql::gql_as(app, Some(&admin), &lock_next, json!({})).await;
    assert_eq!(res["data"]["lockBox"]["locked"], true, "{res}");
    let (_, trail) = app.get_json_as_admin("/v1/admin/audit?route=/v1/admin/boxes/{month}/lock").await;
    let paths: Vec<&str> = trail["items"].as_array().unwrap().iter().filter_map(|e| e["path"].as_str()).collect();
    assert_eq!(paths.len(), 2, "{trail}");
    assert!(paths.contains(&format!("{}/lock", admin_box(&next)).as_str()), "{trail}");
    let (_, setups) = app.get_json_as_admin("/v1/admin/audit?route=/v1/admin/boxes/{month}").await;
    assert_eq!(setups["items"].as_array().map(Vec::len), Some(2), "{setups}");
}

/// Gives an inventory hold back, as its running out would.
async fn release_hold(app: &TestApp, hold: uuid::Uuid) {
    let released = match &app.db {
        crate::helpers::Db::Sqlite(d) => {
            rouge_inventory::InventoryService::new(d.store.clone()).release(hold, "ran out").await.map(|_| ())
        }
        crate::helpers::Db::Postgres(d) => {
            rouge_inventory::InventoryService::new(d.store.clone()).release(hold, "ran out").await.map(|_| ())
        }
    };
    released.unwrap();
}

#[tokio::test]
async fn sqlite_boxes_are_filled_by_profile_previewed_and_locked() {
    let app = TestApp::sqlite_with(options()).await;
    boxes_are_filled_by_profile_previewed_and_locked(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn postgres_boxes_are_filled_by_profile_previewed_and_locked() {
    let Some(app) = TestApp::postgres_with(options()).await else { return };
    boxes_are_filled_by_profile_previewed_and_locked(&app).await;
    app.stop().await;
}
