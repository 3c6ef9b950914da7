//! Payments behind one provider trait: authorize, capture, void, refund, and looking up what
//! happened to an attempt whose answer was lost. Card data never reaches Rouge: the shopper's
//! browser hands the card to the provider and Rouge receives a token.
//!
//! Every call carries an idempotency key; a provider must answer a repeated key with the
//! first outcome instead of charging again. That is what makes a retried checkout (or a
//! reconciled time-out) charge once.

pub mod stripe;
pub mod test_provider;

pub use stripe::{StripeProvider, payment_fact};
pub use test_provider::TestProvider;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    /// Minor units.
    pub amount: i64,
    pub currency: String,
    /// The provider's token for the shopper's card.
    pub token: String,
    /// The same key returns the same outcome, never a second charge.
    pub idempotency_key: String,
    /// What is being paid (the order), shown in the provider's dashboard.
    pub reference: String,
    /// A renewal paid without the shopper: the provider's customer that holds the saved
    /// payment method `token` (Stripe: `cus_…`, sent with `off_session`).
    #[serde(default)]
    pub off_session_customer: Option<String>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The money is held; capture it to take it.
    Authorized { payment_id: String },
    /// Refused; `code` is stable (`card_declined`, `insufficient_funds`, …).
    Declined { code: String, message: String },
    /// The shopper must act (3-D Secure); nothing is held until then.
    RequiresAction { payment_id: String, action_url: String },
}

/// Something the provider reports about a payment after the fact (a webhook): done outside
/// Rouge (in the provider's dashboard) or on its own (an authorization expiring). Totals are
/// cumulative, so recording one twice, or out of order, changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub enum PaymentFact {
    /// `total` minor units have been captured so far.
    Captured { total: i64 },
    /// `total` minor units have been refunded so far; `refund_id` names the latest refund.
    Refunded { total: i64, refund_id: String },
    /// The authorization was cancelled (or expired): nothing can be captured any more.
    Voided,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// The provider did not answer in time: the outcome is unknown. Ask again with the same
    /// idempotency key (or [`PaymentProvider::lookup`]) before trying anything else.
    #[error("the payment provider did not answer: {0}")]
    Unreachable(String),
    /// The provider refused the request itself (unknown payment, amount too large, …).
    #[error("the payment provider refused the request: {0}")]
    Rejected(String),
}

pub type PaymentResult<T> = Result<T, PaymentError>;

/// A payment provider. Implementations are shared by every request (`Arc<dyn …>`).
pub trait PaymentProvider: Send + Sync + 'static {
    /// Its name in requests and settings (`test`, `stripe`).
    fn name(&self) -> &'static str;

    /// # Errors
    /// `Unreachable` when the answer was lost; `Rejected` for a malformed request.
    fn authorize(&self, req: AuthorizeRequest) -> BoxFuture<'_, PaymentResult<Outcome>>;

    /// Takes `amount` (at most what was authorized) of an authorized payment.
    ///
    /// # Errors
    /// As [`PaymentProvider::authorize`].
    fn capture(&self, payment_id: &str, amount: i64, idempotency_key: &str) -> BoxFuture<'_, PaymentResult<()>>;

    /// Gives up an authorization (nothing was taken).
    ///
    /// # Errors
    /// As [`PaymentProvider::authorize`].
    fn void(&self, payment_id: &str) -> BoxFuture<'_, PaymentResult<()>>;

    /// Gives back `amount` of a captured payment; returns the refund's id.
    ///
    /// # Errors
    /// As [`PaymentProvider::authorize`].
    fn refund(&self, payment_id: &str, amount: i64, idempotency_key: &str) -> BoxFuture<'_, PaymentResult<String>>;

    /// What an earlier attempt with this idempotency key came to, if the provider saw it.
    ///
    /// # Errors
    /// `Unreachable` when the provider does not answer.
    fn lookup(&self, idempotency_key: &str) -> BoxFuture<'_, PaymentResult<Option<Outcome>>>;
}
