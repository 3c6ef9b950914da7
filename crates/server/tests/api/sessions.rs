//! An access token lives no longer than its session: after a log-out, a refresh-token replay,
//! a password reset or an erasure, the session's access tokens stop working within a second,
//! on every replica (the store says which sessions ended); a disabled staff member's token
//! stops at once. Each case is tried on a second server sharing the store.

use crate::accounts::customer;
use crate::helpers::TestApp;
use crate::smtp::link_token;
use reqwest::StatusCode;
use serde_json::{Value, json};

crate::on_both_stores!(an_ended_session_stops_its_access_tokens_on_every_replica);

async fn post(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    let res = app.client.post(app.url(path)).json(&body).send().await.unwrap();
    let s = res.status();
    (s, res.json().await.unwrap_or(Value::Null))
}

/// What a token gets on `base`: reading her account, and making a cart.
async fn answers(app: &TestApp, base: &str, token: &str) -> (StatusCode, StatusCode) {
    let me = app.client.get(format!("{base}/v1/me")).bearer_auth(token).send().await.unwrap().status();
    let cart = app.client.post(format!("{base}/v1/carts")).bearer_auth(token).send().await.unwrap().status();
    (me, cart)
}

/// Waits (up to the helper's liveness deadline) until the token is refused everywhere.
async fn refused_everywhere(app: &TestApp, bases: &[&str], token: &str) {
    for base in bases {
        app.eventually(|| async {
            answers(app, base, token).await == (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
        })
        .await;
    }
}

async fn login(app: &TestApp, email: &str, password: &str) -> Value {
    let (s, session) = post(app, "/v1/auth/login", json!({"email": email, "password": password})).await;
    assert_eq!(s, StatusCode::OK, "{session}");
    session
}

fn access(session: &Value) -> &str {
    session["access_token"].as_str().unwrap()
}

async fn an_ended_session_stops_its_access_tokens_on_every_replica(app: &TestApp) {
    let replica = app.replica().await;
    let bases = [app.base.as_str(), replica.base.as_str()];
    let email = "lou@example.com";
    let pw = "correct horse battery";

    // Log-out.
    let first = customer(app, email).await;
    let other_device = login(app, email, pw).await;
    for base in bases {
        assert_eq!(answers(app, base, access(&first)).await.0, StatusCode::OK, "works before");
    }
    let (s, _) = post(app, "/v1/auth/logout", json!({"refresh_token": first["refresh_token"]})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    refused_everywhere(app, &bases, access(&first)).await;
    assert_eq!(answers(app, &replica.base, access(&other_device)).await.0, StatusCode::OK, "her other sessions go on");

    // A replayed refresh token ends its whole session, the access tokens of the thief and of
    // the rightful holder alike.
    let (s, rotated) = post(app, "/v1/auth/refresh", json!({"refresh_token": other_device["refresh_token"]})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = post(app, "/v1/auth/refresh", json!({"refresh_token": other_device["refresh_token"]})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    refused_everywhere(app, &bases, access(&rotated)).await;
    refused_everywhere(app, &bases, access(&other_device)).await;

    // A password reset ends every session.
    let before_reset = login(app, email, pw).await;
    let (s, _) = post(app, "/v1/auth/password-reset", json!({"email": email})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let mail = app.smtp.wait_for(email, "reset-password?token=").await;
    let new_pw = "a brand new passphrase";
    let (s, _) =
        post(app, "/v1/auth/password-reset/confirm", json!({"token": link_token(&mail), "password": new_pw})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    refused_everywhere(app, &bases, access(&before_reset)).await;

    // Erasure: every session of the account ends, so no token of hers makes a cart again.
    let erasing = login(app, email, new_pw).await;
    let elsewhere = login(app, email, new_pw).await;
    let res = app.client.delete(app.url("/v1/me")).bearer_auth(access(&erasing)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    refused_everywhere(app, &bases, access(&elsewhere)).await;

    // Staff: a disabled member's token stops at once, on every replica.
    let (_, roles) = app.get_json_as_admin("/v1/admin/roles").await;
    let support = roles["items"].as_array().unwrap().iter().find(|r| r["name"] == "support").unwrap()["id"].clone();
    let staff = json!({"email": "sol@shop.example", "name": "Sol", "password": "staff passphrase", "role_id": support});
    let (s, sol) = app.post("/v1/admin/staff", staff).await;
    assert_eq!(s, StatusCode::CREATED, "{sol}");
    let res = app
        .client
        .post(app.url("/v1/admin/auth/login"))
        .json(&json!({"email": "sol@shop.example", "password": "staff passphrase"}))
        .send()
        .await
        .unwrap();
    let sol_token = res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    let orders = |base: &str| {
        let req = app.client.get(format!("{base}/v1/admin/orders")).bearer_auth(&sol_token);
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(orders(&replica.base).await, StatusCode::OK);
    let res = app
        .admin(
            reqwest::Method::PATCH,
            &format!("/v1/admin/staff/{}", sol["id"].as_str().unwrap()),
            &json!({"disabled": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    for base in bases {
        assert_eq!(orders(base).await, StatusCode::UNAUTHORIZED, "disabled at once on {base}");
    }
    replica.stop().await;
}
