//! Staff, roles, API keys, and the permission every admin route demands: a table-driven test
//! over the routes the OpenAPI document lists, so a new admin route without a check fails it.

use crate::helpers::{OWNER_EMAIL, OWNER_PASSWORD, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

crate::on_both_stores!(
    every_admin_route_demands_its_permission,
    keys_and_accounts_stop_working_when_revoked,
    bad_staff_input_is_refused_and_changes_nothing,
    nobody_grants_what_they_do_not_hold
);

async fn send(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let s = res.status();
    (s, res.json().await.unwrap_or(Value::Null))
}

async fn staff_login(app: &TestApp, email: &str, password: &str) -> String {
    let res = app
        .client
        .post(app.url("/v1/admin/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
}

/// A staff member whose role has exactly `permissions`; returns a token.
async fn staff_with(app: &TestApp, owner: &str, tag: &str, permissions: &[&str]) -> String {
    let (s, role) = send(
        app,
        Method::POST,
        "/v1/admin/roles",
        owner,
        Some(json!({"name": format!("role {tag}"), "permissions": permissions})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{role}");
    let email = format!("{}@shop.example", tag.replace([' ', ':'], "-"));
    let body = json!({"email": email, "name": tag, "password": "staff passphrase", "role_id": role["id"]});
    let (s, created) = send(app, Method::POST, "/v1/admin/staff", owner, Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    staff_login(app, &email, "staff passphrase").await
}

async fn every_admin_route_demands_its_permission(app: &TestApp) {
    let owner = staff_login(app, OWNER_EMAIL, OWNER_PASSWORD).await;
    let (_, doc) = app.get_json("/openapi.json").await;
    let mut routes = vec![];
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/admin") || path == "/v1/admin/auth/login" {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            let scopes: Vec<&str> = op["security"]
                .as_array()
                .and_then(|s| s.iter().find_map(|r| r["staff"].as_array()))
                .unwrap_or_else(|| panic!("{method} {path} declares no staff permission"))
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(scopes.len(), 1, "{method} {path} names one permission");
            let concrete = path
                .replace("{id}", &uuid::Uuid::now_v7().to_string())
                .replace("{variant_id}", &uuid::Uuid::now_v7().to_string());
            routes.push((method.to_uppercase().parse::<Method>().unwrap(), concrete, scopes[0].to_owned()));
        }
    }
    assert!(routes.len() >= 20, "the admin surface is listed: {}", routes.len());
    let permissions: Vec<String> =
        routes.iter().map(|r| r.2.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let all = [
        "catalog:read",
        "catalog:write",
        "orders:read",
        "orders:write",
        "orders:refund",
        "customers:read",
        "customers:read_pii",
        "staff:manage",
        "api_keys:manage",
        "audit:read",
        "settings:write",
    ];
    for p in &permissions {
        let without: Vec<&str> = all.iter().copied().filter(|x| x != p).collect();
        let lacking = staff_with(app, &owner, &format!("no {p}"), &without).await;
        let holding = staff_with(app, &owner, &format!("only {p}"), &[p.as_str()]).await;
        for (method, path, needed) in routes.iter().filter(|r| &r.2 == p) {
            let body = (*method != Method::GET && *method != Method::DELETE).then(|| json!({}));
            let (s, problem) = send(app, method.clone(), path, &lacking, body.clone()).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{method} {path} without {needed}: {problem}");
            assert_eq!(problem["type"], "/problems/forbidden");
            let (s, body) = send(app, method.clone(), path, &holding, body).await;
            assert!(
                s != StatusCode::FORBIDDEN && s != StatusCode::UNAUTHORIZED,
                "{method} {path} with {needed}: {s} {body}"
            );
        }
    }
    for (method, path, _) in &routes {
        let res = app.client.request(method.clone(), app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method} {path} without a credential");
    }
    // A customer's token is no staff credential.
    let customer =
        app.tokens.issue(uuid::Uuid::now_v7(), rouge_identity::Subject::Customer, chrono::Utc::now().timestamp()).0;
    let (s, _) = send(app, Method::GET, "/v1/admin/attributes", &customer, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

async fn keys_and_accounts_stop_working_when_revoked(app: &TestApp) {
    let owner = staff_login(app, OWNER_EMAIL, OWNER_PASSWORD).await;
    let (s, key) = send(
        app,
        Method::POST,
        "/v1/admin/api-keys",
        &owner,
        Some(json!({"name": "ERP sync", "permissions": ["catalog:write"]})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{key}");
    let secret = key["secret"].as_str().unwrap().to_owned();
    let (s, _) = send(app, Method::POST, "/v1/admin/brands", &secret, Some(json!({"name": "Keyed Brand"}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, list) = send(app, Method::GET, "/v1/admin/api-keys", &owner, None).await;
    let listed = list["items"].as_array().unwrap().iter().find(|k| k["id"] == key["id"]).unwrap();
    assert!(listed.get("secret").is_none(), "the secret is shown once");
    assert!(listed["last_used_at"].is_string());
    let (s, _) =
        send(app, Method::DELETE, &format!("/v1/admin/api-keys/{}", key["id"].as_str().unwrap()), &owner, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = send(app, Method::POST, "/v1/admin/brands", &secret, Some(json!({"name": "Late Brand"}))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "revoked");

    let editor = staff_with(app, &owner, "editor", &["catalog:write"]).await;
    let (_, staff) = send(app, Method::GET, "/v1/admin/staff", &owner, None).await;
    let id = staff["items"].as_array().unwrap().iter().find(|s| s["email"] == "editor@shop.example").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) =
        send(app, Method::PATCH, &format!("/v1/admin/staff/{id}"), &owner, Some(json!({"disabled": true}))).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = send(app, Method::POST, "/v1/admin/brands", &editor, Some(json!({"name": "Editor Brand"}))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "a disabled account's token stops working at once");
    let res = app
        .client
        .post(app.url("/v1/admin/auth/login"))
        .json(&json!({"email": "editor@shop.example", "password": "staff passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let (s, body) =
        send(app, Method::POST, "/v1/admin/api-keys", &owner, Some(json!({"name": "", "permissions": []}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"].as_array().unwrap().len(), 2);
}

async fn bad_staff_input_is_refused_and_changes_nothing(app: &TestApp) {
    let owner = staff_login(app, OWNER_EMAIL, OWNER_PASSWORD).await;
    let (_, before) = send(app, Method::GET, "/v1/admin/staff", &owner, None).await;
    let (_, roles_before) = send(app, Method::GET, "/v1/admin/roles", &owner, None).await;
    let cases = [
        (
            "/v1/admin/staff",
            json!({"email": "not-an-email", "name": "", "password": "short", "role_id": uuid::Uuid::now_v7()}),
            422,
            4,
        ),
        (
            "/v1/admin/staff",
            json!({"email": "x@shop.example", "name": "X", "password": "long enough pw", "role_id": "not-a-uuid"}),
            422,
            1,
        ),
        (
            "/v1/admin/staff",
            json!({"email": "x@shop.example", "name": "X", "password": "long enough pw", "role_id": uuid::Uuid::now_v7(), "admin": true}),
            422,
            1,
        ),
        ("/v1/admin/roles", json!({"name": "Ops", "permissions": ["orders:read", "launch:missiles"]}), 422, 1),
        ("/v1/admin/roles", json!({"name": "  ", "permissions": []}), 422, 2),
        ("/v1/admin/api-keys", json!({"name": "K", "permissions": "catalog:write"}), 422, 1),
    ];
    for (path, body, status, errors) in cases {
        let (s, problem) = send(app, Method::POST, path, &owner, Some(body.clone())).await;
        assert_eq!(s.as_u16(), status, "{path} {body}: {problem}");
        assert_eq!(problem["errors"].as_array().map_or(0, Vec::len), errors, "{path} {body}: {problem}");
    }
    let res = app
        .client
        .post(app.url("/v1/admin/roles"))
        .bearer_auth(&owner)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let (s, _) = send(app, Method::PATCH, "/v1/admin/staff/not-a-uuid", &owner, Some(json!({"disabled": true}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = send(
        app,
        Method::PATCH,
        &format!("/v1/admin/staff/{}", uuid::Uuid::now_v7()),
        &owner,
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = send(app, Method::DELETE, &format!("/v1/admin/api-keys/{}", uuid::Uuid::now_v7()), &owner, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, after) = send(app, Method::GET, "/v1/admin/staff", &owner, None).await;
    let (_, roles_after) = send(app, Method::GET, "/v1/admin/roles", &owner, None).await;
    assert_eq!((before, roles_before), (after, roles_after), "nothing changed");
}

/// Every route that grants permissions (roles, staff accounts, role changes, API keys), tried
/// by a staff member who manages staff and keys but holds little else: each grant beyond her
/// own permissions is refused (422 `not_yours`, or 403 for an owner's account) and changes
/// nothing; within them it works. Only owners make owners.
async fn nobody_grants_what_they_do_not_hold(app: &TestApp) {
    let owner = staff_login(app, OWNER_EMAIL, OWNER_PASSWORD).await;
    let hr = staff_with(app, &owner, "hr", &["staff:manage", "api_keys:manage", "catalog:read"]).await;
    let (_, roles) = send(app, Method::GET, "/v1/admin/roles", &owner, None).await;
    let role =
        |name: &str| roles["items"].as_array().unwrap().iter().find(|r| r["name"] == name).unwrap()["id"].clone();
    let (owner_role, manager_role) = (role("owner"), role("manager"));
    let (_, staff) = send(app, Method::GET, "/v1/admin/staff", &owner, None).await;
    let owner_id = staff["items"].as_array().unwrap().iter().find(|s| s["email"] == OWNER_EMAIL).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mate = |n: usize, role_id: &Value| json!({"email": format!("mate{n}@shop.example"), "name": "Mate", "password": "staff passphrase", "role_id": role_id});
    let (s, helper) =
        send(app, Method::POST, "/v1/admin/staff", &owner, Some(mate(0, &role("catalogue_editor")))).await;
    assert_eq!(s, StatusCode::CREATED, "{helper}");
    let helper = helper["id"].as_str().unwrap().to_owned();

    let all: Vec<&str> = vec!["catalog:read", "catalog:write", "staff:manage", "api_keys:manage", "orders:refund"];
    let refused: Vec<(Method, String, Value, StatusCode)> = vec![
        (
            Method::POST,
            "/v1/admin/roles".into(),
            json!({"name": "God", "permissions": all}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (Method::POST, "/v1/admin/staff".into(), mate(1, &owner_role), StatusCode::UNPROCESSABLE_ENTITY),
        (Method::POST, "/v1/admin/staff".into(), mate(2, &manager_role), StatusCode::UNPROCESSABLE_ENTITY),
        (
            Method::PATCH,
            format!("/v1/admin/staff/{helper}"),
            json!({"role_id": owner_role}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::PATCH,
            format!("/v1/admin/staff/{helper}"),
            json!({"role_id": manager_role}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (Method::PATCH, format!("/v1/admin/staff/{owner_id}"), json!({"disabled": true}), StatusCode::FORBIDDEN),
        (
            Method::PATCH,
            format!("/v1/admin/staff/{owner_id}"),
            json!({"role_id": role("support")}),
            StatusCode::FORBIDDEN,
        ),
        (
            Method::POST,
            "/v1/admin/api-keys".into(),
            json!({"name": "k", "permissions": ["orders:refund"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (method, path, body, want) in refused {
        let (s, p) = send(app, method.clone(), &path, &hr, Some(body.clone())).await;
        assert_eq!(s, want, "{method} {path} {body}: {p}");
        if want == StatusCode::UNPROCESSABLE_ENTITY {
            assert_eq!(p["errors"][0]["code"], "not_yours", "{method} {path}: {p}");
        }
    }
    // Nothing of it happened.
    let (_, after) = send(app, Method::GET, "/v1/admin/roles", &owner, None).await;
    assert!(after["items"].as_array().unwrap().iter().all(|r| r["name"] != "God"), "{after}");
    let (_, after) = send(app, Method::GET, "/v1/admin/staff", &owner, None).await;
    let emails: Vec<&str> = after["items"].as_array().unwrap().iter().map(|s| s["email"].as_str().unwrap()).collect();
    assert!(!emails.iter().any(|e| e.starts_with("mate1") || e.starts_with("mate2")), "{emails:?}");
    let find = |id: &str| after["items"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap().clone();
    assert_eq!(find(&helper)["role_id"], role("catalogue_editor"));
    assert_eq!(find(&owner_id)["disabled"], false);

    // Within her own permissions every route works.
    let (s, mine) = send(
        app,
        Method::POST,
        "/v1/admin/roles",
        &hr,
        Some(json!({"name": "Reader", "permissions": ["catalog:read"]})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{mine}");
    let (s, b) = send(app, Method::POST, "/v1/admin/staff", &hr, Some(mate(3, &mine["id"]))).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) =
        send(app, Method::PATCH, &format!("/v1/admin/staff/{helper}"), &hr, Some(json!({"role_id": mine["id"]}))).await;
    assert_eq!((s, &b["role_id"]), (StatusCode::OK, &mine["id"]), "{b}");
    let (s, b) =
        send(app, Method::POST, "/v1/admin/api-keys", &hr, Some(json!({"name": "k", "permissions": ["catalog:read"]})))
            .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // An owner makes owners; an API key, even one with every permission, does not.
    let (s, b) = send(app, Method::POST, "/v1/admin/staff", &app.admin_key, Some(mate(4, &owner_role))).await;
    assert_eq!((s, &b["errors"][0]["code"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("not_yours")), "{b}");
    let (s, b) = send(app, Method::POST, "/v1/admin/staff", &owner, Some(mate(5, &owner_role))).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}
