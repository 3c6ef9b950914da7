//! Deliveries that failed: a consumer that cannot handle an event records the failure; the
//! event is retried with growing pauses and, after the last attempt, parked as a dead letter
//! that staff can inspect and replay.

use crate::DomainEvent;
use serde::Serialize;
use std::future::Future;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Retrying,
    /// Out of attempts: parked until someone replays it.
    Dead,
}

/// What a consumer that received an event (from a broker, which may deliver it again) may do
/// with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// It is this consumer's to handle now: new, or due again after a failure or a lapsed lease.
    Mine,
    /// Another attempt holds it, or its next attempt is not due yet: try again later.
    Busy,
    /// Handled already, or parked as a dead letter: nothing to do.
    Settled,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedDelivery {
    pub consumer: String,
    pub event: DomainEvent,
    pub attempts: i32,
    /// Milliseconds since the Unix epoch.
    pub next_at: i64,
    pub last_error: String,
    pub state: DeliveryState,
    pub updated_at: i64,
}

pub trait DeliveryLog: Clone + Send + Sync + 'static {
    /// Records a failed attempt of `consumer` on `event`; the next waits `backoff_ms × 2^(n-1)`
    /// after the n-th failure, and the `max_attempts`-th failure parks it. Returns the state.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn record_failure(
        &self,
        consumer: &str,
        event: &DomainEvent,
        error: &str,
        now: i64,
        max_attempts: i32,
        backoff_ms: i64,
    ) -> impl Future<Output = crate::StoreResult<DeliveryState>> + Send;

    /// Claims `events` for `consumer` and notes that each started; returns the ids of those
    /// this call claimed (an event is claimed once, whichever replica asks first). Should its
    /// server die before the outcome is recorded, an event comes due for a retry after
    /// `lease_ms`. One statement for the whole batch.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn begin_deliveries(
        &self,
        consumer: &str,
        events: &[DomainEvent],
        now: i64,
        lease_ms: i64,
    ) -> impl Future<Output = crate::StoreResult<Vec<uuid::Uuid>>> + Send;

    /// Claims events for `consumer` as they arrive from a broker (the inbox): each new one, or
    /// retrying one that is due (`next_at <= now`), becomes [`Claim::Mine`] for `lease_ms`; the
    /// rest say why not. One answer per event, in order; a redelivered event is never handled
    /// twice this way. At most two statements for the batch.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn claim_deliveries(
        &self,
        consumer: &str,
        events: &[DomainEvent],
        now: i64,
        lease_ms: i64,
    ) -> impl Future<Output = crate::StoreResult<Vec<Claim>>> + Send;

    /// Marks deliveries done (kept as the claims' records until purged), in one statement.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn record_successes(
        &self,
        consumer: &str,
        events: &[uuid::Uuid],
    ) -> impl Future<Output = crate::StoreResult<()>> + Send;

    /// Deliveries due for another attempt, each taken for `lease_ms` (so that one replica
    /// retries it), at most `limit`.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn take_due(
        &self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> impl Future<Output = crate::StoreResult<Vec<FailedDelivery>>> + Send;

    /// Failed deliveries, dead ones first, newest first.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn failed_deliveries(&self, limit: i64) -> impl Future<Output = crate::StoreResult<Vec<FailedDelivery>>> + Send;

    /// How many deliveries are (retrying, dead).
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn delivery_backlog(&self) -> impl Future<Output = crate::StoreResult<(i64, i64)>> + Send;

    /// Deletes records of deliveries done before `before`; returns how many.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn purge_done_deliveries(&self, before: i64) -> impl Future<Output = crate::StoreResult<u64>> + Send;

    /// Puts a dead letter back in line with fresh attempts, due at `now`; returns its event,
    /// or `None` when there is no such dead letter.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn replay_delivery(
        &self,
        consumer: &str,
        event: uuid::Uuid,
        now: i64,
    ) -> impl Future<Output = crate::StoreResult<Option<DomainEvent>>> + Send;
}
