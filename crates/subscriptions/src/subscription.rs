//! Subscriptions to a variant every N weeks: what a customer sets up from one of her orders
//! (its contact and address are the renewals'; nothing personal is kept here), the changes she
//! may make (cadence, quantity, next date, card, pause, resume, cancel, skip a period), and the
//! dunning schedule when a renewal's payment fails.

use rouge_kernel::{StoreResult, Validation};
use serde::{Deserialize, Serialize};
use std::future::Future;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::replenishment::DAY_MS;

const WEEK_MS: i64 = 7 * DAY_MS;

/// Failed renewal payments are tried again after these pauses; after the last, the
/// subscription is paused.
pub const DUNNING_DAYS: [i64; 2] = [1, 3];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Active,
    /// No renewals until resumed (by her, or after failed payments).
    Paused,
    /// For good.
    Cancelled,
}

impl SubscriptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::Paused => "paused",
            SubscriptionStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(SubscriptionStatus::Active),
            "paused" => Some(SubscriptionStatus::Paused),
            "cancelled" => Some(SubscriptionStatus::Cancelled),
            _ => None,
        }
    }
}

/// How renewals are paid off-session: a saved payment method of a provider (the test
/// provider's `pm_…` tokens; a Stripe PaymentMethod id).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SavedPayment {
    pub provider: String,
    pub token: String,
    /// The provider's customer the method is saved to (Stripe: `cus_…`; renewals are then
    /// charged off-session). The test provider needs none.
    #[serde(default)]
    pub customer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Subscription {
    pub id: Uuid,
    pub customer_id: Uuid,
    /// The order it was set up from: renewals ship to its address and email its contact.
    pub origin_order_id: Uuid,
    pub sku: String,
    pub quantity: i64,
    pub cadence_weeks: u32,
    pub status: SubscriptionStatus,
    /// When the next renewal is due (ms since the epoch).
    pub next_at: i64,
    /// Periods renewed (or skipped) so far; the next renewal is period `period + 1`.
    pub period: i64,
    /// Shown and sent in events as its provider alone (`payment_provider`), never its token
    /// or customer (the store keeps them).
    #[serde(rename = "payment_provider", serialize_with = "provider_only", skip_deserializing)]
    #[schema(value_type = String)]
    pub payment: SavedPayment,
    /// Failed payments of the current period.
    pub failures: i32,
    /// Why it was paused by the shop (failed payments), while it is.
    pub paused_reason: Option<String>,
    pub last_order_id: Option<Uuid>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a customer sends to subscribe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionInput {
    /// One of her orders holding the variant: renewals ship where it did.
    pub order_id: Uuid,
    pub sku: String,
    #[serde(default = "one")]
    pub quantity: i64,
    /// 1 to 26.
    pub cadence_weeks: u32,
    /// The saved payment method renewals are charged to (off-session).
    pub payment: SavedPayment,
}

fn provider_only<S: serde::Serializer>(p: &SavedPayment, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.provider)
}

fn one() -> i64 {
    1
}

/// What she may change (absent: unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionPatch {
    pub cadence_weeks: Option<u32>,
    pub quantity: Option<i64>,
    /// The next renewal's date (ms), from tomorrow on.
    pub next_at: Option<i64>,
    /// `active` (resume), `paused` or `cancelled`.
    pub status: Option<SubscriptionStatus>,
    pub payment: Option<SavedPayment>,
}

fn check(v: &mut Validation, cadence: Option<u32>, quantity: Option<i64>, payment: Option<&SavedPayment>) {
    if cadence.is_some_and(|c| !(1..=26).contains(&c)) {
        v.push("cadence_weeks", "out_of_range", "every 1 to 26 weeks");
    }
    if quantity.is_some_and(|q| !(1..=10).contains(&q)) {
        v.push("quantity", "out_of_range", "1 to 10 units");
    }
    if let Some(p) = payment {
        if p.provider.trim().is_empty() || p.provider.len() > 40 {
            v.push("payment.provider", "invalid", "a configured payment provider");
        }
        if p.token.trim().is_empty() || p.token.len() > 255 {
            v.push("payment.token", "invalid", "the provider's saved payment method (1 to 255 characters)");
        }
    }
}

impl SubscriptionInput {
    /// # Errors
    /// Every bad field.
    pub fn validate(&self) -> Result<(), Validation> {
        let mut v = Validation::new();
        check(&mut v, Some(self.cadence_weeks), Some(self.quantity), Some(&self.payment));
        if v.is_empty() { Ok(()) } else { Err(v) }
    }

