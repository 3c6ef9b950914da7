//! Tokens of an external OpenID Connect issuer: a small issuer runs in the test (discovery
//! document and JWKS over HTTP, Ed25519 keys it rotates), and Rouge accepts its tokens for the
//! customer or staff member with the token's verified email.

use crate::helpers::{OWNER_EMAIL, TestApp, test_options};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// A published key: kid, PKCS#8 DER, raw public key.
type IssuerKey = (String, Vec<u8>, Vec<u8>);

struct Issuer {
    url: String,
    /// The keys it publishes; the last one signs.
    keys: Arc<Mutex<Vec<IssuerKey>>>,
}

fn ed25519() -> (Vec<u8>, Vec<u8>) {
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
    let doc = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap();
    (doc.as_ref().to_vec(), pair.public_key().as_ref().to_vec())
}

impl Issuer {
    async fn start() -> Issuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (der, public) = ed25519();
        let keys = Arc::new(Mutex::new(vec![("key-1".to_owned(), der, public)]));
        let (u, k) = (url.clone(), keys.clone());
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(move || {
                    let u = u.clone();
                    async move { axum::Json(json!({"issuer": u, "jwks_uri": format!("{u}/jwks")})) }
                }),
            )
            .route(
                "/jwks",
                axum::routing::get(move || {
                    let keys: Vec<Value> = k
                        .lock()
                        .unwrap()
                        .iter()
                        .map(|(kid, _, public)| json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": kid, "x": URL_SAFE_NO_PAD.encode(public)}))
                        .collect();
                    async move { axum::Json(json!({ "keys": keys })) }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Issuer { url, keys }
    }

    fn rotate(&self, kid: &str) {
        let (der, public) = ed25519();
        self.keys.lock().unwrap().push((kid.to_owned(), der, public));
    }

    fn token(&self, email: &str, verified: bool, aud: &str, exp_in: i64) -> String {
        let keys = self.keys.lock().unwrap();
        let (kid, der, _) = keys.last().unwrap();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.clone());
        let now = chrono::Utc::now().timestamp();
        let claims = json!({"iss": self.url, "aud": aud, "sub": format!("ext|{email}"), "email": email,
            "email_verified": verified, "iat": now, "exp": now + exp_in});
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(der)).unwrap()
    }
}

async fn get(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    let res = app.client.get(app.url(path)).bearer_auth(token).send().await.unwrap();
    let s = res.status();
    (s, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn external_tokens_map_to_customers_and_staff_by_verified_email() {
    let issuer = Issuer::start().await;
    let mut opts = test_options();
    opts.oidc = Some((issuer.url.clone(), "rouge-shop".into()));
    let app = TestApp::sqlite_with(opts).await;

    let token = issuer.token("nina@example.com", true, "rouge-shop", 300);
    let (s, me) = get(&app, "/v1/me", &token).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(
        (me["email"].as_str(), me["email_verified"].as_bool()),
        (Some("nina@example.com"), Some(true)),
        "created on first use"
    );
    let (_, again) = get(&app, "/v1/me", &token).await;
    assert_eq!(again["id"], me["id"], "the same customer next time");
    let login = app
        .client
        .post(app.url("/v1/auth/login"))
        .json(&json!({"email": "nina@example.com", "password": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::UNAUTHORIZED, "she has no Rouge password");

    for (what, bad) in [
        ("unverified email", issuer.token("nina@example.com", false, "rouge-shop", 300)),
        ("another audience", issuer.token("nina@example.com", true, "someone-else", 300)),
        ("expired", issuer.token("nina@example.com", true, "rouge-shop", -3600)),
    ] {
        assert_eq!(get(&app, "/v1/me", &bad).await.0, StatusCode::UNAUTHORIZED, "{what}");
    }
    let forger = Issuer::start().await; // same key id, another key, another issuer
    assert_eq!(
        get(&app, "/v1/me", &forger.token("nina@example.com", true, "rouge-shop", 300)).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Staff: the owner's email from the issuer opens the admin API with the owner's role.
    let staff = issuer.token(OWNER_EMAIL, true, "rouge-shop", 300);
    let (s, roles) = get(&app, "/v1/admin/roles", &staff).await;
    assert_eq!(s, StatusCode::OK, "{roles}");
    assert_eq!(
        get(&app, "/v1/admin/roles", &token).await.0,
        StatusCode::UNAUTHORIZED,
        "a customer's email is no staff member"
    );

    // The issuer rotates its key: Rouge fetches the new set when a token names the new key.
    issuer.rotate("key-2");
    let rotated = issuer.token("nina@example.com", true, "rouge-shop", 300);
    let (s, me2) = get(&app, "/v1/me", &rotated).await;
    assert_eq!(s, StatusCode::OK, "{me2}");
    assert_eq!(me2["id"], me["id"]);
    assert_eq!(
        get(&app, "/v1/me", &token).await.0,
        StatusCode::OK,
        "tokens of the old key stay valid while it is published"
    );
    app.stop().await;
}
