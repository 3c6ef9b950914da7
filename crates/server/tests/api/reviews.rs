//! Reviews over HTTP, on both stores: only a delivered order line can be reviewed, the
//! reviewer's profile is copied (less what she hides), moderation decides what shoppers see,
//! ratings by skin type add up, listings filter and sort by rating, votes and reports count
//! once per customer, and an erased reviewer's review stays, anonymised.

use crate::checkout::{SKU, complete, ready_cart, shop, staff, stocked};
use crate::helpers::{TestApp, serum};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

crate::on_both_stores!(
    a_delivered_purchase_is_reviewed_moderated_and_rated,
    reviews_refuse_what_was_not_received,
    graphql_reviews_like_rest,
);

/// A customer with this beauty profile; her access token.
async fn reviewer(app: &TestApp, email: &str, profile: Value) -> String {
    let session = crate::accounts::customer(app, email).await;
    let token = session["access_token"].as_str().unwrap().to_owned();
    let (s, b) = shop(app, Method::PATCH, "/v1/me", Some(&token), Some(json!({"beauty_profile": profile}))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    token
}

/// An order of `sku` she paid for; delivered when asked.
async fn bought(app: &TestApp, token: &str, sku: &str, delivered: bool) -> String {
    let cart = ready_cart(app, sku, 1, Some(token)).await;
    let res = complete(app, &cart, Some(&cart), "tok_visa", Some(token)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let order: Value = res.json().await.unwrap();
    let id = order["id"].as_str().unwrap().to_owned();
    if delivered {
        for step in [
            json!({"action": "capture"}),
            json!({"action": "ship", "carrier": "Colissimo", "tracking": "RV1"}),
            json!({"action": "mark_delivered"}),
        ] {
            let (s, o) = staff(app, &id, step).await;
            assert_eq!(s, StatusCode::OK, "{o}");
        }
    }
    id
}

fn body(order: &str, rating: u8) -> Value {
    json!({"order_id": order, "sku": SKU, "rating": rating, "title": "Calmer skin",
        "text": "Two weeks in, fewer breakouts.", "photos": ["https://img.example/r1.jpg"],
        "display_name": "Ana S.", "hide": ["age_band"]})
}

/// The slug of the product selling `SKU`.
async fn slug(app: &TestApp) -> String {
    let (_, listed) = app.get_json("/v1/products?q=glow").await;
    listed["items"][0]["slug"].as_str().unwrap().to_owned()
}

async fn reviews_refuse_what_was_not_received(app: &TestApp) {
    stocked(app, SKU, 10).await;
    let slug = slug(app).await;
    let path = format!("/v1/products/{slug}/reviews");
    let ana = reviewer(app, "ana.notyet@example.com", json!({"skin_type": "oily"})).await;
    let placed = bought(app, &ana, SKU, false).await;
    let (s, p) = shop(app, Method::POST, &path, None, Some(body(&placed, 5))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{p}");
    let (s, p) = shop(app, Method::POST, &path, Some(&ana), Some(body(&placed, 5))).await;
    assert_eq!((s, p["errors"][0]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("not_delivered")), "{p}");
    // Someone else's order, or a variant it does not hold: not hers to review.
    let bea = reviewer(app, "bea.notyet@example.com", json!({})).await;
    let (s, p) = shop(app, Method::POST, &path, Some(&bea), Some(body(&placed, 5))).await;
    assert_eq!((s, p["errors"][0]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("not_purchased")), "{p}");
    let bad = json!({"order_id": placed, "sku": SKU, "rating": 0, "title": "", "text": "x",
        "display_name": "ana@example.com", "photos": ["ftp://x"]});
    let (s, p) = shop(app, Method::POST, &path, Some(&ana), Some(bad)).await;
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!((s, fields), (StatusCode::UNPROCESSABLE_ENTITY, vec!["rating", "title", "photos.0", "display_name"]));
    let (s, p) = app.get_json(&format!("{path}?skin_type=greasy&limit=0")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{p}");
    let (_, queue) = app.get_json_as_admin("/v1/admin/reviews").await;
    assert_eq!(queue["items"], json!([]), "nothing was stored");
}

async fn a_delivered_purchase_is_reviewed_moderated_and_rated(app: &TestApp) {
    stocked(app, SKU, 10).await;
    app.product(serum("Plain Serum", "lumen-lab", "LL-PLAIN-30", 1900)).await;
    let slug = slug(app).await;
    let path = format!("/v1/products/{slug}/reviews");
    let profile = json!({"skin_type": "oily", "concerns": ["acne"], "age_band": "25_34",
        "shade": {"undertone": "warm", "depth": 3}});
    let ana = reviewer(app, "ana.review@example.com", profile).await;
    let order = bought(app, &ana, SKU, true).await;

    let (s, mine) = shop(app, Method::POST, &path, Some(&ana), Some(body(&order, 5))).await;
    assert_eq!(s, StatusCode::CREATED, "{mine}");
    assert_eq!(mine["status"], "pending");
    assert_eq!(mine["verified_purchase"], true);
    let who = &mine["reviewer"];
    assert_eq!(
        (&who["display_name"], &who["skin_type"], &who["concerns"]),
        (&json!("Ana S."), &json!("oily"), &json!(["acne"]))
    );
    assert_eq!(
        (&who["age_band"], &who["shade"]["undertone"]),
        (&Value::Null, &json!("warm")),
        "age band hidden: {who}"
    );
    assert!(!mine.to_string().contains("ana.review@example.com"), "never her email: {mine}");
    let (s, _) = shop(app, Method::POST, &path, Some(&ana), Some(body(&order, 4))).await;
    assert_eq!(s, StatusCode::CONFLICT, "one review per order line");
    let id = mine["id"].as_str().unwrap().to_owned();

    // Pending: not shown; in the moderators' queue.
    let (_, page) = app.get_json(&path).await;
    assert_eq!((page["items"].as_array().map(Vec::len), &page["summary"]["count"]), (Some(0), &json!(0)), "{page}");
    let (_, queue) = app.get_json_as_admin("/v1/admin/reviews?status=pending").await;
    assert_eq!(queue["items"][0]["id"], id.as_str());
    assert!(queue["items"][0]["customer_id"].is_string(), "staff see whose it is");
    let moderation = format!("/v1/admin/reviews/{id}/moderation");
    let res = app.admin(Method::PUT, &moderation, &json!({"decision": "reject"})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "a rejection says why");
    let res = app.admin(Method::PUT, &moderation, &json!({"decision": "approve"})).await;
    assert_eq!(res.status(), StatusCode::OK);

    // Bea, dry skin, less happy.
    let bea = reviewer(app, "bea.review@example.com", json!({"skin_type": "dry", "concerns": ["redness"]})).await;
    let hers = bought(app, &bea, SKU, true).await;
    let (s, second) = shop(app, Method::POST, &path, Some(&bea), Some(body(&hers, 2))).await;
    assert_eq!(s, StatusCode::CREATED, "{second}");
    let second = second["id"].as_str().unwrap().to_owned();
    app.admin(Method::PUT, &format!("/v1/admin/reviews/{second}/moderation"), &json!({"decision": "approve"})).await;

    let (s, page) = app.get_json(&path).await;
    assert_eq!(s, StatusCode::OK);
    let summary = &page["summary"];
    assert_eq!(
        (&summary["average"], &summary["count"], &summary["distribution"]),
        (&json!(3.5), &json!(2), &json!([0, 1, 0, 0, 1]))
    );
    assert_eq!(
        summary["by_skin_type"],
        json!([{"skin_type": "dry", "average": 2.0, "count": 1}, {"skin_type": "oily", "average": 5.0, "count": 1}])
    );
    let (_, oily) = app.get_json(&format!("{path}?skin_type=oily&concern=acne")).await;
    assert_eq!(oily["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(oily["items"][0]["id"], id.as_str());
    let (_, best) = app.get_json(&format!("{path}?sort=rating_asc&limit=1")).await;
    assert_eq!(best["items"][0]["id"], second.as_str());
    let (_, rest) =
        app.get_json(&format!("{path}?sort=rating_asc&limit=1&cursor={}", best["next_cursor"].as_str().unwrap())).await;
    assert_eq!(rest["items"][0]["id"], id.as_str(), "the next page: {rest}");

    // The rating reaches the product page and the listing (filter and sort).
    app.eventually(|| async {
        let (_, p) = app.get_json(&format!("/v1/products/{slug}")).await;
        p["rating"] == json!({"average": 3.5, "count": 2})
    })
    .await;
    let (_, rated) = app.get_json("/v1/products?brand=lumen-lab&sort=rating").await;
    assert_eq!(rated["items"][0]["slug"], slug.as_str(), "rated first: {rated}");
    let (_, four) = app.get_json("/v1/products?min_rating=4").await;
    assert_eq!(four["total"], 0, "3.5 is below 4: {four}");
    let (_, three) = app.get_json("/v1/products?min_rating=3").await;
    assert_eq!(three["total"], 1);

    // Votes and reports, once each; her own review is not hers to vote.
    let helpful = format!("/v1/reviews/{id}/helpful");
    let (s, r) = shop(app, Method::PUT, &helpful, Some(&bea), None).await;
    assert_eq!((s, &r["helpful"]), (StatusCode::OK, &json!(1)), "{r}");
    let (_, r) = shop(app, Method::PUT, &helpful, Some(&bea), None).await;
    assert_eq!(r["helpful"], 1, "one vote per customer");
    let (s, _) = shop(app, Method::PUT, &helpful, Some(&ana), None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) =
        shop(app, Method::PUT, &format!("/v1/reviews/{id}/report"), Some(&bea), Some(json!({"reason": "spam"}))).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, reported) = app.get_json_as_admin("/v1/admin/reviews?reported=true").await;
    assert_eq!((&reported["items"][0]["id"], &reported["items"][0]["reports"]), (&json!(id), &json!(1)));

    // The shop replies; the reply is shown.
    let res = app
        .admin(
            Method::PUT,
            &format!("/v1/admin/reviews/{second}/reply"),
            &json!({"text": "Sorry to hear: try it every other day."}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (_, page) = app.get_json(&format!("{path}?skin_type=dry")).await;
    assert_eq!(page["items"][0]["reply"]["text"], "Sorry to hear: try it every other day.");
    let (_, audit) = app.get_json_as_admin("/v1/admin/audit?limit=100").await;
    assert!(audit.to_string().contains("/v1/admin/reviews/"), "moderation is audited");

    // A rejected review: the author reads why.
    let other = bought(app, &bea, SKU, true).await;
    let (_, third) = shop(app, Method::POST, &path, Some(&bea), Some(body(&other, 1))).await;
    let third = third["id"].as_str().unwrap();
    let res = app
        .admin(
            Method::PUT,
            &format!("/v1/admin/reviews/{third}/moderation"),
            &json!({"decision": "reject", "reason": "about delivery, not the product"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (_, mine) = shop(app, Method::GET, "/v1/reviews/mine", Some(&bea), None).await;
    assert_eq!(
        (&mine["items"][0]["status"], &mine["items"][0]["rejection_reason"]),
        (&json!("rejected"), &json!("about delivery, not the product"))
    );

    // Ana erases her account: her review stays, anonymised; her rating still counts.
    let (s, _) = shop(app, Method::DELETE, "/v1/me", Some(&ana), None).await;
    assert!(s.is_success());
    app.eventually(|| async {
        let (_, page) = app.get_json(&format!("{path}?skin_type=oily")).await;
        page["items"][0]["reviewer"]["display_name"] == "Former customer"
    })
    .await;
    let (_, page) = app.get_json(&format!("{path}?skin_type=oily")).await;
    assert_eq!(
        (&page["items"][0]["photos"], &page["items"][0]["text"]),
        (&json!([]), &json!("Two weeks in, fewer breakouts."))
    );
    assert_eq!(page["summary"]["count"], 2);
}

async fn graphql_reviews_like_rest(app: &TestApp) {
    use crate::graphql::gql_as;
    stocked(app, SKU, 10).await;
    let slug = slug(app).await;
    let ana = reviewer(app, "ana.gql@example.com", json!({"skin_type": "combination"})).await;
    let order = bought(app, &ana, SKU, true).await;
    let submit = "mutation($s: String!, $i: JSON!) { submitReview(slug: $s, input: $i) }";
    let res = gql_as(app, None, submit, json!({"s": slug, "i": body(&order, 4)})).await;
    assert!(res["errors"].is_array(), "a guest cannot review: {res}");
    let res = gql_as(app, Some(&ana), submit, json!({"s": slug, "i": body(&order, 4)})).await;
    let id = res["data"]["submitReview"]["id"].as_str().unwrap_or_else(|| panic!("{res}")).to_owned();
    let admin = app.admin_key.clone();
    let moderate = "mutation($id: UUID!) { moderateReview(id: $id, decision: \"approve\") }";
    let res = gql_as(app, Some(&ana), moderate, json!({"id": id})).await;
    assert!(res["errors"].is_array(), "customers do not moderate: {res}");
    let res = gql_as(app, Some(&admin), "{ reviews(status: \"pending\") }", json!({})).await;
    assert_eq!(res["data"]["reviews"]["items"][0]["id"], id.as_str(), "{res}");
    let res = gql_as(app, Some(&admin), moderate, json!({"id": id})).await;
    assert_eq!(res["data"]["moderateReview"]["status"], "approved", "{res}");
    let read = "query($s: String!) { productReviews(slug: $s, skinType: \"combination\") }";
    let res = gql_as(app, None, read, json!({"s": slug})).await;
    let page = &res["data"]["productReviews"];
    assert_eq!((&page["items"][0]["id"], &page["summary"]["average"]), (&json!(id), &json!(4.0)), "{res}");
    let res =
        gql_as(app, None, "query($s: String!) { productReviews(slug: $s, skinType: \"greasy\") }", json!({"s": slug}))
            .await;
    assert!(res["errors"].is_array(), "{res}");
    app.eventually(|| async {
        let q =
            "{ products(filter: {minRating: 4}, sort: RATING) { edges { node { slug rating { average count } } } } }";
        let res = gql_as(app, None, q, json!({})).await;
        res["data"]["products"]["edges"][0]["node"]["rating"] == json!({"average": 4.0, "count": 1})
    })
    .await;
}
