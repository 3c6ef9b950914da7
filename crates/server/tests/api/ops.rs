use crate::helpers::TestApp;
use reqwest::StatusCode;

crate::on_both_stores!(
    the_openapi_document_passes_standard_validators,
    the_metrics_a_shop_watches_parse_and_count,
    probes_metrics_and_request_ids,
    openapi_and_docs_describe_every_route,
    not_ready_without_a_store,
    the_asyncapi_document_passes_the_parser_and_documents_every_event
);

/// `/asyncapi.json` passes the AsyncAPI parser (its schema and rules) with every example valid
/// against its schemas (`tools/contracts/asyncapi.cjs`), and documents every event type a shop
/// emits through its catalogue, accounts, checkout, fulfilment and stock.
async fn the_asyncapi_document_passes_the_parser_and_documents_every_event(app: &TestApp) {
    use crate::checkout::{SKU, complete, ready_cart, staff, stocked};
    use serde_json::{Value, json};
    let doc: Value = app.get("/asyncapi.json").await.json().await.unwrap();
    let dir = rouge_store_tests::harness::TempDir::new();
    let file = dir.0.join("asyncapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tools/contracts/asyncapi.cjs");
    if let Some(out) = run_tool("the AsyncAPI parser", "node", &[script, file.to_str().unwrap()]) {
        let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && said.contains("valid: AsyncAPI 3.0.0"), "asyncapi parser: {said}");
    }
    let documented: Vec<&str> =
        doc["channels"].as_object().unwrap().values().map(|c| c["address"].as_str().unwrap()).collect();

    // A shop's day: catalogue, an account, two orders (one fulfilled, one cancelled), stock.
    stocked(app, SKU, 3).await;
    app.category("Serums", None).await;
    let (s, _) = app
        .post(
            "/v1/admin/attributes",
            json!({"product_type": "skincare", "name": "texture", "label": "Texture",
            "filterable": true, "kind": {"type": "enum", "values": ["gel", "cream"]}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    crate::accounts::customer(app, "ana@example.com").await;
    let first = ready_cart(app, SKU, 2, None).await;
    let order: Value = complete(app, &first, Some("a"), "tok_visa", None).await.json().await.unwrap();
    let id = order["id"].as_str().unwrap();
    for step in [
        json!({"action": "capture"}),
        json!({"action": "ship", "carrier": "Colissimo", "tracking": "6A123"}),
        json!({"action": "mark_delivered"}),
    ] {
        let (s, body) = staff(app, id, step).await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    let second = ready_cart(app, SKU, 1, None).await;
    let order: Value = complete(app, &second, Some("b"), "tok_visa", None).await.json().await.unwrap();
    let cancel = json!({"action": "cancel", "reason": "changed her mind"});
    let (s, body) = staff(app, order["id"].as_str().unwrap(), cancel).await;
    assert_eq!(s, StatusCode::OK, "{body}");

    let events = match &app.db {
        crate::helpers::Db::Sqlite(d) => rouge_kernel::Outbox::events_after(&d.store, 0, 10_000).await.unwrap(),
        crate::helpers::Db::Postgres(d) => rouge_kernel::Outbox::events_after(&d.store, 0, 10_000).await.unwrap(),
    };
    let mut emitted: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    emitted.sort_unstable();
    emitted.dedup();
    assert!(emitted.len() >= 12, "the day emitted most kinds of event: {emitted:?}");
    for kind in &emitted {
        assert!(documented.contains(kind), "`{kind}` is emitted but not in /asyncapi.json");
    }
}

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
    // Enum values exactly as on the wire: the document's values are accepted as they are.
    let wire = |all: Vec<&str>| serde_json::json!(all);
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["SkinType"]["enum"], wire(rouge_catalog::SkinType::ALL.iter().map(|v| v.as_str()).collect()));
    assert_eq!(
        schemas["Permission"]["enum"],
        wire(rouge_identity::Permission::ALL.iter().map(|p| p.as_str()).collect())
    );
    for value in schemas["SkinType"]["enum"].as_array().unwrap() {
        let v = value.as_str().unwrap();
        assert_eq!(app.get(&format!("/v1/products?skin_type={v}")).await.status(), StatusCode::OK, "{v}");
    }
    for (name, schema) in schemas.as_object().unwrap() {
        for v in schema["enum"].as_array().into_iter().flatten().filter_map(|v| v.as_str()) {
            assert!(!v.starts_with(|c: char| c.is_ascii_uppercase()), "{name}: `{v}` is not a wire value");
        }
    }
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
    let app = match pg {
        true => TestApp::postgres_via(proxy.addr, crate::helpers::test_options()).await,
        false => Some(TestApp::sqlite().await),
    };
    let Some(app) = app else { return };
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

/// A payment whose database is cut off after it claimed its idempotency key answers 503; the
/// key could not be freed then. Once the database is back, the client's retry with the same
/// key runs within seconds (not once the key's one-minute lease has run out) and places one
/// order. (Found by the failover drill: shoppers got "in flight" for a minute.)
#[tokio::test]
async fn postgres_a_payment_cut_off_mid_way_is_retried_once_the_database_is_back() {
    use crate::faults::{FaultProxy, Mode};
    use sqlx::Connection;
    let proxy = FaultProxy::start("127.0.0.1:5432").await;
    let Some(app) = TestApp::postgres_via(proxy.addr, crate::helpers::test_options()).await else { return };
    let app = &app;
    crate::checkout::stocked(app, "CUT-1", 5).await;
    let cart = crate::checkout::ready_cart(app, "CUT-1", 1, None).await;
    let direct = match &app.db {
        crate::helpers::Db::Postgres(d) => d.url.clone(),
        crate::helpers::Db::Sqlite(_) => unreachable!(),
    };
    // The cart's row held from outside (straight to PostgreSQL): the payment claims its key,
    // then waits on the row until the proxy cuts it off.
    let mut holder = sqlx::PgConnection::connect(&direct).await.unwrap();
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("SELECT 1 FROM orders.carts WHERE id = $1::uuid FOR UPDATE")
        .bind(&cart)
        .execute(&mut holder)
        .await
        .unwrap();
    let mut watcher = sqlx::PgConnection::connect(&direct).await.unwrap();
    let cut = async {
        loop {
            let claimed: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM gateway.idempotency_keys WHERE key = 'cut-off' AND state = 'in_flight'",
            )
            .fetch_one(&mut watcher)
            .await
            .unwrap();
            if claimed == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        proxy.set(Mode::Down);
    };
    let (res, ()) = tokio::join!(crate::checkout::complete(app, &cart, Some("cut-off"), "tok_visa", None), cut);
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    proxy.set(Mode::Pass);
    app.eventually(|| async {
        let res = crate::checkout::complete(app, &cart, Some("cut-off"), "tok_visa", None).await;
        res.status() == StatusCode::CREATED
    })
    .await;
    let (_, orders) = app.get_json_as_admin("/v1/admin/orders").await;
    assert_eq!(orders["items"].as_array().unwrap().len(), 1, "one order: {orders}");
}

/// Runs `scripts/parse_metrics.py` (the Prometheus reference client's parser) on a scrape;
/// `None` when Python or the parser is not installed and services are not required.
fn parse_metrics(text: &str) -> Option<serde_json::Value> {
    use std::io::Write;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/parse_metrics.py");
    let child = std::process::Command::new("python3")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let missing = |why: String| {
        crate::helpers::tool_missing(
            "the Prometheus parser",
            &format!("{why} (pip install -r scripts/requirements-ci.txt)"),
        );
        None
    };
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return missing(format!("no python3: {e}")),
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("No module named") {
        return missing(err.trim().to_owned());
    }
    assert!(out.status.success(), "the scrape does not parse: {err}");
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// What a shop watches, scraped after a checkout and parsed by a real Prometheus parser:
/// every family has help text, and the checkout shows in them.
async fn the_metrics_a_shop_watches_parse_and_count(app: &TestApp) {
    crate::checkout::stocked(app, "MET-1", 1).await;
    let cart = crate::checkout::ready_cart(app, "MET-1", 1, None).await;
    let pay = |cart: String, key: &'static str| {
        app.client
            .post(app.url(&format!("/v1/carts/{cart}/complete")))
            .header("idempotency-key", key)
            .json(&serde_json::json!({"payment": {"provider": "test", "token": "tok_visa"}}))
            .send()
    };
    assert_eq!(pay(cart.clone(), "m1").await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(pay(cart, "m1").await.unwrap().headers()["idempotent-replayed"], "true");
    let late = crate::checkout::ready_cart(app, "MET-1", 1, None).await;
    assert_eq!(pay(late, "m2").await.unwrap().status(), StatusCode::CONFLICT, "sold out");
    let text = app.client.get(format!("{}/metrics", app.metrics_base)).send().await.unwrap().text().await.unwrap();
    let Some(families) = parse_metrics(&text) else { return };
    for name in [
        "rouge_checkouts",
        "rouge_orders_placed",
        "rouge_revenue_minor_units",
        "rouge_idempotent_replays",
        "http_requests",
        "process_resident_memory_bytes",
        "process_cpu_seconds",
    ] {
        let f = &families[name];
        assert!(
            f.is_object(),
            "{name} is exported: {}",
            families.as_object().unwrap().keys().cloned().collect::<Vec<_>>().join(", ")
        );
        assert!(!f["help"].as_str().unwrap_or_default().is_empty(), "{name} has help text");
    }
    let sample = |family: &str, label: (&str, &str)| -> f64 {
        families[family]["samples"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s[1][label.0] == label.1)
            .map(|s| s[2].as_f64().unwrap_or(0.0))
            .sum()
    };
    // Counters are process-wide (tests share the recorder): at least this test's.
    assert!(sample("rouge_checkouts", ("outcome", "placed")) >= 1.0);
    assert!(sample("rouge_checkouts", ("outcome", "sold_out")) >= 1.0);
    assert!(sample("rouge_revenue_minor_units", ("currency", "EUR")) >= 2900.0);
    let replays = families["rouge_idempotent_replays"]["samples"][0][2].as_f64().unwrap();
    assert!(replays >= 1.0, "{replays}");
}

/// An outside tool, run on a file; `None` (SKIPPED) when the tool is not installed and services
/// are not required.
fn run_tool(what: &str, program: &str, args: &[&str]) -> Option<std::process::Output> {
    match std::process::Command::new(program).args(args).output() {
        Ok(out) if String::from_utf8_lossy(&out.stderr).contains("No module named") => {
            crate::helpers::tool_missing(what, &String::from_utf8_lossy(&out.stderr));
            None
        }
        Ok(out) => Some(out),
        Err(e) => {
            crate::helpers::tool_missing(what, &format!("{e} (see .ci/run)"));
            None
        }
    }
}

/// The live OpenAPI document passes the standard validators unedited: zero errors from
/// openapi-spec-validator and from Redocly's recommended lint rules, every example valid.
async fn the_openapi_document_passes_standard_validators(app: &TestApp) {
    let text = app.get("/openapi.json").await.text().await.unwrap();
    let dir = rouge_store_tests::harness::TempDir::new();
    let file = dir.0.join("openapi.json");
    std::fs::write(&file, &text).unwrap();
    let file = file.to_str().unwrap();
    if let Some(out) = run_tool("openapi-spec-validator", "python3", &["-m", "openapi_spec_validator", file]) {
        assert!(
            out.status.success(),
            "openapi-spec-validator: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let redocly = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tools/contracts/node_modules/.bin/redocly");
    // Recommended rules, and every example valid against its schema.
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tools/contracts/redocly.yaml");
    if let Some(out) = run_tool("Redocly CLI", redocly, &["lint", file, "--config", config, "--format=summary"]) {
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success() && said.contains("is valid"), "redocly lint: {said}");
    }
}
