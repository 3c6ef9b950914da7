//! Recommendations over HTTP, on both stores: visitors' behaviour trains the model, each
//! context answers with the model and a reason, a customer's fresh behaviour is scored at once,
//! and nothing served breaks her constraints (an ingredient she avoids, sold out); bad
//! queries are named.

use crate::checkout::{SKU, complete, ready_cart, receive, shop, stocked};
use crate::helpers::{TestApp, serum, test_options};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

crate::on_both_stores!(
    recommendations_follow_behaviour_within_her_constraints,
    a_replica_forgets_what_it_knew_of_her_when_she_changes_elsewhere,
    clicks_and_purchases_are_attributed_to_the_recommendations_shown
);

/// Name, category, SKU, ingredients, skin types.
type Product = (&'static str, &'static str, &'static str, &'static [&'static str], &'static [&'static str]);

/// The shop; the last is never stocked.
const PRODUCTS: [Product; 6] = [
    ("Gentle Cleanser", "cleansers", "RC-CL", &["Aqua", "Glycerin", "Coco-Glucoside"], &["normal"]),
    ("Calm Toner", "toners", "RC-TN", &["Aqua", "Glycerin", "Hamamelis Virginiana Water"], &["normal"]),
    ("Clear Serum", "serums", "RC-SR", &["Aqua", "Niacinamide", "Zinc PCA"], &["oily"]),
    ("Scented Serum", "serums", "RC-SC", &["Aqua", "Niacinamide", "Zinc PCA", "Parfum"], &["oily"]),
    ("Rich Cream", "moisturisers", "RC-MO", &["Aqua", "Butyrospermum Parkii Butter", "Glycerin"], &["dry"]),
    ("Sun Fluid", "sunscreen", "RC-SP", &["Aqua", "Zinc Oxide"], &["normal"]),
];

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    shop(app, Method::GET, path, token, None).await
}

/// Starts a training and waits for it: what it made.
pub async fn train(app: &TestApp) -> Value {
    // The server trains at start: that one first, so that the one started here is ours.
    let mut before = Value::Null;
    for _ in 0..600 {
        (_, before) = app.get_json_as_admin("/v1/admin/recommendations/training").await;
        if before["running"] == false && !before["finished_at"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (s, started) = app.post("/v1/admin/recommendations/train", json!({})).await;
    assert_eq!((s, &started["running"]), (StatusCode::ACCEPTED, &json!(true)), "{started}");
    let mut now = Value::Null;
    for _ in 0..600 {
        (_, now) = app.get_json_as_admin("/v1/admin/recommendations/training").await;
        if now["running"] == false && now["finished_at"] != before["finished_at"] {
            return now["last"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the training did not finish: {now}");
}

async fn recommendations_follow_behaviour_within_her_constraints(app: &TestApp) {
    app.brand("Lumen Lab").await;
    app.category("Skincare", None).await;
    for c in ["Cleansers", "Toners", "Serums", "Moisturisers", "Sunscreen"] {
        app.category(c, Some("skincare")).await;
    }
    let mut ids = std::collections::HashMap::new();
    for (name, category, sku, ingredients, skin) in PRODUCTS {
        let mut p = serum(name, "lumen-lab", sku, 2000);
        p["category"] = json!(category);
        p["ingredients"] = json!(ingredients);
        p["skin_types"] = json!(skin);
        let made = app.product(p).await;
        ids.insert(sku, made["id"].as_str().unwrap().to_owned());
        if sku != "RC-SP" {
            receive(app, sku, 50).await;
        }
    }
    // Eight visitors go cleanser → toner → serum → cream (two look at the scented serum and
    // the sun fluid on the way).
    for v in 0..8 {
        let mut events = vec![];
        for sku in ["RC-CL", "RC-TN", "RC-SR", "RC-MO"] {
            events.push(json!({"type": "product_viewed", "product_id": ids[sku]}));
            if v < 2 && sku == "RC-SR" {
                events.push(json!({"type": "product_viewed", "product_id": ids["RC-SC"]}));
                events.push(json!({"type": "product_viewed", "product_id": ids["RC-SP"]}));
            }
        }
        let batch = json!({"anonymous_id": format!("visitor-{v:04}"), "consent": true, "events": events});
        let (s, b) = shop(app, Method::POST, "/v1/events", None, Some(batch)).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    }
    let trained = train(app).await;
    assert!(trained["model"].as_str().is_some_and(|m| m.starts_with("seq-ease(")), "{trained}");
    assert_eq!(trained["shoppers"], 8, "{trained}");

    // A visitor's own list, from training: the model and a reason for each.
    let (s, r) = get(app, "/v1/recommendations?context=for_you&anonymous_id=visitor-0003", None).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(r["model"].as_str().is_some_and(|m| m.starts_with("seq-ease(")), "{r}");
    let items = r["items"].as_array().unwrap();
    assert!(!items.is_empty() && items.iter().all(|i| i["why"].as_str().is_some_and(|w| !w.is_empty())), "{r}");
    let skus = |r: &Value| -> Vec<String> {
        r["items"].as_array().unwrap().iter().map(|i| i["product_id"].as_str().unwrap().to_owned()).collect()
    };
    assert!(!skus(&r).contains(&ids["RC-SP"]), "never sold out: {r}");

    // Ana avoids fragrance (an everyday name) and has oily skin; she just looked at the
    // cleanser: scored at once, without waiting for a training.
    let session = crate::accounts::customer(app, "recs@example.com").await;
    let ana = session["access_token"].as_str().unwrap().to_owned();
    let profile = json!({"beauty_profile": {"skin_type": "oily", "avoid_ingredients": ["fragrance"]}});
    let (s, b) = shop(app, Method::PATCH, "/v1/me", Some(&ana), Some(profile)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _) = shop(
        app,
        Method::POST,
        "/v1/events",
        Some(&ana),
        Some(json!({"consent": true, "events": [
        {"type": "product_viewed", "product_id": ids["RC-CL"]}]})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, r) = get(app, "/v1/recommendations?context=for_you&limit=5", Some(&ana)).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(r["model"].as_str().is_some_and(|m| m.starts_with("seq-ease(")), "{r}");
    assert_eq!(r["items"][0]["why"], "Because you looked at Gentle Cleanser", "{r}");
    assert_eq!(r["items"][0]["reason"]["kind"], "because_you_viewed", "{r}");
    for r in
        [&r, &get(app, &format!("/v1/recommendations?context=similar&product_id={}", ids["RC-SR"]), Some(&ana)).await.1]
    {
        assert!(!skus(r).contains(&ids["RC-SC"]), "never what she avoids: {r}");
        assert!(!skus(r).contains(&ids["RC-SP"]), "never sold out: {r}");
    }
    // GraphQL answers as REST does, for her.
    let (_, rest) =
        get(app, &format!("/v1/recommendations?context=similar&product_id={}", ids["RC-SR"]), Some(&ana)).await;
    let q = format!("{{ recommendations(context: \"similar\", productId: \"{}\") }}", ids["RC-SR"]);
    let (s, g) = shop(app, Method::POST, "/graphql", Some(&ana), Some(json!({"query": q}))).await;
    assert_eq!(s, StatusCode::OK, "{g}");
    assert_eq!(skus(&g["data"]["recommendations"]), skus(&rest), "{g}");
    let (_, g) =
        shop(app, Method::POST, "/graphql", None, Some(json!({"query": "{ recommendations(context: \"nearby\") }"})))
            .await;
    assert!(g["errors"][0]["message"].as_str().is_some_and(|m| !m.is_empty()), "named: {g}");

    // What serving knew of her is not kept past a change of hers: a new ingredient to avoid
    // applies at once, and so does what she just looked at.
    let profile = json!({"beauty_profile": {"skin_type": "oily", "avoid_ingredients": ["fragrance", "niacinamide"]}});
    let (s, b) = shop(app, Method::PATCH, "/v1/me", Some(&ana), Some(profile)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, r) = get(app, "/v1/recommendations?context=for_you&limit=5", Some(&ana)).await;
    assert!(!skus(&r).contains(&ids["RC-SR"]) && !skus(&r).is_empty(), "her new avoid applies at once: {r}");
    let (s, _) = shop(
        app,
        Method::POST,
        "/v1/events",
        Some(&ana),
        Some(json!({"consent": true, "events": [{"type": "product_viewed", "product_id": ids["RC-TN"]}]})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (_, r) = get(app, "/v1/recommendations?context=for_you&limit=5", Some(&ana)).await;
    assert_eq!(r["items"][0]["why"], "Because you looked at Calm Toner", "{r}");
    let profile = json!({"beauty_profile": {"skin_type": "oily", "avoid_ingredients": ["fragrance"]}});
    let (s, b) = shop(app, Method::PATCH, "/v1/me", Some(&ana), Some(profile)).await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // For anyone else the scented serum is like the clear one by its ingredients.
    let (_, like) = get(app, &format!("/v1/recommendations?context=similar&product_id={}", ids["RC-SR"]), None).await;
    assert!(skus(&like).contains(&ids["RC-SC"]), "{like}");
    assert!(!skus(&like).contains(&ids["RC-SR"]), "not itself: {like}");

    // Her routine: one product per step she lacks, in order, the sold-out sun fluid left out.
    let (s, r) = get(app, "/v1/recommendations?context=routine", Some(&ana)).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let steps: Vec<&str> = r["items"].as_array().unwrap().iter().filter_map(|i| i["reason"]["step"].as_str()).collect();
    assert_eq!(&steps[..2], ["cleanser", "toner"], "{r}");
    assert!(!skus(&r).contains(&ids["RC-SP"]), "{r}");

    // A new shopper with dry skin: what dry skin buys first.
    let (s, r) = get(app, "/v1/recommendations?context=skin_type&skin_type=dry", None).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        (r["model"].as_str(), r["items"][0]["product_id"].as_str()),
        (Some("popularity-by-skin-type"), Some(ids["RC-MO"].as_str())),
        "{r}"
    );
    assert_eq!(r["items"][0]["why"], "Popular with dry skin", "{r}");

    // `rouge recs train` has the shop train now and prints what it made (Ana's events too).
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_rouge"))
        .args(["recs", "train", "--url", &app.base, "--api-key", &app.admin_key])
        .output()
        .await
        .unwrap();
    let said: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert!(out.status.success(), "{said} {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!((said["running"].as_bool(), said["last"]["shoppers"].as_u64()), (Some(false), Some(9)), "{said}");

    // Bad queries: every mistake named; an unknown product is not found.
    let (s, p) = get(app, "/v1/recommendations?limit=0&skin_type=scaly", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{p}");
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["limit", "skin_type", "context"], "{p}");
    let (s, p) = get(app, "/v1/recommendations?context=similar", None).await;
    assert_eq!((s, p["errors"][0]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("product_id")), "{p}");
    let (s, _) =
        get(app, &format!("/v1/recommendations?context=bought_together&product_id={}", uuid::Uuid::now_v7()), None)
            .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// Two replicas on one store: what one knows of a customer goes when she changes her profile
/// through the other (it hears her `CustomerUpdated`).
async fn a_replica_forgets_what_it_knew_of_her_when_she_changes_elsewhere(app: &TestApp) {
    app.brand("Lumen Lab").await;
    let mut ids = std::collections::HashMap::new();
    for (name, sku, ingredients) in
        [("Plain Serum", "RR-PL", &["Aqua", "Glycerin"][..]), ("Scented Serum", "RR-SC", &["Aqua", "Parfum"][..])]
    {
        let mut p = serum(name, "lumen-lab", sku, 2000);
        p["ingredients"] = json!(ingredients);
        ids.insert(sku, app.product(p).await["id"].as_str().unwrap().to_owned());
        receive(app, sku, 20).await;
    }
    let session = crate::accounts::customer(app, "replica-recs@example.com").await;
    let ana = session["access_token"].as_str().unwrap().to_owned();
    // The second replica starts now: it trains at start on the shop as it is.
    let replica = app.replica().await;
    let at_replica = || async {
        let res = app
            .client
            .get(format!("{}/v1/recommendations?context=for_you", replica.base))
            .bearer_auth(&ana)
            .send()
            .await
            .expect("request");
        let body: Value = res.json().await.unwrap_or(Value::Null);
        body["items"].as_array().map_or(vec![], |items| {
            items.iter().filter_map(|i| i["product_id"].as_str().map(str::to_owned)).collect::<Vec<_>>()
        })
    };
    app.eventually(|| async { at_replica().await.contains(&ids["RR-SC"]) }).await;
    let profile = json!({"beauty_profile": {"avoid_ingredients": ["fragrance"]}});
    let (s, b) = shop(app, Method::PATCH, "/v1/me", Some(&ana), Some(profile)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    app.eventually(|| async {
        let seen = at_replica().await;
        seen.contains(&ids["RR-PL"]) && !seen.contains(&ids["RR-SC"])
    })
    .await;
    replica.stop().await;
}

/// Every answer has an impression id; a click sent back with it and a purchase of the clicked
/// product count for its context and model in the staff's report.
async fn clicks_and_purchases_are_attributed_to_the_recommendations_shown(app: &TestApp) {
    stocked(app, SKU, 10).await;
    train(app).await;
    let session = crate::accounts::customer(app, "measured@example.com").await;
    let ana = session["access_token"].as_str().unwrap().to_owned();
    // Once the stock received is seen by serving (its facts are refreshed every second); an
    // empty answer is not counted as shown.
    let mut r = Value::Null;
    for _ in 0..500 {
        r = get(app, "/v1/recommendations?context=for_you", Some(&ana)).await.1;
        if r["items"].as_array().is_some_and(|i| !i.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let impression = r["impression_id"].as_str().unwrap().to_owned();
    let item = &r["items"][0];
    assert_eq!(item["impression_id"], r["impression_id"], "each suggestion carries it: {r}");
    let model = rouge_recommendations::impressions::family(r["model"].as_str().unwrap());
    let (_, again) = get(app, "/v1/recommendations?context=for_you", Some(&ana)).await;
    assert_ne!(again["impression_id"], r["impression_id"], "one id per answer shown");

    // A made-up impression, or one on an event that is not a click: named, nothing kept.
    let product = item["product_id"].clone();
    let (s, p) = shop(
        app,
        Method::POST,
        "/v1/events",
        Some(&ana),
        Some(json!({"consent": true, "events": [
            {"type": "product_viewed", "product_id": product, "impression_id": uuid::Uuid::new_v4()},
            {"type": "search_made", "query": "glow", "impression_id": impression}]})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["events[0].impression_id", "events[1].impression_id"], "{p}");

    // She clicks the suggestion, then buys it.
    let click = json!({"consent": true, "events": [
        {"type": "product_viewed", "product_id": product, "impression_id": impression}]});
    let (s, b) = shop(app, Method::POST, "/v1/events", Some(&ana), Some(click)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let cart = ready_cart(app, SKU, 1, Some(&ana)).await;
    let res = complete(app, &cart, Some(&cart), "tok_visa", Some(&ana)).await;
    assert_eq!(res.status(), StatusCode::CREATED);

    let row = |report: &Value| {
        report["rows"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["context"] == "for_you" && r["model"] == model).cloned())
    };
    app.eventually(|| async {
        let (_, report) = app.get_json_as_admin("/v1/admin/recommendations/report").await;
        row(&report).is_some_and(|r| r["purchases"] == 1)
    })
    .await;
    let (s, report) = app.get_json_as_admin("/v1/admin/recommendations/report").await;
    assert_eq!(s, StatusCode::OK, "{report}");
    let r = row(&report).unwrap();
    assert_eq!((&r["impressions"], &r["clicks"], &r["purchases"]), (&json!(2), &json!(1), &json!(1)), "{report}");
    assert_eq!((&r["click_through"], &r["conversion"]), (&json!(0.5), &json!(0.5)), "{report}");
    assert_eq!(report["attribution_days"], 7, "{report}");

    // Bea clicks a suggestion as a visitor, then logs in on the same storefront (its events
    // carry both her token and the visitor id) and buys it: her purchase counts too.
    let (_, seen) = get(app, "/v1/recommendations?context=for_you&anonymous_id=visitor-bea-0001", None).await;
    let bea_model = rouge_recommendations::impressions::family(seen["model"].as_str().unwrap());
    let click = json!({"anonymous_id": "visitor-bea-0001", "consent": true, "events": [
        {"type": "product_viewed", "product_id": seen["items"][0]["product_id"], "impression_id": seen["impression_id"]}]});
    let (s, b) = shop(app, Method::POST, "/v1/events", None, Some(click)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let session = crate::accounts::customer(app, "bea.measured@example.com").await;
    let bea = session["access_token"].as_str().unwrap().to_owned();
    let logged_in = json!({"anonymous_id": "visitor-bea-0001", "consent": true, "events": [
        {"type": "search_made", "query": "glow"}]});
    let (s, b) = shop(app, Method::POST, "/v1/events", Some(&bea), Some(logged_in)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let cart = ready_cart(app, SKU, 1, Some(&bea)).await;
    assert_eq!(complete(app, &cart, Some(&cart), "tok_visa", Some(&bea)).await.status(), StatusCode::CREATED);
    let (row_of, bought) = (bea_model.to_owned(), if bea_model == model { 2 } else { 1 });
    app.eventually(|| async {
        let (_, report) = app.get_json_as_admin("/v1/admin/recommendations/report").await;
        report["rows"].as_array().is_some_and(|rows| {
            rows.iter().any(|r| r["context"] == "for_you" && r["model"] == row_of.as_str() && r["purchases"] == bought)
        })
    })
    .await;

    // The report's days, checked.
    let (s, p) = app.get_json_as_admin("/v1/admin/recommendations/report?from=2026-02-30&till=x").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{p}");
    let fields: Vec<&str> = p["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["from", "till"], "{p}");
    let (s, p) = app.get_json_as_admin("/v1/admin/recommendations/report?from=2026-03-02&to=2026-03-01").await;
    assert_eq!((s, p["errors"][0]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("out_of_range")), "{p}");
    assert_eq!(app.get("/v1/admin/recommendations/report").await.status(), StatusCode::UNAUTHORIZED);
}

/// With Redis, the catalogue's replicas serve one training: the replica holding the period's
/// lease trains, the other reads its lists from Redis (and a training staff start on one is
/// served by both within seconds) instead of training itself.
async fn replicas_share_one_training_through_redis(pg: bool) {
    let Some(redis) = rouge_store_tests::harness::redis_url().await else { return };
    let prefix = format!("recs-test-{}", uuid::Uuid::now_v7().simple());
    let options = || {
        let mut opts = test_options();
        opts.redis_url = Some(redis.clone());
        opts.redis_prefix = prefix.clone();
        opts
    };
    let Some(a) = TestApp::on(pg, options()).await else { return };
    a.brand("Lumen Lab").await;
    let mut ids = vec![];
    for (name, sku) in [("Serum One", "RS-1"), ("Serum Two", "RS-2"), ("Serum Three", "RS-3")] {
        ids.push(a.product(serum(name, "lumen-lab", sku, 2000)).await["id"].as_str().unwrap().to_owned());
        receive(&a, sku, 10).await;
    }
    let b = a.replica_with(options()).await;
    let training_at = |base: String| {
        let (client, key) = (a.client.clone(), a.admin_key.clone());
        async move {
            let res = client
                .get(format!("{base}/v1/admin/recommendations/training"))
                .bearer_auth(key)
                .send()
                .await
                .expect("request");
            res.json::<Value>().await.unwrap_or(Value::Null)
        }
    };
    // A trained at start and shared it; B, started after, serves A's lists.
    a.eventually(|| async { training_at(b.base.clone()).await["shared"] == true }).await;
    assert_eq!(training_at(a.base.clone()).await["shared"], false, "A trained its own");

    // Behaviour, then a training on A: B serves it too, without training.
    for v in 0..6 {
        let events: Vec<Value> = ids.iter().map(|p| json!({"type": "product_viewed", "product_id": p})).collect();
        let batch = json!({"anonymous_id": format!("visitor-{v:04}"), "consent": true, "events": events});
        let (s, body) = shop(&a, Method::POST, "/v1/events", None, Some(batch)).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    }
    let trained = train(&a).await;
    assert_eq!(trained["events"], 18, "{trained}");
    a.eventually(|| async {
        let seen = training_at(b.base.clone()).await;
        seen["shared"] == true && seen["last"]["events"] == 18
    })
    .await;
    let res = a
        .client
        .get(format!("{}/v1/recommendations?context=for_you&anonymous_id=visitor-0002", b.base))
        .send()
        .await
        .unwrap();
    let r: Value = res.json().await.unwrap();
    assert!(r["model"].as_str().is_some_and(|m| m.starts_with("seq-ease(")), "B serves A's model: {r}");
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn sqlite_replicas_share_one_training_through_redis() {
    replicas_share_one_training_through_redis(false).await;
}

#[tokio::test]
async fn postgres_replicas_share_one_training_through_redis() {
    replicas_share_one_training_through_redis(true).await;
}
