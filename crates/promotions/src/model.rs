//! A promotion is a benefit (what the shopper gets) on a target (which lines count), under
//! conditions (who, from which amount, when), unlocked automatically or by a code, stacked by
//! priority, and bounded by budgets (uses in all, uses per customer, uses per code).

use rouge_kernel::Validation;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// What the shopper gets. Percentages are in basis points (2000 = 20 %); amounts in minor
/// units of the shop's currency, in its price basis (tax included where prices include it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Benefit {
    /// A percentage off the target lines.
    PercentOff { percent_bp: u32 },
    /// An amount off the target lines together (never more than they cost).
    AmountOff { amount: i64 },
    /// For every `buy` units of the target, `get` more (the cheapest) at `percent_bp` off
    /// (10000: free).
    BuyXGetY {
        buy: u32,
        get: u32,
        #[serde(default = "free")]
        percent_bp: u32,
    },
    /// Shipping costs nothing.
    FreeShipping,
    /// The highest tier the target's subtotal reaches gives its percentage off.
    Tiered { tiers: Vec<Tier> },
    /// A gift added to the cart while it qualifies, from the gift SKU's own stock.
    Gift {
        sku: String,
        #[serde(default = "one")]
        quantity: i64,
    },
    /// The shopper picks up to `choose` samples from `skus` (each from its own stock).
    Samples { choose: u32, skus: Vec<String> },
}

fn free() -> u32 {
    10_000
}

fn one() -> i64 {
    1
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// The target's subtotal from which this tier applies.
    pub from: i64,
    pub percent_bp: u32,
}

/// Which lines a promotion looks at and discounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default, Hash)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// Every line.
    #[default]
    Order,
    /// Lines of a category or any category under it (by slug).
    Category { slug: String },
    /// Lines of a brand (by slug).
    Brand { slug: String },
    /// Lines of these SKUs.
    Skus { skus: Vec<String> },
}

/// Who may have it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    #[default]
    Everyone,
    /// Signed-in customers.
    Customers,
    /// A signed-in customer's first order.
    FirstOrder,
}

/// A promotion as staff set it up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Promotion {
    pub id: Uuid,
    /// Shown to shoppers on the cart ("Spring: 20 % off skincare").
    pub name: String,
    pub benefit: Benefit,
    pub target: Target,
    /// The target lines must reach this subtotal (before discounts).
    pub min_subtotal: Option<i64>,
    pub audience: Audience,
    /// Kept for signed-in customers in one of these segments (`skin_type:oily`,
    /// `concern:acne`, `hair_type:curly`, `undertone:warm`, from their beauty profile); empty:
    /// no such condition.
    #[serde(default)]
    pub segments: Vec<String>,
    /// Unlocked by one of its codes; otherwise it applies by itself.
    pub requires_code: bool,
    /// Higher first; equal priorities by creation.
    pub priority: i32,
    /// Applies only alone: not after another promotion, and none after it.
    pub exclusive: bool,
    /// When it starts and ends (ms since the epoch; either may be open).
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    /// Orders it may apply to in all (for a gift of one unit, the number of gifts).
    pub max_uses: Option<i64>,
    /// Orders it may apply to per customer (guests cannot use a promotion that has one).
    pub max_uses_per_customer: Option<i64>,
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Promotion {
    /// Whether it runs at `now` (active and within its schedule).
    pub fn live_at(&self, now: i64) -> bool {
        self.active && self.starts_at.is_none_or(|s| s <= now) && self.ends_at.is_none_or(|e| now < e)
    }

    /// The short offer shown on listings and product pages ("-20 %", "Gift with purchase").
    pub fn badge(&self) -> String {
        let pct = percent_words;
        match &self.benefit {
            Benefit::PercentOff { percent_bp } => format!("-{} %", pct(*percent_bp)),
            Benefit::AmountOff { amount } => format!("-{}.{:02}", amount / 100, amount % 100),
            Benefit::BuyXGetY { buy, get, percent_bp } if *percent_bp >= 10_000 => format!("Buy {buy} get {get} free"),
            Benefit::BuyXGetY { buy, get, percent_bp } => format!("Buy {buy}, get {get} at -{} %", pct(*percent_bp)),
            Benefit::FreeShipping => "Free shipping".into(),
            Benefit::Tiered { tiers } => {
                format!("Up to -{} %", pct(tiers.iter().map(|t| t.percent_bp).max().unwrap_or(0)))
            }
            Benefit::Gift { .. } => "Gift with purchase".into(),
            Benefit::Samples { choose, .. } => format!("{choose} free samples"),
        }
    }
}

