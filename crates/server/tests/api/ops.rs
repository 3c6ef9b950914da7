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

/// The database restarts (PostgreSQL, cut by a proxy the test owns) or goes away (SQLite's
/// pool closed): requests that need it answer 503 `/problems/unavailable` with Retry-After
/// within a bounded time, never 500 and never hanging; what is served from memory keeps
/// answering; and when PostgreSQL is back the same server recovers by itself.
async fn an_unreachable_database_answers_503_and_recovers(pg: bool) {
    use crate::faults::{FaultProxy, Mode};
    let proxy = FaultProxy::start("127.0.0.1:5432").await;
    let app = if pg {
        let Some(app) = TestApp::postgres_via(proxy.addr, crate::helpers::test_options()).await else { return };
        app
    } else {
        TestApp::sqlite().await
    };
    let app = &app;
    crate::checkout::stocked(app, "DB-1", 5).await;
    let cart = crate::checkout::ready_cart(app, "DB-1", 1, None).await;
    let cart_path = format!("/v1/carts/{cart}");
    assert_eq!(app.get(&cart_path).await.status(), StatusCode::OK);

    if pg {
        // Restarting: connections refused (each new one is retried by the pool until its
        // acquire time-out; the store watchdog cuts that short).
        proxy.set(Mode::Down);
    } else {
        app.close_store().await;
    }
    // A liveness deadline (a hanging request takes the time-out's 30 s), not a latency target.
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(6)).build().unwrap();
    // Several rounds: the first use up the pool's open connections, later ones need new ones.
    let routes = [
        (reqwest::Method::GET, cart_path.as_str()),
        (reqwest::Method::POST, "/v1/carts"),
        (reqwest::Method::GET, "/readyz"),
        (reqwest::Method::GET, "/v1/admin/orders"),
    ];
    for (method, path) in routes.iter().cycle().take(24).cloned() {
        let t = std::time::Instant::now();
        let mut req = client.request(method.clone(), app.url(path));
        if path.starts_with("/v1/admin") {
            req = req.bearer_auth(&app.admin_key);
        }
        let res = req.send().await.expect("answered");
        eprintln!("{method} {path} with the database down: {} in {:?}", res.status(), t.elapsed());
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{method} {path}");
        assert_eq!(res.headers()["retry-after"], "2", "{method} {path}");
        let p: serde_json::Value = res.json().await.unwrap();
        assert_eq!(p["type"], "/problems/unavailable", "{method} {path}: {p}");
    }
    let product = app.get("/v1/products/glow-serum").await;
    assert_eq!(product.status(), StatusCode::OK, "the catalogue is served from memory meanwhile");

    if pg {
        proxy.set(Mode::Pass);
        app.eventually(|| async { app.get(&cart_path).await.status() == StatusCode::OK }).await;
        assert_eq!(app.get("/readyz").await.status(), StatusCode::OK, "recovered without a restart");
    }
}

#[tokio::test]
async fn sqlite_an_unreachable_database_answers_503() {
    an_unreachable_database_answers_503_and_recovers(false).await;
}

#[tokio::test]
async fn postgres_an_unreachable_database_answers_503_and_recovers() {
    an_unreachable_database_answers_503_and_recovers(true).await;
}
