//! Access tokens (JWT, EdDSA over Ed25519, key id in the header) and opaque secrets (refresh
//! tokens, email links) that the store keeps only as SHA-256 hashes.
//!
//! Several keys may verify at once and one signs: rotating is adding a new key that signs
//! while the old one keeps verifying until the last token it signed has expired.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use uuid::Uuid;

/// How far clocks may disagree when checking `exp` (of Rouge's and external tokens).
pub const LEEWAY_SECS: u64 = 5;

/// Who a token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    Customer,
    Staff,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: Uuid,
    pub kind: Subject,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
    /// The session (log-in) the token belongs to: a customer's token stops working the moment
    /// its session ends (log-out, refresh-token reuse, password reset, erasure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
}

/// The audience of the tokens Rouge's services send each other.
pub const SERVICE_AUDIENCE: &str = "rouge-services";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ServiceClaims {
    iss: String,
    aud: String,
    sub: String,
    iat: i64,
    exp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token was signed by a key this server does not know")]
    UnknownKey,
    #[error("the token is not valid: {0}")]
    Invalid(String),
    #[error("key `{0}` is not an Ed25519 private key in PKCS#8 PEM")]
    BadKey(String),
}

/// An Ed25519 signing key with its id.
pub struct SigningKey {
    pub kid: String,
    pkcs8: Vec<u8>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, <redacted>)", self.kid)
    }
}

impl SigningKey {
    pub fn generate(kid: &str) -> Self {
        let doc = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new()).expect("key generation");
        Self { kid: kid.to_owned(), pkcs8: doc.as_ref().to_vec() }
    }

    /// # Errors
    /// `BadKey` when `pem` is not an Ed25519 PKCS#8 private key.
    pub fn from_pem(kid: &str, pem: &str) -> Result<Self, TokenError> {
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
        let der = STANDARD.decode(b64).map_err(|_| TokenError::BadKey(kid.to_owned()))?;
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|_| TokenError::BadKey(kid.to_owned()))?;
        Ok(Self { kid: kid.to_owned(), pkcs8: der })
    }

    pub fn to_pem(&self) -> String {
        let b64 = STANDARD.encode(&self.pkcs8);
        let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).expect("base64")).collect();
        format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n"))
    }

    fn public(&self) -> Vec<u8> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&self.pkcs8).expect("checked when loaded");
        pair.public_key().as_ref().to_vec()
    }
}

/// Issues and verifies access tokens.
#[derive(Clone)]
pub struct TokenKeys {
    signing_kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
    pub access_ttl_secs: i64,
    /// Access tokens verified lately (by their SHA-256), with their claims: a shopper's next
    /// request does not check the signature again (it is most of a logged-in request's work).
    /// Each still expires on time; new keys (a rotation) come with an empty one.
    verified: moka::sync::Cache<[u8; 32], AccessClaims>,
}

/// How long a verified access token is remembered (its own expiry is checked at every use).
const VERIFIED_SECS: u64 = 60;

impl TokenKeys {
    /// `keys` all verify; the one named `signing` signs.
    ///
    /// # Errors
    /// `UnknownKey` when `signing` is not among `keys`.
    pub fn new(
        keys: &[SigningKey],
        signing: &str,
        issuer: &str,
        audience: &str,
        access_ttl_secs: i64,
    ) -> Result<Self, TokenError> {
        let signer = keys.iter().find(|k| k.kid == signing).ok_or(TokenError::UnknownKey)?;
        let decoding = keys.iter().map(|k| (k.kid.clone(), DecodingKey::from_ed_der(&k.public()))).collect();
        // Only EdDSA: `alg: none` and algorithm-confusion tokens fail before any key is tried.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Clocks of replicas agree within a second or two; a wide leeway would keep expired
        // tokens alive.
        validation.leeway = LEEWAY_SECS;
        Ok(Self {
            signing_kid: signing.to_owned(),
            encoding: EncodingKey::from_ed_der(&signer.pkcs8),
            decoding,
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            access_ttl_secs,
            verified: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(std::time::Duration::from_secs(VERIFIED_SECS))
                .build(),
        })
    }

    /// One fresh key, for tests and first runs.
    pub fn ephemeral(issuer: &str, audience: &str) -> Self {
        Self::new(&[SigningKey::generate("k1")], "k1", issuer, audience, 900).expect("its own key")
    }

    pub fn issue(&self, sub: Uuid, kind: Subject, now: i64) -> (String, AccessClaims) {
        self.issue_for(sub, kind, now, self.access_ttl_secs)
    }

