//! Secrets and signatures (Standard Webhooks, version `v1`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};

const PREFIX: &str = "whsec_";

/// An endpoint's signing secret. Shown once when made; `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a webhook secret starts with `whsec_` and is base64 of 24 to 64 bytes")]
    Malformed,
}

impl Secret {
    /// 32 bytes from the system's random source.
    pub fn generate() -> Self {
        let mut b = vec![0u8; 32];
        aws_lc_rs::rand::fill(&mut b).expect("the system random source");
        Self(b)
    }

    /// A secret as shown (`whsec_…`).
    ///
    /// # Errors
    /// `Malformed` without the prefix, with bad base64, or too short or long a key.
    pub fn parse(s: &str) -> Result<Self, SecretError> {
        let body = s.strip_prefix(PREFIX).ok_or(SecretError::Malformed)?;
        let key = STANDARD.decode(body).map_err(|_| SecretError::Malformed)?;
        if !(24..=64).contains(&key.len()) {
            return Err(SecretError::Malformed);
        }
        Ok(Self(key))
    }

    /// `whsec_` and the key in base64: what the endpoint's owner is given.
    pub fn expose(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// The `v1,<base64>` signature of a message.
    fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(whsec_…)")
    }
}

/// The three headers of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headers {
    /// `webhook-id`: the message's id, the same on every attempt (receivers dedupe on it).
    pub id: String,
    /// `webhook-timestamp`: seconds since the epoch, when this attempt was signed.
    pub timestamp: String,
    /// `webhook-signature`: one `v1,…` per secret, space-separated.
    pub signature: String,
}

impl Headers {
    /// As (name, value) pairs for an HTTP request.
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [("webhook-id", &self.id), ("webhook-timestamp", &self.timestamp), ("webhook-signature", &self.signature)]
    }
}

/// Signs `body` as message `id` at `timestamp` under every one of `secrets` (the current one,
/// and the previous one while a rotation lets receivers catch up).
///
/// # Panics
/// When `secrets` is empty (an endpoint always has one).
pub fn sign(secrets: &[&Secret], id: &str, timestamp: i64, body: &[u8]) -> Headers {
    assert!(!secrets.is_empty(), "an endpoint has a secret");
    let signature: Vec<String> = secrets.iter().map(|s| s.sign(id, timestamp, body)).collect();
    Headers { id: id.to_owned(), timestamp: timestamp.to_string(), signature: signature.join(" ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specifications_example_signs_as_published() {
        // The example of the Standard Webhooks specification and its reference libraries.
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let h = sign(&[&secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, br#"{"test": 2432232314}"#);
        assert_eq!(h.signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_eq!(h.timestamp, "1614265330");
    }

    #[test]
    fn secrets_round_trip_and_refuse_what_is_not_one() {
        let s = Secret::generate();
        assert_eq!(Secret::parse(&s.expose()).unwrap(), s);
        assert_ne!(Secret::generate(), s);
        assert!(s.expose().starts_with("whsec_"));
        assert_eq!(format!("{s:?}"), "Secret(whsec_…)", "never printed");
        for bad in ["", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!!", "whsec_c2hvcnQ="] {
            assert_eq!(Secret::parse(bad), Err(SecretError::Malformed), "{bad}");
        }
    }

    #[test]
    fn a_rotation_signs_with_both_secrets() {
        let (old, new) = (Secret::generate(), Secret::generate());
        let both = sign(&[&new, &old], "msg_1", 1, b"{}");
        let parts: Vec<&str> = both.signature.split(' ').collect();
        assert_eq!(parts, [sign(&[&new], "msg_1", 1, b"{}").signature, sign(&[&old], "msg_1", 1, b"{}").signature]);
        assert_ne!(sign(&[&new], "msg_1", 2, b"{}").signature, sign(&[&new], "msg_1", 1, b"{}").signature);
    }
}
