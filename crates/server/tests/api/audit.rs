//! The audit trail over HTTP: admin changes are recorded with who, what, before and after;
//! refused ones are not; secrets and staff personal data are never in it; an entry commits
//! with its change or neither does; `rouge audit verify` finds tampering.

use crate::helpers::{Db, TestApp};
use reqwest::StatusCode;
use rouge_catalog::ports::CatalogRepository;
use serde_json::{Value, json};

crate::on_both_stores!(
    admin_changes_are_audited_with_before_and_after,
    a_change_whose_entry_cannot_be_written_is_not_made
);

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
    assert_eq!(patch["status"], 200, "the status the API answers the route with");
    assert_eq!(items[3]["status"], 201);
    // Taken from the domain objects: the key without its secret or hash, the staff member
    // without the sealed email and name.
    assert_eq!((items[1]["after"]["name"].as_str(), items[1]["after"].get("secret")), (Some("ERP"), None));
    assert_eq!(items[1]["after"].get("hash"), None);
    assert_eq!(items[0]["after"]["role_id"], "01960000-0000-7000-8000-000000000003");
    assert_eq!((items[0]["after"].get("email"), items[0]["after"].get("name")), (None, None));
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

/// The entry is written in the change's transaction: when it cannot be (here the trail's head
/// row is gone, as after a botched restore), the change is refused with 503 and not made; once
/// the trail is sound again the same change goes through, with its entry.
async fn a_change_whose_entry_cannot_be_written_is_not_made(app: &TestApp) {
    let brand = app.brand("Petal Works").await;
    let path = format!("/v1/admin/brands/{}", brand["id"].as_str().unwrap());
    let raw = |sql: &'static str| async move {
        match &app.db {
            Db::Sqlite(d) => rouge_store_tests::raw::RawRows::raw_exec(&d.store, sql).await,
            Db::Postgres(d) => rouge_store_tests::raw::RawRows::raw_exec(&d.store, sql).await,
        }
    };
    let name = || async {
        let brands = match &app.db {
            Db::Sqlite(d) => d.store.brands().await.unwrap(),
            Db::Postgres(d) => d.store.brands().await.unwrap(),
        };
        brands.into_iter().find(|b| b.id.to_string() == brand["id"].as_str().unwrap()).unwrap().name
    };
    let entries = || async {
        let res = app.client.get(app.url("/v1/admin/audit?limit=50")).bearer_auth(&app.admin_key).send().await.unwrap();
        res.json::<Value>().await.unwrap()["items"].as_array().unwrap().len()
    };
    assert_eq!(entries().await, 1, "the brand's creation");
    raw("DELETE FROM audit_head").await;
    let res = app.admin(reqwest::Method::PATCH, &path, &json!({"name": "Petal Works Paris"})).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(name().await, "Petal Works", "the change was not made without its entry");
    assert_eq!(entries().await, 1);

    raw("INSERT INTO audit_head (id, count, hash) SELECT 1, seq, hash FROM audit_log WHERE seq = 1").await;
    let res = app.admin(reqwest::Method::PATCH, &path, &json!({"name": "Petal Works Paris"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(name().await, "Petal Works Paris");
    assert_eq!(entries().await, 2);
}
