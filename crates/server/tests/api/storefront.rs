use crate::helpers::{TestApp, serum};
use reqwest::StatusCode;
use serde_json::{Value, json};

crate::on_both_stores!(
    shoppers_find_products_by_what_is_in_the_bottle,
    listings_page_with_cursors_and_count_facets,
    product_detail_is_cacheable_and_compressed,
    categories_brands_and_ingredients,
    attribute_filters_use_staff_definitions,
    replicas_give_the_same_content_the_same_etag,
    replicas_agree_on_the_catalogue_stock_and_idempotency_keys,
);

fn names(page: &Value) -> Vec<String> {
    let mut v: Vec<String> =
        page["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_owned()).collect();
    v.sort();
    v
}

async fn shoppers_find_products_by_what_is_in_the_bottle(app: &TestApp) {
    app.brand("Lumen Lab").await;
    app.category("Skincare", None).await;
    app.category("Serums", Some("skincare")).await;
    let mut a = serum("Hydra Serum", "lumen-lab", "LL-1", 2400);
    a["category"] = json!("serums");
    a["ingredients"] = json!(["Aqua", "Sodium Hyaluronate", "Glycerin"]);
    a["certifications"] = json!([{"kind": "vegan", "body": "The Vegan Society", "expires_on": "2099-01-01"}]);
    app.product(a).await;
    let mut b = serum("Rose Toner", "lumen-lab", "LL-2", 3900);
    b["ingredients"] = json!(["Aqua", "Alcohol Denat.", "Parfum", "Linalool", "Limonene"]);
    b["skin_types"] = json!(["dry"]);
    app.product(b).await;

    // Everyday names find INCI names, and the other way round.
    let (s, page) = app.get_json("/v1/products?q=hyaluronic%20acid").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(names(&page), ["Hydra Serum"]);
    let (_, page) = app.get_json("/v1/products?include_ingredient=hyaluronic%20acid").await;
    assert_eq!(names(&page), ["Hydra Serum"]);
    let (_, page) = app.get_json("/v1/products?exclude_ingredient=fragrance").await;
    assert_eq!(names(&page), ["Hydra Serum"], "parfum is fragrance");

    // Derived flags are served, never typed.
    let (_, toner) = app.get_json("/v1/products/rose-toner").await;
    let linalool = toner["ingredients"].as_array().unwrap().iter().find(|i| i["inci"] == "Linalool").unwrap();
    assert_eq!(linalool["allergen"], true);
    assert!(!toner["free_from"].as_array().unwrap().contains(&json!("fragrance-free")));

    // The shopper: oily skin, fragrance-free, vegan, under 30 EUR, in serums.
    let (_, page) = app
        .get_json(
            "/v1/products?skin_type=oily&free_from=fragrance&certification=vegan&max_price=3000&category=skincare",
        )
        .await;
    assert_eq!(names(&page), ["Hydra Serum"], "category includes descendants");
    assert_eq!(page["total"], 1);
    let (_, page) = app.get_json("/v1/products?min_price=3000").await;
    assert_eq!(names(&page), ["Rose Toner"]);
    let (_, page) = app.get_json("/v1/products?q=serum&brand=no-such-brand").await;
    assert_eq!(page["total"], 0);
}

async fn listings_page_with_cursors_and_count_facets(app: &TestApp) {
    app.brand("Lumen Lab").await;
    app.brand("Fig Fern").await;
    for i in 0..5 {
        let brand = if i < 3 { "lumen-lab" } else { "fig-fern" };
        app.product(serum(&format!("Serum {i}"), brand, &format!("SKU-{i}"), 1000 + i * 1000)).await;
    }
    let mut seen = vec![];
    let mut path = "/v1/products?limit=2&sort=price_asc".to_owned();
    loop {
        let (s, page) = app.get_json(&path).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        assert_eq!(page["total"], 5);
        seen.extend(page["items"].as_array().unwrap().iter().map(|i| i["price_from"]["amount"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/products?limit=2&sort=price_asc&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, [1000, 2000, 3000, 4000, 5000], "every product once, in order");
    let (_, page) = app.get_json("/v1/products?sort=price_desc&limit=1").await;
    assert_eq!(page["items"][0]["price_from"]["amount"], 5000);
    let brands = &page["facets"]["brand"];
    assert_eq!(brands, &json!([{"value": "lumen-lab", "count": 3}, {"value": "fig-fern", "count": 2}]));
    let (_, page) = app.get_json("/v1/products?brand=fig-fern").await;
    assert_eq!(page["facets"]["brand"], json!([{"value": "fig-fern", "count": 2}]), "facets count the filtered set");
    assert_eq!(
        page["facets"]["price"],
        json!([{"value": "3000-4999", "count": 1}, {"value": "5000-9999", "count": 1}])
    );
}

async fn product_detail_is_cacheable_and_compressed(app: &TestApp) {
    app.brand("Lumen Lab").await;
    app.product(serum("Serum", "lumen-lab", "SKU-1", 1500)).await;
    let res = app.get("/v1/products/serum").await;
    assert_eq!(res.status(), StatusCode::OK);
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert!(res.headers()["cache-control"].to_str().unwrap().contains("max-age"));
    let res = app.client.get(app.url("/v1/products/serum")).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    let res = app.client.get(app.url("/v1/products?limit=50")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let bytes = res.bytes().await.unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["total"], 1);
    // A change gives a new ETag.
    let (_, p) = app.get_json("/v1/products/serum").await;
    let id = p["id"].as_str().unwrap();
    let res = app
        .admin(reqwest::Method::PATCH, &format!("/v1/admin/products/{id}"), &json!({"description": "New words."}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    app.eventually(|| async {
        let res = app.client.get(app.url("/v1/products/serum")).header("if-none-match", &etag).send().await.unwrap();
        res.status() == StatusCode::OK
    })
    .await;
}

async fn categories_brands_and_ingredients(app: &TestApp) {
    app.brand("Lumen Lab").await;
    app.category("Skincare", None).await;
    app.category("Serums", Some("skincare")).await;
    let mut p = serum("Hydra Serum", "lumen-lab", "SKU-1", 1500);
    p["category"] = json!("serums");
    p["ingredients"] = json!(["Aqua", "Sodium Hyaluronate"]);
    app.product(p).await;
    let (_, tree) = app.get_json("/v1/categories").await;
    let tree = &tree["items"];
    assert_eq!(tree[0]["slug"], "skincare");
    assert_eq!(tree[0]["product_count"], 1);
    assert_eq!(tree[0]["children"][0]["slug"], "serums");
    let (_, brands) = app.get_json("/v1/brands").await;
    assert_eq!(
        brands,
        json!({"items": [{"slug": "lumen-lab", "name": "Lumen Lab", "description": "", "product_count": 1}], "next_cursor": null})
    );
    let (s, entry) = app.get_json("/v1/ingredients/Sodium%20Hyaluronate").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(entry["inci"], "Sodium Hyaluronate");
    assert!(entry["everyday_names"].as_array().unwrap().contains(&json!("hyaluronic acid")));
    assert_eq!(entry["products"][0]["slug"], "hydra-serum");
    let (_, entry) = app.get_json("/v1/ingredients/hyaluronic%20acid").await;
    assert_eq!(entry["inci"], "Hyaluronic Acid");
    assert_eq!(entry["product_count"], 1);
    let (_, linalool) = app.get_json("/v1/ingredients/linalool").await;
    assert_eq!(linalool["allergen"], true);
    let (s, _) = app.get_json("/v1/ingredients/unobtainium").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn attribute_filters_use_staff_definitions(app: &TestApp) {
    app.brand("Tidal Tools").await;
    let (s, _) = app
        .post(
            "/v1/admin/attributes",
            json!({"product_type": "tools", "name": "bristle", "label": "Bristle", "kind": {"type": "enum", "values": ["synthetic", "natural"]}, "filterable": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let brush = |name: &str, sku: &str, bristle: &str| {
        json!({"name": name, "brand": "tidal-tools", "product_type": "tools", "status": "active",
               "variants": [{"sku": sku, "price": {"amount": 2000, "currency": "EUR"}}], "attributes": {"bristle": bristle}})
    };
    app.product(brush("Kabuki", "TT-1", "synthetic")).await;
    app.product(brush("Fan", "TT-2", "natural")).await;
    let (_, page) = app.get_json("/v1/products?attr.bristle=synthetic").await;
    assert_eq!(names(&page), ["Kabuki"]);
    let (s, bad) = app.post("/v1/admin/products", brush("Bad", "TT-3", "plastic")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad["errors"][0]["field"], "attributes.bristle");
    let (s, bad) = app.get_json("/v1/products?attr.colour=red").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(bad["errors"][0]["field"], "attr.colour");
}

/// Behind a load balancer a shopper's next request may reach another replica: the same content
/// has the same ETag on every replica, so a revalidation holds wherever it lands, and a change
/// made through one replica gives both the same new ETag.
async fn replicas_give_the_same_content_the_same_etag(app: &TestApp) {
    app.brand("Lumen Lab").await;
    app.product(serum("Serum", "lumen-lab", "SKU-1", 1500)).await;
    let replica = app.replica().await;
    let paths = ["/v1/products/serum", "/v1/products?limit=50&sort=price_asc", "/v1/brands", "/v1/categories"];
    let etags = |base: String| async move {
        let mut out = vec![];
        for path in paths {
            let res = app.client.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            out.push(res.headers()["etag"].to_str().unwrap().to_owned());
        }
        out
    };
    app.eventually(|| async { etags(app.base.clone()).await == etags(replica.base.clone()).await }).await;
    let before = etags(app.base.clone()).await;
    for (path, etag) in paths.iter().zip(&before) {
        let res = app.client.get(format!("{}{path}", replica.base)).header("if-none-match", etag).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "{path}: the other replica's ETag holds");
    }

    let (_, p) = app.get_json("/v1/products/serum").await;
    let id = p["id"].as_str().unwrap();
    let res = app
        .admin(reqwest::Method::PATCH, &format!("/v1/admin/products/{id}"), &json!({"description": "New words."}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    app.eventually(|| async {
        let (a, b) = (etags(app.base.clone()).await, etags(replica.base.clone()).await);
        a == b && a[0] != before[0] && a[1] != before[1]
    })
    .await;
    replica.stop().await;
}

/// Two replicas on one store: a product and stock made through A show on B's listing and page
/// (its stock board follows the events), and a create retried on B with the key used on A
/// replays A's answer instead of creating twice.
async fn replicas_agree_on_the_catalogue_stock_and_idempotency_keys(app: &TestApp) {
    let replica = app.replica().await;
    app.brand("Lumen Lab").await;
    let body = serum("Glow Serum", "lumen-lab", "LL-GLOW-30", 2900);
    let create = |base: String| {
        let body = body.clone();
        async move {
            let req = app.client.post(format!("{base}/v1/admin/products")).bearer_auth(&app.admin_key);
            let res = req.header("idempotency-key", "glow-serum-1").json(&body).send().await.unwrap();
            let replayed = res.headers().contains_key("idempotent-replayed");
            (res.status(), replayed, res.json::<Value>().await.unwrap())
        }
    };
    let (status, replayed, first) = create(app.base.clone()).await;
    assert_eq!((status, replayed), (StatusCode::CREATED, false));
    let (status, replayed, again) = create(replica.base.clone()).await;
    assert_eq!((status, replayed), (StatusCode::CREATED, true), "B replays A's answer: {again}");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(app.product_count().await, 1, "created once");

    let receipt = json!({"sku": "LL-GLOW-30", "location": "main", "batch": "B1", "quantity": 40, "reference": "PO-1"});
    let res = app.admin(reqwest::Method::POST, "/v1/admin/inventory/receipts", &receipt).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let listed = |base: &str| {
        let url = format!("{base}/v1/products?q=glow");
        async move { app.client.get(url).send().await.unwrap().json::<Value>().await.unwrap()["total"].as_i64().unwrap() }
    };
    let page = |base: String| async move {
        let res = app.client.get(format!("{base}/v1/products/glow-serum")).send().await.unwrap();
        if res.status() != StatusCode::OK {
            return (String::new(), 0);
        }
        let body: Value = res.json().await.unwrap();
        (body["availability"]["LL-GLOW-30"].as_str().unwrap_or_default().to_owned(), listed(&base).await)
    };
    app.eventually(|| async {
        let (a, b) = (page(app.base.clone()).await, page(replica.base.clone()).await);
        a == b && a == ("in_stock".to_owned(), 1)
    })
    .await;
    replica.stop().await;
}
