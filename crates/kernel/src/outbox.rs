use crate::DomainEvent;
use std::future::Future;
use std::sync::{Arc, RwLock};

/// What a store calls after it commits a write that added events to its outbox: the relays'
/// wake-up, so events reach their subscribers at once, whichever code path wrote them (other
/// processes' writes are found by their relays' polling). Each relay adds itself when it starts;
/// clones of a store share the list.
#[derive(Clone, Default)]
pub struct CommitHook(Arc<RwLock<Vec<Wake>>>);

type Wake = Arc<dyn Fn() + Send + Sync>;

impl CommitHook {
    /// Adds what runs after each such commit.
    pub fn add(&self, f: impl Fn() + Send + Sync + 'static) {
        self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner).push(Arc::new(f));
    }

    /// Runs each.
    pub fn fire(&self) {
        for f in self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).iter() {
            f();
        }
    }
}

impl std::fmt::Debug for CommitHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.read().map(|v| v.len()).unwrap_or_default();
        write!(f, "CommitHook({n} waiting)")
    }
}

/// The read side of a transactional outbox: events committed with their state changes, in
/// commit order. Writers append to it inside their own transactions.
pub trait Outbox: Clone + Send + Sync + 'static {
    /// Called after every commit that added outbox events (see [`CommitHook`]).
    fn commit_hook(&self) -> &CommitHook;

    /// Events with a sequence above `after`, oldest first, at most `limit`.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn events_after(&self, after: i64, limit: i64)
    -> impl Future<Output = crate::StoreResult<Vec<DomainEvent>>> + Send;

    /// Events of one type that occurred after `since` with a sequence above `after`, oldest
    /// first, at most `limit` (a consumer catching up, page by page, on what it may have
    /// missed while no server ran).
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn recent_events(
        &self,
        event_type: &str,
        since: chrono::DateTime<chrono::Utc>,
        after: i64,
        limit: i64,
    ) -> impl Future<Output = crate::StoreResult<Vec<DomainEvent>>> + Send;

    /// The highest sequence written so far (0 when empty).
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn head(&self) -> impl Future<Output = crate::StoreResult<i64>> + Send;

    /// The sequence of the last event of one of `types` at or below `at_most` (0 when none).
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn last_of(&self, types: &[&str], at_most: i64) -> impl Future<Output = crate::StoreResult<i64>> + Send;
}

/// A store that can say whether it answers, for readiness probes.
pub trait Ping: Clone + Send + Sync + 'static {
    /// # Errors
    /// `Unavailable` when it does not answer.
    fn ping(&self) -> impl Future<Output = crate::StoreResult<()>> + Send;

    /// Whether the database itself answers, asked over a connection of its own rather than
    /// the request pool: a pool busy with a launch-day queue is not an outage.
    ///
    /// # Errors
    /// Returns the store's error text when the database does not answer.
    fn probe(&self) -> impl Future<Output = crate::StoreResult<()>> + Send;
}

/// Where an outbox publisher (the relay to a broker) has got to, kept in the store so that a
/// restarted or another replica carries on from there, and which replica publishes: one holds
/// a lease on each publisher's name at a time, so events leave in commit order and once.
pub trait Relays: Clone + Send + Sync + 'static {
    /// Takes (or keeps) the lease on `name` for `holder` until `until` (Unix ms), when nobody
    /// else holds it at `now`; then the sequence published so far. `None`: another holds it.
    /// A new name starts at the outbox's head: turning a broker on publishes what happens from
    /// then on, not the shop's history (its consumers did that work in-process already).
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn claim_relay(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        until: i64,
    ) -> impl Future<Output = crate::StoreResult<Option<i64>>> + Send;

    /// Records that everything up to `position` is published, if `holder` still holds the
    /// lease; `false` when it lost it (another replica publishes now).
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn advance_relay(
        &self,
        name: &str,
        holder: &str,
        position: i64,
    ) -> impl Future<Output = crate::StoreResult<bool>> + Send;

    /// How far the publisher `name` has published (`None`: it never ran).
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn relay_position(&self, name: &str) -> impl Future<Output = crate::StoreResult<Option<i64>>> + Send;
}
