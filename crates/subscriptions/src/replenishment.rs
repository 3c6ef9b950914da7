//! When a customer will run out of what she bought, and when an opened product passes its
//! period after opening: the prediction (pure), the reminders it makes, and the store port.
//!
//! A product lasts `size × quantity ÷ daily use` days from the purchase, the daily use taken
//! from its category (a serum ~0.5 ml a day, a cleanser ~2 ml…) or, failing that, its product
//! type. Once she has bought the same variant before, her own rhythm wins: the median of the
//! gaps between her purchases. Reminders go `days_before` that day; a PAO reminder only when
//! the product would expire before she finishes it.

use rouge_kernel::StoreResult;
use serde::{Deserialize, Serialize};
use std::future::Future;
use utoipa::ToSchema;
use uuid::Uuid;

/// A day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// A line of an order, as the prediction needs it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bought {
    pub sku: String,
    pub quantity: i64,
    /// The variant's size: amount and unit (`ml`, `g`, `pcs`).
    pub size: Option<(i64, String)>,
    pub pao_months: Option<i64>,
    pub product_type: String,
    /// Category slugs, the product's first, then those above it.
    pub categories: Vec<String>,
    /// When (ms since the epoch).
    pub at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReminderKind {
    /// She is about to run out.
    Runout,
    /// The opened product passes its period after opening.
    Pao,
}

impl ReminderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReminderKind::Runout => "runout",
            ReminderKind::Pao => "pao",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "runout" => Some(ReminderKind::Runout),
            "pao" => Some(ReminderKind::Pao),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReminderState {
    Pending,
    Sent,
    /// She bought the variant again before it was due, or the order was cancelled.
    Cancelled,
}

impl ReminderState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReminderState::Pending => "pending",
            ReminderState::Sent => "sent",
            ReminderState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(ReminderState::Pending),
            "sent" => Some(ReminderState::Sent),
            "cancelled" => Some(ReminderState::Cancelled),
            _ => None,
        }
    }
}

/// A reminder to email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reminder {
    pub id: Uuid,
    pub kind: ReminderKind,
    pub customer_id: Option<Uuid>,
    pub order_id: Uuid,
    pub sku: String,
    pub quantity: i64,
    /// When she bought it (ms).
    pub bought_at: i64,
    /// When she runs out, or the PAO ends (ms).
    pub predicted_at: i64,
    /// When the email goes (ms).
    pub due_at: i64,
    /// How it was predicted, in words ("30 ml at about 0.5 ml a day").
    pub basis: String,
    pub state: ReminderState,
    /// The cart its reorder link made, once used.
    pub cart_id: Option<Uuid>,
}

/// Daily use in hundredths of the size's unit (50 = 0.5 ml a day), by the first category slug
/// that names a kind of product, else by product type; `None` for what is not used up
/// (tools, pieces).
pub fn daily_use_hundredths(product_type: &str, categories: &[String], unit: &str) -> Option<i64> {
    if unit == "pcs" {
        return None;
    }
    const BY_CATEGORY: &[(&str, i64)] = &[
        ("eye", 10),
        ("serum", 50),
        ("oil", 50),
        ("essence", 100),
        ("moistur", 100),
        ("cream", 100),
        ("mask", 100),
        ("cleans", 200),
        ("toner", 200),
        ("sun", 150),
        ("spf", 150),
        ("foundation", 30),
        ("concealer", 10),
        ("lip", 5),
        ("shampoo", 500),
        ("conditioner", 500),
        ("body", 300),
    ];
    for c in categories.iter().rev() {
        if let Some((_, rate)) = BY_CATEGORY.iter().find(|(k, _)| c.contains(k)) {
            return Some(*rate);
        }
    }
    match product_type {
        "skincare" => Some(100),
        "makeup" | "fragrance" => Some(30),
        "haircare" => Some(500),
        "body" => Some(300),
        _ => None,
    }
}

/// The reminders a purchase makes, given when she bought the same variant before (ms, any
/// order), each `days_before` its day, never sooner than `not_before_ms` after the purchase (a
/// day, on a shop).
pub fn reminders(
    b: &Bought,
    earlier: &[i64],
    days_before: i64,
    not_before_ms: i64,
) -> Vec<(ReminderKind, i64, i64, String)> {
    let mut out = vec![];
    let runout = own_rhythm(b, earlier).or_else(|| by_size(b));
    if let Some((at, basis)) = &runout {
        let due = (at - days_before * DAY_MS).max(b.at + not_before_ms);
        out.push((ReminderKind::Runout, *at, due, basis.clone()));
    }
    if let Some(months) = b.pao_months.filter(|m| *m > 0) {
        let expires = b.at + months * 30 * DAY_MS;
        if runout.as_ref().is_none_or(|(at, _)| expires < *at) {
            out.push((ReminderKind::Pao, expires, expires, format!("{months} months after opening")));
        }
    }
    out
}

/// Her own rhythm: the median gap between her purchases of the variant, after this one.
fn own_rhythm(b: &Bought, earlier: &[i64]) -> Option<(i64, String)> {
    let mut times: Vec<i64> = earlier.iter().copied().filter(|t| *t < b.at).collect();
    if times.is_empty() {
        return None;
    }
    times.push(b.at);
    times.sort_unstable();
    let mut gaps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).filter(|g| *g >= DAY_MS).collect();
    if gaps.is_empty() {
        return None;
    }
    gaps.sort_unstable();
    let median = gaps[gaps.len() / 2];
    Some((b.at + median, format!("you reorder about every {} days", median / DAY_MS)))
}

