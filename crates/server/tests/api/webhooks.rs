//! Outbound webhooks end to end: staff register an endpoint (a receiver the test runs), the
//! shop's events arrive signed per Standard Webhooks (checked by the reference library), a
//! failing receiver is retried until it answers, a rotation signs with both secrets, a replay
//! sends the same message again, an endpoint that keeps failing is disabled and staff are
//! emailed; targets in internal ranges are refused on a shop that does not allow them.

use crate::helpers::{TestApp, test_options};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

crate::on_both_stores!(internal_targets_and_unknown_event_types_are_refused);

/// What the receiver got: (headers, body).
type Seen = Arc<Mutex<Vec<(reqwest::header::HeaderMap, String)>>>;

/// A receiver on 127.0.0.1: fails while `fail` is positive (counting down; negative: always).
async fn receiver() -> (String, Seen, Arc<AtomicI64>) {
    let seen: Seen = Arc::default();
    let fail = Arc::new(AtomicI64::new(0));
    let (s, f) = (seen.clone(), fail.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let (s, f) = (s.clone(), f.clone());
            async move {
                let mut h = reqwest::header::HeaderMap::new();
                for (k, v) in &headers {
                    h.insert(
                        reqwest::header::HeaderName::from_bytes(k.as_str().as_bytes()).unwrap(),
                        v.to_str().unwrap().parse().unwrap(),
                    );
                }
                s.lock().unwrap().push((h, body));
                let left = f.load(Ordering::SeqCst);
                if left > 0 {
                    f.fetch_sub(1, Ordering::SeqCst);
                }
                if left != 0 { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::NO_CONTENT }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen, fail)
}

/// Verifies with the Standard Webhooks reference library; `None` when it is not installed.
fn reference_verifies(secret: &str, headers: &reqwest::header::HeaderMap, body: &str) -> Option<bool> {
    let script = "import os\nfrom standardwebhooks.webhooks import Webhook\n\
        h = {k: os.environ[k.upper().replace('-', '_')] for k in ('webhook-id', 'webhook-timestamp', 'webhook-signature')}\n\
        try:\n    Webhook(os.environ['SECRET']).verify(os.environ['BODY'], h)\n    print('verified')\n\
        except Exception as e:\n    print('refused', e)\n";
    let get = |k: &str| headers.get(k).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .env("SECRET", secret)
        .env("WEBHOOK_ID", get("webhook-id"))
        .env("WEBHOOK_TIMESTAMP", get("webhook-timestamp"))
        .env("WEBHOOK_SIGNATURE", get("webhook-signature"))
        .env("BODY", body)
        .output()
        .ok()?;
    if String::from_utf8_lossy(&out.stderr).contains("ModuleNotFoundError") {
        crate::helpers::tool_missing(
            "the standardwebhooks package",
            ".ci/run installs it from scripts/requirements-ci.txt",
        );
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim() == "verified")
}

async fn until<F: Fn() -> bool>(what: &str, f: F) {
    for _ in 0..300 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what} did not happen");
}

fn options() -> rouge_server::Options {
    let mut opts = test_options();
    opts.webhooks = rouge_server::webhooks::WebhookOptions {
        retries: vec![Duration::from_millis(50), Duration::from_millis(50), Duration::from_millis(50)],
        allow_internal: true,
        disable_after: 3,
        alerts_to: Some("ops@shop.example".into()),
    };
    opts
}

/// An endpoint's secrets as the store keeps them.
async fn stored_secrets(app: &TestApp, id: &str) -> rouge_webhooks::Secrets {
    use rouge_webhooks::WebhookRepository;
    let id: uuid::Uuid = id.parse().unwrap();
    let found = match &app.db {
        crate::helpers::Db::Sqlite(d) => d.store.endpoint(id).await,
        crate::helpers::Db::Postgres(d) => d.store.endpoint(id).await,
    };
    found.unwrap().unwrap().1
}

