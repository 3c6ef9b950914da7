//! Customer accounts over HTTP: register → email → verify → log in → profile → export → erase,
//! token attacks, refresh reuse, lockout, and bad input.

use crate::helpers::{TestApp, serum};
use crate::smtp::link_token;
use reqwest::StatusCode;
use serde_json::{Value, json};

crate::on_both_stores!(
    a_customer_registers_verifies_logs_in_and_manages_her_profile,
    forged_expired_foreign_and_alg_none_tokens_are_refused,
    refresh_tokens_rotate_and_a_replayed_one_ends_the_session,
    failed_logins_lock_alike_for_known_and_unknown_emails,
    bad_account_input_is_refused_with_field_errors,
    registering_a_taken_address_reveals_nothing,
    for_me_leaves_out_avoided_ingredients_and_ranks_suited_products_first,
);

async fn post(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    let res = app.client.post(app.url(path)).json(&body).send().await.unwrap();
    let s = res.status();
    (s, res.json().await.unwrap_or(Value::Null))
}

async fn with_token(app: &TestApp, method: reqwest::Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    app.client.request(method, app.url(path)).bearer_auth(token)
}

/// Registers, verifies and logs in; returns the session.
pub async fn customer(app: &TestApp, email: &str) -> Value {
    let (s, body) = post(
        app,
        "/v1/auth/register",
        json!({"email": email, "password": "correct horse battery", "name": "Ana Silva"}),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    let mail = app.smtp.wait_for(email, "verify-email?token=").await;
    let (s, body) = post(app, "/v1/auth/verify-email", json!({"token": link_token(&mail)})).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{body}");
    let (s, session) = post(app, "/v1/auth/login", json!({"email": email, "password": "correct horse battery"})).await;
    assert_eq!(s, StatusCode::OK, "{session}");
    session
}

async fn a_customer_registers_verifies_logs_in_and_manages_her_profile(app: &TestApp) {
    let session = customer(app, "ana@example.com").await;
    assert_eq!(session["token_type"], "Bearer");
    let token = session["access_token"].as_str().unwrap();
    let res = with_token(app, reqwest::Method::GET, "/v1/me", token).await.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["etag"], "\"v2\"", "verification was the first change");
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    let me: Value = res.json().await.unwrap();
    assert_eq!(
        (me["email"].as_str(), me["name"].as_str(), me["email_verified"].as_bool()),
        (Some("ana@example.com"), Some("Ana Silva"), Some(true))
    );

    let profile = json!({"beauty_profile": {"skin_type": "sensitive", "concerns": ["redness"], "avoid_ingredients": ["fragrance"],
        "shade": {"undertone": "olive", "depth": 4}, "hair_types": ["curly"]}});
    let res = with_token(app, reqwest::Method::PATCH, "/v1/me", token)
        .await
        .header("if-match", "\"v2\"")
        .json(&profile)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["beauty_profile"]["shade"]["undertone"], "olive");
    let stale = with_token(app, reqwest::Method::PATCH, "/v1/me", token)
        .await
        .header("if-match", "\"v2\"")
        .json(&json!({"name": "X"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let bad = with_token(app, reqwest::Method::PATCH, "/v1/me", token)
        .await
        .json(&json!({"beauty_profile": {"skin_type": "greasy", "shade": {"undertone": "warm", "depth": 11}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY, "an unknown skin type is refused");
    let bad = with_token(app, reqwest::Method::PATCH, "/v1/me", token)
        .await
        .json(&json!({"beauty_profile": {"shade": {"undertone": "warm", "depth": 11}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "beauty_profile.shade.depth");
    let me: Value =
        with_token(app, reqwest::Method::GET, "/v1/me", token).await.send().await.unwrap().json().await.unwrap();
    assert_eq!(me["version"], 3, "refused changes changed nothing");

    let contact = json!({"phone": "+44 20 7946 0958", "addresses": [{"name": "Ana Silva", "line1": "1 Rose Lane",
        "city": "London", "postal_code": "N1 9GU", "country": "GB"}]});
    let res = with_token(app, reqwest::Method::PATCH, "/v1/me", token).await.json(&contact).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.unwrap();
    assert_eq!((me["phone"].as_str(), me["addresses"][0]["city"].as_str()), (Some("+44 20 7946 0958"), Some("London")));
    let bad = json!({"phone": "call me", "addresses": [{"name": "", "line1": "x", "city": "y", "postal_code": "z", "country": "France"}]});
    let res = with_token(app, reqwest::Method::PATCH, "/v1/me", token).await.json(&bad).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["phone", "addresses[0].name", "addresses[0].country"]);

    let export = with_token(app, reqwest::Method::GET, "/v1/me/export", token).await.send().await.unwrap();
    assert_eq!(export.status(), StatusCode::OK);
    let export: Value = export.json().await.unwrap();
    assert_eq!(export["customer"]["beauty_profile"]["avoid_ingredients"], json!(["fragrance"]));
    assert_eq!(export["customer"]["addresses"][0]["postal_code"], "N1 9GU");

    let gone = with_token(app, reqwest::Method::DELETE, "/v1/me", token).await.send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    let after = with_token(app, reqwest::Method::GET, "/v1/me", token).await.send().await.unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED, "the account no longer exists");
    let (s, _) = post(app, "/v1/auth/refresh", json!({"refresh_token": session["refresh_token"]})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) =
        post(app, "/v1/auth/login", json!({"email": "ana@example.com", "password": "correct horse battery"})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

async fn forged_expired_foreign_and_alg_none_tokens_are_refused(app: &TestApp) {
    use base64::Engine;
    let session = customer(app, "bea@example.com").await;
    let good = session["access_token"].as_str().unwrap();
    let claims = app.tokens.verify(good).unwrap();
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let payload = good.split('.').nth(1).unwrap();
    let mut expired = claims.clone();
    expired.exp = expired.iat - 3600;
    let mut foreign = claims.clone();
    foreign.aud = "another-service".into();
    let mut staff = claims.clone();
    staff.kind = rouge_identity::Subject::Staff;
    let forger = rouge_identity::TokenKeys::ephemeral("rouge", "rouge-api");
    let cases = [
        ("expired", app.tokens.sign(&expired), StatusCode::UNAUTHORIZED),
        ("wrong audience", app.tokens.sign(&foreign), StatusCode::UNAUTHORIZED),
        ("forged", forger.sign(&claims), StatusCode::UNAUTHORIZED),
        ("alg none", format!("{}.{payload}.", b64(r#"{"alg":"none","typ":"JWT"}"#)), StatusCode::UNAUTHORIZED),
        ("garbage", "not-a-token".to_owned(), StatusCode::UNAUTHORIZED),
        ("staff token on a customer route", app.tokens.sign(&staff), StatusCode::FORBIDDEN),
    ];
    for (what, token, status) in cases {
        let res = with_token(app, reqwest::Method::GET, "/v1/me", &token).await.send().await.unwrap();
        assert_eq!(res.status(), status, "{what}");
        assert_eq!(res.headers()["content-type"], "application/problem+json", "{what}");
    }
    let res = app.get("/v1/me").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        with_token(app, reqwest::Method::GET, "/v1/me", good).await.send().await.unwrap().status(),
        StatusCode::OK
    );
}

async fn refresh_tokens_rotate_and_a_replayed_one_ends_the_session(app: &TestApp) {
    let first = customer(app, "cleo@example.com").await;
    let (s, second) = post(app, "/v1/auth/refresh", json!({"refresh_token": first["refresh_token"]})).await;
    assert_eq!(s, StatusCode::OK);
    assert!(app.tokens.verify(second["access_token"].as_str().unwrap()).is_ok());
    let (s, replay) = post(app, "/v1/auth/refresh", json!({"refresh_token": first["refresh_token"]})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{replay}");
    let (s, _) = post(app, "/v1/auth/refresh", json!({"refresh_token": second["refresh_token"]})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the replay revoked the whole family");
    let (s, third) =
        post(app, "/v1/auth/login", json!({"email": "cleo@example.com", "password": "correct horse battery"})).await;
    assert_eq!(s, StatusCode::OK);
    let res = app
        .client
        .post(app.url("/v1/auth/logout"))
        .json(&json!({"refresh_token": third["refresh_token"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let (s, _) = post(app, "/v1/auth/refresh", json!({"refresh_token": third["refresh_token"]})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "logged out");
}

async fn failed_logins_lock_alike_for_known_and_unknown_emails(app: &TestApp) {
    customer(app, "dora@example.com").await;
    let mut seen = vec![];
    for email in ["dora@example.com", "nobody@example.com"] {
        let mut statuses = vec![];
        for _ in 0..5 {
            let res = app
                .client
                .post(app.url("/v1/auth/login"))
                .json(&json!({"email": email, "password": "wrong password!"}))
                .send()
                .await
                .unwrap();
            statuses.push(res.status().as_u16());
            if res.status() == StatusCode::TOO_MANY_REQUESTS {
                assert!(res.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
                let body: Value = res.json().await.unwrap();
                assert_eq!(body["type"], "/problems/login-locked");
            } else {
                let body: Value = res.json().await.unwrap();
                assert_eq!(body["detail"], "the email or the password is wrong");
            }
        }
        seen.push(statuses);
    }
    assert_eq!(seen[0], [401, 401, 401, 401, 429], "three free failures, then waits");
    assert_eq!(seen[0], seen[1], "an unknown email answers exactly like a known one");
}

async fn bad_account_input_is_refused_with_field_errors(app: &TestApp) {
    let (s, body) = post(app, "/v1/auth/register", json!({"email": "not-an-email", "password": "short"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["email", "password"]);
    let (s, body) =
        post(app, "/v1/auth/register", json!({"email": "e@example.com", "password": "long enough pw", "admin": true}))
            .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "unknown fields are refused");
    assert_eq!(body["errors"][0]["code"], "unknown_field");
    let res = app
        .client
        .post(app.url("/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app.client.post(app.url("/v1/auth/login")).body("email=a").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (s, body) =
        post(app, "/v1/auth/verify-email", json!({"token": "made-up'; DROP TABLE identity_customers; --"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "token");
    let (s, _) =
        post(app, "/v1/auth/password-reset/confirm", json!({"token": "made-up", "password": "a new passphrase"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = post(app, "/v1/auth/refresh", json!({"refresh_token": 5})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a wrong type");
    assert_eq!(app.smtp.count_to("e@example.com"), 0, "refused registrations send nothing");
}

async fn registering_a_taken_address_reveals_nothing(app: &TestApp) {
    customer(app, "eve@example.com").await;
    let (s1, b1) =
        post(app, "/v1/auth/register", json!({"email": "eve@example.com", "password": "another password"})).await;
    let (s2, b2) =
        post(app, "/v1/auth/register", json!({"email": "new@example.com", "password": "another password"})).await;
    assert_eq!((s1, &b1), (s2, &b2), "the same answer for a taken and a free address");
    app.smtp.wait_for("eve@example.com", "already has an account").await;
    // A reset for an unknown address answers like one for a known address.
    let (s1, b1) = post(app, "/v1/auth/password-reset", json!({"email": "eve@example.com"})).await;
    let (s2, b2) = post(app, "/v1/auth/password-reset", json!({"email": "ghost@example.com"})).await;
    assert_eq!((s1, &b1), (s2, &b2));
    let mail = app.smtp.wait_for("eve@example.com", "reset-password?token=").await;
    let (s, _) = post(
        app,
        "/v1/auth/password-reset/confirm",
        json!({"token": link_token(&mail), "password": "a new passphrase"}),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    app.smtp.wait_for("eve@example.com", "password was changed").await;
    let (s, _) = post(app, "/v1/auth/login", json!({"email": "eve@example.com", "password": "a new passphrase"})).await;
    assert_eq!(s, StatusCode::OK);
}

async fn for_me_leaves_out_avoided_ingredients_and_ranks_suited_products_first(app: &TestApp) {
    app.brand("Petal Works").await;
    let product = |name: &str, sku: &str, skin: &str, concern: &str, ingredients: &[&str]| {
        let mut p = serum(name, "petal-works", sku, 2400);
        p["skin_types"] = json!([skin]);
        p["concerns"] = json!([concern]);
        p["ingredients"] = json!(ingredients);
        p
    };
    app.product(product(
        "Calm Serum",
        "PW-1",
        "sensitive",
        "redness",
        &["Aqua", "Glycerin", "Centella Asiatica Extract"],
    ))
    .await;
    app.product(product("Scented Cream", "PW-2", "sensitive", "redness", &["Aqua", "Glycerin", "Parfum", "Linalool"]))
        .await;
    app.product(product("Oil Control Gel", "PW-3", "oily", "acne", &["Aqua", "Niacinamide", "Zinc PCA"])).await;
    app.product(product("Hydra Mist", "PW-4", "dry", "dehydration", &["Aqua", "Sodium Hyaluronate"])).await;
    let names = |page: &Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect()
    };
    let (_, everyone) = app.get_json("/v1/products").await;
    assert_eq!(names(&everyone), ["Hydra Mist", "Oil Control Gel", "Scented Cream", "Calm Serum"], "newest first");

    let session = customer(app, "fay@example.com").await;
    let token = session["access_token"].as_str().unwrap();
    let profile = json!({"beauty_profile": {"skin_type": "sensitive", "concerns": ["redness"], "avoid_ingredients": ["fragrance"]}});
    let res = with_token(app, reqwest::Method::PATCH, "/v1/me", token).await.json(&profile).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = with_token(app, reqwest::Method::GET, "/v1/products?for_me=true", token).await.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "private, no-cache");
    let mine: Value = res.json().await.unwrap();
    assert_eq!(
        names(&mine),
        ["Calm Serum", "Hydra Mist", "Oil Control Gel"],
        "suited first; the fragranced cream is left out"
    );
    assert_eq!(mine["total"], 3);
    // Paging keeps the personal order.
    let first: Value = with_token(app, reqwest::Method::GET, "/v1/products?for_me=true&limit=2", token)
        .await
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest: Value =
        with_token(app, reqwest::Method::GET, &format!("/v1/products?for_me=true&limit=2&cursor={cursor}"), token)
            .await
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!([names(&first), names(&rest)].concat(), names(&mine));
    // Other filters still apply on top of the profile.
    let (_, oily) = {
        let res = with_token(app, reqwest::Method::GET, "/v1/products?for_me=true&skin_type=oily", token)
            .await
            .send()
            .await
            .unwrap();
        (res.status(), res.json::<Value>().await.unwrap())
    };
    assert_eq!(names(&oily), ["Oil Control Gel"]);
    let anonymous = app.get("/v1/products?for_me=true").await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let bad = with_token(app, reqwest::Method::GET, "/v1/products?for_me=maybe", token).await.send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let (_, again) = app.get_json("/v1/products").await;
    assert_eq!(names(&again), names(&everyone), "the shared listing is not personalised");
}

#[tokio::test]
async fn emails_requested_while_no_server_ran_are_sent_at_start_and_only_once() {
    use rouge_identity::{HashCost, IdentityService, PasswordHasher, RegisterInput};
    let db = rouge_store_tests::harness::sqlite().await;
    let opts = crate::helpers::test_options();
    // As if a server committed the registration and crashed before its relay sent the email.
    let keys = opts.identity.keys.clone();
    let hasher = PasswordHasher::new(HashCost::TEST).unwrap();
    let svc =
        IdentityService::new(db.store.clone(), keys.vault.clone(), hasher, keys.tokens.clone(), Default::default());
    let reg = RegisterInput { email: "late@example.com".into(), password: "correct horse battery".into(), name: None };
    svc.register(reg).await.unwrap();
    let app = TestApp::sqlite_on(db, opts).await;
    let mail = app.smtp.wait_for("late@example.com", "verify-email?token=").await;
    let (s, _) = post(&app, "/v1/auth/verify-email", json!({"token": link_token(&mail)})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    // A second server starting on the same store catches up too, and sends nothing again.
    let crate::helpers::Db::Sqlite(d) = &app.db else { unreachable!("a SQLite app") };
    let sink = crate::smtp::SmtpSink::start().await;
    let mut replica = crate::helpers::test_options();
    replica.identity.keys = keys;
    replica.identity.hash_cost = HashCost::TEST;
    replica.identity.mailer = rouge_messaging::Mailer::smtp(&sink.url, "Rouge Tests <shop@example.com>").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(rouge_server::launch(d.store.clone(), replica, listener, async {
        let _ = stopped.await;
    }));
    app.eventually(|| async { reqwest::get(format!("{base}/healthz")).await.is_ok() }).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.count_to("late@example.com"), 0, "the inbox claim holds across servers");
    let _ = stop.send(());
    task.await.unwrap().unwrap();
    app.stop().await;
}
