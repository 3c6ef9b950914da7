//! Recommendations over HTTP, on both stores: visitors' behaviour trains the model, each
//! context answers with the model and a reason, a customer's fresh behaviour is scored at once,
//! and nothing served breaks her constraints (an ingredient she avoids, sold out); bad
//! queries are named.

use crate::checkout::{receive, shop};
use crate::helpers::{TestApp, serum};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

crate::on_both_stores!(recommendations_follow_behaviour_within_her_constraints);

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
    let (_, before) = app.get_json_as_admin("/v1/admin/recommendations/training").await;
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
