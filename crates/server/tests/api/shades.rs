//! Shade matching over HTTP and GraphQL: "find my shade" ranks other brands' shades of the
//! same category by CIEDE2000, listings filter by undertone and depth, and a profile shade
//! ranks `for_me` listings.

use crate::helpers::{TestApp, serum};
use reqwest::StatusCode;
use serde_json::{Value, json};

crate::on_both_stores!(
    find_my_shade_ranks_other_brands_shades_by_colour_difference,
    listings_filter_by_undertone_and_depth_and_rank_her_shade_first,
);

/// A foundation (or concealer) whose variants are `shades`: (sku, name, hex, undertone, depth).
fn base(name: &str, brand: &str, category: &str, shades: &[(&str, &str, &str, &str, u8)]) -> Value {
    let variants: Vec<Value> = shades
        .iter()
        .map(|(sku, shade, hex, undertone, depth)| {
            json!({"sku": sku, "price": {"amount": 3400, "currency": "EUR"},
                "shade": {"name": shade, "hex": hex, "undertone": undertone, "depth": depth}})
        })
        .collect();
    json!({"name": name, "brand": brand, "product_type": "makeup", "category": category, "status": "active",
        "description": "A foundation.", "variants": variants, "ingredients": ["Aqua", "Dimethicone", "Glycerin"]})
}

async fn shop(app: &TestApp) {
    for b in ["Lumen Lab", "Maison Rose", "Nord"] {
        app.brand(b).await;
    }
    app.category("Face", None).await;
    app.category("Foundation", Some("face")).await;
    app.category("Concealer", Some("face")).await;
    let lumen = [
        ("LL-FDN-110", "110 Porcelain", "#F3D9C6", "cool", 1),
        ("LL-FDN-220", "220 Beige", "#E0B594", "warm", 3),
        ("LL-FDN-350", "350 Caramel", "#B9835A", "warm", 6),
    ];
    app.product(base("Second Skin Foundation", "lumen-lab", "foundation", &lumen)).await;
    let rose = [
        ("MR-FDN-02", "02 Ivory", "#F1D6C2", "cool", 1),
        ("MR-FDN-05", "05 Sand", "#DDB08E", "warm", 3),
        ("MR-FDN-09", "09 Toffee", "#B7825C", "warm", 6),
    ];
    app.product(base("Velvet Foundation", "maison-rose", "foundation", &rose)).await;
    app.product(base("Nord Concealer", "nord", "concealer", &[("NO-CON-2", "2 Light", "#E0B595", "warm", 3)])).await;
    app.product(serum("Glow Serum", "lumen-lab", "LL-GLOW-30", 2900)).await;
}

async fn get(app: &TestApp, path: &str) -> (StatusCode, Value) {
    app.get_json(path).await
}

fn skus(items: &Value) -> Vec<&str> {
    items.as_array().unwrap().iter().map(|i| i["sku"].as_str().unwrap()).collect()
}

