use crate::DomainEvent;
use std::future::Future;

/// The read side of a transactional outbox: events committed with their state changes, in
/// commit order. Writers append to it inside their own transactions.
pub trait Outbox: Clone + Send + Sync + 'static {
    /// Events with a sequence above `after`, oldest first, at most `limit`.
    ///
    /// # Errors
    /// Returns the store's error text when the store cannot be read.
    fn events_after(&self, after: i64, limit: i64) -> impl Future<Output = Result<Vec<DomainEvent>, String>> + Send;

    /// Events of one type that occurred after `since` with a sequence above `after`, oldest
    /// first, at most `limit` (a consumer catching up, page by page, on what it may have
    /// missed while no server ran).
    ///
    /// # Errors
    /// Returns the store's error text when the store cannot be read.
    fn recent_events(
        &self,
        event_type: &str,
        since: chrono::DateTime<chrono::Utc>,
        after: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<DomainEvent>, String>> + Send;

    /// The highest sequence written so far (0 when empty).
    ///
    /// # Errors
    /// Returns the store's error text when the store cannot be read.
    fn head(&self) -> impl Future<Output = Result<i64, String>> + Send;
}

/// A store that can say whether it answers, for readiness probes.
pub trait Ping: Clone + Send + Sync + 'static {
    /// # Errors
    /// Returns the store's error text when it does not answer.
    fn ping(&self) -> impl Future<Output = Result<(), String>> + Send;

    /// Whether the database itself answers, asked over a connection of its own rather than
    /// the request pool: a pool busy with a launch-day queue is not an outage.
    ///
    /// # Errors
    /// Returns the store's error text when the database does not answer.
    fn probe(&self) -> impl Future<Output = Result<(), String>> + Send;
}
