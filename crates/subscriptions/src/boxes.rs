//! The monthly beauty box: staff set a month's pool (SKUs with the units set aside for the
//! box) and how many items a box holds; each subscriber's box is filled from the pool by her
//! profile: never an item with an ingredient she avoids, never one she had in an earlier box,
//! items for her skin type and concerns first, within the units of the pool. Staff preview the
//! allocation, then lock it: the locked boxes are what ships.

use rouge_kernel::{StoreResult, Validation};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use utoipa::ToSchema;
use uuid::Uuid;

/// Units of a SKU set aside for the month's boxes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolItem {
    pub sku: String,
    pub quantity: i64,
}

/// A month's box as staff set it up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BoxInput {
    /// The SKU subscribers subscribe to (a subscription to it is a box subscription).
    pub box_sku: String,
    /// Items in each box (1 to 10).
    pub items_per_box: u8,
    pub pool: Vec<PoolItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BoxMonth {
    /// `YYYY-MM`.
    pub month: String,
    /// As set up ([`BoxInput`]'s fields; written out, not flattened: the request's refusal of
    /// unknown fields is no part of the answer's schema).
    pub box_sku: String,
    pub items_per_box: u8,
    pub pool: Vec<PoolItem>,
    /// Locked: the allocation is final (and the pool no longer changes).
    pub locked: bool,
    pub updated_at: i64,
}

impl BoxMonth {
    /// A month set up (not locked).
    pub fn new(month: String, input: BoxInput, now: i64) -> Self {
        let BoxInput { box_sku, items_per_box, pool } = input;
        Self { month, box_sku, items_per_box, pool, locked: false, updated_at: now }
    }
}

/// One subscriber's box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BoxFill {
    pub subscription_id: Uuid,
    pub customer_id: Uuid,
    pub skus: Vec<String>,
    /// Why it holds fewer items than a box should (nothing else suits her, or is left).
    pub short: Option<String>,
    /// The inventory reservation setting its items aside from the lock until her renewal
    /// order takes them (or, unclaimed, until the end of the following month).
    pub reservation_id: Option<Uuid>,
    /// Her renewal order that ships it (its items are sold to that order).
    pub order_id: Option<Uuid>,
}

/// `box.locked`: a month's boxes are final (their items set aside).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BoxLocked {
    /// `YYYY-MM`.
    pub month: String,
    pub locked_at: i64,
    pub boxes: Vec<LockedBox>,
}

/// One subscriber's box in `box.locked`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LockedBox {
    pub subscription_id: Uuid,
    pub customer_id: Uuid,
    pub skus: Vec<String>,
}

impl BoxLocked {
    pub fn new(month: &str, locked_at: i64, fills: &[BoxFill]) -> Self {
        let boxes = fills
            .iter()
            .map(|f| LockedBox { subscription_id: f.subscription_id, customer_id: f.customer_id, skus: f.skus.clone() })
            .collect();
        Self { month: month.to_owned(), locked_at, boxes }
    }
}

/// What the allocation knows of a pool SKU.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ItemFacts {
    pub skin_types: Vec<String>,
    pub concerns: Vec<String>,
    /// Its ingredients, as the catalogue normalises them.
    pub ingredient_keys: BTreeSet<String>,
}

/// What the allocation knows of a subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscriber {
    pub subscription_id: Uuid,
    pub customer_id: Uuid,
    pub skin_type: Option<String>,
    pub concerns: Vec<String>,
    /// The ingredient keys she avoids (her profile's names, resolved by the catalogue).
    pub avoid_keys: BTreeSet<String>,
    /// SKUs she had in earlier boxes.
    pub had: BTreeSet<String>,
}

/// `YYYY-MM`, a real month.
pub fn valid_month(m: &str) -> bool {
    let Some((y, mm)) = m.split_once('-') else { return false };
    y.len() == 4
        && y.bytes().all(|b| b.is_ascii_digit())
        && mm.parse::<u8>().is_ok_and(|n| (1..=12).contains(&n))
        && mm.len() == 2
}

/// The month (`YYYY-MM`, UTC) of a time in milliseconds since the Unix epoch.
pub fn month_of(at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms).unwrap_or_default().format("%Y-%m").to_string()
}

