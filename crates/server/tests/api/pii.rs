//! Personal data at rest and in logs. A customer and a guest check out with an
//! Idempotency-Key; then every row of every table of the store is read raw and none of their
//! personal data is there in clear (stored idempotent answers included); answers that carry it
//! are `no-store`; erasing her account deletes her stored answers. And a real `rouge serve`
//! at the default log level goes through registration and checkout without writing any of it
//! to its log.

use crate::accounts::customer;
use crate::checkout::{ready_cart, shop, stocked};
use crate::helpers::{Db, TestApp};
use reqwest::{Method, StatusCode};
use rouge_kernel::IdempotencyStore;
use rouge_store_tests::raw::RawRows;
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::Duration;

crate::on_both_stores!(no_personal_data_in_clear_in_any_table);

const SECRETS: [&str; 6] =
    ["ana.secret@example.com", "Anastasia", "Plaintextova", "Secretvalley", "Lyonnaisville", "+33 6 98 76 54 32"];

fn personal_address() -> Value {
    json!({"name": "Anastasia Plaintextova", "line1": "12 Rue Secretvalley", "city": "Lyonnaisville",
        "postal_code": "69001", "country": "FR", "phone": "+33 6 98 76 54 32"})
}

async fn raw(app: &TestApp) -> String {
    match &app.db {
        Db::Sqlite(d) => d.store.raw_rows().await,
        Db::Postgres(d) => d.store.raw_rows().await,
    }
}

async fn stored_answers(app: &TestApp) -> usize {
    match &app.db {
        Db::Sqlite(d) => d.store.stored_bodies(None, 1000).await.unwrap().len(),
        Db::Postgres(d) => d.store.stored_bodies(None, 1000).await.unwrap().len(),
    }
}

fn assert_no_secrets(haystack: &str, what: &str) {
    for secret in SECRETS {
        let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        assert!(!haystack.contains(secret) && !haystack.contains(&hex), "`{secret}` is in clear in {what}");
    }
}

/// Completes the cart with `key` as the shopper `token` (or a guest); the answer.
async fn complete(app: &TestApp, cart: &str, key: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(&format!("/v1/carts/{cart}/complete")))
        .header("idempotency-key", key)
        .json(&json!({"payment": {"provider": "test", "token": "tok_visa"}}));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