/// Basis points as a percentage, without the sign: 2000 → "20", 1250 → "12.50".
pub fn percent_words(bp: u32) -> String {
    if bp.is_multiple_of(100) { format!("{}", bp / 100) } else { format!("{}.{:02}", bp / 100, bp % 100) }
}

/// What staff send to create or replace a promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionInput {
    pub name: String,
    pub benefit: Benefit,
    #[serde(default)]
    pub target: Target,
    #[serde(default)]
    pub min_subtotal: Option<i64>,
    #[serde(default)]
    pub audience: Audience,
    /// Customer segments, any of which qualifies (`skin_type:oily`, `concern:acne`,
    /// `hair_type:curly`, `undertone:warm`); a promotion with segments needs a signed-in
    /// customer.
    #[serde(default)]
    pub segments: Vec<String>,
    #[serde(default)]
    pub requires_code: bool,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub exclusive: bool,
    #[serde(default)]
    pub starts_at: Option<i64>,
    #[serde(default)]
    pub ends_at: Option<i64>,
    #[serde(default)]
    pub max_uses: Option<i64>,
    #[serde(default)]
    pub max_uses_per_customer: Option<i64>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

const MAX_SKUS: usize = 200;

fn sku_list(v: &mut Validation, field: &str, skus: &[String]) {
    if skus.is_empty() || skus.len() > MAX_SKUS {
        v.push(field, "out_of_range", format!("between 1 and {MAX_SKUS} SKUs"));
    }
    for (i, s) in skus.iter().enumerate() {
        if s.trim().is_empty() || s.len() > 64 {
            v.push(format!("{field}.{i}"), "invalid", "a SKU of 1 to 64 characters");
        }
    }
}

fn percent(v: &mut Validation, field: &str, bp: u32) {
    if !(1..=10_000).contains(&bp) {
        v.push(field, "out_of_range", "basis points from 1 (0.01 %) to 10000 (100 %)");
    }
}

impl PromotionInput {
    /// # Errors
    /// Every field that is out of bounds or inconsistent, at once.
    pub fn validate(&self) -> Result<(), Validation> {
        let mut v = Validation::new();
        if self.name.trim().is_empty() || self.name.chars().count() > 120 {
            v.push("name", "invalid", "a name of 1 to 120 characters");
        }
        match &self.benefit {
            Benefit::PercentOff { percent_bp } => percent(&mut v, "benefit.percent_bp", *percent_bp),
            Benefit::AmountOff { amount } if *amount <= 0 => {
                v.push("benefit.amount", "out_of_range", "a positive amount in minor units");
            }
            Benefit::BuyXGetY { buy, get, percent_bp } => {
                if !(1..=50).contains(buy) {
                    v.push("benefit.buy", "out_of_range", "from 1 to 50 units");
                }
                if !(1..=50).contains(get) {
                    v.push("benefit.get", "out_of_range", "from 1 to 50 units");
                }
                percent(&mut v, "benefit.percent_bp", *percent_bp);
            }
            Benefit::Tiered { tiers } => {
                if tiers.is_empty() || tiers.len() > 10 {
                    v.push("benefit.tiers", "out_of_range", "between 1 and 10 tiers");
                }
                for (i, t) in tiers.iter().enumerate() {
                    percent(&mut v, &format!("benefit.tiers.{i}.percent_bp"), t.percent_bp);
                    if t.from < 0 {
                        v.push(format!("benefit.tiers.{i}.from"), "out_of_range", "an amount of 0 or more");
                    }
                    if i > 0 && t.from <= tiers[i - 1].from {
                        v.push(
                            format!("benefit.tiers.{i}.from"),
                            "not_ascending",
                            "tiers go up: each starts above the last",
                        );
                    }
                }
            }
            Benefit::Gift { sku, quantity } => {
                sku_list(&mut v, "benefit.sku", std::slice::from_ref(sku));
                if !(1..=10).contains(quantity) {
                    v.push("benefit.quantity", "out_of_range", "from 1 to 10 units");
                }
            }
            Benefit::Samples { choose, skus } => {
                sku_list(&mut v, "benefit.skus", skus);
                if *choose == 0 || *choose as usize > skus.len().min(10) {
                    v.push("benefit.choose", "out_of_range", "from 1 to the number of samples offered (at most 10)");
                }
            }
            Benefit::AmountOff { .. } | Benefit::FreeShipping => {}
        }
        match &self.target {
            Target::Category { slug } | Target::Brand { slug } if rouge_kernel::Slug::parse(slug).is_err() => {
                v.push("target.slug", "invalid", "a slug: lowercase letters, digits and dashes");
            }
            Target::Skus { skus } => sku_list(&mut v, "target.skus", skus),
            _ => {}
        }
        if self.min_subtotal.is_some_and(|m| m < 0) {
            v.push("min_subtotal", "out_of_range", "an amount of 0 or more");
        }
        if let (Some(s), Some(e)) = (self.starts_at, self.ends_at)
            && e <= s
        {
            v.push("ends_at", "before_start", "the end must come after the start");
        }
        if self.max_uses.is_some_and(|m| m < 1) {
            v.push("max_uses", "out_of_range", "at least 1 (omit it for no limit)");
        }
        if self.max_uses_per_customer.is_some_and(|m| m < 1) {
            v.push("max_uses_per_customer", "out_of_range", "at least 1 (omit it for no limit)");
        }
        if self.segments.len() > crate::segments::MAX_SEGMENTS {
            v.push("segments", "out_of_range", format!("at most {} segments", crate::segments::MAX_SEGMENTS));
        }
        for (i, s) in self.segments.iter().enumerate() {
            if crate::segments::words(s).is_none() {
                v.push(format!("segments.{i}"), "invalid", format!("a segment: {}", crate::segments::expected()));
            }
        }
        if self.max_uses_per_customer.is_some() && self.audience == Audience::Everyone && self.segments.is_empty() {
            v.push(
                "audience",
                "needs_customers",
                "a limit per customer needs signed-in customers: set audience to customers or first_order",
            );
        }
        if v.is_empty() { Ok(()) } else { Err(v) }
    }

