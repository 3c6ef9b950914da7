//! Promotions over HTTP, on both stores: staff set them up, shoppers enter codes and see why a
//! discount applies or not, discounts are allocated to lines before tax and kept on the order,
//! gifts and picked samples ship from their own stock, budgets are spent by orders and given
//! back by failed checkouts and cancellations, and a code's budget holds when hundreds of
//! shoppers check out at once on two replicas.

use crate::checkout::{SKU, complete, ready_cart, receive, shop, staff, stocked};
use crate::helpers::{TestApp, serum, test_options};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

crate::on_both_stores!(
    a_code_discounts_the_cart_and_the_order_keeps_it,
    gifts_and_samples_ship_from_their_own_stock,
    bad_promotions_and_codes_get_problems,
    graphql_carts_take_codes_and_samples_like_rest,
    first_orders_and_limits_per_customer,
    staff_set_promotions_up_in_graphql,
    product_pages_listings_and_the_offer_list_show_live_offers,
    segments_keep_a_promotion_for_customers_whose_profile_fits,
);

/// A promotion set up by staff; its id.
pub async fn promotion(app: &TestApp, body: Value) -> String {
    let (s, p) = app.post("/v1/admin/promotions", body).await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    p["id"].as_str().unwrap().to_owned()
}

pub async fn code(app: &TestApp, promotion: &str, code: &str, max_uses: Option<i64>) {
    let (s, b) =
        app.post(&format!("/v1/admin/promotions/{promotion}/codes"), json!({"code": code, "max_uses": max_uses})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

async fn used(app: &TestApp, promotion: &str) -> i64 {
    app.get_json_as_admin(&format!("/v1/admin/promotions/{promotion}")).await.1["used"].as_i64().unwrap()
}

async fn enter(app: &TestApp, cart: &str, code: &str) -> (StatusCode, Value) {
    shop(app, Method::POST, &format!("/v1/carts/{cart}/codes"), None, Some(json!({"code": code}))).await
}

async fn a_code_discounts_the_cart_and_the_order_keeps_it(app: &TestApp) {
    stocked(app, SKU, 10).await;
    let lumen = promotion(
        app,
        json!({"name": "Lumen week", "benefit": {"kind": "percent_off", "percent_bp": 2000},
            "target": {"kind": "brand", "slug": "lumen-lab"}, "requires_code": true}),
    )
    .await;
    code(app, &lumen, "spring20", Some(1)).await;
    promotion(
        app,
        json!({"name": "Free shipping from 80.00", "benefit": {"kind": "free_shipping"}, "min_subtotal": 8000}),
    )
    .await;
    let cart = ready_cart(app, SKU, 2, None).await;
    let (s, p) = enter(app, &cart, "nope").await;
    assert_eq!(
        (s, p["errors"][0]["field"].as_str(), p["errors"][0]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("code"), Some("unknown_code")),
        "{p}"
    );
    let (_, c) = shop(app, Method::GET, &format!("/v1/carts/{cart}"), None, None).await;
    assert_eq!(c["promotions"]["codes"], json!([]), "a refused code changes nothing");
    assert_eq!(c["promotions"]["not_applied"][0]["reason"], "spend 22.00 more on your order", "{c}");

    let (s, c) = enter(app, &cart, "spring20").await;
    assert_eq!(s, StatusCode::OK, "{c}");
    // 2 × 29.00 = 58.00, 20 % off: 11.60; 46.40 incl. 20 % VAT: 7.73; 4.90 shipping (0.82 VAT).
    assert_eq!(
        c["totals"],
        json!({"subtotal": 5800, "discount": 1160, "shipping": 490, "tax": 773 + 82, "total": 5130})
    );
    assert_eq!(c["lines"][0]["discount"], 1160);
    assert_eq!(c["promotions"]["applied"][0]["code"], "SPRING20");
    assert_eq!(c["promotions"]["applied"][0]["reason"], "20 % off lumen lab");

    let res = complete(app, &cart, Some("k1"), "tok_visa", None).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let order: Value = res.json().await.unwrap();
    assert_eq!(order["totals"]["discount"], 1160);
    assert_eq!(order["lines"][0]["discount"], 1160);
    assert_eq!(order["promotions"][0]["name"], "Lumen week");
    app.eventually(|| async { used(app, &lumen).await == 1 }).await;
    let (_, codes) = app.get_json_as_admin(&format!("/v1/admin/promotions/{lumen}/codes")).await;
    assert_eq!((codes["items"][0]["code"].as_str(), codes["items"][0]["used"].as_i64()), (Some("SPRING20"), Some(1)));

    // A single-use code, spent: the next cart keeps it, says why, and charges full price.
    let second = ready_cart(app, SKU, 1, None).await;
    let (s, c) = enter(app, &second, "SPRING20").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(c["totals"]["discount"], 0);
    assert_eq!(c["promotions"]["not_applied"][0]["reason_code"], "used_up", "{c}");
    // Paying with a spent code on the cart is refused (nobody pays a price she did not agree
    // to): she takes the code off to pay full price.
    let res = complete(app, &second, Some("k2"), "tok_visa", None).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let p: Value = res.json().await.unwrap();
    assert_eq!(p["errors"][0]["code"], "used_up", "{p}");

    // Cancelling the order gives the uses back: the code's (held by the checkout, a limited
    // budget) and the promotion's (counted when the order was recorded, as it has no limit).
    let (s, b) =
        staff(app, order["id"].as_str().unwrap(), json!({"action": "cancel", "reason": "changed her mind"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    app.eventually(|| async { used(app, &lumen).await == 0 }).await;
    let (_, c) = shop(app, Method::GET, &format!("/v1/carts/{second}"), None, None).await;
    assert_eq!(c["totals"]["discount"], 580, "{c}");
    let (s, c) = shop(app, Method::DELETE, &format!("/v1/carts/{second}/codes/spring20"), None, None).await;
    assert_eq!((s, &c["promotions"]["codes"]), (StatusCode::OK, &json!([])));
}

async fn gifts_and_samples_ship_from_their_own_stock(app: &TestApp) {
    stocked(app, SKU, 10).await;
    app.product(serum("Glow Mini", "lumen-lab", "GIFT-MINI", 900)).await;
    receive(app, "GIFT-MINI", 1).await;
    for s in ["S-1", "S-2", "S-3"] {
        app.product(serum(&format!("Sample {s}"), "lumen-lab", s, 200)).await;
        receive(app, s, 5).await;
    }
    promotion(
        app,
        json!({"name": "A mini with 50.00", "benefit": {"kind": "gift", "sku": "GIFT-MINI"}, "min_subtotal": 5000,
            "max_uses": 10}),
    )
    .await;
    promotion(
        app,
        json!({"name": "Two samples", "benefit": {"kind": "samples", "choose": 2, "skus": ["S-1", "S-2", "S-3"]}}),
    )
    .await;
    let cart = ready_cart(app, SKU, 1, None).await;
    let (_, c) = shop(app, Method::GET, &format!("/v1/carts/{cart}"), None, None).await;
    assert_eq!(c["free_items"], json!([]), "29.00 does not earn the gift");
    assert_eq!(c["promotions"]["samples"]["choose"], 2);
    let line = c["lines"][0]["id"].as_str().unwrap();
    let (_, c) =
        shop(app, Method::PATCH, &format!("/v1/carts/{cart}/lines/{line}"), None, Some(json!({"quantity": 2}))).await;
    assert_eq!(c["free_items"][0]["sku"], "GIFT-MINI", "{c}");
    assert_eq!(c["free_items"][0]["kind"], "gift");

    let samples = format!("/v1/carts/{cart}/samples");
    let (s, p) = shop(app, Method::PUT, &samples, None, Some(json!({"skus": ["S-1", "S-9"]}))).await;
    assert_eq!((s, p["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("skus.1")), "{p}");
    let (s, p) = shop(app, Method::PUT, &samples, None, Some(json!({"skus": ["S-1", "S-2", "S-3"]}))).await;
    assert_eq!((s, p["errors"][0]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("too_many")), "{p}");
    let (s, c) = shop(app, Method::PUT, &samples, None, Some(json!({"skus": ["S-1", "S-2"]}))).await;
    assert_eq!(s, StatusCode::OK);
    let free: Vec<&str> = c["free_items"].as_array().unwrap().iter().map(|f| f["sku"].as_str().unwrap()).collect();
    assert_eq!(free, ["GIFT-MINI", "S-1", "S-2"]);
    assert_eq!(c["totals"]["subtotal"], 5800, "free items cost nothing");

    let res = complete(app, &cart, Some("k1"), "tok_visa", None).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let order: Value = res.json().await.unwrap();
    let skus: Vec<&str> = order["lines"].as_array().unwrap().iter().map(|l| l["sku"].as_str().unwrap()).collect();
    assert_eq!(skus, [SKU, "GIFT-MINI", "S-1", "S-2"]);
    assert!(order["lines"][1]["promotion_id"].is_string() && order["lines"][1]["total"] == 0);
    app.eventually(|| async { app.get_json_as_admin("/v1/admin/inventory/skus/GIFT-MINI").await.1["on_hand"] == 0 })
        .await;

    // The last mini is gone: the next qualifying cart still checks out, without it.
    let next = ready_cart(app, SKU, 2, None).await;
    let res = complete(app, &next, Some("k2"), "tok_visa", None).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let order: Value = res.json().await.unwrap();
    let skus: Vec<&str> = order["lines"].as_array().unwrap().iter().map(|l| l["sku"].as_str().unwrap()).collect();
    assert_eq!(skus, [SKU], "a gift is given while stocks last");
}

async fn bad_promotions_and_codes_get_problems(app: &TestApp) {
    let (s, p) = app
        .post(
            "/v1/admin/promotions",
            json!({"name": "", "benefit": {"kind": "percent_off", "percent_bp": 20000}, "max_uses": 0}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["name", "benefit.percent_bp", "max_uses"], "{p}");
    let (s, p) = app.post("/v1/admin/promotions", json!({"name": "x", "benefit": {"kind": "half_off"}})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let (_, list) = app.get_json_as_admin("/v1/admin/promotions").await;
    assert_eq!(list["items"], json!([]), "nothing was made");

    let auto = promotion(app, json!({"name": "Auto", "benefit": {"kind": "free_shipping"}})).await;
    let (s, p) = app.post(&format!("/v1/admin/promotions/{auto}/codes"), json!({"code": "FREE"})).await;
    assert_eq!((s, p["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("promotion")));
    let coded = promotion(
        app,
        json!({"name": "Coded", "benefit": {"kind": "amount_off", "amount": 500}, "requires_code": true}),
    )
    .await;
    code(app, &coded, "WELCOME5", None).await;
    let (s, p) = app.post(&format!("/v1/admin/promotions/{coded}/codes"), json!({"code": "welcome5"})).await;
    assert_eq!((s, p["errors"][0]["code"].as_str()), (StatusCode::CONFLICT, Some("taken")), "{p}");
    let (s, _) = app.post(&format!("/v1/admin/promotions/{coded}/codes"), json!({"code": "x y"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, b) = app
        .post(&format!("/v1/admin/promotions/{coded}/codes"), json!({"count": 250, "prefix": "vip-", "max_uses": 1}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert!(b["items"].as_array().unwrap().iter().all(|c| c["code"].as_str().unwrap().starts_with("VIP-")));
    let (s, page) = app.get_json_as_admin(&format!("/v1/admin/promotions/{coded}/codes?limit=100")).await;
    assert_eq!((s, page["items"].as_array().map(Vec::len)), (StatusCode::OK, Some(100)));
    let after = page["next"].as_str().unwrap();
    let (_, rest) =
        app.get_json_as_admin(&format!("/v1/admin/promotions/{coded}/codes?limit=1000&after={after}")).await;
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(151), "251 codes in all, in pages");
    let (s, _) = app.get_json_as_admin(&format!("/v1/admin/promotions/{coded}/codes?limit=0")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = app.get_json_as_admin(&format!("/v1/admin/promotions/{}", uuid::Uuid::now_v7())).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = shop(app, Method::GET, "/v1/admin/promotions", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "staff only");
}

async fn first_orders_and_limits_per_customer(app: &TestApp) {
    stocked(app, SKU, 10).await;
    promotion(
        app,
        json!({"name": "Welcome", "benefit": {"kind": "percent_off", "percent_bp": 1500}, "audience": "first_order"}),
    )
    .await;
    let once = promotion(
        app,
        json!({"name": "Once each", "benefit": {"kind": "amount_off", "amount": 200}, "audience": "customers",
            "max_uses_per_customer": 1}),
    )
    .await;
    let reasons = |c: &Value| -> Vec<String> {
        c["promotions"]["not_applied"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["reason_code"].as_str().unwrap().to_owned())
            .collect()
    };
    let guest = ready_cart(app, SKU, 1, None).await;
    let (_, c) = shop(app, Method::GET, &format!("/v1/carts/{guest}"), None, None).await;
    assert_eq!(reasons(&c), ["sign_in_required", "sign_in_required"], "{c}");

    let ana = crate::accounts::customer(app, "ana.promo@example.com").await;
    let ana = ana["access_token"].as_str().unwrap();
    let cart = ready_cart(app, SKU, 1, Some(ana)).await;
    let (_, c) = shop(app, Method::GET, &format!("/v1/carts/{cart}"), Some(ana), None).await;
    // 15 % of 29.00 = 4.35, then 2.00 off what is left.
    assert_eq!(c["totals"]["discount"], 435 + 200, "{c}");
    let res = complete(app, &cart, Some("first"), "tok_visa", Some(ana)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    app.eventually(|| async { used(app, &once).await == 1 }).await;
    let next = ready_cart(app, SKU, 1, Some(ana)).await;
    let (_, c) = shop(app, Method::GET, &format!("/v1/carts/{next}"), Some(ana), None).await;
    assert_eq!(c["totals"]["discount"], 0, "{c}");
    let mut why = reasons(&c);
    why.sort();
    assert_eq!(why, ["first_order_only", "used_up"], "{c}");
}

async fn staff_set_promotions_up_in_graphql(app: &TestApp) {
    let admin = app.admin_key.clone();
    let create = "mutation($i: JSON!) { createPromotion(input: $i) }";
    let input =
        json!({"name": "GraphQL 15", "benefit": {"kind": "percent_off", "percent_bp": 1500}, "requires_code": true});
    let res = crate::graphql::gql_as(app, None, create, json!({"i": input})).await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "staff only: {res}");
    let res = crate::graphql::gql_as(app, Some(&admin), create, json!({"i": input})).await;
    let made = &res["data"]["createPromotion"];
    assert_eq!(
        (made["name"].as_str(), made["badge"].as_str(), made["used"].as_i64()),
        (Some("GraphQL 15"), Some("-15 %"), Some(0)),
        "{res}"
    );
    let id = made["id"].as_str().unwrap();
    let bad = json!({"name": "", "benefit": {"kind": "percent_off", "percent_bp": 0}});
    let res = crate::graphql::gql_as(app, Some(&admin), create, json!({"i": bad})).await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{res}");
    let codes =
        "mutation($p: UUID!, $i: JSON!) { addPromotionCodes(promotionId: $p, input: $i) { code maxUses used } }";
    let res =
        crate::graphql::gql_as(app, Some(&admin), codes, json!({"p": id, "i": {"code": "gql15", "max_uses": 5}})).await;
    assert_eq!(res["data"]["addPromotionCodes"], json!([{"code": "GQL15", "maxUses": 5, "used": 0}]), "{res}");
    let res = crate::graphql::gql_as(app, Some(&admin), "{ promotions }", json!({})).await;
    assert_eq!(res["data"]["promotions"][0]["id"], id, "{res}");
    let (_, rest) = app.get_json_as_admin(&format!("/v1/admin/promotions/{id}")).await;
    assert_eq!(rest["name"], "GraphQL 15", "REST sees it");
    let (_, trail) = app.get_json_as_admin("/v1/admin/audit?route=/v1/admin/promotions").await;
    assert_eq!(trail["items"].as_array().map(Vec::len), Some(1), "audited like the REST route: {trail}");
}

async fn graphql_carts_take_codes_and_samples_like_rest(app: &TestApp) {
    stocked(app, SKU, 10).await;
    app.product(serum("Sample One", "lumen-lab", "S-1", 200)).await;
    receive(app, "S-1", 5).await;
    let p = promotion(
        app,
        json!({"name": "Ten off", "benefit": {"kind": "amount_off", "amount": 1000}, "requires_code": true}),
    )
    .await;
    code(app, &p, "TEN", None).await;
    promotion(app, json!({"name": "A sample", "benefit": {"kind": "samples", "choose": 1, "skus": ["S-1"]}})).await;
    let cart = ready_cart(app, SKU, 1, None).await;
    let fields = "totals { subtotal discount total } lines { discount } freeItems { sku kind } \
        promotions { codes applied { name code amount reason } notApplied { reasonCode } samples { choose skus chosen } }";
    let apply = format!("mutation($c: UUID!, $k: String!) {{ applyCartCode(cartId: $c, code: $k) {{ {fields} }} }}");
    let res = crate::graphql::gql_as(app, None, &apply, json!({"c": cart, "k": "ten"})).await;
    let c = &res["data"]["applyCartCode"];
    assert_eq!(c["totals"], json!({"subtotal": 2900, "discount": 1000, "total": 2390}), "{res}");
    assert_eq!(
        c["promotions"]["applied"][0],
        json!({"name": "Ten off", "code": "TEN", "amount": 1000, "reason": "10.00 off your order"})
    );
    assert_eq!(c["promotions"]["samples"], json!({"choose": 1, "skus": ["S-1"], "chosen": []}));
    let res = crate::graphql::gql_as(app, None, &apply, json!({"c": cart, "k": "NOPE"})).await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{res}");
    let pick = format!("mutation($c: UUID!) {{ pickCartSamples(cartId: $c, skus: [\"S-1\"]) {{ {fields} }} }}");
    let res = crate::graphql::gql_as(app, None, &pick, json!({"c": cart})).await;
    assert_eq!(res["data"]["pickCartSamples"]["freeItems"], json!([{"sku": "S-1", "kind": "sample"}]), "{res}");
    let (_, rest) = shop(app, Method::GET, &format!("/v1/carts/{cart}"), None, None).await;
    assert_eq!(rest["totals"]["discount"], 1000, "REST sees the same cart");
    let remove = format!("mutation($c: UUID!) {{ removeCartCode(cartId: $c, code: \"TEN\") {{ {fields} }} }}");
    let res = crate::graphql::gql_as(app, None, &remove, json!({"c": cart})).await;
    assert_eq!(res["data"]["removeCartCode"]["totals"]["discount"], 0, "{res}");
}

async fn product_pages_listings_and_the_offer_list_show_live_offers(app: &TestApp) {
    stocked(app, SKU, 10).await;
    app.brand("Other House").await;
    app.product(serum("Other Serum", "other-house", "OH-1", 1900)).await;
    promotion(
        app,
        json!({"name": "Lumen week", "benefit": {"kind": "percent_off", "percent_bp": 2000},
            "target": {"kind": "brand", "slug": "lumen-lab"}}),
    )
    .await;
    promotion(app, json!({"name": "Secret", "benefit": {"kind": "free_shipping"}, "requires_code": true})).await;
    promotion(
        app,
        json!({"name": "Next month", "benefit": {"kind": "free_shipping"}, "starts_at": 4_102_444_800_000_i64}),
    )
    .await;
    let (_, listed) = app.get_json("/v1/products?brand=lumen-lab").await;
    assert_eq!(listed["items"][0]["offers"][0]["badge"], "-20 %", "listing items carry their offers: {listed}");
    let page = format!("/v1/products/{}", listed["items"][0]["slug"].as_str().unwrap());
    let res = app.get(&page).await;
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["offers"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(
        (body["offers"][0]["badge"].as_str(), body["offers"][0]["name"].as_str()),
        (Some("-20 %"), Some("Lumen week"))
    );
    let (_, other) = app.get_json("/v1/products?brand=other-house").await;
    assert!(other["items"][0].get("offers").is_none(), "{other}");
    let (_, other) = app.get_json(&format!("/v1/products/{}", other["items"][0]["slug"].as_str().unwrap())).await;
    assert!(other.get("offers").is_none(), "no offer for another brand: {other}");
    let (s, offers) = app.get_json("/v1/offers").await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = offers["items"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Lumen week"], "live, automatic ones only");
    assert_eq!(offers["items"][0]["target"], json!({"kind": "brand", "slug": "lumen-lab"}));
    // A new offer changes the page's ETag: a revalidation gets the new page.
    promotion(app, json!({"name": "Gift", "benefit": {"kind": "gift", "sku": "OH-1"}})).await;
    app.eventually(|| async {
        let res = app.client.get(app.url(&page)).header("if-none-match", &etag).send().await.unwrap();
        res.status() == StatusCode::OK
    })
    .await;
    // The listing read before it (and cached) shows it too: pages are cached by the live offers.
    app.eventually(|| async {
        let (_, other) = app.get_json("/v1/products?brand=other-house").await;
        other["items"][0]["offers"][0]["badge"] == "Gift with purchase"
    })
    .await;
}

async fn segments_keep_a_promotion_for_customers_whose_profile_fits(app: &TestApp) {
    stocked(app, SKU, 10).await;
    let (s, p) = app
        .post(
            "/v1/admin/promotions",
            json!({"name": "Bad", "benefit": {"kind": "free_shipping"}, "segments": ["skin_type:greasy"]}),
        )
        .await;
    assert_eq!((s, p["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("segments.0")), "{p}");
    promotion(
        app,
        json!({"name": "Oily edit", "benefit": {"kind": "percent_off", "percent_bp": 1000},
            "segments": ["skin_type:oily", "concern:acne"]}),
    )
    .await;
    let why = |c: &Value| c["promotions"]["not_applied"][0]["reason_code"].as_str().map(str::to_owned);
    let guest = ready_cart(app, SKU, 1, None).await;
    let (_, c) = shop(app, Method::GET, &format!("/v1/carts/{guest}"), None, None).await;
    assert_eq!(why(&c).as_deref(), Some("sign_in_required"), "{c}");

    let ana = crate::accounts::customer(app, "ana.segment@example.com").await;
    let ana = ana["access_token"].as_str().unwrap();
    let profile = |skin: &str| json!({"beauty_profile": {"skin_type": skin}});
    let (s, _) = shop(app, Method::PATCH, "/v1/me", Some(ana), Some(profile("dry"))).await;
    assert_eq!(s, StatusCode::OK);
    let cart = ready_cart(app, SKU, 1, Some(ana)).await;
    let (_, c) = shop(app, Method::GET, &format!("/v1/carts/{cart}"), Some(ana), None).await;
    assert_eq!((why(&c).as_deref(), &c["totals"]["discount"]), (Some("not_in_segment"), &json!(0)), "{c}");
    assert_eq!(
        c["promotions"]["not_applied"][0]["reason"],
        "this promotion is for customers whose beauty profile says acne or oily skin"
    );
    // Her listing for her shows only the offers she can have.
    async fn mine(app: &TestApp, token: &str) -> Option<Value> {
        let res = app.client.get(app.url("/v1/products?for_me=true")).bearer_auth(token).send().await.unwrap();
        let body: Value = res.json().await.unwrap();
        body["items"][0].get("offers").cloned()
    }
    assert_eq!(mine(app, ana).await, None);

    let (s, _) = shop(app, Method::PATCH, "/v1/me", Some(ana), Some(profile("oily"))).await;
    assert_eq!(s, StatusCode::OK);
    let (_, c) = shop(app, Method::GET, &format!("/v1/carts/{cart}"), Some(ana), None).await;
    assert_eq!(c["totals"]["discount"], 290, "10 % of 29.00 once her profile says oily skin: {c}");
    assert_eq!(c["promotions"]["applied"][0]["name"], "Oily edit");
    assert_eq!(mine(app, ana).await.unwrap()[0]["segments"], json!(["concern:acne", "skin_type:oily"]));
    // Services apart, orders ask identity's internal route with a service token.
    let (_, me) = shop(app, Method::GET, "/v1/me", Some(ana), None).await;
    let tokens = app.tokens.clone();
    let token: rouge_http::remote::TokenSource =
        std::sync::Arc::new(move || tokens.issue_service("orders", chrono::Utc::now().timestamp()));
    let identity = rouge_http::remote::Remote::new(
        rouge_http::services::Service::Identity,
        &app.url(""),
        token,
        rouge_http::remote::Policy::default(),
    )
    .unwrap();
    let remote = rouge_http::peers::RemoteProfiles(identity);
    let id: uuid::Uuid = me["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(rouge_promotions::Profiles::segments(&remote, id).await.unwrap(), ["skin_type:oily"]);
    let res = complete(app, &cart, Some("oily"), "tok_visa", Some(ana)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let order: Value = res.json().await.unwrap();
    assert_eq!(order["totals"]["discount"], 290, "{order}");
}

/// The code-budget drill: `buyers` shoppers with a 20 % code limited to `uses`, checking out
/// at once through two replicas, some with cards that are declined. The code is never used
/// more than its budget; every refused shopper is told why and not charged; a declined
/// checkout gives its use back; the count of uses equals the orders that used it.
pub async fn code_budget_drill(
    app: &TestApp,
    buyers: usize,
    uses: i64,
    decliners: usize,
) -> (usize, std::time::Duration) {
    stocked(app, "DROP-2", buyers as i64).await;
    let p = promotion(
        app,
        json!({"name": "Launch code", "benefit": {"kind": "percent_off", "percent_bp": 2000}, "requires_code": true}),
    )
    .await;
    code(app, &p, "LAUNCH", Some(uses)).await;
    let replica = app.replica().await;
    let carts: Vec<String> = futures::future::join_all((0..buyers).map(|_| async {
        let cart = ready_cart(app, "DROP-2", 1, None).await;
        let (s, c) = enter(app, &cart, "LAUNCH").await;
        assert_eq!((s, &c["totals"]["discount"]), (StatusCode::OK, &json!(580)), "{c}");
        cart
    }))
    .await;
    let started = std::time::Instant::now();
    let results = futures::future::join_all(carts.iter().enumerate().map(|(i, c)| {
        let base = if i % 2 == 0 { app.url("") } else { replica.base.clone() };
        let card = if i < decliners { "tok_decline" } else { "tok_visa" };
        async move {
            let res = app
                .client
                .post(format!("{base}/v1/carts/{c}/complete"))
                .header("idempotency-key", format!("buyer-{i}"))
                .json(&json!({"payment": {"provider": "test", "token": card}}))
                .send()
                .await
                .expect("request");
            let status = res.status();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    }))
    .await;
    let took = started.elapsed();
    let placed: Vec<&Value> = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).map(|(_, b)| b).collect();
    let used_up =
        results.iter().filter(|(s, b)| *s == StatusCode::CONFLICT && b["errors"][0]["code"] == "used_up").count();
    let declined = results.iter().filter(|(s, _)| *s == StatusCode::PAYMENT_REQUIRED).count();
    assert_eq!(
        placed.len() + used_up + declined,
        buyers,
        "every shopper placed, told the code ran out, or declined: {:?}",
        results.iter().find(|(s, b)| !(matches!(*s, StatusCode::CREATED | StatusCode::PAYMENT_REQUIRED)
            || (*s == StatusCode::CONFLICT && b["errors"][0]["code"] == "used_up")))
    );
    // A declining card is only tried when the code could be held for it.
    assert!(declined <= decliners, "{declined} declined");
    assert!(placed.len() as i64 <= uses, "{} orders with a code for {uses}", placed.len());
    // A declined checkout held its use for a moment only: at most that many shoppers lost out.
    assert!(placed.len() + declined >= uses as usize, "{} orders, {declined} declined", placed.len());
    assert!(placed.iter().all(|o| o["totals"]["discount"] == 580 && o["promotions"][0]["code"] == "LAUNCH"));
    let want = placed.len() as i64;
    app.eventually(|| async { used(app, &p).await == want }).await;
    let (_, codes) = app.get_json_as_admin(&format!("/v1/admin/promotions/{p}/codes")).await;
    assert_eq!(codes["items"][0]["used"].as_i64(), Some(want), "the code counts the orders that used it");
    replica.stop().await;
    (placed.len(), took)
}

mod load {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_a_code_budget_holds_under_a_rush_on_two_replicas() {
        let app = TestApp::sqlite_with(test_options()).await;
        code_budget_drill(&app, 300, 100, 20).await;
        app.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_a_code_budget_holds_under_a_rush_on_two_replicas() {
        let Some(app) = TestApp::postgres_with(test_options()).await else { return };
        code_budget_drill(&app, 300, 100, 20).await;
        app.stop().await;
    }
}