/// The start (UTC, milliseconds since the Unix epoch) of the month `after` months after
/// `month` (`YYYY-MM`).
pub fn month_start(month: &str, after: u32) -> Option<i64> {
    let first = chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
    let start = first.checked_add_months(chrono::Months::new(after))?;
    Some(start.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

/// Until when a locked month's items stay set aside for renewals that come late (dunning, a
/// held-up renewal): the start of the month after the next.
pub fn set_aside_until(month: &str) -> Option<i64> {
    month_start(month, 2)
}

impl BoxInput {
    /// # Errors
    /// Every bad field.
    pub fn validate(&self) -> Result<(), Validation> {
        let mut v = Validation::new();
        if self.box_sku.trim().is_empty() || self.box_sku.len() > 64 {
            v.push("box_sku", "invalid", "the box's SKU (1 to 64 characters)");
        }
        if !(1..=10).contains(&self.items_per_box) {
            v.push("items_per_box", "out_of_range", "1 to 10 items");
        }
        if self.pool.is_empty() || self.pool.len() > 200 {
            v.push("pool", "out_of_range", "1 to 200 SKUs");
        }
        let mut seen = BTreeSet::new();
        for (i, p) in self.pool.iter().enumerate() {
            if p.quantity < 1 || p.quantity > 100_000 {
                v.push(format!("pool.{i}.quantity"), "out_of_range", "1 to 100000 units");
            }
            if !seen.insert(p.sku.as_str()) {
                v.push(format!("pool.{i}.sku"), "duplicate", "each SKU once");
            }
        }
        if v.is_empty() { Ok(()) } else { Err(v) }
    }
}

fn suits(s: &Subscriber, sku: &str, f: &ItemFacts) -> bool {
    !s.had.contains(sku) && f.ingredient_keys.is_disjoint(&s.avoid_keys)
}

fn score(s: &Subscriber, f: &ItemFacts) -> usize {
    let skin = s.skin_type.as_ref().is_some_and(|t| f.skin_types.contains(t));
    2 * usize::from(skin) + s.concerns.iter().filter(|c| f.concerns.contains(c)).count()
}

/// Fills every subscriber's box from the pool, a round at a time (each box gets its best
/// remaining item in turn, so the best items are shared out rather than taken by the first),
/// the subscribers with the fewest suitable items choosing first.
pub fn allocate(
    pool: &[PoolItem],
    facts: &HashMap<String, ItemFacts>,
    subscribers: &[Subscriber],
    per_box: usize,
) -> Vec<BoxFill> {
    let none = ItemFacts::default();
    let fact = |sku: &str| facts.get(sku).unwrap_or(&none);
    let mut left: HashMap<&str, i64> = pool.iter().map(|p| (p.sku.as_str(), p.quantity)).collect();
    let mut order: Vec<&Subscriber> = subscribers.iter().collect();
    order.sort_by_key(|s| (pool.iter().filter(|p| suits(s, &p.sku, fact(&p.sku))).count(), s.subscription_id));
    let mut boxes: Vec<Vec<String>> = vec![vec![]; order.len()];
    for _ in 0..per_box {
        for (i, s) in order.iter().enumerate() {
            let best = pool
                .iter()
                .filter(|p| left.get(p.sku.as_str()).is_some_and(|n| *n > 0))
                .filter(|p| !boxes[i].contains(&p.sku) && suits(s, &p.sku, fact(&p.sku)))
                .max_by(|a, b| score(s, fact(&a.sku)).cmp(&score(s, fact(&b.sku))).then_with(|| b.sku.cmp(&a.sku)));
            if let Some(p) = best {
                *left.get_mut(p.sku.as_str()).expect("in the pool") -= 1;
                boxes[i].push(p.sku.clone());
            }
        }
    }
    order
        .iter()
        .zip(boxes)
        .map(|(s, skus)| BoxFill {
            subscription_id: s.subscription_id,
            customer_id: s.customer_id,
            short: (skus.len() < per_box)
                .then(|| format!("{} of {per_box} items: nothing else in the pool suits her or is left", skus.len())),
            skus,
            reservation_id: None,
            order_id: None,
        })
        .collect()
}

/// What the store keeps of boxes.
pub trait BoxRepository: Clone + Send + Sync + 'static {
    /// Saves a month's setup (not once it is locked: `false`).
    fn save_box_month(&self, b: &BoxMonth) -> impl Future<Output = StoreResult<bool>> + Send;
    fn box_month(&self, month: &str) -> impl Future<Output = StoreResult<Option<BoxMonth>>> + Send;
    /// Locks a month with its boxes, once (`false`: it was locked already).
    fn lock_box_month(
        &self,
        month: &str,
        fills: &[BoxFill],
        now: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// The locked boxes of a month.
    fn box_fills(&self, month: &str) -> impl Future<Output = StoreResult<Vec<BoxFill>>> + Send;
    /// A subscription's box of a month, once locked.
    fn box_of(&self, month: &str, subscription: Uuid) -> impl Future<Output = StoreResult<Option<BoxFill>>> + Send;
    /// Records the renewal order that ships a locked box (once: `false` when it has one).
    fn set_box_order(
        &self,
        month: &str,
        subscription: Uuid,
        order: Uuid,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// The box an order ships, if any.
    fn box_of_order(&self, order: Uuid) -> impl Future<Output = StoreResult<Option<BoxFill>>> + Send;
    /// The SKUs a customer had in the boxes of months before `month`.
    fn had_in_boxes(&self, customer: Uuid, month: &str) -> impl Future<Output = StoreResult<Vec<String>>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(skin: &[&str], concerns: &[&str], inci: &[&str]) -> ItemFacts {
        ItemFacts {
            skin_types: skin.iter().map(|s| (*s).to_owned()).collect(),
            concerns: concerns.iter().map(|s| (*s).to_owned()).collect(),
            ingredient_keys: inci.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn her(n: u128, skin: &str, avoid: &[&str], had: &[&str]) -> Subscriber {
        Subscriber {
            subscription_id: Uuid::from_u128(n),
            customer_id: Uuid::from_u128(100 + n),
            skin_type: Some(skin.into()),
            concerns: vec![],
            avoid_keys: avoid.iter().map(|s| (*s).to_owned()).collect(),
            had: had.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn boxes_avoid_her_ingredients_and_repeats_and_suit_her_skin_first() {
        let pool = vec![
            PoolItem { sku: "OILY-SERUM".into(), quantity: 5 },
            PoolItem { sku: "DRY-CREAM".into(), quantity: 5 },
            PoolItem { sku: "PERFUMED".into(), quantity: 5 },
            PoolItem { sku: "MASK".into(), quantity: 5 },
        ];
        let facts: HashMap<String, ItemFacts> = [
            ("OILY-SERUM", item(&["oily"], &[], &["niacinamide"])),
            ("DRY-CREAM", item(&["dry"], &[], &["shea"])),
            ("PERFUMED", item(&["oily", "dry"], &[], &["parfum"])),
            ("MASK", item(&[], &[], &["kaolin"])),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let ana = her(1, "oily", &["parfum"], &["MASK"]);
        let bea = her(2, "dry", &[], &[]);
        let fills = allocate(&pool, &facts, &[ana, bea], 2);
        let of = |n: u128| fills.iter().find(|f| f.subscription_id == Uuid::from_u128(n)).unwrap();
        assert_eq!(of(1).skus, ["OILY-SERUM", "DRY-CREAM"], "no perfume, no repeat of her mask");
        assert_eq!(of(2).skus, ["DRY-CREAM", "PERFUMED"], "dry skin first");
        assert!(fills.iter().all(|f| f.short.is_none()));
    }

    #[test]
    fn the_pool_is_never_overdrawn_and_short_boxes_say_why() {
        let pool = vec![PoolItem { sku: "ONLY".into(), quantity: 1 }];
        let facts = HashMap::new();
        let fills = allocate(&pool, &facts, &[her(1, "oily", &[], &[]), her(2, "oily", &[], &[])], 1);
        let given: usize = fills.iter().map(|f| f.skus.len()).sum();
        assert_eq!(given, 1, "one unit, one box");
        assert_eq!(fills.iter().filter(|f| f.short.is_some()).count(), 1);
    }

    #[test]
    fn months_and_setups_are_checked() {
        assert!(valid_month("2026-12") && !valid_month("2026-13") && !valid_month("26-12") && !valid_month("2026-1"));
        assert_eq!(month_of(1_796_083_200_000), "2026-12", "2026-12-01T00:00Z");
        assert_eq!(set_aside_until("2026-12"), Some(1_801_440_000_000), "2027-02-01T00:00Z");
        assert_eq!(set_aside_until("2026-13"), None);
        assert_eq!(month_start("2026-12", 1), Some(1_798_761_600_000), "2027-01-01T00:00Z");
        let bad = BoxInput {
            box_sku: String::new(),
            items_per_box: 0,
            pool: vec![PoolItem { sku: "A".into(), quantity: 0 }, PoolItem { sku: "A".into(), quantity: 1 }],
        };
        let fields: Vec<String> = bad.validate().unwrap_err().errors().iter().map(|e| e.field.clone()).collect();
        assert_eq!(fields, ["box_sku", "items_per_box", "pool.0.quantity", "pool.1.sku"]);
    }
}