/// Stores an endpoint whose secret is in the clear, as before secrets were sealed, and seals it
/// as a start does: the stored one is sealed and opens to the same secret (returned).
async fn legacy_endpoint_is_sealed(app: &TestApp) -> String {
    async fn on<S: rouge_http::Store>(store: &S, keys: &rouge_identity::Keys) -> String {
        let hasher = rouge_identity::PasswordHasher::new(rouge_identity::HashCost::TEST).unwrap();
        let identity = rouge_identity::IdentityService::new(
            store.clone(),
            keys.vault.clone(),
            hasher,
            keys.tokens.clone(),
            Default::default(),
        );
        let sealer = rouge_server::wiring::VaultSealer(identity);
        let now = chrono::Utc::now().timestamp_millis();
        let e = rouge_webhooks::Endpoint {
            id: uuid::Uuid::now_v7(),
            url: "https://hooks.example/legacy".into(),
            description: "from before secrets were sealed".into(),
            event_types: vec!["order.placed".into()],
            enabled: false,
            disabled_reason: None,
            failures: 0,
            created_at: now,
            updated_at: now,
        };
        let plain = rouge_webhooks::Secret::generate().expose();
        store.create_endpoint(&e, &plain).await.unwrap();
        assert!(rouge_http::rest::webhooks::reseal_secrets(store, &sealer).await.unwrap() >= 1);
        assert_eq!(rouge_http::rest::webhooks::reseal_secrets(store, &sealer).await.unwrap(), 0, "once");
        let (_, stored) = store.endpoint(e.id).await.unwrap().unwrap();
        assert!(stored.current.starts_with("rouge-sealed-v1:") && !stored.current.contains(&plain));
        let (opened, _) = rouge_http::rest::webhooks::open_secrets(&sealer, e.id, &stored, now).unwrap();
        assert_eq!(opened, plain, "the same secret signs");
        store.delete_endpoint(e.id).await.unwrap();
        opened
    }
    match &app.db {
        crate::helpers::Db::Sqlite(d) => on(&d.store, &app.keys).await,
        crate::helpers::Db::Postgres(d) => on(&d.store, &app.keys).await,
    }
}

