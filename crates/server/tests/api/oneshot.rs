//! Handler behaviour in-process, without a socket: the shop `rouge_server::start` builds (the
//! same routes, layers and background work `rouge serve` runs) driven request by request with
//! `tower::ServiceExt::oneshot`, on both stores. Fast, and no port to find; the scenario tests
//! over real TCP keep what needs a connection (replicas, faults, outside clients).

use crate::builders::ProductBuilder;
use crate::helpers::test_options;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use rouge_catalog::{Concern, SkinType};
use rouge_store_tests::harness;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, Value) {
    let res = app.clone().oneshot(req).await.expect("the app answers");
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn post(path: &str, key: &str, body: String) -> Request<Body> {
    Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap()
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

async fn the_catalogue_and_its_refusals_in_process<S: rouge_http::Store>(store: S) {
    let opts = test_options();
    let key = crate::helpers::bootstrap_owner(&store, &opts.identity.keys).await;
    let shop = rouge_server::start(store, opts).await.expect("the shop starts");
    let app = &shop.app;

    let (s, brand) = call(app, post("/v1/admin/brands", &key, json!({"name": "Lumen Lab"}).to_string())).await;
    assert_eq!(s, StatusCode::CREATED, "{brand}");
    let serum = ProductBuilder::serum("Calm Serum", "lumen-lab")
        .variant("LL-CALM-30", 2400)
        .for_skin(SkinType::Oily, Concern::Acne)
        .build();
    let (s, product) = call(app, post("/v1/admin/products", &key, serde_json::to_string(&serum).unwrap())).await;
    assert_eq!(s, StatusCode::CREATED, "{product}");
    // The storefront's index learns of it from the outbox, woken by the commit.
    let mut page = Value::Null;
    for _ in 0..200 {
        let (s, body) = call(app, get("/v1/products/calm-serum")).await;
        if s == StatusCode::OK {
            page = body;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!((page["name"].as_str(), page["variants"][0]["sku"].as_str()), (Some("Calm Serum"), Some("LL-CALM-30")));
    let (s, listing) = call(app, get("/v1/products?skin_type=oily&concern=acne")).await;
    assert_eq!((s, listing["total"].as_i64()), (StatusCode::OK, Some(1)), "{listing}");

    // Refusals are problems, and change nothing.
    let (s, problem) = call(app, get("/v1/products?skin_type=scaly")).await;
    assert_eq!((s, problem["errors"][0]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("skin_type")), "{problem}");
    let (s, problem) = call(app, post("/v1/admin/products", &key, "{\"name\": ".into())).await;
    assert_eq!((s, problem["type"].as_str()), (StatusCode::BAD_REQUEST, Some("/problems/malformed-json")));
    let (s, problem) =
        call(app, post("/v1/admin/products", "rk_not_a_key", serde_json::to_string(&serum).unwrap())).await;
    assert_eq!((s, problem["type"].as_str()), (StatusCode::UNAUTHORIZED, Some("/problems/unauthorized")));
    let (_, listing) = call(app, get("/v1/products")).await;
    assert_eq!(listing["total"], 1, "nothing refused was written");
    shop.stop().await;
}

#[tokio::test]
async fn sqlite_the_catalogue_and_its_refusals_in_process() {
    let db = harness::sqlite().await;
    the_catalogue_and_its_refusals_in_process(db.store.clone()).await;
}

#[tokio::test]
async fn postgres_the_catalogue_and_its_refusals_in_process() {
    let Some(db) = harness::postgres().await else { return };
    the_catalogue_and_its_refusals_in_process(db.store.clone()).await;
    db.cleanup().await;
}
