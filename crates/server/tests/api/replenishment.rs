//! Replenishment reminders end to end, on both stores: an order of a 30 ml serum plans a
//! reminder from its size and a usage rate; when due it is emailed once, with a one-click
//! reorder link; the link makes a cart of the line (the same cart when used again); an
//! unknown link is refused.

use crate::checkout::{SKU, complete, ready_cart, stocked};
use crate::helpers::{TestApp, test_options};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

fn options() -> rouge_server::Options {
    let mut opts = test_options();
    // Due at once: 60 days before a 30-day serum runs out, and no wait after the purchase.
    opts.replenishment = rouge_server::replenishment::ReplenishmentOptions {
        days_before: 60,
        every: Duration::from_millis(100),
        not_before: Duration::ZERO,
    };
    opts
}

async fn a_reminder_is_emailed_once_and_its_link_reorders(app: &TestApp) {
    stocked(app, SKU, 10).await;
    let ana = crate::accounts::customer(app, "ana.refill@example.com").await;
    let ana = ana["access_token"].as_str().unwrap();
    let cart = ready_cart(app, SKU, 1, Some(ana)).await;
    let res = complete(app, &cart, Some("refill"), "tok_visa", Some(ana)).await;
    assert_eq!(res.status(), StatusCode::CREATED);

    // ready_cart's email receives the order's mail and the reminder.
    let mail = app.smtp.wait_for("camille@example.com", "Running low on").await;
    assert!(mail.contains("1 × 30 ml at about 1.00 ml a day"), "the basis in words: {mail}");
    let token = mail.split("reorder?token=").nth(1).expect("a reorder link").split_whitespace().next().unwrap();
    let token: String = token.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = app.smtp.mails().iter().filter(|m| m.contains("Running low on")).count();
    assert_eq!(sent, 1, "emailed once");
    // Told once (a CRM may follow up), without the link's token.
    let told = app.events_of("replenishment.reminder_sent").await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!((told[0].payload["sku"].as_str(), told[0].payload["state"].as_str()), (Some(SKU), Some("sent")));
    assert!(!told[0].payload.to_string().contains(&token), "{:?}", told[0].payload);

    let res = app.client.put(app.url(&format!("/v1/reorders/{token}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let made: Value = res.json().await.unwrap();
    assert_eq!((made["lines"][0]["sku"].as_str(), made["lines"][0]["quantity"].as_i64()), (Some(SKU), Some(1)));
    let res = app.client.put(app.url(&format!("/v1/reorders/{token}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["id"], made["id"], "one cart per link");
    let res = app.client.put(app.url("/v1/reorders/not-a-token")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let q = "mutation($t: String!) { reorder(token: $t) { id lines { sku quantity } } }";
    let res = crate::graphql::gql_as(app, None, q, serde_json::json!({"t": token})).await;
    assert_eq!(res["data"]["reorder"]["id"], made["id"], "GraphQL gives the link's cart too: {res}");
    let res = crate::graphql::gql_as(app, None, q, serde_json::json!({"t": "nope"})).await;
    assert!(res["errors"].is_array(), "{res}");
}

#[tokio::test]
async fn sqlite_a_reminder_is_emailed_once_and_its_link_reorders() {
    let app = TestApp::sqlite_with(options()).await;
    a_reminder_is_emailed_once_and_its_link_reorders(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn postgres_a_reminder_is_emailed_once_and_its_link_reorders() {
    let Some(app) = TestApp::postgres_with(options()).await else { return };
    a_reminder_is_emailed_once_and_its_link_reorders(&app).await;
    app.stop().await;
}
