use crate::helpers::{TestApp, serum};
use reqwest::{Method, StatusCode};
use serde_json::json;

crate::on_both_stores!(
    admin_calls_need_the_token,
    updates_honour_if_match,
    variants_are_added_repriced_and_archived,
    archiving_takes_a_product_off_the_storefront,
    duplicates_answer_conflict,
    brands_categories_and_attributes_are_managed,
);

async fn admin_calls_need_the_token(app: &TestApp) {
    let body = json!({"name": "Lumen Lab"});
    let res = app.client.post(app.url("/v1/admin/brands")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let res = app
        .client
        .post(app.url("/v1/admin/brands"))
        .bearer_auth(format!("{}x", app.admin_key))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let (_, brands) = app.get_json("/v1/brands").await;
    assert_eq!(brands, json!({"items": [], "next_cursor": null}), "nothing was written");
}

async fn updates_honour_if_match(app: &TestApp) {
    app.brand("Lumen Lab").await;
    let (_, p) = app.post("/v1/admin/products", serum("Serum", "lumen-lab", "SKU-1", 1500)).await;
    let path = format!("/v1/admin/products/{}", p["id"].as_str().unwrap());
    let res = app.client.get(app.url(&path)).bearer_auth(&app.admin_key).send().await.unwrap();
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, "\"v1\"");
    let patch = |etag: &str, body: serde_json::Value| {
        app.client
            .patch(app.url(&path))
            .bearer_auth(&app.admin_key)
            .header("if-match", etag.to_owned())
            .json(&body)
            .send()
    };
    let res = patch(&etag, json!({"name": "Serum Plus"})).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["etag"], "\"v2\"");
    let res = patch(&etag, json!({"name": "Lost Update"})).await.unwrap();
    assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);
    let (_, now) = app.get_json("/v1/products/serum").await;
    app.eventually(|| async { app.get_json("/v1/products/serum").await.1["name"] == "Serum Plus" }).await;
    assert_ne!(now["name"], "Lost Update");
    let res = patch("\"garbage\"", json!({"name": "X"})).await.unwrap();
    assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);
}

async fn variants_are_added_repriced_and_archived(app: &TestApp) {
    app.brand("Lumen Lab").await;
    let p = app.product(serum("Serum", "lumen-lab", "SKU-1", 1500)).await;
    let id = p["id"].as_str().unwrap();
    let (s, p) = app
        .post(
            &format!("/v1/admin/products/{id}/variants"),
            json!({"sku": "SKU-2", "gtin": "4006381333931", "price": {"amount": 2500, "currency": "EUR"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let v2 = p["variants"][1]["id"].as_str().unwrap().to_owned();
    let res = app
        .admin(
            Method::PATCH,
            &format!("/v1/admin/products/{id}/variants/{v2}"),
            &json!({"price": {"amount": 900, "currency": "EUR"}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    app.eventually(|| async { app.get_json("/v1/products/serum").await.1["price_from"]["amount"] == 900 }).await;
    let res = app.admin(Method::DELETE, &format!("/v1/admin/products/{id}/variants/{v2}"), &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    app.eventually(|| async { app.get_json("/v1/products/serum").await.1["variants"].as_array().unwrap().len() == 1 })
        .await;
    let (s, bad) = app
        .post(
            &format!("/v1/admin/products/{id}/variants"),
            json!({"sku": "SKU-3", "gtin": "4006381333932", "price": {"amount": 1, "currency": "EUR"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad["errors"][0]["field"], "variants[2].gtin");
}

async fn archiving_takes_a_product_off_the_storefront(app: &TestApp) {
    app.brand("Lumen Lab").await;
    let p = app.product(serum("Serum", "lumen-lab", "SKU-1", 1500)).await;
    let res = app.admin(Method::DELETE, &format!("/v1/admin/products/{}", p["id"].as_str().unwrap()), &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    app.eventually(|| async { app.get("/v1/products/serum").await.status() == StatusCode::NOT_FOUND }).await;
    assert_eq!(app.get_json("/v1/products").await.1["total"], 0);
    assert_eq!(app.product_count().await, 1, "archived, not deleted");
}

async fn duplicates_answer_conflict(app: &TestApp) {
    app.brand("Lumen Lab").await;
    app.product(serum("Serum", "lumen-lab", "SKU-1", 1500)).await;
    let (s, problem) = app.post("/v1/admin/products", serum("Other", "lumen-lab", "SKU-1", 1500)).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(problem["type"], "/problems/conflict");
    assert_eq!(problem["errors"][0]["field"], "sku");
    let (s, _) = app.post("/v1/admin/brands", json!({"name": "Lumen Lab"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(app.product_count().await, 1);
}

async fn brands_categories_and_attributes_are_managed(app: &TestApp) {
    let brand = app.brand("Lumen Lab").await;
    let brand_path = format!("/v1/admin/brands/{}", brand["id"].as_str().unwrap());
    let res =
        app.admin(Method::PATCH, &brand_path, &json!({"name": "Lumen Laboratory", "description": "Serums."})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["etag"], "\"v2\"");
    app.product(serum("Serum", "lumen-lab", "SKU-1", 1500)).await;
    app.eventually(|| async { app.get_json("/v1/products/serum").await.1["brand"]["name"] == "Lumen Laboratory" })
        .await;
    let res = app.admin(Method::PATCH, &brand_path, &json!({"slug": "Not A Slug"})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let top = app.category("Skincare", None).await;
    let serums = app.category("Serums", Some("skincare")).await;
    let top_path = format!("/v1/admin/categories/{}", top["id"].as_str().unwrap());
    let res = app.admin(Method::PATCH, &top_path, &json!({"parent": "serums"})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "no cycles");
    let res = app.admin(Method::PATCH, &top_path, &json!({"name": "Skin Care"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .admin(Method::DELETE, &format!("/v1/admin/categories/{}", serums["id"].as_str().unwrap()), &json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    app.eventually(|| async {
        let tree = app.get_json("/v1/categories").await.1;
        tree["items"] == json!([{"slug": "skincare", "name": "Skin Care", "product_count": 0, "children": []}])
    })
    .await;

    let (s, def) = app
        .post(
            "/v1/admin/attributes",
            json!({"product_type": "skincare", "name": "texture", "label": "Texture", "kind": {"type": "text"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let def_path = format!("/v1/admin/attributes/{}", def["id"].as_str().unwrap());
    let res = app.admin(Method::PATCH, &def_path, &json!({"filterable": true, "label": "Feel"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.admin(Method::PATCH, &def_path, &json!({"name": "renamed"})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "names are immutable");
    let list = app.client.get(app.url("/v1/admin/attributes")).bearer_auth(&app.admin_key).send().await.unwrap();
    let list: serde_json::Value = list.json().await.unwrap();
    assert_eq!(list["items"][0]["label"], "Feel");
    assert_eq!(list["items"][0]["filterable"], true);
    let res = app.admin(Method::DELETE, &def_path, &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (s, _) = app
        .post("/v1/admin/products", {
            let mut p = serum("Gel", "lumen-lab", "SKU-2", 1500);
            p["attributes"] = json!({"texture": "gel"});
            p
        })
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "an archived attribute takes no values");

    let res = app.admin(Method::DELETE, &brand_path, &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    app.eventually(|| async { app.get("/v1/products/serum").await.status() == StatusCode::NOT_FOUND }).await;
}
