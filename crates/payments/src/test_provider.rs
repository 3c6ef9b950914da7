//! The built-in `test` provider: no network, deterministic outcomes chosen by the token, and
//! the same idempotency rules as a real provider. For development, demos and tests.
//!
//! | token | outcome |
//! |---|---|
//! | `tok_visa`, `tok_mastercard`, any other `tok_…` | authorized |
//! | `tok_decline` | declined, `card_declined` |
//! | `tok_insufficient_funds` | declined, `insufficient_funds` |
//! | `tok_requires_action` | requires action (3-D Secure), nothing held |
//! | `tok_timeout` | authorized at the "bank", but the answer is lost once: the first call fails as unreachable, a retry or a lookup with the same key finds the authorization |
//! | `tok_unreachable` | unreachable every time, nothing held |
//! | `pm_card_visa`, any other `pm_…` | a saved payment method (subscription renewals, off-session): authorized |
//! | `pm_card_declined` | a saved method that is declined, `card_declined` |
//! | `pm_card_authentication_required` | a saved method the bank wants the shopper present for: declined, `authentication_required` (as off-session payments are) |
//!
//! State lives in the process: a restarted server has forgotten earlier attempts.

use crate::{AuthorizeRequest, Outcome, PaymentError, PaymentProvider, PaymentResult};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct TestProvider {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Outcome by idempotency key.
    attempts: HashMap<String, Outcome>,
    /// Authorized, captured and refunded amounts by payment id.
    payments: HashMap<String, Ledger>,
    /// Every authorization that held money, for tests to count charges.
    charges: u64,
    captures: HashMap<String, ()>,
    refunds: HashMap<String, String>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Ledger {
    authorized: i64,
    captured: i64,
    refunded: i64,
    voided: bool,
}

impl TestProvider {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many authorizations held money (a retried attempt counts once).
    pub fn charges(&self) -> u64 {
        self.state.lock().expect("test provider").charges
    }

    /// (authorized, captured, refunded) of a payment.
    pub fn amounts(&self, payment_id: &str) -> Option<(i64, i64, i64)> {
        let st = self.state.lock().expect("test provider");
        st.payments.get(payment_id).map(|l| (l.authorized, l.captured, l.refunded))
    }
}

impl PaymentProvider for TestProvider {
    fn name(&self) -> &'static str {
        "test"
    }

    fn authorize(&self, req: AuthorizeRequest) -> BoxFuture<'_, PaymentResult<Outcome>> {
        let result = (|| {
            if req.amount <= 0 {
                return Err(PaymentError::Rejected("the amount must be positive".into()));
            }
            let mut st = self.state.lock().expect("test provider");
            if let Some(seen) = st.attempts.get(&req.idempotency_key) {
                return Ok(seen.clone());
            }
            let payment_id = format!("pay_test_{}", uuid::Uuid::new_v4().simple());
            let declined = |code: &str, message: &str| Outcome::Declined { code: code.into(), message: message.into() };
            let outcome = match req.token.as_str() {
                "tok_unreachable" => {
                    return Err(PaymentError::Unreachable("test token: the provider never answers".into()));
                }
                "tok_decline" => declined("card_declined", "the card was declined"),
                "tok_insufficient_funds" => declined("insufficient_funds", "the card has insufficient funds"),
                "tok_requires_action" => Outcome::RequiresAction {
                    action_url: format!("https://payments.test/3ds/{payment_id}"),
                    payment_id,
                },
                "pm_card_declined" => declined("card_declined", "the saved card was declined"),
                "pm_card_authentication_required" => {
                    declined("authentication_required", "the bank wants the cardholder to confirm this payment")
                }
                t if t.starts_with("tok_") || t.starts_with("pm_") => Outcome::Authorized { payment_id },
                _ => declined("invalid_token", "not a test token (use tok_visa, tok_decline, pm_card_visa, …)"),
            };
            if let Outcome::Authorized { payment_id } = &outcome {
                st.charges += 1;
                st.payments.insert(payment_id.clone(), Ledger { authorized: req.amount, ..Ledger::default() });
            }
            st.attempts.insert(req.idempotency_key.clone(), outcome.clone());
            if req.token == "tok_timeout" {
                // The bank said yes; the answer never arrived.
                return Err(PaymentError::Unreachable("test token: the answer was lost".into()));
            }
            Ok(outcome)
        })();
        Box::pin(std::future::ready(result))
    }

    fn capture(&self, payment_id: &str, amount: i64, idempotency_key: &str) -> BoxFuture<'_, PaymentResult<()>> {
        let mut st = self.state.lock().expect("test provider");
        let result = if st.captures.contains_key(idempotency_key) {
            Ok(())
        } else {
            match st.payments.get_mut(payment_id) {
                None => Err(PaymentError::Rejected(format!("no payment {payment_id}"))),
                Some(l) if l.voided => Err(PaymentError::Rejected("the authorization was voided".into())),
                Some(l) if l.captured + amount > l.authorized => {
                    Err(PaymentError::Rejected("more than was authorized".into()))
                }
                Some(l) => {
                    l.captured += amount;
                    st.captures.insert(idempotency_key.to_owned(), ());
                    Ok(())
                }
            }
        };
        Box::pin(std::future::ready(result))
    }

    fn void(&self, payment_id: &str) -> BoxFuture<'_, PaymentResult<()>> {
        let mut st = self.state.lock().expect("test provider");
        let result = match st.payments.get_mut(payment_id) {
            None => Err(PaymentError::Rejected(format!("no payment {payment_id}"))),
            Some(l) if l.captured > 0 => Err(PaymentError::Rejected("already captured; refund instead".into())),
            Some(l) => {
                l.voided = true;
                Ok(())
            }
        };
        Box::pin(std::future::ready(result))
    }

    fn refund(&self, payment_id: &str, amount: i64, idempotency_key: &str) -> BoxFuture<'_, PaymentResult<String>> {
        let mut st = self.state.lock().expect("test provider");
        let result = if let Some(id) = st.refunds.get(idempotency_key) {
            Ok(id.clone())
        } else {
            match st.payments.get_mut(payment_id) {
                None => Err(PaymentError::Rejected(format!("no payment {payment_id}"))),
                Some(l) if amount <= 0 || l.refunded + amount > l.captured => {
                    Err(PaymentError::Rejected("more than was captured".into()))
                }
                Some(l) => {
                    l.refunded += amount;
                    let id = format!("re_test_{}", uuid::Uuid::new_v4().simple());
                    st.refunds.insert(idempotency_key.to_owned(), id.clone());
                    Ok(id)
                }
            }
        };
        Box::pin(std::future::ready(result))
    }

    fn lookup(&self, idempotency_key: &str) -> BoxFuture<'_, PaymentResult<Option<Outcome>>> {
        let st = self.state.lock().expect("test provider");
        Box::pin(std::future::ready(Ok(st.attempts.get(idempotency_key).cloned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(token: &str, key: &str) -> AuthorizeRequest {
        AuthorizeRequest {
            off_session_customer: None,
            amount: 2500,
            currency: "EUR".into(),
            token: token.into(),
            idempotency_key: key.into(),
            reference: "order".into(),
        }
    }

    #[tokio::test]
    async fn tokens_choose_the_outcome_and_keys_make_retries_charge_once() {
        let p = TestProvider::new();
        let Outcome::Authorized { payment_id } = p.authorize(req("tok_visa", "k1")).await.unwrap() else { panic!() };
        assert_eq!(
            p.authorize(req("tok_visa", "k1")).await.unwrap(),
            Outcome::Authorized { payment_id: payment_id.clone() }
        );
        assert_eq!(p.charges(), 1);
        assert!(
            matches!(p.authorize(req("tok_decline", "k2")).await, Ok(Outcome::Declined { code, .. }) if code == "card_declined")
        );
        assert!(
            matches!(p.authorize(req("tok_insufficient_funds", "k3")).await, Ok(Outcome::Declined { code, .. }) if code == "insufficient_funds")
        );
        assert!(matches!(p.authorize(req("tok_requires_action", "k4")).await, Ok(Outcome::RequiresAction { .. })));
        assert!(matches!(p.authorize(req("tok_unreachable", "k5")).await, Err(PaymentError::Unreachable(_))));
        assert_eq!(p.lookup("k5").await.unwrap(), None, "nothing was held");

        assert!(matches!(p.authorize(req("tok_timeout", "k6")).await, Err(PaymentError::Unreachable(_))));
        let found = p.lookup("k6").await.unwrap();
        assert!(matches!(found, Some(Outcome::Authorized { .. })), "the lost answer is found");
        assert_eq!(p.authorize(req("tok_timeout", "k6")).await.unwrap(), found.unwrap(), "a retry gets it too");
        assert_eq!(p.charges(), 2);

        p.capture(&payment_id, 2000, "c1").await.unwrap();
        p.capture(&payment_id, 2000, "c1").await.unwrap();
        assert!(p.capture(&payment_id, 600, "c2").await.is_err(), "never more than authorized");
        p.refund(&payment_id, 500, "r1").await.unwrap();
        assert!(p.refund(&payment_id, 1600, "r2").await.is_err(), "never more than captured");
        assert_eq!(p.amounts(&payment_id), Some((2500, 2000, 500)));
        assert!(p.void(&payment_id).await.is_err());
    }
}