fn by_size(b: &Bought) -> Option<(i64, String)> {
    let (amount, unit) = b.size.as_ref()?;
    let rate = daily_use_hundredths(&b.product_type, &b.categories, unit)?;
    let days = amount * b.quantity.max(1) * 100 / rate;
    let words =
        format!("{} × {amount} {unit} at about {}.{:02} {unit} a day", b.quantity.max(1), rate / 100, rate % 100);
    Some((b.at + days * DAY_MS, words))
}

/// What the store keeps of reminders.
pub trait ReplenishmentRepository: Clone + Send + Sync + 'static {
    /// Adds an order's reminders (again: nothing) and cancels the pending ones of her earlier
    /// orders for the same variants (she bought them again).
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn add_reminders(&self, reminders: &[Reminder]) -> impl Future<Output = StoreResult<()>> + Send;
    /// When she bought `sku` before (the purchase times of her earlier orders).
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn bought_before(&self, customer: Uuid, sku: &str) -> impl Future<Output = StoreResult<Vec<i64>>> + Send;
    /// Cancels an order's pending reminders (it was cancelled).
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn cancel_reminders(&self, order: Uuid) -> impl Future<Output = StoreResult<()>> + Send;
    /// Claims up to `limit` pending reminders due by `now` for one sending each, until
    /// `lease_until` (a replica that dies mid-send leaves them to another then).
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn claim_due_reminders(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> impl Future<Output = StoreResult<Vec<Reminder>>> + Send;
    /// Gives a claim back early (a send that failed is tried again at the next look): only the
    /// claim taken until `lease_until`.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn release_reminder_claim(&self, id: Uuid, lease_until: i64) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Gives back every pending reminder's claim taken until `lease_until` (a claiming whose
    /// answer was lost). Returns how many.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn release_reminder_claims(&self, lease_until: i64) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Marks a reminder sent, with the hash of its reorder link's token.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn mark_sent(&self, id: Uuid, token_hash: &str, now: i64) -> impl Future<Output = StoreResult<()>> + Send;
    /// The sent reminder whose link carries the token of this hash.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn by_token(&self, token_hash: &str) -> impl Future<Output = StoreResult<Option<Reminder>>> + Send;
    /// Remembers the cart a reminder's link made; `false` when it had one already.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn set_cart(&self, id: Uuid, cart: Uuid) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Her reminders, newest first.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn reminders_of(&self, customer: Uuid) -> impl Future<Output = StoreResult<Vec<Reminder>>> + Send;
    /// Her erasure: her reminders go.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn forget_reminders(&self, customer: Uuid) -> impl Future<Output = StoreResult<u64>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serum(at: i64) -> Bought {
        Bought {
            sku: "LL-NIA-30".into(),
            quantity: 1,
            size: Some((30, "ml".into())),
            pao_months: Some(6),
            product_type: "skincare".into(),
            categories: vec!["skincare".into(), "serums".into()],
            at,
        }
    }

    #[test]
    fn a_30_ml_serum_lasts_60_days_and_is_reminded_a_week_before() {
        let r = reminders(&serum(0), &[], 7, DAY_MS);
        assert_eq!(r.len(), 1, "6 months of PAO outlast 60 days of use: no PAO reminder");
        let (kind, at, due, basis) = &r[0];
        assert_eq!((*kind, *at / DAY_MS, *due / DAY_MS), (ReminderKind::Runout, 60, 53));
        assert_eq!(basis, "1 × 30 ml at about 0.50 ml a day");
        let two = Bought { quantity: 2, ..serum(0) };
        assert_eq!(reminders(&two, &[], 7, DAY_MS)[0].1 / DAY_MS, 120);
    }

    #[test]
    fn her_own_rhythm_wins_once_she_has_one() {
        let at = 100 * DAY_MS;
        let r = reminders(&serum(at), &[20 * DAY_MS, 60 * DAY_MS], 7, DAY_MS);
        // Gaps 40 and 40 days: she runs out 40 days after this purchase.
        assert_eq!(r[0].1, at + 40 * DAY_MS);
        assert_eq!(r[0].3, "you reorder about every 40 days");
        assert_eq!(reminders(&serum(at), &[at], 7, DAY_MS)[0].1, at + 60 * DAY_MS, "the same order is no rhythm");
    }

    #[test]
    fn a_pao_shorter_than_the_use_is_reminded_and_tools_are_not() {
        let big = Bought { size: Some((500, "ml".into())), pao_months: Some(12), ..serum(0) };
        let r = reminders(&big, &[], 7, DAY_MS);
        let kinds: Vec<ReminderKind> = r.iter().map(|x| x.0).collect();
        assert_eq!(kinds, [ReminderKind::Runout, ReminderKind::Pao], "1000 days of use, 12 months of PAO");
        assert_eq!(r[1].1 / DAY_MS, 360);
        let brush =
            Bought { size: Some((1, "pcs".into())), pao_months: None, product_type: "tools".into(), ..serum(0) };
        assert!(reminders(&brush, &[], 7, DAY_MS).is_empty());
        assert_eq!(daily_use_hundredths("haircare", &["shampoo".into()], "ml"), Some(500));
        assert_eq!(daily_use_hundredths("skincare", &["face".into()], "ml"), Some(100), "by product type");
    }

    #[test]
    fn a_reminder_is_never_due_before_the_day_after() {
        let tiny = Bought { size: Some((2, "ml".into())), ..serum(0) };
        let r = reminders(&tiny, &[], 7, DAY_MS);
        assert_eq!((r[0].1 / DAY_MS, r[0].2 / DAY_MS), (4, 1));
    }
}
