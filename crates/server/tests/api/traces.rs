//! OpenTelemetry traces over OTLP: `rouge serve` with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at
//! a receiver the test runs (OTLP/HTTP with JSON bodies, as the exporter sends them). One
//! checkout, sent with a W3C `traceparent`, is one trace: the request's server span under the
//! caller's span, the use case under it, store calls under that, and the consumers of the
//! order's event (stock, confirmation email) under the request's span, on both stores.

use rouge_store_tests::harness::{self, TempDir};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub(crate) const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub(crate) const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// Every span received: (trace id, span id, parent span id, name, kind, attributes).
#[derive(Debug, Clone)]
pub(crate) struct Span {
    pub(crate) trace: String,
    pub(crate) id: String,
    pub(crate) parent: String,
    pub(crate) name: String,
    pub(crate) kind: i64,
    attributes: Value,
}

impl Span {
    pub(crate) fn attribute(&self, key: &str) -> Option<String> {
        let a = self.attributes.as_array()?.iter().find(|a| a["key"] == key)?;
        let v = &a["value"];
        v["stringValue"].as_str().map(str::to_owned).or_else(|| v["intValue"].as_str().map(str::to_owned))
    }
}

pub(crate) async fn receiver() -> (String, Arc<Mutex<Vec<Span>>>) {
    let spans = Arc::new(Mutex::new(Vec::new()));
    let seen = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                let doc: Value = serde_json::from_slice(&body).expect("OTLP JSON");
                for rs in doc["resourceSpans"].as_array().into_iter().flatten() {
                    for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                        for s in ss["spans"].as_array().into_iter().flatten() {
                            seen.lock().unwrap().push(Span {
                                trace: s["traceId"].as_str().unwrap_or_default().to_owned(),
                                id: s["spanId"].as_str().unwrap_or_default().to_owned(),
                                parent: s["parentSpanId"].as_str().unwrap_or_default().to_owned(),
                                name: s["name"].as_str().unwrap_or_default().to_owned(),
                                kind: s["kind"].as_i64().unwrap_or_default(),
                                attributes: s["attributes"].clone(),
                            });
                        }
                    }
                }
                axum::Json(json!({}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, spans)
}

async fn one_checkout_is_one_trace(database_url: &str) {
    let (endpoint, spans) = receiver().await;
    let dir = TempDir::new();
    let port = crate::helpers::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_rouge"))
        .args(["--database-url", database_url, "--key-dir"])
        .arg(dir.0.join("keys"))
        .args(["serve", "--demo", "--metrics-listen", "off", "--listen", &format!("127.0.0.1:{port}")])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("RUST_LOG", "info,sqlx=warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start rouge serve");
    let client = reqwest::Client::new();
    let ready = async {
        while client.get(format!("{base}/readyz")).send().await.map(|r| r.status().as_u16()).ok() != Some(200) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), ready).await.expect("the server became ready");

    let products: Value = client.get(format!("{base}/v1/products?limit=1")).send().await.unwrap().json().await.unwrap();
    let sku = products["items"][0]["variants"][0]["sku"].as_str().unwrap().to_owned();
    let cart: Value = client.post(format!("{base}/v1/carts")).send().await.unwrap().json().await.unwrap();
    let cart = cart["id"].as_str().unwrap().to_owned();
    let res = client.post(format!("{base}/v1/carts/{cart}/lines")).json(&json!({"sku": sku, "quantity": 1})).send();
    assert!(res.await.unwrap().status().is_success());
    let details = json!({"email": "ana@example.com", "shipping_method": "standard", "shipping_address":
        {"name": "Ana B", "line1": "1 rue du Test", "city": "Lyon", "postal_code": "69001", "country": "FR"}});
    let res = client.put(format!("{base}/v1/carts/{cart}/checkout")).json(&details).send();
    assert!(res.await.unwrap().status().is_success());
    let res = client
        .post(format!("{base}/v1/carts/{cart}/complete"))
        .header("idempotency-key", "traced")
        .header("traceparent", format!("00-{TRACE}-{CALLER_SPAN}-01"))
        .json(&json!({"payment": {"provider": "test", "token": "tok_visa"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    // The consumers' spans come last: wait for all of them.
    const CONSUMERS: [&str; 7] = [
        "order-email order.placed",
        "promotions order.placed",
        "recommendations order.placed",
        "replenishment order.placed",
        "stock order.placed",
        "webhooks order.payment_authorized",
        "webhooks order.placed",
    ];
    let ours = || -> Vec<Span> { spans.lock().unwrap().iter().filter(|s| s.trace == TRACE).cloned().collect() };
    let complete = async {
        loop {
            let got = ours();
            if got.iter().filter(|s| s.kind == 5).count() >= CONSUMERS.len() && got.iter().any(|s| s.kind == 2) {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let trace = tokio::time::timeout(Duration::from_secs(20), complete).await.unwrap_or_else(|_| ours());
    let names: Vec<&str> = trace.iter().map(|s| s.name.as_str()).collect();
    let server = trace.iter().find(|s| s.kind == 2).unwrap_or_else(|| panic!("no server span: {names:?}"));
    assert_eq!(server.parent, CALLER_SPAN, "the request joins the caller's trace under its span");
    assert_eq!(server.name, "POST");
    assert_eq!(server.attribute("http.route").as_deref(), Some("/v1/carts/{id}/complete"));
    assert_eq!(server.attribute("http.response.status_code").as_deref(), Some("201"));
    let use_case = trace.iter().find(|s| s.name == "orders.complete_checkout").unwrap_or_else(|| panic!("{names:?}"));
    assert_eq!(use_case.parent, server.id, "the use case runs under the request");
    let parent_of = |s: &Span| trace.iter().find(|p| p.id == s.parent).cloned();
    let place = trace.iter().find(|s| s.name == "store.place_order").unwrap_or_else(|| panic!("{names:?}"));
    assert_eq!(place.kind, 3, "a store call is a client span");
    let system = if database_url.starts_with("sqlite") { "sqlite" } else { "postgresql" };
    assert_eq!(place.attribute("db.system").as_deref(), Some(system));
    let mut up = parent_of(place);
    while let Some(p) = up.clone().filter(|p| p.id != use_case.id) {
        up = parent_of(&p);
    }
    assert!(up.is_some(), "the order is stored under the use case");
    let mut consumers: Vec<&str> =
        trace.iter().filter(|s| s.kind == 5 && s.parent == server.id).map(|s| s.name.as_str()).collect();
    consumers.sort_unstable();
    assert_eq!(consumers, CONSUMERS, "{names:?}");
    let _ = child.kill().await;
}

#[tokio::test]
async fn sqlite_one_checkout_is_one_trace_across_the_request_and_its_consumers() {
    let dir = TempDir::new();
    one_checkout_is_one_trace(&format!("sqlite://{}", dir.0.join("traced.db").display())).await;
}

#[tokio::test]
async fn postgres_one_checkout_is_one_trace_across_the_request_and_its_consumers() {
    let Some(db) = harness::empty_postgres().await else { return };
    one_checkout_is_one_trace(&db.url).await;
    db.cleanup().await;
}