    /// A token valid for `ttl_secs`, of no session.
    pub fn issue_for(&self, sub: Uuid, kind: Subject, now: i64, ttl_secs: i64) -> (String, AccessClaims) {
        self.issue_in(sub, kind, None, now, ttl_secs)
    }

    /// A token of session `sid`, valid for `ttl_secs`.
    pub fn issue_in(
        &self,
        sub: Uuid,
        kind: Subject,
        sid: Option<Uuid>,
        now: i64,
        ttl_secs: i64,
    ) -> (String, AccessClaims) {
        let claims = AccessClaims {
            sid,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub,
            kind,
            iat: now,
            exp: now + ttl_secs,
            jti: Uuid::now_v7(),
        };
        (self.sign(&claims), claims)
    }

    /// Signs any claims with the current key (tests use it to make expired tokens).
    pub fn sign<C: Serialize>(&self, claims: &C) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.signing_kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("EdDSA signs any claims")
    }

    /// A token one of Rouge's services sends another (`sub` names the caller), valid for a
    /// minute. Its audience is [`SERVICE_AUDIENCE`], so no customer or staff check accepts it,
    /// and no customer or staff token passes [`Self::verify_service`].
    pub fn issue_service(&self, service: &str, now: i64) -> String {
        self.sign(&ServiceClaims {
            iss: self.issuer.clone(),
            aud: SERVICE_AUDIENCE.to_owned(),
            sub: service.to_owned(),
            iat: now,
            exp: now + 60,
        })
    }

    /// The calling service's name.
    ///
    /// # Errors
    /// As [`Self::verify`], for a token of [`Self::issue_service`].
    pub fn verify_service(&self, token: &str) -> Result<String, TokenError> {
        let key = self.key_of(token)?;
        let mut validation = self.validation.clone();
        validation.set_audience(&[SERVICE_AUDIENCE]);
        jsonwebtoken::decode::<ServiceClaims>(token, key, &validation)
            .map(|d| d.claims.sub)
            .map_err(|e| TokenError::Invalid(e.to_string()))
    }

    /// # Errors
    /// `Malformed`, `UnknownKey` (not signed EdDSA by a key of Rouge's: no or unknown `kid`,
    /// another algorithm), or `Invalid` (bad signature, issuer or audience, expired).
    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        self.verify_at(token, chrono::Utc::now().timestamp())
    }

    /// [`TokenKeys::verify`] at `now` (seconds) for a token verified before.
    fn verify_at(&self, token: &str, now: i64) -> Result<AccessClaims, TokenError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(claims) = self.verified.get(&digest) {
            if claims.exp + LEEWAY_SECS as i64 >= now {
                return Ok(claims);
            }
            self.verified.invalidate(&digest);
            return Err(TokenError::Invalid("ExpiredSignature".into()));
        }
        let key = self.key_of(token)?;
        let claims = jsonwebtoken::decode::<AccessClaims>(token, key, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        self.verified.insert(digest, claims.clone());
        Ok(claims)
    }

    /// Rouge signs EdDSA only. Any other algorithm, or a key id of someone else's, is not
    /// Rouge's token at all (an external issuer's RS256 or ES256 token, say): `UnknownKey`
    /// lets the caller try that issuer. Validation pins EdDSA, so `alg: none` and
    /// algorithm-confusion tokens never reach a key.
    fn key_of(&self, token: &str) -> Result<&jsonwebtoken::DecodingKey, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        match header.kid.as_ref().and_then(|k| self.decoding.get(k)) {
            Some(key) if header.alg == Algorithm::EdDSA => Ok(key),
            _ => Err(TokenError::UnknownKey),
        }
    }
}

/// A random secret for a link or a refresh token, and the hash the store keeps.
pub fn new_secret() -> (String, String) {
    let bytes: [u8; 32] = crate::vault::random_bytes();
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_secret(&token);
    (token, hash)
}

