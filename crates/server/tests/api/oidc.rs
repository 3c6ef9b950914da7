//! Tokens of an external OpenID Connect issuer: a small issuer runs in the test (discovery
//! document and JWKS over HTTP, Ed25519 keys it rotates), and Rouge accepts its tokens for the
//! customer or staff member with the token's verified email.

use crate::helpers::{OWNER_EMAIL, TestApp, test_options};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// A published key: its id, algorithm, private half and JWK.
type IssuerKey = (String, Algorithm, EncodingKey, Value);

struct Issuer {
    url: String,
    /// The keys it publishes; the last one signs.
    keys: Arc<Mutex<Vec<IssuerKey>>>,
}

/// A fresh key for `alg`, as the common providers sign with: EdDSA, RS256 (Keycloak's,
/// Auth0's and Entra ID's default) or ES256; with its JWK as the issuer publishes it.
fn issuer_key(kid: &str, alg: Algorithm) -> IssuerKey {
    let key = private_key(alg);
    let mut jwk = match alg {
        Algorithm::EdDSA => json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "x": ed_public(&key)}),
        _ => serde_json::to_value(jsonwebtoken::jwk::Jwk::from_encoding_key(&key, alg).unwrap()).unwrap(),
    };
    jwk["kid"] = json!(kid);
    (kid.to_owned(), alg, key, jwk)
}

/// The public half of an Ed25519 key, base64url as in a JWK's `x`.
fn ed_public(key: &EncodingKey) -> String {
    use aws_lc_rs::signature::KeyPair;
    let pair = aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(key.as_bytes()).unwrap();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())
}

fn private_key(alg: Algorithm) -> EncodingKey {
    use aws_lc_rs::encoding::AsDer;
    let rng = aws_lc_rs::rand::SystemRandom::new();
    match alg {
        Algorithm::EdDSA => {
            let doc = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
            EncodingKey::from_ed_der(doc.as_ref())
        }
        Algorithm::ES256 => {
            let doc = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &rng,
            )
            .unwrap();
            EncodingKey::from_ec_der(doc.as_ref())
        }
        Algorithm::RS256 => {
            let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
            let der = pair.as_der().unwrap();
            let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
            let pem = format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n");
            EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()
        }
        other => panic!("no test key for {other:?}"),
    }
}

impl Issuer {
    async fn start() -> Issuer {
        Self::start_with(Algorithm::EdDSA).await
    }