async fn no_personal_data_in_clear_in_any_table(app: &TestApp) {
    stocked(app, "PII-1", 10).await;
    let session = customer(app, "ana.secret@example.com").await;
    let token = session["access_token"].as_str().unwrap();
    let res = app
        .client
        .patch(app.url("/v1/me"))
        .bearer_auth(token)
        .json(&json!({"name": "Anastasia Plaintextova", "phone": "+33 6 98 76 54 32",
            "addresses": [personal_address()]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // Her checkout, and a guest's with the same details.
    let mut paid = vec![];
    for (who, token) in [("her", Some(token)), ("guest", None)] {
        let cart = ready_cart(app, "PII-1", 1, token).await;
        let details = json!({"email": "ana.secret@example.com", "shipping_address": personal_address(),
            "billing_address": personal_address(), "shipping_method": "standard"});
        let (s, priced) = shop(app, Method::PUT, &format!("/v1/carts/{cart}/checkout"), token, Some(details)).await;
        assert_eq!(s, StatusCode::OK, "{priced}");
        let res = complete(app, &cart, &format!("key-{who}"), token).await;
        assert_eq!(res.status(), StatusCode::CREATED, "{who}");
        assert_eq!(res.headers()["cache-control"], "private, no-store", "{who}: the answer carries her data");
        let order: Value = res.json().await.unwrap();
        assert_eq!(order["email"], "ana.secret@example.com");
        // The retry gets the first answer back, opened from its sealed copy.
        let again = complete(app, &cart, &format!("key-{who}"), token).await;
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(again.json::<Value>().await.unwrap(), order, "{who}");
        let mut req = app.client.get(app.url(&format!("/v1/carts/{cart}")));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        assert_eq!(req.send().await.unwrap().headers()["cache-control"], "private, no-store");
        paid.push(order);
    }
    let res = app.client.get(app.url("/v1/me")).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.headers()["cache-control"], "private, no-store");

    // Every table, raw: carts, orders, their events, the outbox, stored answers, identity.
    let rows = raw(app).await;
    assert!(rows.contains(paid[0]["id"].as_str().unwrap()), "the dump reads the orders");
    assert_no_secrets(&rows, "the store");

    // Erasing her account deletes her stored answers (the guest's stay until they expire).
    let before = stored_answers(app).await;
    let res = app.client.delete(app.url("/v1/me")).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(stored_answers(app).await, before - 1, "her stored answer is gone with her");
}

/// `rouge serve` at the default log level: a customer registers (her link comes from the
/// development mailer's log line), verifies, logs in and checks out, and a guest checks out;
/// the log then holds none of their personal data.
#[tokio::test]
async fn the_log_of_a_checkout_holds_no_personal_data() {
    let dir = rouge_store_tests::harness::TempDir::new();
    let rouge = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rouge"));
        c.env("DATABASE_URL", format!("sqlite://{}", dir.0.join("shop.db").display()))
            .env("ROUGE_KEY_DIR", dir.0.join("keys"))
            .env("ROUGE_ARGON2_MEMORY_KIB", "1024")
            .env("ROUGE_ARGON2_ITERATIONS", "1")
            .env("ROUGE_TEST_PAYMENTS", "true")
            .env_remove("RUST_LOG")
            .env_remove("ROUGE_SMTP_URL");
        c
    };
    let seeded = rouge().args(["seed", "--demo", "--count", "3"]).output().unwrap();
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    let log_path = dir.0.join("server.log");
    let addr = format!("127.0.0.1:{}", crate::helpers::free_port());
    let mut child = rouge()
        .args(["serve", "--listen", &addr, "--metrics-listen", "off"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://{addr}");
    let c = reqwest::Client::new();
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let mut up = false;
    for _ in 0..600 {
        if c.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "rouge serve did not start: {}", log());

    let register = json!({"email": "ana.secret@example.com", "password": "correct horse battery", "name": "Anastasia Plaintextova"});
    let res = c.post(format!("{base}/v1/auth/register")).json(&register).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let mut link = None;
    for _ in 0..500 {
        link = log().lines().find(|l| l.contains("verify-email?token=")).map(crate::smtp::link_token);
        if link.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let link = link.expect("the development mailer logs the link");
    let res = c.post(format!("{base}/v1/auth/verify-email")).json(&json!({"token": link})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let login = json!({"email": "ana.secret@example.com", "password": "correct horse battery"});
    let session: Value =
        c.post(format!("{base}/v1/auth/login")).json(&login).send().await.unwrap().json().await.unwrap();
    let token = session["access_token"].as_str().unwrap().to_owned();

    let sku = rouge_server::demo::generate(3).products[0].variants[0].sku.clone();
    for (i, token) in [Some(token.as_str()), None].into_iter().enumerate() {
        let with = |req: reqwest::RequestBuilder| match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let cart: Value = with(c.post(format!("{base}/v1/carts"))).send().await.unwrap().json().await.unwrap();
        let id = cart["id"].as_str().unwrap();
        let line = json!({"sku": sku, "quantity": 1});
        let res = with(c.post(format!("{base}/v1/carts/{id}/lines"))).json(&line).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let details = json!({"email": "ana.secret@example.com", "shipping_method": "standard",
            "shipping_address": personal_address()});
        let res = with(c.put(format!("{base}/v1/carts/{id}/checkout"))).json(&details).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let pay = json!({"payment": {"provider": "test", "token": "tok_visa"}});
        let res = with(c.post(format!("{base}/v1/carts/{id}/complete")))
            .header("idempotency-key", format!("log-{i}"))
            .json(&pay)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    // The confirmation emails are sent (logged) by the relay moments later.
    for _ in 0..500 {
        if log().matches("email (development mailer").count() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = log();
    assert!(log.matches("email (development mailer").count() >= 3, "the emails were logged: {log}");
    assert_no_secrets(&log, "the server's log");
    // The access log at the default level: a line per write, none per fast successful read
    // (those are counted and summarised).
    assert!(log.contains(r#""route":"/v1/carts/{id}/complete""#), "writes are logged: {log}");
    assert!(!log.contains(r#""route":"/readyz""#), "fast reads are not logged one by one");
}
