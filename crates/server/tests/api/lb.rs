//! Two `rouge serve` processes on one PostgreSQL, with Redis and RabbitMQ, behind HAProxy
//! (`deploy/haproxy/rouge.cfg`, started by the test), as a shop runs them: a product made
//! through the balancer is on both replicas with the same ETag, and a create retried with the
//! same Idempotency-Key replays whichever replica the retry lands on.

use crate::crash::{balancer, serve_with};
use reqwest::StatusCode;
use rouge_store_tests::harness::{self, TempDir};
use serde_json::{Value, json};
use tokio::process::Command;

#[tokio::test]
async fn two_replicas_behind_haproxy_serve_as_one_shop() {
    let Some(db) = harness::postgres().await else { return };
    let (Some(redis), Some(amqp)) = (harness::redis_url().await, harness::amqp_url().await) else { return };
    if std::process::Command::new("haproxy").arg("-v").output().is_err() {
        crate::helpers::tool_missing("haproxy", "the replicas-behind-a-balancer test (.ci/run installs it)");
        return;
    }
    let dir = TempDir::new();
    let keys = dir.0.join("keys");
    let prefix = format!("lb-test-{}", uuid::Uuid::now_v7().simple());
    let exchange = format!("rouge.events.lb-test.{}", uuid::Uuid::now_v7().simple());
    let env = [
        ("REDIS_URL", redis.as_str()),
        ("ROUGE_REDIS_PREFIX", prefix.as_str()),
        ("AMQP_URL", amqp.as_str()),
        ("ROUGE_AMQP_EXCHANGE", exchange.as_str()),
        ("ROUGE_TRUSTED_PROXIES", "127.0.0.1"),
    ];
    let owner = Command::new(env!("CARGO_BIN_EXE_rouge"))
        .args(["admin", "create-owner", "--email", "owner@shop.example", "--name", "Olga Owner"])
        .env("DATABASE_URL", &db.url)
        .env("ROUGE_KEY_DIR", &keys)
        .env("ROUGE_OWNER_PASSWORD", "a long passphrase")
        .env("RUST_LOG", "error")
        .output()
        .await
        .unwrap();
    assert!(owner.status.success(), "{}", String::from_utf8_lossy(&owner.stderr));
    let r1 = serve_with(&db.url, &keys, &env).await;
    let r2 = serve_with(&db.url, &keys, &env).await;
    let (lb, _) = balancer(&dir.0, &r1, &r2).await;
    let (r1, r2, shop) = (r1.1.clone(), r2.1.clone(), lb.1.clone());

    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{shop}/v1/admin/auth/login"))
        .json(&json!({"email": "owner@shop.example", "password": "a long passphrase"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().expect("the owner logs in through the balancer").to_owned();
    let admin = |path: &str, key: &str, body: Value| {
        let req = client.post(format!("{shop}{path}")).bearer_auth(&token).header("idempotency-key", key);
        req.json(&body).send()
    };
    assert_eq!(admin("/v1/admin/brands", "brand-1", json!({"name": "Lumen Lab"})).await.unwrap().status(), 201);
    let product = crate::helpers::serum("Glow Serum", "lumen-lab", "LL-GLOW-30", 2900);
    let mut ids = vec![];
    // Round robin: the retries land on both replicas.
    for attempt in 0..4 {
        let res = admin("/v1/admin/products", "glow-serum-1", product.clone()).await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        assert_eq!(res.headers().contains_key("idempotent-replayed"), attempt > 0, "attempt {attempt}");
        ids.push(res.json::<Value>().await.unwrap()["id"].clone());
    }
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "one product: {ids:?}");

    // Both replicas show it, with the same ETag.
    let mut agreed = false;
    for _ in 0..200 {
        let mut etags = vec![];
        for base in [&r1, &r2] {
            let res = client.get(format!("{base}/v1/products/glow-serum")).send().await.unwrap();
            etags.push((res.status(), res.headers().get("etag").map(|e| e.to_str().unwrap().to_owned())));
        }
        if etags[0].0 == StatusCode::OK && etags[0] == etags[1] {
            agreed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(agreed, "both replicas show the product with one ETag");
    crate::amqp::forget(&amqp, &exchange).await;
    db.cleanup().await;
}