async fn webhooks_are_signed_retried_rotated_replayed_and_disabled(app: &TestApp) {
    // Staff who manage webhooks hear when an endpoint is disabled; others do not.
    let (s, role) =
        app.post("/v1/admin/roles", json!({"name": "Integrations", "permissions": ["webhooks:manage"]})).await;
    assert_eq!(s, StatusCode::CREATED, "{role}");
    for (email, role_id) in
        [("ines@shop.example", role["id"].clone()), ("sam@shop.example", json!("01960000-0000-7000-8000-000000000003"))]
    {
        let staff = json!({"email": email, "name": "Staff Member", "password": "staff passphrase", "role_id": role_id});
        let (s, b) = app.post("/v1/admin/staff", staff).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let (url, seen, fail) = receiver().await;
    let (s, made) =
        app.post("/v1/admin/webhooks", json!({"url": url, "event_types": ["BrandSaved"], "description": "ERP"})).await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    let (id, secret) = (made["id"].as_str().unwrap().to_owned(), made["secret"].as_str().unwrap().to_owned());
    assert!(secret.starts_with("whsec_"));
    let (_, listed) = app.get_json_as_admin("/v1/admin/webhooks").await;
    assert_eq!(listed["items"][0]["id"], id.as_str());
    assert!(!listed.to_string().contains(&secret), "the secret is shown once");

    // An event it wants arrives, signed; one it does not want does not.
    app.brand("Lumen Lab").await;
    until("the first delivery", || seen.lock().unwrap().len() == 1).await;
    let (headers, body) = seen.lock().unwrap()[0].clone();
    let doc: Value = serde_json::from_str(&body).unwrap();
    // `data` is the event's payload as the AsyncAPI document describes it.
    assert_eq!(
        (doc["type"].as_str(), doc["data"]["data"]["name"].as_str()),
        (Some("BrandSaved"), Some("Lumen Lab")),
        "{doc}"
    );
    let first_id = headers["webhook-id"].to_str().unwrap().to_owned();
    assert!(first_id.starts_with("msg_"));
    if let Some(ok) = reference_verifies(&secret, &headers, &body) {
        assert!(ok, "the reference library verifies it");
        assert_eq!(reference_verifies(&secret, &headers, &body.replace("Lumen", "Lumin")), Some(false));
    }
    let (s, _) = app.post("/v1/admin/categories", json!({"name": "Serums"})).await;
    assert_eq!(s, StatusCode::CREATED);

    // A receiver that fails twice: the third attempt delivers.
    fail.store(2, Ordering::SeqCst);
    app.brand("Maison Rose").await;
    until("three attempts", || seen.lock().unwrap().len() == 4).await;
    let mut delivered = Value::Null;
    for _ in 0..100 {
        delivered = app.get_json_as_admin(&format!("/v1/admin/webhooks/{id}/deliveries?state=delivered")).await.1;
        if delivered["items"].as_array().is_some_and(|i| i.len() == 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(delivered["items"][0]["attempts"], 3, "{delivered}");
    assert_eq!(delivered["items"][0]["last_status"], 204);
    assert_eq!(seen.lock().unwrap().iter().filter(|(h, _)| h["webhook-id"] == first_id.as_str()).count(), 1);
    assert_eq!(seen.lock().unwrap().len(), 4, "no category events: it did not ask for them");

    // A rotation: both secrets sign for a day.
    let (s, rotated) = app.post(&format!("/v1/admin/webhooks/{id}/rotate-secret"), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    app.brand("Nord").await;
    until("the delivery after the rotation", || seen.lock().unwrap().len() == 5).await;
    let (headers, body) = seen.lock().unwrap()[4].clone();
    assert_eq!(headers["webhook-signature"].to_str().unwrap().split(' ').count(), 2);
    if reference_verifies(&new_secret, &headers, &body).is_some() {
        assert_eq!(reference_verifies(&new_secret, &headers, &body), Some(true), "the new secret");
        assert_eq!(reference_verifies(&secret, &headers, &body), Some(true), "the old one, during the rotation");
    }

    // Both secrets are stored sealed; one stored in the clear (by an earlier version) is
    // sealed by the next start's pass, and still signs as before.
    let stored = stored_secrets(app, &id).await;
    assert!(stored.current.starts_with("rouge-sealed-v1:") && !stored.current.contains(&new_secret), "{stored:?}");
    let previous = stored.previous.clone().unwrap().0;
    assert!(previous.starts_with("rouge-sealed-v1:") && !previous.contains(&secret), "{stored:?}");
    let legacy = legacy_endpoint_is_sealed(app).await;
    assert!(legacy.starts_with("whsec_"));

    // A replay sends the same message again.
    let event = first_id.trim_start_matches("msg_");
    let event = uuid::Uuid::parse_str(event).unwrap();
    let (s, _) = app.post(&format!("/v1/admin/webhooks/{id}/deliveries/{event}/replay"), json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    until("the replay", || {
        seen.lock().unwrap().iter().filter(|(h, _)| h["webhook-id"] == first_id.as_str()).count() == 2
    })
    .await;

    // A receiver that keeps failing: the endpoint is disabled and staff are told.
    fail.store(-1, Ordering::SeqCst);
    app.brand("Kori").await;
    app.smtp.wait_for("ops@shop.example", "was disabled").await;
    app.smtp.wait_for("ines@shop.example", "was disabled").await;
    assert!(
        !app.smtp.mails().iter().any(|m| m.contains("sam@shop.example") && m.contains("was disabled")),
        "a catalogue editor is not told"
    );
    let (_, endpoint) = app.get_json_as_admin(&format!("/v1/admin/webhooks/{id}")).await;
    assert_eq!((endpoint["enabled"].as_bool(), endpoint["failures"].as_i64()), (Some(false), Some(3)), "{endpoint}");
    let (_, failed) = app.get_json_as_admin(&format!("/v1/admin/webhooks/{id}/deliveries?state=failed")).await;
    assert_eq!(failed["items"].as_array().map(Vec::len), Some(0), "retries left: it stays pending: {failed}");
    // Enabled again, it delivers what waited.
    fail.store(0, Ordering::SeqCst);
    let res = app.admin(reqwest::Method::PATCH, &format!("/v1/admin/webhooks/{id}"), &json!({"enabled": true})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (_, trail) = app.get_json_as_admin("/v1/admin/audit?route=/v1/admin/webhooks").await;
    assert!(trail["items"].as_array().is_some_and(|i| !i.is_empty()), "registering is audited: {trail}");
}

#[tokio::test]
async fn sqlite_webhooks_are_signed_retried_rotated_replayed_and_disabled() {
    let app = TestApp::sqlite_with(options()).await;
    webhooks_are_signed_retried_rotated_replayed_and_disabled(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn postgres_webhooks_are_signed_retried_rotated_replayed_and_disabled() {
    let Some(app) = TestApp::postgres_with(options()).await else { return };
    webhooks_are_signed_retried_rotated_replayed_and_disabled(&app).await;
    app.stop().await;
}

async fn internal_targets_and_unknown_event_types_are_refused(app: &TestApp) {
    for (url, types, field) in [
        ("http://127.0.0.1:9/hook", json!(["BrandSaved"]), "url"),
        ("http://169.254.169.254/latest/meta-data/", json!(["*"]), "url"),
        ("http://[::1]/hook", json!(["*"]), "url"),
        ("ftp://hooks.example.com/", json!(["*"]), "url"),
        ("https://hooks.example.com/rouge", json!(["brand.saved"]), "event_types[0]"),
        ("https://hooks.example.com/rouge", json!([]), "event_types"),
        ("https://hooks.example.com/rouge", json!(["EmailRequested"]), "event_types[0]"),
    ] {
        let (s, p) = app.post("/v1/admin/webhooks", json!({"url": url, "event_types": types})).await;
        assert_eq!(
            (s, p["errors"][0]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{url}: {p}"
        );
    }
    let (_, listed) = app.get_json_as_admin("/v1/admin/webhooks").await;
    assert_eq!(listed["items"], json!([]), "nothing was registered");
    let (s, _) =
        app.post("/v1/admin/webhooks", json!({"url": "https://hooks.example.com/rouge", "event_types": ["*"]})).await;
    assert_eq!(s, StatusCode::CREATED, "a public target");
}

/// Staff manage endpoints in GraphQL as over REST: register (the secret once), deliveries
/// arrive signed and are listed, rotate, disable, replay, delete; customers cannot; every
/// change is audited under its REST route.
async fn staff_manage_webhooks_in_graphql(app: &TestApp) {
    use crate::graphql::gql_as;
    let (url, seen, _) = receiver().await;
    let admin = app.admin_key.clone();
    let create = "mutation($i: JSON!) { createWebhookEndpoint(input: $i) }";
    let input = json!({"i": {"url": url, "event_types": ["BrandSaved"], "description": "ERP"}});
    let res = gql_as(app, None, create, input.clone()).await;
    assert!(res["errors"].is_array(), "staff only: {res}");
    let res = gql_as(app, Some(&admin), create, input).await;
    let made = &res["data"]["createWebhookEndpoint"];
    let secret = made["secret"].as_str().unwrap_or_else(|| panic!("{res}")).to_owned();
    assert!(secret.starts_with("whsec_"), "{made}");
    let id = made["id"].as_str().unwrap().to_owned();
    let res = gql_as(app, Some(&admin), "{ webhookEndpoints }", json!({})).await;
    assert_eq!(res["data"]["webhookEndpoints"][0]["id"], id.as_str());
    assert!(!res.to_string().contains(&secret), "a listing never shows the secret");

    app.brand("Hooked Brand").await;
    until("the brand's event delivered", || !seen.lock().unwrap().is_empty()).await;
    let (headers, body) = seen.lock().unwrap()[0].clone();
    if let Some(ok) = reference_verifies(&secret, &headers, &body) {
        assert!(ok, "signed with the secret GraphQL gave");
    }
    let deliveries = "query($e: UUID!) { webhookDeliveries(endpointId: $e, state: \"delivered\") }";
    let mut listed = Value::Null;
    for _ in 0..100 {
        listed = gql_as(app, Some(&admin), deliveries, json!({"e": id})).await;
        if listed["data"]["webhookDeliveries"].as_array().is_some_and(|d| !d.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let event =
        listed["data"]["webhookDeliveries"][0]["event_id"].as_str().unwrap_or_else(|| panic!("{listed}")).to_owned();

    let rotate = "mutation($id: UUID!) { rotateWebhookSecret(id: $id) }";
    let res = gql_as(app, Some(&admin), rotate, json!({"id": id})).await;
    let fresh = res["data"]["rotateWebhookSecret"]["secret"].as_str().unwrap_or_else(|| panic!("{res}"));
    assert!(fresh.starts_with("whsec_") && fresh != secret);
    let update = "mutation($id: UUID!, $i: JSON!) { updateWebhookEndpoint(id: $id, input: $i) }";
    let res = gql_as(app, Some(&admin), update, json!({"id": id, "i": {"enabled": false}})).await;
    assert_eq!(res["data"]["updateWebhookEndpoint"]["disabled_reason"], "disabled by staff", "{res}");
    let replay = "mutation($e: UUID!, $v: UUID!) { replayWebhookDelivery(endpointId: $e, eventId: $v) }";
    let res = gql_as(app, Some(&admin), replay, json!({"e": id, "v": event})).await;
    assert_eq!(res["data"]["replayWebhookDelivery"], true, "{res}");
    let delete = "mutation($id: UUID!) { deleteWebhookEndpoint(id: $id) }";
    let res = gql_as(app, Some(&admin), delete, json!({"id": id})).await;
    assert_eq!(res["data"]["deleteWebhookEndpoint"], true, "{res}");
    let res = gql_as(app, Some(&admin), delete, json!({"id": id})).await;
    assert!(res["errors"].is_array(), "gone: {res}");
    let (_, audit) = app.get_json_as_admin("/v1/admin/audit?limit=100").await;
    for route in ["/v1/admin/webhooks", "rotate-secret", "/replay"] {
        assert!(audit.to_string().contains(route), "{route} audited: {audit}");
    }
    let deletes = audit["items"].as_array().unwrap().iter().filter(|e| e["action"] == "DELETE").count();
    assert_eq!(deletes, 1, "a deletion that found nothing leaves no entry: {audit}");
}

#[tokio::test]
async fn sqlite_staff_manage_webhooks_in_graphql() {
    let app = TestApp::sqlite_with(options()).await;
    staff_manage_webhooks_in_graphql(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn postgres_staff_manage_webhooks_in_graphql() {
    let Some(app) = TestApp::postgres_with(options()).await else { return };
    staff_manage_webhooks_in_graphql(&app).await;
    app.stop().await;
}
