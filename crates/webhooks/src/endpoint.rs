//! Endpoints staff register, the deliveries made to them, and what the store keeps of both.

use rouge_kernel::{DomainEvent, StoreResult};
use serde::Serialize;
use std::future::Future;
use utoipa::ToSchema;
use uuid::Uuid;

/// A registered endpoint, as staff see it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    /// The event types sent to it (`*`: every one).
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why it was disabled (staff, or repeated failure), while it is.
    pub disabled_reason: Option<String>,
    /// Failed attempts in a row (an answer resets it).
    pub failures: i32,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Endpoint {
    pub fn wants(&self, event_type: &str) -> bool {
        self.enabled && self.event_types.iter().any(|t| t == "*" || t == event_type)
    }
}

/// Its secrets: the current one and, for a day after a rotation, the previous one (both sign).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secrets {
    /// As stored: sealed (see the HTTP layer's `sealed` module) by the shop's keys.
    pub current: String,
    pub previous: Option<(String, i64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its (next) attempt at `next_at`.
    Pending,
    Delivered,
    /// Every attempt failed; staff may replay it.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "failed" => Some(DeliveryState::Failed),
            _ => None,
        }
    }
}

/// One event's delivery to one endpoint: the log staff read.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Delivery {
    pub endpoint_id: Uuid,
    /// The event, and the message: its `webhook-id` is `msg_` and this id without dashes.
    pub event_id: Uuid,
    pub event_type: String,
    pub state: DeliveryState,
    pub attempts: i32,
    /// When the next attempt is due (ms), while pending.
    pub next_at: i64,
    /// The HTTP status of the last answer, if there was one.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

/// A due delivery, claimed for one attempt.
#[derive(Debug, Clone)]
pub struct Due {
    pub delivery: Delivery,
    pub event: DomainEvent,
}

/// What the store keeps of endpoints and deliveries.
pub trait WebhookRepository: Clone + Send + Sync + 'static {
    /// # Errors
    /// `Unavailable` when the store fails.
    fn create_endpoint(&self, e: &Endpoint, secret: &str) -> impl Future<Output = StoreResult<()>> + Send;

    /// # Errors
    /// `Unavailable` when the store fails.
    fn endpoints(&self) -> impl Future<Output = StoreResult<Vec<Endpoint>>> + Send;

    /// # Errors
    /// `Unavailable` when the store fails.
    fn endpoint(&self, id: Uuid) -> impl Future<Output = StoreResult<Option<(Endpoint, Secrets)>>> + Send;

    /// Replaces what staff may change (url, description, event types, enabled and its reason,
    /// failures).
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn update_endpoint(&self, e: &Endpoint) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Deletes an endpoint and its deliveries.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn delete_endpoint(&self, id: Uuid) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Makes `secret` current, the current one previous until `until` (ms).
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn rotate_secret(&self, id: Uuid, secret: &str, until: i64) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Replaces an endpoint's stored secrets (sealed, or re-wrapped after a key rotation),
    /// unless its current one changed meanwhile (`false`).
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn replace_secrets(
        &self,
        id: Uuid,
        was: &str,
        current: &str,
        previous: Option<&str>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Queues `event` for each of `endpoints`, once (again: nothing).
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn enqueue(
        &self,
        endpoints: &[Uuid],
        event: &DomainEvent,
        now: i64,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Claims up to `limit` pending deliveries due by `now` for one attempt each, pushing their
    /// `next_at` to `lease_until` (a replica that dies mid-attempt leaves it to another then).
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn claim_due(&self, now: i64, lease_until: i64, limit: i64) -> impl Future<Output = StoreResult<Vec<Due>>> + Send;

    /// Records an attempt's outcome: the delivery's new state and next time, the endpoint's
    /// failures in a row (reset by an answer, counted up by a failure).
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn record_attempt(&self, d: &Delivery, delivered: bool, now: i64) -> impl Future<Output = StoreResult<i32>> + Send;

    /// The endpoint's deliveries, newest first.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn deliveries(
        &self,
        endpoint: Uuid,
        state: Option<DeliveryState>,
        limit: i64,
    ) -> impl Future<Output = StoreResult<Vec<Delivery>>> + Send;

    /// Makes a delivery pending again, due now, with its attempts counted from zero.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn replay(&self, endpoint: Uuid, event: Uuid, now: i64) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Disables an endpoint with a reason.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn disable_endpoint(&self, id: Uuid, reason: &str, now: i64) -> impl Future<Output = StoreResult<()>> + Send;
}
