//! The monthly beauty box end to end, on both stores: staff set a month up, preview and lock
//! it; each subscriber's box avoids her ingredients and what she had before, suits her skin
//! first, within the pool; she reads her box, not another's; a locked month does not change.

use crate::checkout::{complete, ready_cart, receive, shop};
use crate::helpers::{TestApp, serum};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn product(name: &str, sku: &str, skin: &str, inci: &[&str]) -> Value {
    let mut p = serum(name, "lumen-lab", sku, 1500);
    p["skin_types"] = json!([skin]);
    p["ingredients"] = json!(inci);
    p
}

/// A customer with this profile who bought the box and subscribes to it monthly; her token.
async fn subscriber(app: &TestApp, email: &str, profile: Value) -> String {
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
    token
}

fn box_of<'a>(page: &'a Value, customer_sku_count: usize, skus: &[&str]) -> Option<&'a Value> {
    page["boxes"].as_array()?.iter().find(|b| {
        b["skus"]
            .as_array()
            .is_some_and(|s| s.len() == customer_sku_count && skus.iter().all(|k| s.contains(&json!(k))))
    })
}

async fn boxes_are_filled_by_profile_previewed_and_locked(app: &TestApp) {
    app.brand("Lumen Lab").await;
    app.product(product("Monthly Box", "BOX-1", "normal", &["Aqua"])).await;
    app.product(product("Clear Serum", "CS-1", "oily", &["Aqua", "Niacinamide"])).await;
    app.product(product("Clay Mask", "MK-1", "oily", &["Kaolin", "Aqua"])).await;
    app.product(product("Rose Cream", "RC-1", "dry", &["Aqua", "Parfum", "Shea Butter"])).await;
    receive(app, "BOX-1", 10).await;
    let ana =
        subscriber(app, "ana.box@example.com", json!({"skin_type": "oily", "avoid_ingredients": ["fragrance"]})).await;
    let bea = subscriber(app, "bea.box@example.com", json!({"skin_type": "dry"})).await;

    let setup = json!({"box_sku": "BOX-1", "items_per_box": 2,
        "pool": [{"sku": "CS-1", "quantity": 5}, {"sku": "MK-1", "quantity": 5}, {"sku": "RC-1", "quantity": 5}]});
    let res = app.admin(Method::PUT, "/v1/admin/boxes/2026-13", &setup).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "not a month");
    let unknown = json!({"box_sku": "BOX-1", "items_per_box": 2, "pool": [{"sku": "NOPE", "quantity": 5}]});
    let res = app.admin(Method::PUT, "/v1/admin/boxes/2026-12", &unknown).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app.admin(Method::PUT, "/v1/admin/boxes/2026-12", &setup).await;
    assert_eq!(res.status(), StatusCode::OK);

    let (_, preview) = app.get_json_as_admin("/v1/admin/boxes/2026-12/preview").await;
    assert_eq!(preview["boxes"].as_array().map(Vec::len), Some(2), "{preview}");
    assert!(box_of(&preview, 2, &["CS-1", "MK-1"]).is_some(), "oily skin, no fragrance: {preview}");
    assert!(box_of(&preview, 2, &["RC-1"]).is_some(), "dry skin gets the cream first: {preview}");
    let (s, _) = shop(app, Method::GET, "/v1/boxes/2026-12", Some(&ana), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not before the lock");

    let res = app.admin(Method::PUT, "/v1/admin/boxes/2026-12/lock", &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let locked: Value = res.json().await.unwrap();
    assert_eq!(locked["locked"], true);
    let res = app.admin(Method::PUT, "/v1/admin/boxes/2026-12/lock", &json!({})).await;
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["boxes"], locked["boxes"], "locked once");
    let res = app.admin(Method::PUT, "/v1/admin/boxes/2026-12", &setup).await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "a locked month does not change");

    let (s, mine) = shop(app, Method::GET, "/v1/boxes/2026-12", Some(&ana), None).await;
    assert_eq!(s, StatusCode::OK, "{mine}");
    let mut skus: Vec<String> = serde_json::from_value(mine[0]["skus"].clone()).unwrap();
    skus.sort();
    assert_eq!(skus, ["CS-1", "MK-1"], "hers only: {mine}");
    let (_, hers) = shop(app, Method::GET, "/v1/boxes/2026-12", Some(&bea), None).await;
    assert!(hers[0]["skus"].as_array().unwrap().contains(&json!("RC-1")), "{hers}");

    // GraphQL: her box; staff's preview (not hers to ask).
    let res = crate::graphql::gql_as(app, Some(&ana), "{ myBox(month: \"2026-12\") }", json!({})).await;
    assert_eq!(res["data"]["myBox"], mine, "{res}");
    let res = crate::graphql::gql_as(app, Some(&ana), "{ boxPreview(month: \"2026-12\") }", json!({})).await;
    assert!(res["errors"].is_array(), "customers do not preview: {res}");
    let admin = app.admin_key.clone();
    let res = crate::graphql::gql_as(app, Some(&admin), "{ boxPreview(month: \"2026-12\") }", json!({})).await;
    assert_eq!(res["data"]["boxPreview"]["boxes"], locked["boxes"], "{res}");
    // Next month, the same pool: no repeats, so Ana's box is short (the cream has fragrance).
    app.admin(Method::PUT, "/v1/admin/boxes/2027-01", &setup).await;
    let (_, next) = app.get_json_as_admin("/v1/admin/boxes/2027-01/preview").await;
    let short =
        next["boxes"].as_array().unwrap().iter().find(|b| b["skus"] == json!([])).unwrap_or_else(|| panic!("{next}"));
    assert!(short["short"].as_str().is_some_and(|s| s.starts_with("0 of 2")), "{next}");
}

crate::on_both_stores!(boxes_are_filled_by_profile_previewed_and_locked);
