//! Accepting access tokens from an external OpenID Connect issuer (a shop's Auth0, Keycloak,
//! Entra ID…). The issuer's discovery document names its JWKS; keys are cached by key id and
//! fetched again when a token names a key not yet seen (the issuer rotated), at most every
//! few seconds, so forged key ids cannot make Rouge hammer the issuer.
//!
//! A verified token maps to Rouge by its verified `email` claim: to the staff member with that
//! email on the admin API, otherwise to the customer with that email (created on first use).

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// The least time between two fetches of the JWKS.
const REFETCH: Duration = Duration::from_secs(10);

pub struct Oidc {
    issuer: String,
    audience: String,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, (DecodingKey, Algorithm)>>,
    fetched: tokio::sync::Mutex<Option<Instant>>,
}

/// The claims Rouge reads from an external token.
#[derive(Debug, Clone, Deserialize)]
pub struct ExternalClaims {
    pub sub: String,
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl Oidc {
    /// Tokens must name `issuer` and `audience`.
    pub fn new(issuer: &str, audience: &str) -> Self {
        Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            audience: audience.to_owned(),
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("an HTTP client"),
            keys: RwLock::new(HashMap::new()),
            fetched: tokio::sync::Mutex::new(None),
        }
    }

    /// Reads the discovery document and the JWKS.
    ///
    /// # Errors
    /// When either cannot be fetched or read, or the document names another issuer.
    pub async fn refresh(&self) -> Result<usize, String> {
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let d: Discovery = self.get(&url).await?;
        if d.issuer.trim_end_matches('/') != self.issuer {
            return Err(format!("the discovery document names issuer {}, not {}", d.issuer, self.issuer));
        }
        let set: JwkSet = self.get(&d.jwks_uri).await?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let (Some(kid), Ok(key)) = (jwk.common.key_id.clone(), DecodingKey::from_jwk(jwk)) else { continue };
            let alg = match jwk.common.key_algorithm.map(Algorithm::try_from) {
                Some(Ok(a)) => a,
                _ => match &jwk.algorithm {
                    jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
                    jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                    jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
                    _ => continue,
                },
            };
            // Shared-secret algorithms have no place in a public key set.
            if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
                continue;
            }
            keys.insert(kid, (key, alg));
        }
        let n = keys.len();
        *self.keys.write().expect("keys lock") = keys;
        tracing::info!(issuer = %self.issuer, keys = n, "OpenID Connect keys loaded");
        Ok(n)
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let res = self.http.get(url).send().await.map_err(|e| format!("fetching {url}: {e}"))?;
        if !res.status().is_success() {
            return Err(format!("fetching {url}: HTTP {}", res.status()));
        }
        res.json().await.map_err(|e| format!("reading {url}: {e}"))
    }

    async fn key(&self, kid: &str) -> Option<(DecodingKey, Algorithm)> {
        if let Some(k) = self.keys.read().expect("keys lock").get(kid) {
            return Some(k.clone());
        }
        let mut last = self.fetched.lock().await;
        if last.is_none_or(|t| t.elapsed() >= REFETCH) {
            *last = Some(Instant::now());
            if let Err(e) = self.refresh().await {
                tracing::warn!(error = %e, "cannot refresh the OpenID Connect keys");
            }
        }
        drop(last);
        self.keys.read().expect("keys lock").get(kid).cloned()
    }

    /// Verifies a token of the configured issuer and audience.
    ///
    /// # Errors
    /// A reason, for the log; the client only learns that the token is not valid.
    pub async fn verify(&self, token: &str) -> Result<ExternalClaims, String> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
        let kid = header.kid.ok_or("the token names no key")?;
        let (key, alg) = self.key(&kid).await.ok_or_else(|| format!("the issuer has no key {kid}"))?;
        if header.alg != alg {
            return Err(format!("the token says {:?}, its key is for {alg:?}", header.alg));
        }
        let mut v = Validation::new(alg);
        v.set_issuer(&[&self.issuer, &format!("{}/", self.issuer)]);
        v.set_audience(&[&self.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = rouge_identity::tokens::LEEWAY_SECS;
        jsonwebtoken::decode::<ExternalClaims>(token, &key, &v).map(|d| d.claims).map_err(|e| e.to_string())
    }

    /// The verified email of a token, which is what Rouge maps on.
    ///
    /// # Errors
    /// When the token is not valid or carries no verified email.
    pub async fn verified_email(&self, token: &str) -> Result<String, String> {
        let c = self.verify(token).await?;
        match c.email {
            Some(e) if c.email_verified => Ok(e),
            _ => Err(format!("token of {} carries no verified email", c.sub)),
        }
    }
}