    pub fn into_subscription(self, customer_id: Uuid, now: i64) -> Subscription {
        Subscription {
            id: rouge_kernel::new_id(),
            customer_id,
            origin_order_id: self.order_id,
            sku: self.sku.trim().to_owned(),
            quantity: self.quantity,
            cadence_weeks: self.cadence_weeks,
            status: SubscriptionStatus::Active,
            next_at: now + i64::from(self.cadence_weeks) * WEEK_MS,
            period: 0,
            payment: self.payment,
            failures: 0,
            paused_reason: None,
            last_order_id: None,
            created_at: now,
            updated_at: now,
        }
    }
}

impl Subscription {
    /// Applies her changes.
    ///
    /// # Errors
    /// Every bad field; a cancelled subscription changes no more (`status`).
    pub fn apply(&mut self, p: SubscriptionPatch, now: i64) -> Result<(), Validation> {
        let mut v = Validation::new();
        check(&mut v, p.cadence_weeks, p.quantity, p.payment.as_ref());
        if self.status == SubscriptionStatus::Cancelled {
            v.push("status", "cancelled", "a cancelled subscription cannot change; subscribe again");
        }
        if p.next_at.is_some_and(|n| n < now + DAY_MS || n > now + 365 * DAY_MS) {
            v.push("next_at", "out_of_range", "from tomorrow to a year from now");
        }
        if !v.is_empty() {
            return Err(v);
        }
        if let Some(c) = p.cadence_weeks {
            self.cadence_weeks = c;
        }
        if let Some(q) = p.quantity {
            self.quantity = q;
        }
        if let Some(n) = p.next_at {
            self.next_at = n;
        }
        if let Some(pay) = p.payment {
            self.payment = pay;
        }
        if let Some(s) = p.status {
            if s == SubscriptionStatus::Active && self.status == SubscriptionStatus::Paused {
                self.failures = 0;
                self.paused_reason = None;
                // A renewal that fell due while paused is not made up for: the next is a
                // cadence from now at the earliest.
                self.next_at = self.next_at.max(now + DAY_MS);
            }
            self.status = s;
        }
        self.updated_at = now;
        Ok(())
    }

    /// Skips the renewal of `period` (the next one): again for the same period, nothing.
    /// Returns whether it moved.
    pub fn skip(&mut self, period: i64, now: i64) -> bool {
        if period != self.period + 1 || self.status == SubscriptionStatus::Cancelled {
            return false;
        }
        self.period = period;
        self.next_at += self.cadence();
        self.failures = 0;
        self.updated_at = now;
        true
    }

    pub fn cadence(&self) -> i64 {
        i64::from(self.cadence_weeks) * WEEK_MS
    }

    /// The period renewed by `order`: the next one is a cadence later.
    pub fn renewed(&mut self, period: i64, order: Uuid, now: i64) {
        self.period = period;
        self.last_order_id = Some(order);
        self.failures = 0;
        self.next_at += self.cadence();
        // Long overdue (paused for a while, or a store outage): never a burst of catch-ups.
        if self.next_at <= now {
            self.next_at = now + self.cadence();
        }
        self.updated_at = now;
    }

    /// A renewal's payment failed: tried again on the dunning schedule, then paused. Returns
    /// when it is tried again (`None`: paused).
    pub fn payment_failed(&mut self, now: i64) -> Option<i64> {
        self.failures += 1;
        self.updated_at = now;
        match DUNNING_DAYS.get(self.failures as usize - 1) {
            Some(days) => {
                self.next_at = now + days * DAY_MS;
                Some(self.next_at)
            }
            None => {
                self.status = SubscriptionStatus::Paused;
                self.paused_reason = Some(format!("{} renewal payments failed", self.failures));
                None
            }
        }
    }
}

/// One period's renewal: its cart (made once) and, once placed, its order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renewal {
    pub subscription_id: Uuid,
    pub period: i64,
    pub cart_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
}

/// Which subscriptions to list (every one by default), and from where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionFilter {
    pub customer: Option<Uuid>,
    pub status: Option<SubscriptionStatus>,
    pub sku: Option<String>,
    /// Only those older than this one (the page after it; ids grow with time).
    pub before: Option<Uuid>,
}

