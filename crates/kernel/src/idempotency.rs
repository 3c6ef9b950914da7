//! Idempotency keys: a client names a request that creates or charges; the server stores the
//! first answer and gives it to every retry, refuses the same key with a different request,
//! and says "in flight" while the first is still running. Kept in the store with an expiry,
//! so it holds across restarts and replicas.

use std::future::Future;

/// A stored answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    /// The headers worth replaying (content type, location, ETag).
    pub headers: Vec<(String, String)>,
    /// The body, sealed by the caller (answers may carry personal data).
    pub body: Vec<u8>,
    /// The customer the answer belongs to, if any: erasing her deletes it.
    pub owner: Option<String>,
}

/// A stored answer's body, for re-sealing it under a new master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBody {
    pub scope: String,
    pub key: String,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// First time for this key (or its earlier holder died): run the request.
    Started,
    /// Another request with this key is running.
    InFlight,
    /// This key was used for a different request.
    Mismatch,
    /// Already answered: replay this.
    Done(StoredResponse),
}

pub trait IdempotencyStore: Clone + Send + Sync + 'static {
    /// Claims `key` in `scope` for a request hashed to `hash`. A claim older than `lease_ms`
    /// that never finished (its server died) may be taken over; a key lives `ttl_ms`.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn begin(
        &self,
        scope: &str,
        key: &str,
        hash: &str,
        now: i64,
        lease_ms: i64,
        ttl_ms: i64,
    ) -> impl Future<Output = crate::StoreResult<Begin>> + Send;

    /// Stores the answer for retries.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn finish(
        &self,
        scope: &str,
        key: &str,
        response: &StoredResponse,
    ) -> impl Future<Output = crate::StoreResult<()>> + Send;

    /// Forgets the key (the request failed in a way a retry may fix) if the claim still is
    /// the one made at `started_at` (an attempt never frees another's claim).
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn abandon(&self, scope: &str, key: &str, started_at: i64) -> impl Future<Output = crate::StoreResult<()>> + Send;

    /// Deletes every answer stored for `owner` (her account is erased); returns how many.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn forget_owner(&self, owner: &str) -> impl Future<Output = crate::StoreResult<u64>> + Send;

    /// Up to `limit` stored answers after (`scope`, `key`) in key order, for re-sealing.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn stored_bodies(
        &self,
        after: Option<(&str, &str)>,
        limit: i64,
    ) -> impl Future<Output = crate::StoreResult<Vec<StoredBody>>> + Send;

    /// Replaces a stored answer's body if it is still `old`; whether it was.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn replace_body(
        &self,
        scope: &str,
        key: &str,
        old: &[u8],
        new: &[u8],
    ) -> impl Future<Output = crate::StoreResult<bool>> + Send;

    /// Deletes expired keys; returns how many.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn purge_idempotency(&self, now: i64) -> impl Future<Output = crate::StoreResult<u64>> + Send;
}
