//! Key rotation end to end, as an operator runs it: `rouge serve` keeps serving while
//! `rouge keys rotate` re-wraps every customer's data key and `rouge keys rotate-signing`
//! brings a new token key; nobody is logged out, and the old master key can then go.

use reqwest::StatusCode;
use rouge_store_tests::harness::TempDir;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `rouge serve` child process, killed when dropped.
struct Server(Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rouge(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rouge"));
    c.env("DATABASE_URL", format!("sqlite://{}", dir.join("shop.db").display()))
        .env("ROUGE_KEY_DIR", dir.join("keys"))
        .env("ROUGE_KEY_PUBLISH_SECS", "2")
        .env("ROUGE_KEY_RELOAD_SECS", "1")
        .env("ROUGE_ARGON2_MEMORY_KIB", "1024")
        .env("ROUGE_ARGON2_ITERATIONS", "1")
        .env("ROUGE_RATE_LIMIT_AUTH", "6000/min,burst=1000")
        .env("ROUGE_TEST_PAYMENTS", "true")
        .env("RUST_LOG", "warn");
    c
}

async fn serve(dir: &Path, smtp: &crate::smtp::SmtpSink) -> Server {
    let addr = format!("127.0.0.1:{}", crate::helpers::free_port());
    let child = rouge(dir)
        .args(["serve", "--listen", &addr, "--metrics-listen", "off"])
        .env("ROUGE_SMTP_URL", &smtp.url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child, format!("http://{addr}"));
    for _ in 0..600 {
        if reqwest::get(format!("{}/healthz", server.1)).await.is_ok_and(|r| r.status() == StatusCode::OK) {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("rouge serve did not start");
}

async fn me(base: &str, token: &str) -> (StatusCode, Value) {
    let res = reqwest::Client::new().get(format!("{base}/v1/me")).bearer_auth(token).send().await.unwrap();
    let s = res.status();
    (s, res.json().await.unwrap_or(Value::Null))
}

async fn login(base: &str) -> String {
    let res = reqwest::Client::new()
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"email": "ana@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

/// A guest order (checkout sealed its email and addresses); its id and its cart's.
async fn guest_order(base: &str) -> (String, String) {
    let c = reqwest::Client::new();
    let sku = rouge_server::demo::generate(3).products[0].variants[0].sku.clone();
    let cart: Value = c.post(format!("{base}/v1/carts")).send().await.unwrap().json().await.unwrap();
    let id = cart["id"].as_str().unwrap();
    let line =
        c.post(format!("{base}/v1/carts/{id}/lines")).json(&json!({"sku": sku, "quantity": 1})).send().await.unwrap();
    assert_eq!(line.status(), StatusCode::OK);
    let details = json!({"email": "guest@example.com", "shipping_method": "standard",
        "shipping_address": {"name": "G", "line1": "1 rue", "city": "Paris", "postal_code": "75001", "country": "FR"}});
    c.put(format!("{base}/v1/carts/{id}/checkout")).json(&details).send().await.unwrap();
    let res = c
        .post(format!("{base}/v1/carts/{id}/complete"))
        .header("idempotency-key", "k")
        .json(&json!({"payment": {"provider": "test", "token": "tok_visa"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    (res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned(), id.to_owned())
}

/// The checkout retried with its key: the stored (sealed) first answer.
async fn replayed_checkout(base: &str, cart: &str) -> (Option<String>, Value) {
    let res = reqwest::Client::new()
        .post(format!("{base}/v1/carts/{cart}/complete"))
        .header("idempotency-key", "k")
        .json(&json!({"payment": {"provider": "test", "token": "tok_visa"}}))
        .send()
        .await
        .unwrap();
    let replayed = res.headers().get("idempotent-replayed").map(|v| v.to_str().unwrap().to_owned());
    (replayed, res.json().await.unwrap())
}

#[tokio::test]
async fn keys_rotate_while_the_server_runs_and_nobody_is_logged_out() {
    let dir = TempDir::new();
    let seeded = rouge(&dir.0).args(["seed", "--demo", "--count", "3"]).output().unwrap();
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    let smtp = crate::smtp::SmtpSink::start().await;
    let server = serve(&dir.0, &smtp).await;
    let base = server.1.clone();
    let res = reqwest::Client::new()
        .post(format!("{base}/v1/auth/register"))
        .json(&json!({"email": "ana@example.com", "password": "correct horse battery", "name": "Ana"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let mail = smtp.wait_for("ana@example.com", "verify-email?token=").await;
    let res = reqwest::Client::new()
        .post(format!("{base}/v1/auth/verify-email"))
        .json(&json!({"token": crate::smtp::link_token(&mail)}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let token = login(&base).await;
    assert_eq!(me(&base, &token).await.1["name"], "Ana");
    let (order, cart) = guest_order(&base).await;
    let old_masters: Vec<_> = std::fs::read_dir(dir.0.join("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("master-"))
        .collect();
    assert_eq!(old_masters.len(), 1);

    let out = rouge(&dir.0).args(["keys", "rotate"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(
            "re-wrapped 1 customer data keys, 2 cart and order keys, 1 stored answers and 0 webhook endpoints' secrets"
        ),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(me(&base, &token).await.0, StatusCode::OK, "the running server follows the rotation");
    std::fs::remove_file(&old_masters[0]).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await; // past one reload
    let (s, body) = me(&base, &token).await;
    assert_eq!(
        (s, body["email"].as_str()),
        (StatusCode::OK, Some("ana@example.com")),
        "data opens without the old master key"
    );
    let res = reqwest::get(format!("{base}/v1/orders/{order}")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the order's sealed contact opens too");
    assert_eq!(res.json::<Value>().await.unwrap()["email"], "guest@example.com");
    let (replayed, first) = replayed_checkout(&base, &cart).await;
    assert_eq!((replayed.as_deref(), first["email"].as_str()), (Some("true"), Some("guest@example.com")), "{first}");
    // The operator's rebuild of order projections from their events finds nothing to change.
    let out = rouge(&dir.0).args(["orders", "rebuild"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 orders, 0 projections differed"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = rouge(&dir.0).args(["keys", "rotate-signing"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // After the publication delay and a reload, new tokens carry the new key (a liveness
    // deadline, not a timing assertion).
    let mut fresh = login(&base).await;
    for _ in 0..100 {
        if kid(&fresh) != kid(&token) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        fresh = login(&base).await;
    }
    assert_ne!(kid(&fresh), kid(&token), "new tokens are signed with the new key");
    assert_eq!(me(&base, &token).await.0, StatusCode::OK, "tokens signed with the old key stay valid");
    drop(server);
    // A restarted server reads the same directory: still nobody logged out.
    let again = serve(&dir.0, &smtp).await;
    assert_eq!(me(&again.1, &fresh).await.0, StatusCode::OK);
    assert_eq!(me(&again.1, &token).await.0, StatusCode::OK);
}

/// A database restored without its key directory (or with only part of it): `rouge serve`
/// refuses to start, naming the missing key files and the data that depends on them, instead
/// of making new keys and answering 500 for every customer; with the directory back it starts.
async fn a_database_restored_without_its_keys_refuses_to_start(db_url: &str) {
    let dir = TempDir::new();
    let serve = |keys: &Path| {
        Command::new(env!("CARGO_BIN_EXE_rouge"))
            .args(["serve", "--listen", "127.0.0.1:0", "--metrics-listen", "off"])
            .env("DATABASE_URL", db_url)
            .env("ROUGE_KEY_DIR", keys)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let keys = dir.0.join("keys");
    let owner = Command::new(env!("CARGO_BIN_EXE_rouge"))
        .args(["admin", "create-owner", "--email", "owner@shop.example", "--name", "Olga Owner"])
        .env("DATABASE_URL", db_url)
        .env("ROUGE_KEY_DIR", &keys)
        .env("ROUGE_OWNER_PASSWORD", "owner passphrase")
        .output()
        .unwrap();
    assert!(owner.status.success(), "{}", String::from_utf8_lossy(&owner.stderr));

    let elsewhere = dir.0.join("restored-without-keys");
    let out = serve(&elsewhere);
    assert!(!out.status.success(), "it must not start");
    let why = String::from_utf8_lossy(&out.stderr);
    assert!(why.contains("blind-index.key") && why.contains("master-"), "{why}");
    assert!(why.contains("1 customers and staff members"), "names the data that depends on them: {why}");
    assert!(!elsewhere.join("blind-index.key").exists(), "no new key was made");

    // Only the master key lost.
    let master = std::fs::read_dir(&keys)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("master-"))
        .unwrap();
    let kept = dir.0.join("kept.key");
    std::fs::rename(&master, &kept).unwrap();
    let out = serve(&keys);
    assert!(!out.status.success());
    let why = String::from_utf8_lossy(&out.stderr);
    let name = master.file_name().unwrap().to_string_lossy().into_owned();
    assert!(why.contains(&name), "names {name}: {why}");
    std::fs::rename(&kept, &master).unwrap();
}

#[tokio::test]
async fn sqlite_a_database_restored_without_its_keys_refuses_to_start() {
    let dir = TempDir::new();
    a_database_restored_without_its_keys_refuses_to_start(&format!("sqlite://{}", dir.0.join("shop.db").display()))
        .await;
}

#[tokio::test]
async fn postgres_a_database_restored_without_its_keys_refuses_to_start() {
    let Some(db) = rouge_store_tests::harness::postgres().await else { return };
    a_database_restored_without_its_keys_refuses_to_start(&db.url).await;
    db.cleanup().await;
}