/// What the store keeps of subscriptions and their renewals.
pub trait SubscriptionRepository: Clone + Send + Sync + 'static {
    /// Saves a subscription with its event (`subscription.created`, `.changed`, `.renewed`,
    /// `.payment_failed`, `.paused`); `expected`: the `updated_at` it was read at (none for a
    /// new one).
    ///
    /// # Errors
    /// `Stale` when it changed since it was read.
    fn save_subscription(
        &self,
        s: &Subscription,
        expected: Option<i64>,
        event: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn subscription(&self, id: Uuid) -> impl Future<Output = StoreResult<Option<Subscription>>> + Send;
    /// Those `filter` names, newest first, at most `limit`.
    fn subscriptions(
        &self,
        filter: &SubscriptionFilter,
        limit: i64,
    ) -> impl Future<Output = StoreResult<Vec<Subscription>>> + Send;
    /// Claims up to `limit` active subscriptions due by `now` for one renewal attempt each,
    /// until `lease_until`.
    fn claim_due_subscriptions(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> impl Future<Output = StoreResult<Vec<Subscription>>> + Send;
    /// Gives a claim back early (an attempt that failed is tried again at the next look, not
    /// when the lease runs out): only the claim taken until `lease_until`, not a later one.
    fn release_subscription_claim(
        &self,
        subscription: Uuid,
        lease_until: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Gives back every claim taken until `lease_until`: those of a claiming whose answer was
    /// lost (the store took them, the renewer never heard which). Returns how many.
    fn release_subscription_claims(&self, lease_until: i64) -> impl Future<Output = StoreResult<u64>> + Send;
    /// The renewal of a period, made (empty) when it is not there yet.
    fn renewal(&self, subscription: Uuid, period: i64) -> impl Future<Output = StoreResult<Renewal>> + Send;
    /// Gives a renewal its cart, unless it has one; returns the one it has.
    fn set_renewal_cart(
        &self,
        subscription: Uuid,
        period: i64,
        cart: Uuid,
    ) -> impl Future<Output = StoreResult<Uuid>> + Send;
    fn set_renewal_order(
        &self,
        subscription: Uuid,
        period: i64,
        order: Uuid,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Her erasure: her subscriptions are cancelled and their payment tokens forgotten.
    fn forget_subscriptions(&self, customer: Uuid) -> impl Future<Output = StoreResult<u64>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub() -> Subscription {
        SubscriptionInput {
            order_id: Uuid::nil(),
            sku: "LL-NIA-30".into(),
            quantity: 1,
            cadence_weeks: 4,
            payment: SavedPayment { provider: "test".into(), token: "pm_visa".into(), customer: None },
        }
        .into_subscription(Uuid::nil(), 0)
    }

    #[test]
    fn the_first_renewal_is_a_cadence_after_subscribing_and_skips_are_by_period() {
        let mut s = sub();
        assert_eq!(s.next_at, 28 * DAY_MS);
        assert!(s.skip(1, 10));
        assert!(!s.skip(1, 10), "the same period again: nothing");
        assert_eq!((s.period, s.next_at), (1, 56 * DAY_MS));
        s.renewed(2, Uuid::nil(), 56 * DAY_MS);
        assert_eq!((s.period, s.next_at, s.last_order_id), (2, 84 * DAY_MS, Some(Uuid::nil())));
    }

    #[test]
    fn failed_payments_are_retried_then_pause_and_resuming_clears_them() {
        let mut s = sub();
        let now = s.next_at;
        assert_eq!(s.payment_failed(now), Some(now + DAY_MS));
        assert_eq!(s.payment_failed(now + DAY_MS), Some(now + 4 * DAY_MS));
        assert_eq!(s.payment_failed(now + 4 * DAY_MS), None);
        assert_eq!(
            (s.status, s.paused_reason.as_deref()),
            (SubscriptionStatus::Paused, Some("3 renewal payments failed"))
        );
        let patch = SubscriptionPatch { status: Some(SubscriptionStatus::Active), ..Default::default() };
        s.apply(patch, now + 10 * DAY_MS).unwrap();
        assert_eq!((s.status, s.failures), (SubscriptionStatus::Active, 0));
        assert!(s.next_at >= now + 11 * DAY_MS, "no catch-up of what fell due while paused");
    }

    #[test]
    fn bad_changes_are_named_and_cancelled_is_final() {
        let mut s = sub();
        let bad =
            SubscriptionPatch { cadence_weeks: Some(0), quantity: Some(11), next_at: Some(5), ..Default::default() };
        let fields: Vec<String> = s.apply(bad, 0).unwrap_err().errors().iter().map(|e| e.field.clone()).collect();
        assert_eq!(fields, ["cadence_weeks", "quantity", "next_at"]);
        s.apply(SubscriptionPatch { status: Some(SubscriptionStatus::Cancelled), ..Default::default() }, 0).unwrap();
        let again = SubscriptionPatch { status: Some(SubscriptionStatus::Active), ..Default::default() };
        assert!(s.apply(again, 0).is_err());
        assert!(!s.skip(1, 0));
    }
}