/// Compares without an early exit, so timing does not reveal how much matched.
pub fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn hash_secret(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000;

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn a_token_verifies_and_carries_its_claims() {
        let keys = TokenKeys::ephemeral("rouge", "rouge-api");
        let id = Uuid::now_v7();
        let (t, claims) = keys.issue(id, Subject::Customer, now());
        assert_eq!(keys.verify(&t).unwrap(), claims);
        assert_eq!(jsonwebtoken::decode_header(&t).unwrap().kid.as_deref(), Some("k1"));
    }

    #[test]
    fn a_token_verified_before_still_expires_on_time() {
        let keys = TokenKeys::ephemeral("rouge", "rouge-api");
        let (t, claims) = keys.issue(Uuid::now_v7(), Subject::Customer, now());
        assert_eq!(keys.verify(&t).unwrap(), claims);
        assert_eq!(keys.verify_at(&t, claims.exp).unwrap(), claims, "remembered while valid");
        let later = claims.exp + LEEWAY_SECS as i64 + 1;
        assert!(matches!(keys.verify_at(&t, later), Err(TokenError::Invalid(_))), "expired, remembered or not");
        // A changed signature is another token: checked, and refused.
        let at = t.len() - 10;
        let swapped = if &t[at..=at] == "A" { "B" } else { "A" };
        let forged = format!("{}{swapped}{}", &t[..at], &t[at + 1..]);
        assert!(keys.verify(&forged).is_err());
    }

    #[test]
    fn service_tokens_and_access_tokens_are_never_taken_for_each_other() {
        let keys = TokenKeys::ephemeral("rouge", "rouge-api");
        let service = keys.issue_service("orders", now());
        assert_eq!(keys.verify_service(&service), Ok("orders".to_owned()));
        assert!(matches!(keys.verify(&service), Err(TokenError::Invalid(_))), "not a customer's or staff's token");
        let (customer, _) = keys.issue(Uuid::now_v7(), Subject::Customer, now());
        assert!(matches!(keys.verify_service(&customer), Err(TokenError::Invalid(_))), "not a service's token");
        let other = TokenKeys::ephemeral("rouge", "rouge-api");
        assert!(other.verify_service(&service).is_err(), "another shop's keys do not verify it");
        let old = keys.issue_service("orders", now() - 3600);
        assert!(keys.verify_service(&old).is_err(), "expired after a minute");
    }

    #[test]
    fn expired_forged_wrong_audience_and_alg_none_tokens_are_refused() {
        let keys = TokenKeys::ephemeral("rouge", "rouge-api");
        let id = Uuid::now_v7();
        let (_, mut c) = keys.issue(id, Subject::Customer, NOW);
        c.exp = NOW + 1;
        assert!(matches!(keys.verify(&keys.sign(&c)), Err(TokenError::Invalid(_))), "expired");
        let (_, mut c) = keys.issue(id, Subject::Customer, now());
        c.aud = "someone-else".into();
        assert!(matches!(keys.verify(&keys.sign(&c)), Err(TokenError::Invalid(_))), "wrong audience");
        let forger = TokenKeys::ephemeral("rouge", "rouge-api"); // same kid, another key
        let (forged, _) = forger.issue(id, Subject::Staff, now());
        assert!(matches!(keys.verify(&forged), Err(TokenError::Invalid(_))), "forged");
        let (good, _) = keys.issue(id, Subject::Customer, now());
        let payload = good.split('.').nth(1).unwrap();
        let none = format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"k1"}"#));
        assert!(keys.verify(&none).is_err(), "alg none");
        let hs = format!("{}.{payload}.AAAA", URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","kid":"k1"}"#));
        assert!(keys.verify(&hs).is_err(), "algorithm confusion");
        assert_eq!(keys.verify("not.a.token"), Err(TokenError::Malformed));
    }

    #[test]
    fn rotation_keeps_old_tokens_valid_and_signs_with_the_new_key() {
        let k1 = SigningKey::generate("k1");
        let pem = k1.to_pem();
        let before = TokenKeys::new(&[k1], "k1", "rouge", "rouge-api", 900).unwrap();
        let (old, _) = before.issue(Uuid::now_v7(), Subject::Customer, now());
        let reloaded = SigningKey::from_pem("k1", &pem).unwrap();
        let after = TokenKeys::new(&[reloaded, SigningKey::generate("k2")], "k2", "rouge", "rouge-api", 900).unwrap();
        assert!(after.verify(&old).is_ok(), "signed before the rotation");
        let (new, _) = after.issue(Uuid::now_v7(), Subject::Customer, now());
        assert_eq!(jsonwebtoken::decode_header(&new).unwrap().kid.as_deref(), Some("k2"));
        assert_eq!(before.verify(&new), Err(TokenError::UnknownKey));
        assert!(SigningKey::from_pem("bad", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").is_err());
    }

    #[test]
    fn secrets_are_random_and_stored_hashed() {
        let (a, ha) = new_secret();
        let (b, _) = new_secret();
        assert_ne!(a, b);
        assert_eq!(hash_secret(&a), ha);
        assert_ne!(ha, a);
    }
}
