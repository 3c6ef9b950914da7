//! The audit trail over HTTP: admin changes are recorded with who, what, before and after;
//! refused ones are not; secrets and staff personal data are redacted; `rouge audit verify`
//! finds tampering.

use crate::helpers::{Db, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

crate::on_both_stores!(admin_changes_are_audited_with_before_and_after);

async fn admin_changes_are_audited_with_before_and_after(app: &TestApp) {
    let brand = app.brand("Petal Works").await;
    let id = brand["id"].as_str().unwrap();
    let res = app
        .admin(reqwest::Method::PATCH, &format!("/v1/admin/brands/{id}"), &json!({"name": "Petal Works Paris"}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let refused = app.admin(reqwest::Method::POST, "/v1/admin/brands", &json!({"name": ""})).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (s, key) = app.post("/v1/admin/api-keys", json!({"name": "ERP", "permissions": ["catalog:read"]})).await;
    assert_eq!(s, StatusCode::CREATED);
    let secret = key["secret"].as_str().unwrap();
    let (s, _) = app.post("/v1/admin/staff", json!({"email": "sam@shop.example", "name": "Sam Secretname", "password": "staff passphrase", "role_id": "01960000-0000-7000-8000-000000000003"})).await;
    assert_eq!(s, StatusCode::CREATED);

    let res = app.client.get(app.url("/v1/admin/audit?limit=10")).bearer_auth(&app.admin_key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let page: Value = res.json().await.unwrap();
    let items = page["items"].as_array().unwrap();
    let routes: Vec<&str> = items.iter().map(|e| e["route"].as_str().unwrap()).collect();
    assert_eq!(
        routes,
        ["/v1/admin/staff", "/v1/admin/api-keys", "/v1/admin/brands/{id}", "/v1/admin/brands"],
        "newest first; the refused POST is not there"
    );
    let patch = &items[2];
    assert_eq!(patch["action"], "PATCH");
    assert_eq!(patch["before"]["name"], "Petal Works");
    assert_eq!(patch["after"]["name"], "Petal Works Paris");
    assert_eq!(patch["actor"]["kind"], "api_key");
    assert_eq!(patch["address"], "127.0.0.1");
    assert_eq!(items[1]["after"]["secret"], "[redacted]");
    assert_eq!(items[0]["after"]["email"], "[redacted]");
    let text = page.to_string();
    assert!(!text.contains(secret) && !text.contains("Secretname") && !text.contains("sam@shop.example"), "{text}");

    let res = app
        .client
        .get(app.url("/v1/admin/audit?route=/v1/admin/brands&limit=1"))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    let one: Value = res.json().await.unwrap();
    assert_eq!(one["items"].as_array().unwrap().len(), 1);
    let res = app
        .client
        .get(app.url("/v1/admin/audit?since=yesterday&limit=0"))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"].as_array().unwrap().len(), 2);

    // `rouge audit verify`, run as an operator would, against this very store.
    let url = match &app.db {
        Db::Sqlite(d) => d.url.clone(),
        Db::Postgres(d) => d.url.clone(),
    };
    let verify = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_rouge"))
            .args(["audit", "verify", "--database-url", &url])
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    };
    let ok = verify();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("intact: 4 entries"));
    let tamper = "UPDATE audit_log SET entry = replace(entry, 'Petal Works Paris', 'Someone Else') WHERE seq = 2";
    match &app.db {
        Db::Sqlite(d) => rouge_store_tests::raw::RawRows::raw_exec(&d.store, tamper).await,
        Db::Postgres(d) => rouge_store_tests::raw::RawRows::raw_exec(&d.store, tamper).await,
    }
    let broken = verify();
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&broken.stderr).contains("entry 2 was changed"),
        "{}",
        String::from_utf8_lossy(&broken.stderr)
    );
}