async fn find_my_shade_ranks_other_brands_shades_by_colour_difference(app: &TestApp) {
    shop(app).await;
    let (s, m) = get(app, "/v1/shades/LL-FDN-220/matches").await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!((m["of"]["sku"].as_str(), m["of"]["brand"].as_str()), (Some("LL-FDN-220"), Some("Lumen Lab")));
    assert_eq!(m["category"], "foundation", "the shade's own category");
    // Other brands only, nearest first: Sand; then Ivory (lighter) and Toffee (much deeper).
    assert_eq!(skus(&m["items"]), ["MR-FDN-05", "MR-FDN-02", "MR-FDN-09"], "{m}");
    let d: Vec<f64> = m["items"].as_array().unwrap().iter().map(|i| i["delta_e"].as_f64().unwrap()).collect();
    assert!(d.windows(2).all(|w| w[0] <= w[1]), "nearest first: {d:?}");
    assert!(d[0] < 3.0 && d[1] > 5.0, "Sand looks the same, the others do not: {d:?}");
    let lab = &m["of"]["lab"];
    assert!((lab["l"].as_f64().unwrap() - 77.0).abs() < 3.0, "CIELAB lightness of a light beige: {lab}");

    // Its own brand too, another category, a limit.
    let (_, all) = get(app, "/v1/shades/LL-FDN-220/matches?brands=all&limit=2").await;
    assert_eq!(skus(&all["items"]).len(), 2);
    let (_, face) = get(app, "/v1/shades/LL-FDN-220/matches?category=face").await;
    assert_eq!(skus(&face["items"])[0], "NO-CON-2", "the concealer of nearly the same colour: {face}");
    assert!(face["items"][0]["delta_e"].as_f64().unwrap() < 0.5);

    // Bad asks get problems.
    for (path, status, field) in [
        ("/v1/shades/NO-SUCH/matches", StatusCode::NOT_FOUND, None),
        ("/v1/shades/LL-GLOW-30/matches", StatusCode::NOT_FOUND, None),
        ("/v1/shades/LL-FDN-220/matches?limit=0", StatusCode::BAD_REQUEST, Some("limit")),
        ("/v1/shades/LL-FDN-220/matches?brands=some", StatusCode::BAD_REQUEST, Some("brands")),
        ("/v1/shades/LL-FDN-220/matches?category=nope", StatusCode::BAD_REQUEST, Some("category")),
        ("/v1/shades/LL-FDN-220/matches?colour=red", StatusCode::BAD_REQUEST, Some("colour")),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), status, "{path}");
        assert_eq!(res.headers()["content-type"], "application/problem+json", "{path}");
        let p: Value = res.json().await.unwrap();
        if let Some(f) = field {
            assert_eq!(p["errors"][0]["field"], f, "{path}: {p}");
        }
    }

    // GraphQL gives the same answer.
    let q = "query($sku: String!) { shadeMatches(sku: $sku) { of { sku } category items { sku deltaE } } }";
    let g = crate::graphql::gql_as(app, None, q, json!({"sku": "LL-FDN-220"})).await;
    let items = &g["data"]["shadeMatches"]["items"];
    assert_eq!(skus(items), ["MR-FDN-05", "MR-FDN-02", "MR-FDN-09"], "{g}");
    assert_eq!(items[0]["deltaE"], m["items"][0]["delta_e"]);
    let none = crate::graphql::gql_as(app, None, q, json!({"sku": "LL-GLOW-30"})).await;
    assert_eq!(none["data"]["shadeMatches"], Value::Null, "{none}");
}

fn slugs(listing: &Value) -> Vec<&str> {
    listing["items"].as_array().unwrap().iter().map(|i| i["slug"].as_str().unwrap()).collect()
}

async fn listings_filter_by_undertone_and_depth_and_rank_her_shade_first(app: &TestApp) {
    shop(app).await;
    let (_, cool) = get(app, "/v1/products?undertone=cool&sort=name").await;
    assert_eq!(slugs(&cool), ["second-skin-foundation", "velvet-foundation"], "{cool}");
    let (_, deep) = get(app, "/v1/products?undertone=warm&depth_min=5&depth_max=6&sort=name").await;
    assert_eq!(slugs(&deep), ["second-skin-foundation", "velvet-foundation"], "the concealer is depth 3: {deep}");
    let (_, light_warm) = get(app, "/v1/products?undertone=warm&depth_max=1").await;
    assert_eq!(light_warm["items"], json!([]), "a shade must be both: {light_warm}");
    let (s, bad) = get(app, "/v1/products?depth_min=7&depth_max=2").await;
    assert_eq!((s, bad["errors"][0]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("depth_min")));
    let (s, bad) = get(app, "/v1/products?undertone=pink").await;
    assert_eq!((s, bad["errors"][0]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("undertone")));

    // Newest first, a deep cool foundation leads; for her (warm, depth 6) shades near hers lead.
    let deep_cool = [("NO-FDN-8", "8 Ebony", "#5C3A2A", "cool", 9)];
    app.product(base("Nord Deep Foundation", "nord", "foundation", &deep_cool)).await;
    let (_, newest) = get(app, "/v1/products?product_type=makeup").await;
    assert_eq!(slugs(&newest)[0], "nord-deep-foundation");
    let token = crate::accounts::customer(app, "ana@example.com").await["access_token"].as_str().unwrap().to_owned();
    let me = app.client.get(app.url("/v1/me")).bearer_auth(&token).send().await.unwrap();
    let etag = me.headers()["etag"].to_str().unwrap().to_owned();
    let res = app
        .client
        .patch(app.url("/v1/me"))
        .bearer_auth(&token)
        .header("if-match", etag)
        .json(&json!({"beauty_profile": {"shade": {"undertone": "warm", "depth": 6}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mine: Value = app
        .client
        .get(app.url("/v1/products?product_type=makeup&for_me=true"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let order = slugs(&mine);
    assert_eq!(order.len(), 4, "{mine}");
    let mut first_two = order[..2].to_vec();
    first_two.sort_unstable();
    assert_eq!(first_two, ["second-skin-foundation", "velvet-foundation"], "her shade (warm 6) first: {order:?}");
    // Nothing near her shade: the newest first, as before.
    assert_eq!(order[2..], ["nord-deep-foundation", "nord-concealer"], "{order:?}");
}