    async fn start_with(alg: Algorithm) -> Issuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let keys = Arc::new(Mutex::new(vec![issuer_key("key-1", alg)]));
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
                    let keys: Vec<Value> = k.lock().unwrap().iter().map(|(_, _, _, jwk)| jwk.clone()).collect();
                    async move { axum::Json(json!({ "keys": keys })) }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Issuer { url, keys }
    }

    fn rotate(&self, kid: &str) {
        let mut keys = self.keys.lock().unwrap();
        let alg = keys.last().unwrap().1;
        keys.push(issuer_key(kid, alg));
    }

    fn token(&self, email: &str, verified: bool, aud: &str, exp_in: i64) -> String {
        let keys = self.keys.lock().unwrap();
        let (kid, alg, key, _) = keys.last().unwrap();
        let mut header = Header::new(*alg);
        header.kid = Some(kid.clone());
        let now = chrono::Utc::now().timestamp();
        let claims = json!({"iss": self.url, "aud": aud, "sub": format!("ext|{email}"), "email": email,
            "email_verified": verified, "iat": now, "exp": now + exp_in});
        jsonwebtoken::encode(&header, &claims, key).unwrap()
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

async fn app_with(issuer: &Issuer, pg: bool) -> Option<TestApp> {
    let mut opts = test_options();
    opts.oidc = Some((issuer.url.clone(), "rouge-shop".into()));
    TestApp::on(pg, opts).await
}

/// The algorithms of the common providers: customers and staff alike, on both stores.
async fn tokens_of_a_common_provider_work(alg: Algorithm, pg: bool) {
    let issuer = Issuer::start_with(alg).await;
    let Some(app) = app_with(&issuer, pg).await else { return };
    let (s, me) = get(&app, "/v1/me", &issuer.token("rosa@example.com", true, "rouge-shop", 300)).await;
    assert_eq!((s, me["email"].as_str()), (StatusCode::OK, Some("rosa@example.com")), "{alg:?}: {me}");
    let (s, roles) = get(&app, "/v1/admin/roles", &issuer.token(OWNER_EMAIL, true, "rouge-shop", 300)).await;
    assert_eq!(s, StatusCode::OK, "{alg:?}: {roles}");
    let forger = Issuer::start_with(alg).await;
    let forged = forger.token("rosa@example.com", true, "rouge-shop", 300);
    assert_eq!(get(&app, "/v1/me", &forged).await.0, StatusCode::UNAUTHORIZED, "{alg:?}: another key");
    assert_eq!(
        get(&app, "/v1/me", &issuer.token("rosa@example.com", true, "rouge-shop", -30)).await.0,
        StatusCode::UNAUTHORIZED,
        "{alg:?}: expired beyond the leeway"
    );
    app.stop().await;
}

#[tokio::test]
async fn sqlite_rs256_tokens_work() {
    tokens_of_a_common_provider_work(Algorithm::RS256, false).await;
}

#[tokio::test]
async fn postgres_rs256_tokens_work() {
    tokens_of_a_common_provider_work(Algorithm::RS256, true).await;
}

#[tokio::test]
async fn sqlite_es256_tokens_work() {
    tokens_of_a_common_provider_work(Algorithm::ES256, false).await;
}

#[tokio::test]
async fn postgres_es256_tokens_work() {
    tokens_of_a_common_provider_work(Algorithm::ES256, true).await;
}

#[tokio::test]
async fn sqlite_eddsa_tokens_work() {
    tokens_of_a_common_provider_work(Algorithm::EdDSA, false).await;
}

#[tokio::test]
async fn postgres_eddsa_tokens_work() {
    tokens_of_a_common_provider_work(Algorithm::EdDSA, true).await;
}

/// Account pre-hijacking over HTTP: an attacker registers the victim's address and tries to
/// log in (refused: not verified); she later signs in through the provider and lands in an
/// account that is hers alone: his password no longer opens it and his name is gone.
async fn a_squatted_address_goes_to_its_verified_owner(pg: bool) {
    let issuer = Issuer::start_with(Algorithm::RS256).await;
    let Some(app) = app_with(&issuer, pg).await else { return };
    let post = |path: &'static str, body: Value| {
        let req = app.client.post(app.url(path)).json(&body);
        async move {
            let res = req.send().await.unwrap();
            let s = res.status();
            (s, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let creds = json!({"email": "vera@example.com", "password": "attacker passphrase"});
    let (s, _) = post(
        "/v1/auth/register",
        json!({"email": "vera@example.com", "password": "attacker passphrase", "name": "Mallory"}),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, p) = post("/v1/auth/login", creds.clone()).await;
    assert_eq!((s, p["type"].as_str()), (StatusCode::FORBIDDEN, Some("/problems/email-not-verified")), "{p}");

    let (s, me) = get(&app, "/v1/me", &issuer.token("vera@example.com", true, "rouge-shop", 300)).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!((me["email_verified"].as_bool(), &me["name"]), (Some(true), &Value::Null), "{me}");
    let (s, _) = post("/v1/auth/login", creds).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the squatter's password no longer opens it");
    app.stop().await;
}

#[tokio::test]
async fn sqlite_a_squatted_address_goes_to_its_verified_owner() {
    a_squatted_address_goes_to_its_verified_owner(false).await;
}

#[tokio::test]
async fn postgres_a_squatted_address_goes_to_its_verified_owner() {
    a_squatted_address_goes_to_its_verified_owner(true).await;
}
