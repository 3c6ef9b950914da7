//! Bad input of every kind answers 4xx problem+json and changes nothing.

use crate::helpers::{TestApp, serum};
use reqwest::StatusCode;
use serde_json::{Value, json};

crate::on_both_stores!(bad_writes_are_refused_and_change_nothing, bad_reads_are_refused_clearly);

/// (what, content type, body, expected status, fields the problem must name)
type Case = (&'static str, &'static str, Vec<u8>, StatusCode, Vec<&'static str>);

async fn send_raw(app: &TestApp, path: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, Value, String) {
    let res = app
        .client
        .post(app.url(path))
        .bearer_auth(&app.admin_key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let ct = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, res.json().await.unwrap_or(Value::Null), ct)
}

async fn bad_writes_are_refused_and_change_nothing(app: &TestApp) {
    app.brand("Lumen Lab").await;
    let (count, head) = (app.product_count().await, app.outbox_head().await);
    let good = serum("Serum", "lumen-lab", "SKU-1", 1500);
    let mut unknown_field = good.clone();
    unknown_field["colour"] = json!("red");
    let mut wrong_type = good.clone();
    wrong_type["variants"][0]["price"]["amount"] = json!("cheap");
    let mut many_bad = good.clone();
    many_bad["name"] = json!("");
    many_bad["variants"][0]["sku"] = json!("lower case");
    many_bad["variants"][0]["price"]["currency"] = json!("XYZ");
    many_bad["spf"] = json!(500);
    many_bad["ingredients"] = json!(["Aqua", "AQUA (WATER)"]);
    let mut unknown_brand = good.clone();
    unknown_brand["brand"] = json!("<script>alert(1)</script>");
    let mut negative = good.clone();
    negative["variants"][0]["price"]["amount"] = json!(-5);
    let cases: Vec<Case> = vec![
        ("malformed", "application/json", b"{\"name\": ".to_vec(), StatusCode::BAD_REQUEST, vec![]),
        ("not json", "text/plain", b"name=x".to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, vec![]),
        (
            "unknown field",
            "application/json",
            unknown_field.to_string().into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["colour"],
        ),
        (
            "wrong type",
            "application/json",
            wrong_type.to_string().into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["variants[0].price.amount"],
        ),
        (
            "many bad fields",
            "application/json",
            many_bad.to_string().into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["name", "variants[0].sku", "variants[0].price.currency", "ingredients[1]", "spf"],
        ),
        (
            "unknown brand",
            "application/json",
            unknown_brand.to_string().into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["brand"],
        ),
        (
            "negative price",
            "application/json",
            negative.to_string().into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["variants[0].price.amount"],
        ),
        ("oversized", "application/json", vec![b' '; 2 * 1024 * 1024], StatusCode::PAYLOAD_TOO_LARGE, vec![]),
        ("array body", "application/json", b"[1,2]".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, vec![""]),
    ];
    for (what, ct, body, status, fields) in cases {
        let (s, problem, content_type) = send_raw(app, "/v1/admin/products", ct, body).await;
        assert_eq!(s, status, "{what}: {problem}");
        assert_eq!(content_type, "application/problem+json", "{what}");
        assert_eq!(problem["status"], status.as_u16(), "{what}");
        assert!(problem["type"].as_str().unwrap().starts_with("/problems/"), "{what}");
        assert_eq!(problem["instance"], "/v1/admin/products", "{what}: the problem names the request");
        if !fields.is_empty() {
            let got: Vec<&str> =
                problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
            for f in &fields {
                assert!(
                    got.iter().any(|g| g == f || g.starts_with(&format!("{f}."))),
                    "{what}: {f} missing in {got:?}"
                );
            }
        }
    }
    assert_eq!(app.product_count().await, count, "no bad write created a product");
    assert_eq!(app.outbox_head().await, head, "no bad write published an event");
}

async fn bad_reads_are_refused_clearly(app: &TestApp) {
    let cases = [
        ("/v1/products?limit=101", StatusCode::BAD_REQUEST),
        ("/v1/products?limit=abc", StatusCode::BAD_REQUEST),
        ("/v1/products?cursor=not-a-cursor", StatusCode::BAD_REQUEST),
        ("/v1/products?cursor=eyJzIjoibmFtZSJ9", StatusCode::BAD_REQUEST),
        ("/v1/products?sort=cheapest", StatusCode::BAD_REQUEST),
        ("/v1/products?min_price=-1", StatusCode::BAD_REQUEST),
        ("/v1/products?min_price=500&max_price=100", StatusCode::BAD_REQUEST),
        ("/v1/products?skin_type=%27%20OR%201%3D1--", StatusCode::BAD_REQUEST),
        ("/v1/products?unknown=1", StatusCode::BAD_REQUEST),
        ("/v1/admin/products/not-a-uuid", StatusCode::UNAUTHORIZED),
        ("/v1/nowhere", StatusCode::NOT_FOUND),
    ];
    for (path, status) in cases {
        let res = app.get(path).await;
        assert_eq!(res.status(), status, "{path}");
        assert_eq!(res.headers()["content-type"], "application/problem+json", "{path}");
    }
    let res =
        app.client.get(app.url("/v1/admin/products/not-a-uuid")).bearer_auth(&app.admin_key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    // Hostile text in a full-text search is just text.
    for q in
        ["%27%3B%20DROP%20TABLE%20products%3B--", "%3Cscript%3E", "AND%20OR%20NOT%20(", "%F0%9F%92%84", "title%3A*"]
    {
        let (s, page) = app.get_json(&format!("/v1/products?q={q}")).await;
        assert_eq!(s, StatusCode::OK, "{q}");
        assert_eq!(page["total"], 0);
    }
    let long = "a".repeat(2000);
    let (s, _) = app.get_json(&format!("/v1/products?q={long}")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}
