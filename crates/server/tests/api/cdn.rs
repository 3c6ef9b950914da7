//! CDN-ready storefront: GETs name what they show (`Surrogate-Key`, `Cache-Tag`), listings
//! carry availability, and a committed change purges the keys it touched at a CDN's purge
//! endpoint (Fastly's and Cloudflare's shapes), retried when the endpoint fails. The CDN is a
//! local stub that records every purge.

use crate::checkout::{complete, ready_cart};
use crate::helpers::{TestApp, serum, test_options};
use reqwest::StatusCode;
use rouge_server::cdn::{Cdn, Provider};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// One purge request as the stub saw it.
#[derive(Debug, Clone)]
struct Purge {
    keys: Vec<String>,
    auth: Option<String>,
    answered: u16,
}

/// A purge endpoint that records requests and fails the first `failing` of them with 503.
#[derive(Clone)]
struct Stub {
    url: String,
    seen: Arc<Mutex<Vec<Purge>>>,
}

impl Stub {
    async fn start(provider: Provider, failing: usize) -> Self {
        let seen: Arc<Mutex<Vec<Purge>>> = Arc::default();
        let left = Arc::new(AtomicUsize::new(failing));
        let record = seen.clone();
        let app = axum::Router::new().route(
            "/purge",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let (record, left) = (record.clone(), left.clone());
                async move {
                    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
                    let (keys, auth) = match provider {
                        Provider::Fastly => (
                            header("surrogate-key").unwrap_or_default().split(' ').map(str::to_owned).collect(),
                            header("fastly-key"),
                        ),
                        Provider::Cloudflare => {
                            let body: Value = serde_json::from_slice(&body).unwrap_or_default();
                            let tags = body["tags"].as_array().cloned().unwrap_or_default();
                            (
                                tags.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect(),
                                header("authorization"),
                            )
                        }
                    };
                    let fail = left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
                    let status = if fail { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
                    record.lock().unwrap().push(Purge { keys, auth, answered: status.as_u16() });
                    (axum::http::StatusCode::from_u16(status.as_u16()).unwrap(), "{\"status\":\"ok\"}")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/purge", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, seen }
    }

    fn purged(&self, key: &str) -> bool {
        self.seen.lock().unwrap().iter().any(|p| p.answered == 200 && p.keys.iter().any(|k| k == key))
    }
}

fn header(res: &reqwest::Response, name: &str) -> Vec<String> {
    let v = res.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let sep = if name == "cache-tag" { ',' } else { ' ' };
    v.split(sep).filter(|k| !k.is_empty()).map(str::to_owned).collect()
}

async fn availability_in_listing(app: &TestApp) -> Value {
    let (_, list) = app.get_json("/v1/products").await;
    list["items"][0]["availability"].clone()
}

async fn changes_purge_the_pages_that_show_them(pg: bool, provider: Provider) {
    let stub = Stub::start(provider, 1).await;
    let mut opts = test_options();
    opts.cdn = Some(Cdn::new(provider, &stub.url, Some("purge-token".into())).unwrap());
    let Some(app) = TestApp::on(pg, opts).await else { return };
    let brand = app.brand("Lumen Lab").await;
    let product = app.product(serum("Glow Serum", "lumen-lab", "LL-GLOW-30", 2900)).await;
    let (id, slug) = (product["id"].as_str().unwrap().replace('-', ""), product["slug"].as_str().unwrap());
    let brand_key = format!("brand-{}", brand["id"].as_str().unwrap().replace('-', ""));

    // Pages name what they show.
    let res = app.get(&format!("/v1/products/{slug}")).await;
    let keys = header(&res, "surrogate-key");
    for k in [format!("product-{id}"), brand_key.clone(), "sku-LL-GLOW-30".into()] {
        assert!(keys.contains(&k), "{k} in {keys:?}");
    }
    assert_eq!(header(&res, "cache-tag"), keys, "the same keys for Cloudflare");
    let res = app.get("/v1/products").await;
    let keys = header(&res, "surrogate-key");
    assert!(keys.contains(&"listing".to_owned()) && keys.contains(&"sku-LL-GLOW-30".to_owned()), "{keys:?}");
    assert_eq!(header(&app.get("/v1/brands").await, "surrogate-key"), ["brands"]);
    assert_eq!(header(&app.get("/v1/categories").await, "surrogate-key"), ["categories"]);
    assert_eq!(availability_in_listing(&app).await, json!({"LL-GLOW-30": "sold_out"}), "never stocked");

    // The product's creation was purged (after the endpoint's first failure, on a retry).
    app.eventually(|| async { stub.purged(&format!("product-{id}")) }).await;
    assert_eq!(stub.seen.lock().unwrap()[0].answered, 503, "the first purge failed and was retried");
    let auth = stub.seen.lock().unwrap()[0].auth.clone();
    let expected = match provider {
        Provider::Fastly => "purge-token",
        Provider::Cloudflare => "Bearer purge-token",
    };
    assert_eq!(auth.as_deref(), Some(expected));

    // Stock arrives: its SKU is purged and the listing shows it in stock.
    let expires = (chrono::Utc::now().date_naive() + chrono::Duration::days(365)).to_string();
    let receipt = json!({"sku": "LL-GLOW-30", "location": "main", "batch": "B1", "expires_on": expires, "quantity": 6});
    assert_eq!(app.post("/v1/admin/inventory/receipts", receipt).await.0, StatusCode::CREATED);
    app.eventually(|| async { stub.purged("sku-LL-GLOW-30") }).await;
    app.eventually(|| async { availability_in_listing(&app).await == json!({"LL-GLOW-30": "in_stock"}) }).await;

    // A sale takes it to low stock: purged again, and the cached listing follows.
    let before = stub.seen.lock().unwrap().len();
    let cart = ready_cart(&app, "LL-GLOW-30", 2, None).await;
    assert_eq!(complete(&app, &cart, Some("k"), "tok_visa", None).await.status(), StatusCode::CREATED);
    app.eventually(|| async { availability_in_listing(&app).await == json!({"LL-GLOW-30": "low_stock"}) }).await;
    app.eventually(|| async {
        stub.seen.lock().unwrap()[before..].iter().any(|p| p.keys == ["sku-LL-GLOW-30"] && p.answered == 200)
    })
    .await;

    // An edit purges the product and the listings.
    let before = stub.seen.lock().unwrap().len();
    let patch = json!({"description": "Now with zinc."});
    let path = format!("/v1/admin/products/{}", product["id"].as_str().unwrap());
    assert_eq!(app.admin(reqwest::Method::PATCH, &path, &patch).await.status(), StatusCode::OK);
    app.eventually(|| async {
        stub.seen.lock().unwrap()[before..].iter().any(|p| {
            p.answered == 200 && p.keys.contains(&format!("product-{id}")) && p.keys.contains(&"listing".to_owned())
        })
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn sqlite_changes_purge_fastly() {
    changes_purge_the_pages_that_show_them(false, Provider::Fastly).await;
}

#[tokio::test]
async fn postgres_changes_purge_fastly() {
    changes_purge_the_pages_that_show_them(true, Provider::Fastly).await;
}

#[tokio::test]
async fn sqlite_changes_purge_cloudflare() {
    changes_purge_the_pages_that_show_them(false, Provider::Cloudflare).await;
}

#[tokio::test]
async fn postgres_changes_purge_cloudflare() {
    changes_purge_the_pages_that_show_them(true, Provider::Cloudflare).await;
}