    pub fn into_promotion(self, id: Uuid, created_at: i64, now: i64) -> Promotion {
        Promotion {
            id,
            name: self.name.trim().to_owned(),
            benefit: self.benefit,
            target: self.target,
            min_subtotal: self.min_subtotal,
            audience: self.audience,
            segments: {
                let mut s = self.segments;
                s.sort();
                s.dedup();
                s
            },
            requires_code: self.requires_code,
            priority: self.priority,
            exclusive: self.exclusive,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            max_uses: self.max_uses,
            max_uses_per_customer: self.max_uses_per_customer,
            active: self.active,
            created_at,
            updated_at: now,
        }
    }
}

/// A code that unlocks a promotion, with its own limit of uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Code {
    /// Upper case, as shoppers type it in any case.
    pub code: String,
    pub promotion_id: Uuid,
    /// Orders it may be used for (1: single use); none: as many as the promotion allows.
    pub max_uses: Option<i64>,
    /// Orders that used it.
    pub used: i64,
    pub created_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(benefit: Benefit) -> PromotionInput {
        serde_json::from_value(serde_json::json!({ "name": "Spring", "benefit": benefit })).unwrap()
    }

    #[test]
    fn defaults_make_an_automatic_promotion_on_the_whole_order() {
        let i = input(Benefit::PercentOff { percent_bp: 2000 });
        assert!(i.active && !i.requires_code && i.target == Target::Order && i.audience == Audience::Everyone);
        assert!(i.validate().is_ok());
    }

    #[test]
    fn bad_rules_are_refused_field_by_field() {
        let mut i = input(Benefit::Tiered {
            tiers: vec![Tier { from: 5000, percent_bp: 1000 }, Tier { from: 3000, percent_bp: 0 }],
        });
        i.max_uses_per_customer = Some(1);
        i.starts_at = Some(10);
        i.ends_at = Some(5);
        let fields: Vec<String> = i.validate().unwrap_err().errors().iter().map(|e| e.field.clone()).collect();
        assert_eq!(
            fields,
            ["benefit.tiers.1.percent_bp", "benefit.tiers.1.from", "ends_at", "audience"],
            "each problem named once"
        );
        let samples = input(Benefit::Samples { choose: 3, skus: vec!["A".into(), "B".into()] });
        assert_eq!(samples.validate().unwrap_err().errors()[0].field, "benefit.choose");
    }

    #[test]
    fn badges_say_the_offer_shortly() {
        let p = |b| input(b).into_promotion(Uuid::nil(), 0, 0).badge();
        assert_eq!(p(Benefit::PercentOff { percent_bp: 2000 }), "-20 %");
        assert_eq!(p(Benefit::PercentOff { percent_bp: 1250 }), "-12.50 %");
        assert_eq!(p(Benefit::BuyXGetY { buy: 2, get: 1, percent_bp: 10_000 }), "Buy 2 get 1 free");
        assert_eq!(p(Benefit::Gift { sku: "G".into(), quantity: 1 }), "Gift with purchase");
    }

    #[test]
    fn the_schedule_bounds_when_it_is_live() {
        let mut p = input(Benefit::FreeShipping).into_promotion(Uuid::nil(), 0, 0);
        p.starts_at = Some(100);
        p.ends_at = Some(200);
        assert!(!p.live_at(99) && p.live_at(100) && p.live_at(199) && !p.live_at(200));
        p.active = false;
        assert!(!p.live_at(150));
    }
}
