use crate::helpers::TestApp;
use reqwest::StatusCode;

crate::on_both_stores!(
    probes_metrics_and_request_ids,
    openapi_and_docs_describe_every_route,
    not_ready_without_a_store
);

async fn probes_metrics_and_request_ids(app: &TestApp) {
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    let res = app.get("/v1/products").await;
    let id = res.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID request id");
    let res = app.client.get(app.url("/healthz")).header("x-request-id", "trace-me").send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-me", "a caller's id is kept");
    assert_eq!(app.get("/metrics").await.status(), StatusCode::NOT_FOUND, "not on the API's port");
    let metrics = app.client.get(format!("{}/metrics", app.metrics_base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("http_requests_total"), "{metrics}");
    assert!(metrics.contains("route=\"/v1/products\""));
    assert!(metrics.contains("http_request_duration_seconds_bucket"));
}

async fn openapi_and_docs_describe_every_route(app: &TestApp) {
    let (s, doc) = app.get_json("/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/products",
        "/v1/products/{slug}",
        "/v1/categories",
        "/v1/brands",
        "/v1/ingredients/{name}",
        "/v1/admin/products",
        "/v1/admin/products/{id}",
        "/v1/admin/products/{id}/variants",
        "/v1/admin/products/{id}/variants/{variant_id}",
        "/v1/admin/brands",
        "/v1/admin/brands/{id}",
        "/v1/admin/categories",
        "/v1/admin/categories/{id}",
        "/v1/admin/attributes",
        "/v1/admin/attributes/{id}",
        "/v1/auth/register",
        "/v1/auth/verify-email",
        "/v1/auth/login",
        "/v1/auth/refresh",
        "/v1/auth/logout",
        "/v1/auth/password-reset",
        "/v1/auth/password-reset/confirm",
        "/v1/me",
        "/v1/me/export",
        "/healthz",
        "/readyz",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not documented");
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    assert_eq!(doc["components"]["securitySchemes"]["customer"]["bearerFormat"], "JWT");
    let page = app.get("/docs/").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("swagger"), "the docs page is served locally");
}

async fn not_ready_without_a_store(app: &TestApp) {
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    app.close_store().await;
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK, "the process itself is alive");
}
