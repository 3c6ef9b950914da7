//! What identity needs from a store.

use crate::audit::{AuditChain, AuditEntry, AuditFilter, AuditInput};
use crate::model::{CustomerRecord, LinkPurpose, RefreshRecord, RefreshUse};
use crate::staff::{ApiKeyRecord, Role, StaffRecord};
use crate::vault::WrappedKey;
use rouge_catalog::RepoError;
use rouge_kernel::DomainEvent;
use std::future::Future;
use uuid::Uuid;

pub type RepoResult<T> = Result<T, RepoError>;

/// Identity's repository. Times are Unix seconds.
pub trait IdentityRepository: Clone + Send + Sync + 'static {
    /// Inserts a new customer (version 1) and its events in one transaction.
    ///
    /// # Errors
    /// MUST return `Duplicate { field: "email" }` when another customer has the email index.
    fn insert_customer(
        &self,
        c: &CustomerRecord,
        events: &[DomainEvent],
    ) -> impl Future<Output = RepoResult<()>> + Send;
    /// Replaces the customer whose stored version is `c.version - 1`, with its events.
    ///
    /// # Errors
    /// MUST return `Stale` when the stored version is not `c.version - 1`.
    fn update_customer(
        &self,
        c: &CustomerRecord,
        events: &[DomainEvent],
    ) -> impl Future<Output = RepoResult<()>> + Send;
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn customer(&self, id: Uuid) -> impl Future<Output = RepoResult<Option<CustomerRecord>>> + Send;
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn customer_by_email_index(&self, index: &str) -> impl Future<Output = RepoResult<Option<CustomerRecord>>> + Send;
    /// Every customer's id with its wrapped data key (erased customers have none), for key rotation.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn customer_keys(&self) -> impl Future<Output = RepoResult<Vec<(Uuid, WrappedKey)>>> + Send;
    /// How many customers' and staff members' data keys each master key id wraps (checked at
    /// start: a key directory restored without those keys must not serve).
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn people_by_master(&self) -> impl Future<Output = RepoResult<Vec<(String, i64)>>> + Send;
    /// Replaces a wrapped key if it is still `old`; `false` when it changed meanwhile.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn replace_key(
        &self,
        id: Uuid,
        old: &WrappedKey,
        new: &WrappedKey,
    ) -> impl Future<Output = RepoResult<bool>> + Send;

    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn insert_refresh(&self, r: &RefreshRecord) -> impl Future<Output = RepoResult<()>> + Send;
    /// Marks the token used, atomically: of two concurrent uses exactly one is `Fresh`.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn use_refresh(&self, hash: &str, now: i64) -> impl Future<Output = RepoResult<RefreshUse>> + Send;
    /// Revokes every token of a family (logout, or reuse detected).
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn revoke_family(&self, family: Uuid, now: i64) -> impl Future<Output = RepoResult<()>> + Send;
    /// Revokes every refresh token of a customer (password reset, erasure).
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn revoke_customer(&self, customer: Uuid, now: i64) -> impl Future<Output = RepoResult<()>> + Send;
    /// Whether the session (refresh family) `family` of `customer` is live: it has a refresh
    /// token and none of its tokens was revoked.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn session_live(&self, customer: Uuid, family: Uuid) -> impl Future<Output = RepoResult<bool>> + Send;

    /// Stores a one-time link's hash and the events that mail it, in one transaction.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn insert_link(
        &self,
        hash: &str,
        customer: Uuid,
        purpose: LinkPurpose,
        expires_at: i64,
        events: &[DomainEvent],
    ) -> impl Future<Output = RepoResult<()>> + Send;
    /// Spends a link, atomically: the customer it was for, or `None` when it is unknown,
    /// used, expired or for another purpose.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn take_link(
        &self,
        hash: &str,
        purpose: LinkPurpose,
        now: i64,
    ) -> impl Future<Output = RepoResult<Option<Uuid>>> + Send;

    /// Writes events to the outbox on their own.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn append_events(&self, events: &[DomainEvent]) -> impl Future<Output = RepoResult<()>> + Send;

    /// Until when `key` is locked out of logging in, if it is.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn locked_until(&self, key: &str) -> impl Future<Output = RepoResult<Option<i64>>> + Send;
    /// Counts one failed login for `key`; a count older than `window_start` restarts at 1.
    /// Returns the count.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn record_failure(&self, key: &str, now: i64, window_start: i64) -> impl Future<Output = RepoResult<i64>> + Send;
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn lock(&self, key: &str, until: i64) -> impl Future<Output = RepoResult<()>> + Send;
    /// Forgets the failures of `key` (after a successful login).
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn clear_failures(&self, key: &str) -> impl Future<Output = RepoResult<()>> + Send;
}

/// Staff, custom roles and API keys. Built-in roles are not stored.
pub trait StaffRepository: Clone + Send + Sync + 'static {
    /// # Errors
    /// MUST return `Duplicate { field: "email" }` when another staff member has the email index.
    fn insert_staff(&self, s: &StaffRecord) -> impl Future<Output = RepoResult<()>> + Send;
    /// Sets or clears `disabled_at`.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn set_staff_disabled(&self, id: Uuid, at: Option<i64>) -> impl Future<Output = RepoResult<bool>> + Send;
    /// Gives a staff member another role; `false` when there is no such staff member.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn set_staff_role(&self, id: Uuid, role: Uuid) -> impl Future<Output = RepoResult<bool>> + Send;
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn staff(&self, id: Uuid) -> impl Future<Output = RepoResult<Option<StaffRecord>>> + Send;
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn staff_by_email_index(&self, index: &str) -> impl Future<Output = RepoResult<Option<StaffRecord>>> + Send;
    /// Every staff member, oldest first.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn all_staff(&self) -> impl Future<Output = RepoResult<Vec<StaffRecord>>> + Send;
    /// # Errors
    /// MUST return `Duplicate { field: "name" }` when a custom role has the name.
    fn insert_role(&self, r: &Role) -> impl Future<Output = RepoResult<()>> + Send;
    /// The custom roles.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn custom_roles(&self) -> impl Future<Output = RepoResult<Vec<Role>>> + Send;
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn insert_api_key(&self, k: &ApiKeyRecord) -> impl Future<Output = RepoResult<()>> + Send;
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn api_key(&self, id: Uuid) -> impl Future<Output = RepoResult<Option<ApiKeyRecord>>> + Send;
    /// Every key, newest first.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn api_keys(&self) -> impl Future<Output = RepoResult<Vec<ApiKeyRecord>>> + Send;
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn touch_api_key(&self, id: Uuid, now: i64) -> impl Future<Output = RepoResult<()>> + Send;
    /// `false` when there is no such key or it was revoked already.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn revoke_api_key(&self, id: Uuid, now: i64) -> impl Future<Output = RepoResult<bool>> + Send;
}

/// The append-only audit trail.
pub trait AuditRepository: Clone + Send + Sync + 'static {
    /// Appends an entry chained to the last one. Appends are serialised (one at a time across
    /// every replica), so the chain never forks.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be written.
    fn append_audit(&self, e: &AuditInput) -> impl Future<Output = RepoResult<AuditEntry>> + Send;
    /// Newest first.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn audit(&self, f: &AuditFilter) -> impl Future<Output = RepoResult<Vec<AuditEntry>>> + Send;
    /// Every entry, oldest first, and the head (count, last hash) if any entry was written.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn audit_chain(&self) -> impl Future<Output = RepoResult<AuditChain>> + Send;
}
