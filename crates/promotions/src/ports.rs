//! What promotions need from a store: the promotions and their codes, and budget counters
//! that checkouts hold like stock (held → committed with the order, or released).

use crate::model::{Code, Promotion};
use rouge_kernel::StoreResult;
use serde::{Deserialize, Serialize};
use std::future::Future;
use uuid::Uuid;

/// One budget a checkout takes from: a counter (`p:<promotion>` uses in all, `c:<CODE>` a
/// code's uses, `pc:<promotion>:<customer>` a customer's) and its limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Use {
    pub key: String,
    pub cap: i64,
    pub amount: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldState {
    /// Taken for a checkout in progress; given back when it fails or expires.
    Held,
    /// Spent by an order.
    Committed,
    /// Given back (checkout failed, hold expired, order cancelled).
    Released,
}

impl HoldState {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldState::Held => "held",
            HoldState::Committed => "committed",
            HoldState::Released => "released",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "held" => Some(HoldState::Held),
            "committed" => Some(HoldState::Committed),
            "released" => Some(HoldState::Released),
            _ => None,
        }
    }
}

/// A checkout's hold on budgets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub id: Uuid,
    /// The checkout attempt (one hold per attempt: holding again returns it).
    pub reference: String,
    pub state: HoldState,
    pub order_id: Option<Uuid>,
    pub uses: Vec<Use>,
    pub expires_at: i64,
}

pub trait PromotionsRepository: Clone + Send + Sync + 'static {
    /// Inserts or replaces a promotion.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn save_promotion(&self, p: &Promotion) -> impl Future<Output = StoreResult<()>> + Send;

    /// # Errors
    /// `Unavailable` when the store fails.
    fn promotion(&self, id: Uuid) -> impl Future<Output = StoreResult<Option<Promotion>>> + Send;

    /// Every promotion, newest first.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn promotions(&self) -> impl Future<Output = StoreResult<Vec<Promotion>>> + Send;

    /// Adds codes, all or none.
    ///
    /// # Errors
    /// MUST return `Duplicate` when any of them exists already (for any promotion).
    fn add_codes(&self, codes: &[Code]) -> impl Future<Output = StoreResult<()>> + Send;

    /// A code (normalized), with the orders that used it counted.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn code(&self, code: &str) -> impl Future<Output = StoreResult<Option<Code>>> + Send;

    /// A promotion's codes in code order, after `after`, with the orders that used each counted.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn codes(
        &self,
        promotion: Uuid,
        after: Option<&str>,
        limit: i64,
    ) -> impl Future<Output = StoreResult<Vec<Code>>> + Send;

    /// Records the promotions (and codes) `order` used, once (again: nothing).
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn record_uses(
        &self,
        order: Uuid,
        uses: &[(Uuid, Option<String>)],
        at: i64,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Forgets what `order` used (it was cancelled).
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn forget_uses(&self, order: Uuid) -> impl Future<Output = StoreResult<()>> + Send;

    /// How many orders used each promotion.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn uses_of(&self, promotions: &[Uuid]) -> impl Future<Output = StoreResult<Vec<i64>>> + Send;

    /// What each counter has taken (held or committed); 0 for one never taken.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn taken(&self, keys: &[String]) -> impl Future<Output = StoreResult<Vec<i64>>> + Send;

    /// Takes every use of `hold` in one transaction, each only if its counter stays within its
    /// cap, and records the hold; or takes nothing. A hold with the same reference already
    /// recorded is returned as it is (a retry).
    ///
    /// # Errors
    /// `Ok(Err(key))`: the first counter that would go over its cap (nothing was taken).
    /// `Unavailable` when the store fails.
    fn hold(&self, hold: &Hold) -> impl Future<Output = StoreResult<Result<Hold, String>>> + Send;

    /// Gives a held or committed hold's uses back (once); `None` when there is no such hold.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn release_hold(&self, id: Uuid) -> impl Future<Output = StoreResult<Option<Hold>>> + Send;

    /// Marks a hold spent by `order`. One released meanwhile (expired before its order was
    /// recorded) takes its uses again, whatever the caps: the order did use them.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn commit_hold(&self, id: Uuid, order: Uuid) -> impl Future<Output = StoreResult<Option<Hold>>> + Send;

    /// Held holds that expired before `now`, oldest first.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn expired_holds(&self, now: i64, limit: i64) -> impl Future<Output = StoreResult<Vec<Uuid>>> + Send;
}

/// Which segments a customer is in, as identity tells from her beauty profile (in process, or
/// the identity service over HTTP).
pub trait Profiles: Send + Sync + 'static {
    /// Her segments (`skin_type:oily`, `concern:acne`…); empty without a profile.
    ///
    /// # Errors
    /// The cause, when identity cannot be asked.
    fn segments(
        &self,
        customer: Uuid,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Vec<String>, String>> + Send + '_>>;
}

/// The live offers as the orders service tells them, for a process that runs apart from it
/// (the catalogue's storefront pages show them).
pub trait OfferSource: Send + Sync + 'static {
    /// # Errors
    /// The cause, when the orders service cannot be asked.
    fn live(&self) -> std::pin::Pin<Box<dyn Future<Output = Result<Vec<crate::Offer>, String>> + Send + '_>>;
}
