//! The Stripe provider: PaymentIntents over HTTPS (manual capture, so an order's money is held
//! at checkout and taken when staff capture), Stripe's own idempotency keys on every write, and
//! webhook signatures checked with Stripe's scheme (HMAC-SHA256 over `timestamp.payload`).
//! The card never reaches Rouge: the browser turns it into a PaymentMethod (`pm_…`) with
//! Stripe.js and Rouge receives that id as the token.

use crate::{AuthorizeRequest, Outcome, PaymentError, PaymentProvider, PaymentResult};
use futures::future::BoxFuture;
use hmac::{KeyInit, Mac};
use serde_json::Value;
use std::time::Duration;

pub struct StripeProvider {
    client: reqwest::Client,
    /// `https://api.stripe.com` (another base for recorded-response tests).
    base: String,
    secret_key: String,
    webhook_secret: Option<String>,
}

/// Percent-encodes a form value (`application/x-www-form-urlencoded`).
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn form(pairs: &[(&str, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("no usable Stripe-Signature header")]
    MissingSignature,
    #[error("the signature does not match")]
    BadSignature,
    #[error("the signature is too old (replayed?)")]
    Stale,
    #[error("the payload is not JSON")]
    Malformed,
    #[error("no webhook secret is configured")]
    NotConfigured,
}

impl StripeProvider {
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(secret_key: &str, webhook_secret: Option<String>, base: Option<&str>) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            base: base.unwrap_or("https://api.stripe.com").trim_end_matches('/').to_owned(),
            secret_key: secret_key.to_owned(),
            webhook_secret,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
        key: Option<&str>,
    ) -> PaymentResult<(u16, Value)> {
        let mut req = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.secret_key);
        if let Some(b) = body {
            req = req.header("content-type", "application/x-www-form-urlencoded").body(b);
        }
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let res = req.send().await.map_err(|e| PaymentError::Unreachable(e.to_string()))?;
        let status = res.status().as_u16();
        if status >= 500 || status == 429 {
            return Err(PaymentError::Unreachable(format!("Stripe answered {status}")));
        }
        let body: Value = res.json().await.map_err(|e| PaymentError::Unreachable(format!("unreadable answer: {e}")))?;
        Ok((status, body))
    }

    fn outcome(intent: &Value) -> PaymentResult<Outcome> {
        let id = intent["id"].as_str().unwrap_or_default().to_owned();
        match intent["status"].as_str() {
            Some("requires_capture" | "succeeded") => Ok(Outcome::Authorized { payment_id: id }),
            Some("requires_action") => Ok(Outcome::RequiresAction {
                action_url: intent["next_action"]["redirect_to_url"]["url"].as_str().unwrap_or_default().to_owned(),
                payment_id: id,
            }),
            Some("requires_payment_method" | "canceled") => {
                let e = &intent["last_payment_error"];
                Ok(Outcome::Declined {
                    code: e["decline_code"].as_str().or(e["code"].as_str()).unwrap_or("card_declined").to_owned(),
                    message: e["message"].as_str().unwrap_or("the card was declined").to_owned(),
                })
            }
            other => Err(PaymentError::Unreachable(format!("payment intent in state {other:?}; ask again"))),
        }
    }

    fn error(status: u16, body: &Value) -> PaymentResult<Outcome> {
        let e = &body["error"];
        if status == 402 || e["type"] == "card_error" {
            return Ok(Outcome::Declined {
                code: e["decline_code"].as_str().or(e["code"].as_str()).unwrap_or("card_declined").to_owned(),
                message: e["message"].as_str().unwrap_or("the card was declined").to_owned(),
            });
        }
        Err(PaymentError::Rejected(e["message"].as_str().unwrap_or("refused").to_owned()))
    }

    /// Checks a webhook's `Stripe-Signature` header against the payload and returns the event.
    ///
    /// # Errors
    /// A missing, malformed, wrong or older-than-five-minutes signature; a payload that is not JSON.
    pub fn verify_webhook(&self, header: &str, payload: &[u8], now: i64) -> Result<Value, WebhookError> {
        let secret = self.webhook_secret.as_deref().ok_or(WebhookError::NotConfigured)?;
        verify_signature(secret, header, payload, now)?;
        serde_json::from_slice(payload).map_err(|_| WebhookError::Malformed)
    }
}

/// What a verified Stripe event says about a payment, as `(payment id, fact)`; `None` for
/// the event types Rouge does not act on (they are acknowledged all the same).
/// - `payment_intent.succeeded`: captured (`amount_received`), e.g. from the dashboard;
/// - `charge.refunded`: refunded so far (`amount_refunded`), e.g. from the dashboard;
/// - `payment_intent.canceled`: the authorization was cancelled or expired.
pub fn payment_fact(event: &Value) -> Option<(String, crate::PaymentFact)> {
    use crate::PaymentFact;
    let object = &event["data"]["object"];
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    match event["type"].as_str()? {
        "payment_intent.succeeded" => {
            Some((text(&object["id"])?, PaymentFact::Captured { total: object["amount_received"].as_i64()? }))
        }
        "charge.refunded" => {
            let refund_id = object["refunds"]["data"][0]["id"]
                .as_str()
                .or_else(|| event["id"].as_str())
                .unwrap_or_default()
                .to_owned();
            let total = object["amount_refunded"].as_i64()?;
            Some((text(&object["payment_intent"])?, PaymentFact::Refunded { total, refund_id }))
        }
        "payment_intent.canceled" => Some((text(&object["id"])?, PaymentFact::Voided)),
        _ => None,
    }
}

/// Stripe's scheme: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.payload">` (several `v1` may
/// appear during a secret's rotation); a signature older than 300 s is refused.
///
/// # Errors
/// As [`StripeProvider::verify_webhook`].
pub fn verify_signature(secret: &str, header: &str, payload: &[u8], now: i64) -> Result<(), WebhookError> {
    let mut t = None;
    let mut sigs = vec![];
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.push(v.to_owned()),
            _ => {}
        }
    }
    let t = t.ok_or(WebhookError::MissingSignature)?;
    if sigs.is_empty() {
        return Err(WebhookError::MissingSignature);
    }
    // Checked: a timestamp from the far past or future must not overflow the subtraction.
    if now.checked_sub(t).is_none_or(|age| age.unsigned_abs() > 300) {
        return Err(WebhookError::Stale);
    }
    for sig in sigs {
        let Ok(bytes) = (0..sig.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(sig.get(i..i + 2).unwrap_or("zz"), 16))
            .collect::<Result<Vec<u8>, _>>()
        else {
            continue;
        };
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| WebhookError::BadSignature)?;
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(payload);
        if mac.verify_slice(&bytes).is_ok() {
            return Ok(());
        }
    }
    Err(WebhookError::BadSignature)
}

impl PaymentProvider for StripeProvider {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn authorize(&self, req: AuthorizeRequest) -> BoxFuture<'_, PaymentResult<Outcome>> {
        Box::pin(async move {
            let mut fields = vec![
                ("amount", req.amount.to_string()),
                ("currency", req.currency.to_lowercase()),
                ("payment_method", req.token.clone()),
                ("confirm", "true".into()),
                ("capture_method", "manual".into()),
                ("payment_method_types[]", "card".into()),
                ("description", req.reference.clone()),
                ("metadata[rouge_attempt]", req.idempotency_key.clone()),
            ];
            // A renewal: the saved PaymentMethod of this Customer, charged without her.
            if let Some(customer) = &req.off_session_customer {
                fields.push(("customer", customer.clone()));
                fields.push(("off_session", "true".into()));
            }
            let body = form(&fields);
            let (status, v) =
                self.call(reqwest::Method::POST, "/v1/payment_intents", Some(body), Some(&req.idempotency_key)).await?;
            if status >= 400 { Self::error(status, &v) } else { Self::outcome(&v) }
        })
    }

    fn capture(&self, payment_id: &str, amount: i64, idempotency_key: &str) -> BoxFuture<'_, PaymentResult<()>> {
        let (path, key) = (format!("/v1/payment_intents/{}/capture", enc(payment_id)), idempotency_key.to_owned());
        Box::pin(async move {
            let body = form(&[("amount_to_capture", amount.to_string())]);
            let (status, v) = self.call(reqwest::Method::POST, &path, Some(body), Some(&key)).await?;
            if status >= 400 {
                return Err(PaymentError::Rejected(v["error"]["message"].as_str().unwrap_or("refused").to_owned()));
            }
            Ok(())
        })
    }

    fn void(&self, payment_id: &str) -> BoxFuture<'_, PaymentResult<()>> {
        let path = format!("/v1/payment_intents/{}/cancel", enc(payment_id));
        let key = format!("cancel-{payment_id}");
        Box::pin(async move {
            let (status, v) = self.call(reqwest::Method::POST, &path, Some(String::new()), Some(&key)).await?;
            if status >= 400 {
                return Err(PaymentError::Rejected(v["error"]["message"].as_str().unwrap_or("refused").to_owned()));
            }
            Ok(())
        })
    }

    fn refund(&self, payment_id: &str, amount: i64, idempotency_key: &str) -> BoxFuture<'_, PaymentResult<String>> {
        let (id, key) = (payment_id.to_owned(), idempotency_key.to_owned());
        Box::pin(async move {
            let body = form(&[("payment_intent", id), ("amount", amount.to_string())]);
            let (status, v) = self.call(reqwest::Method::POST, "/v1/refunds", Some(body), Some(&key)).await?;
            if status >= 400 {
                return Err(PaymentError::Rejected(v["error"]["message"].as_str().unwrap_or("refused").to_owned()));
            }
            v["id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| PaymentError::Unreachable("a refund without an id".into()))
        })
    }

    fn lookup(&self, idempotency_key: &str) -> BoxFuture<'_, PaymentResult<Option<Outcome>>> {
        let query = format!("metadata['rouge_attempt']:'{}'", idempotency_key.replace('\'', ""));
        Box::pin(async move {
            let path = format!("/v1/payment_intents/search?query={}", enc(&query));
            let (status, v) = self.call(reqwest::Method::GET, &path, None, None).await?;
            if status >= 400 {
                return Err(PaymentError::Unreachable(
                    v["error"]["message"].as_str().unwrap_or("search failed").to_owned(),
                ));
            }
            match v["data"].as_array().and_then(|d| d.first()) {
                Some(intent) => Self::outcome(intent).map(Some),
                None => Ok(None),
            }
        })
    }
}
