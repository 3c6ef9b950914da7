//! Prices a basket with the promotions that may apply, and says why each did or did not.
//!
//! Order: highest `priority` first, then the oldest. An `exclusive` promotion applies only
//! when nothing applied before it, and then nothing applies after it. Each discount is taken
//! from what the lines still cost after the promotions before it, so stacked percentages
//! compound and a line never goes below zero.
//!
//! Allocation and rounding: a promotion's discount is computed on its target lines together
//! (percentages rounded half away from zero, to the minor unit) and spread over those lines in
//! proportion to what each still costs, by largest remainder (the leftover minor units go to
//! the lines with the largest fractional shares, the earlier line on a tie). So the line
//! discounts add up to the promotion's discount exactly, and tax is then computed on each
//! line's price after its discount. Buy-X-get-Y discounts the chosen units' own lines.

use crate::model::{Audience, Benefit, Promotion, Target, percent_words};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// One cart line, as promotions see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasketLine {
    pub sku: String,
    /// The brand's slug.
    pub brand: String,
    /// The slugs of the line's category and every category above it.
    pub categories: Vec<String>,
    pub unit_price: i64,
    pub quantity: i64,
}

impl BasketLine {
    fn total(&self) -> i64 {
        self.unit_price.saturating_mul(self.quantity)
    }

    fn in_target(&self, t: &Target) -> bool {
        in_target(self, t)
    }
}

/// Whether a line is one a promotion's target looks at.
pub fn in_target(line: &BasketLine, t: &Target) -> bool {
    match t {
        Target::Order => true,
        Target::Category { slug } => line.categories.iter().any(|c| c == slug),
        Target::Brand { slug } => &line.brand == slug,
        Target::Skus { skus } => skus.iter().any(|s| s == &line.sku),
    }
}

/// A cart to price: its lines, who buys, the codes typed and the samples picked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Basket {
    pub lines: Vec<BasketLine>,
    pub customer: Option<Uuid>,
    /// A signed-in customer with no order yet.
    pub first_order: bool,
    /// The customer's segments from her beauty profile (`skin_type:oily`…): read only when a
    /// live promotion is kept for segments; `None` when not read (or it could not be).
    #[serde(default)]
    pub segments: Option<Vec<String>>,
    /// Codes on the cart, normalized.
    pub codes: Vec<String>,
    /// Sample SKUs the shopper picked.
    pub samples: Vec<String>,
    /// When (ms since the epoch).
    pub now: i64,
}

/// A promotion that applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Applied {
    pub promotion_id: Uuid,
    pub name: String,
    /// The code that unlocked it.
    pub code: Option<String>,
    /// What it took off the lines, in minor units (shipping discounts are in the totals).
    pub amount: i64,
    pub free_shipping: bool,
    /// Why it applied, in words.
    pub reason: String,
}

/// A promotion, or a code, that did not apply, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NotApplied {
    pub promotion_id: Option<Uuid>,
    pub name: Option<String>,
    pub code: Option<String>,
    /// A stable reason: `unknown_code`, `not_started`, `ended`, `inactive`, `used_up`,
    /// `sign_in_required`, `first_order_only`, `not_in_segment`, `profile_unavailable`, `below_minimum`, `no_target_lines`,
    /// `not_enough_units`, `not_combinable`, `nothing_to_discount`.
    pub reason_code: String,
    /// Why, in words ("Spend 12.00 more on skincare").
    pub reason: String,
}

/// A gift the cart earned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Gift {
    pub promotion_id: Uuid,
    pub sku: String,
    pub quantity: i64,
}

/// Samples the shopper may pick, and those she did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SampleOffer {
    pub promotion_id: Uuid,
    pub choose: u32,
    pub skus: Vec<String>,
    pub chosen: Vec<String>,
}

/// What the promotions make of a basket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Evaluation {
    /// The discount on each basket line, in order.
    pub line_discounts: Vec<i64>,
    pub free_shipping: bool,
    pub applied: Vec<Applied>,
    pub not_applied: Vec<NotApplied>,
    pub gifts: Vec<Gift>,
    pub samples: Option<SampleOffer>,
}

impl Evaluation {
    pub fn discount(&self) -> i64 {
        self.line_discounts.iter().sum()
    }
}

/// A candidate: a promotion, and the code that unlocked it (for one that requires one).
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub promotion: &'a Promotion,
    pub code: Option<String>,
}

fn money(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, (minor % 100).abs())
}

fn target_words(t: &Target) -> String {
    match t {
        Target::Order => "your order".into(),
        Target::Category { slug } | Target::Brand { slug } => slug.replace('-', " "),
        Target::Skus { .. } => "the selected products".into(),
    }
}

/// Spreads `amount` over lines in proportion to `weights` (what each still costs), by largest
/// remainder; no share exceeds its weight when `amount` does not exceed their sum.
pub fn allocate(amount: i64, weights: &[i64]) -> Vec<i64> {
    let total: i128 = weights.iter().map(|w| i128::from((*w).max(0))).sum();
    if total == 0 || amount <= 0 {
        return vec![0; weights.len()];
    }
    let amount = i128::from(amount).min(total);
    let mut shares: Vec<(usize, i128, i128)> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let n = amount * i128::from((*w).max(0));
            (i, n / total, n % total)
        })
        .collect();
    let mut left = amount - shares.iter().map(|s| s.1).sum::<i128>();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|a, b| shares[*b].2.cmp(&shares[*a].2).then(a.cmp(b)));
    for i in order {
        if left == 0 {
            break;
        }
        if shares[i].2 > 0 {
            shares[i].1 += 1;
            left -= 1;
        }
    }
    shares.into_iter().map(|s| s.1 as i64).collect()
}

fn percent_of(amount: i64, bp: u32) -> i64 {
    let n = i128::from(amount) * i128::from(bp);
    ((n + 5_000) / 10_000) as i64
}

/// Prices `basket` with `candidates` (the live automatic promotions and those its codes
/// unlocked; the caller has already answered for codes that unlock nothing).
pub fn evaluate(basket: &Basket, candidates: &[Candidate<'_>]) -> Evaluation {
    let mut ev = Evaluation { line_discounts: vec![0; basket.lines.len()], ..Evaluation::default() };
    let mut order: Vec<&Candidate<'_>> = candidates.iter().collect();
    order.sort_by(|a, b| {
        b.promotion.priority.cmp(&a.promotion.priority).then(a.promotion.created_at.cmp(&b.promotion.created_at))
    });
    let mut exclusive_applied: Option<String> = None;
    for c in order {
        let p = c.promotion;
        let no = |reason_code: &str, reason: String| NotApplied {
            promotion_id: Some(p.id),
            name: Some(p.name.clone()),
            code: c.code.clone(),
            reason_code: reason_code.into(),
            reason,
        };
        if let Some(why) = refusal(p, basket) {
            ev.not_applied.push(no(why.0, why.1));
            continue;
        }
        if let Some(first) = &exclusive_applied {
            ev.not_applied.push(no("not_combinable", format!("cannot be combined with {first}")));
            continue;
        }
        if p.exclusive
            && let Some(first) = ev.applied.first()
        {
            ev.not_applied.push(no("not_combinable", format!("cannot be combined with {}", first.name)));
            continue;
        }
        let eligible: Vec<usize> = (0..basket.lines.len()).filter(|i| basket.lines[*i].in_target(&p.target)).collect();
        let is_shipping_or_samples = matches!(p.benefit, Benefit::FreeShipping | Benefit::Samples { .. });
        if eligible.is_empty() && !(is_shipping_or_samples && p.target == Target::Order) {
            ev.not_applied.push(no("no_target_lines", format!("applies to {} only", target_words(&p.target))));
            continue;
        }
        let subtotal: i64 = eligible.iter().map(|i| basket.lines[*i].total()).sum();
        if let Some(min) = p.min_subtotal
            && subtotal < min
        {
            let words = format!("spend {} more on {}", money(min - subtotal), target_words(&p.target));
            ev.not_applied.push(no("below_minimum", words));
            continue;
        }
        let remaining: Vec<i64> = eligible.iter().map(|i| basket.lines[*i].total() - ev.line_discounts[*i]).collect();
        let mut applied = Applied {
            promotion_id: p.id,
            name: p.name.clone(),
            code: c.code.clone(),
            amount: 0,
            free_shipping: false,
            reason: String::new(),
        };
        let shares = match &p.benefit {
            Benefit::PercentOff { percent_bp } => {
                applied.reason = format!("{} % off {}", percent_words(*percent_bp), target_words(&p.target));
                allocate(percent_of(remaining.iter().sum(), *percent_bp), &remaining)
            }
            Benefit::AmountOff { amount } => {
                applied.reason = format!("{} off {}", money(*amount), target_words(&p.target));
                allocate(*amount, &remaining)
            }
            Benefit::Tiered { tiers } => {
                let Some(tier) = tiers.iter().rev().find(|t| subtotal >= t.from) else {
                    let first = &tiers[0];
                    let words = format!(
                        "spend {} more on {} for {} % off",
                        money(first.from - subtotal),
                        target_words(&p.target),
                        percent_words(first.percent_bp)
                    );
                    ev.not_applied.push(no("below_minimum", words));
                    continue;
                };
                applied.reason = format!("{} % off from {} spent", percent_words(tier.percent_bp), money(tier.from));
                allocate(percent_of(remaining.iter().sum(), tier.percent_bp), &remaining)
            }
            Benefit::BuyXGetY { buy, get, percent_bp } => {
                match buy_x_get_y(basket, &eligible, &remaining, *buy, *get, *percent_bp) {
                    Ok(shares) => {
                        applied.reason = p.badge();
                        shares
                    }
                    Err(missing) => {
                        let words = format!("add {missing} more of {} to get {get}", target_words(&p.target));
                        ev.not_applied.push(no("not_enough_units", words));
                        continue;
                    }
                }
            }
            Benefit::FreeShipping => {
                applied.free_shipping = true;
                applied.reason = "free shipping".into();
                vec![0; eligible.len()]
            }
            Benefit::Gift { sku, quantity } => {
                ev.gifts.push(Gift { promotion_id: p.id, sku: sku.clone(), quantity: *quantity });
                applied.reason = format!("a gift: {sku}");
                vec![0; eligible.len()]
            }
            Benefit::Samples { choose, skus } => {
                let mut chosen: Vec<String> = vec![];
                for s in basket.samples.iter().filter(|s| skus.contains(s)) {
                    if chosen.len() < *choose as usize && !chosen.contains(s) {
                        chosen.push(s.clone());
                    }
                }
                applied.reason = format!("pick {choose} free samples ({} picked)", chosen.len());
                ev.samples = Some(SampleOffer { promotion_id: p.id, choose: *choose, skus: skus.clone(), chosen });
                vec![0; eligible.len()]
            }
        };
        let amount: i64 = shares.iter().sum();
        let gives_goods = matches!(p.benefit, Benefit::FreeShipping | Benefit::Gift { .. } | Benefit::Samples { .. });
        if amount == 0 && !gives_goods {
            ev.not_applied.push(no("nothing_to_discount", "everything it applies to is already discounted".into()));
            continue;
        }
        for (i, s) in eligible.iter().zip(shares) {
            ev.line_discounts[*i] += s;
        }
        ev.free_shipping |= applied.free_shipping;
        applied.amount = amount;
        if p.exclusive {
            exclusive_applied = Some(p.name.clone());
        }
        ev.applied.push(applied);
    }
    ev
}

/// Why a promotion cannot apply to this basket at all (its schedule, its audience).
fn refusal(p: &Promotion, basket: &Basket) -> Option<(&'static str, String)> {
    if !p.active {
        return Some(("inactive", "this promotion is not running".into()));
    }
    if p.starts_at.is_some_and(|s| basket.now < s) {
        return Some(("not_started", "this promotion has not started yet".into()));
    }
    if p.ends_at.is_some_and(|e| basket.now >= e) {
        return Some(("ended", "this promotion has ended".into()));
    }
    let audience = match p.audience {
        Audience::Everyone => None,
        Audience::Customers if basket.customer.is_none() => {
            Some(("sign_in_required", "sign in to use this promotion".into()))
        }
        Audience::FirstOrder if basket.customer.is_none() => {
            Some(("sign_in_required", "sign in: this promotion is for a first order".into()))
        }
        Audience::FirstOrder if !basket.first_order => {
            Some(("first_order_only", "this promotion is for a first order only".into()))
        }
        _ => None,
    };
    audience.or_else(|| segment_refusal(p, basket))
}

/// Why a promotion kept for segments is not for this customer.
fn segment_refusal(p: &Promotion, basket: &Basket) -> Option<(&'static str, String)> {
    if p.segments.is_empty() {
        return None;
    }
    let whom = crate::segments::list_words(&p.segments);
    if basket.customer.is_none() {
        return Some(("sign_in_required", format!("sign in: this promotion is for customers with {whom}")));
    }
    match &basket.segments {
        None => Some((
            "profile_unavailable",
            "your beauty profile cannot be read just now, so this promotion cannot be checked; try again shortly"
                .into(),
        )),
        Some(mine) if !p.segments.iter().any(|s| mine.contains(s)) => {
            Some(("not_in_segment", format!("this promotion is for customers whose beauty profile says {whom}")))
        }
        Some(_) => None,
    }
}

/// Buy-X-get-Y over the target's units, dearest first: in each run of `buy + get` units, the
/// last `get` (the cheapest of the run) are discounted. `Err(n)`: `n` more units needed.
fn buy_x_get_y(
    basket: &Basket,
    eligible: &[usize],
    remaining: &[i64],
    buy: u32,
    get: u32,
    percent_bp: u32,
) -> Result<Vec<i64>, u32> {
    let mut units: Vec<(i64, usize)> = vec![];
    for (k, i) in eligible.iter().enumerate() {
        let l = &basket.lines[*i];
        let q = l.quantity.max(0);
        // What one unit still costs, after earlier promotions (the line's remainder spread).
        let per = if q == 0 { 0 } else { remaining[k] / q };
        units.extend(std::iter::repeat_n((per, k), q as usize));
    }
    let group = (buy + get) as usize;
    if units.len() < group {
        return Err((group - units.len()) as u32);
    }
    units.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut shares = vec![0i64; eligible.len()];
    for chunk in units.chunks(group).filter(|c| c.len() == group) {
        for (price, k) in &chunk[buy as usize..] {
            let off = percent_of(*price, percent_bp).min(remaining[*k] - shares[*k]);
            shares[*k] += off;
        }
    }
    Ok(shares)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PromotionInput, Tier};
    use proptest::prelude::*;

    fn line(sku: &str, brand: &str, cat: &str, price: i64, qty: i64) -> BasketLine {
        BasketLine {
            sku: sku.into(),
            brand: brand.into(),
            categories: vec!["skincare".into(), cat.into()],
            unit_price: price,
            quantity: qty,
        }
    }

    fn promo(name: &str, benefit: Benefit) -> Promotion {
        let i: PromotionInput =
            serde_json::from_value(serde_json::json!({ "name": name, "benefit": benefit })).unwrap();
        i.into_promotion(Uuid::new_v4(), 0, 0)
    }

    fn run(basket: &Basket, promos: &[Promotion]) -> Evaluation {
        let c: Vec<Candidate<'_>> = promos.iter().map(|p| Candidate { promotion: p, code: None }).collect();
        evaluate(basket, &c)
    }

    fn basket(lines: Vec<BasketLine>) -> Basket {
        Basket { lines, now: 1_000, ..Basket::default() }
    }

    #[test]
    fn a_percentage_is_rounded_once_and_spread_by_largest_remainder() {
        // 20 % of 10.00 + 3 × 3.33 = 19.99 → 3.998 → 4.00, spread 10.00 : 9.99.
        let b = basket(vec![line("A", "x", "serums", 1000, 1), line("B", "x", "serums", 333, 3)]);
        let ev = run(&b, &[promo("Spring", Benefit::PercentOff { percent_bp: 2000 })]);
        assert_eq!(ev.discount(), 400);
        assert_eq!(ev.line_discounts, [200, 200], "2.001 and 1.999: the remainder unit goes to the larger share");
        assert_eq!(ev.applied[0].reason, "20 % off your order");
    }

    #[test]
    fn targets_thresholds_and_why_not() {
        let b = basket(vec![line("A", "lumi", "serums", 2000, 1), line("B", "other", "masks", 1500, 1)]);
        let mut brand = promo("Lumi week", Benefit::PercentOff { percent_bp: 1000 });
        brand.target = Target::Brand { slug: "lumi".into() };
        let mut masks = promo("Masks", Benefit::AmountOff { amount: 500 });
        masks.target = Target::Category { slug: "masks".into() };
        masks.min_subtotal = Some(2500);
        let ev = run(&b, &[brand, masks]);
        assert_eq!(ev.line_discounts, [200, 0]);
        assert_eq!(ev.not_applied[0].reason_code, "below_minimum");
        assert_eq!(ev.not_applied[0].reason, "spend 10.00 more on masks");
    }

    #[test]
    fn priority_orders_stacking_and_exclusive_stands_alone() {
        let b = basket(vec![line("A", "x", "serums", 10_000, 1)]);
        let mut big = promo("Big", Benefit::PercentOff { percent_bp: 5000 });
        big.priority = 10;
        let small = promo("Small", Benefit::AmountOff { amount: 1000 });
        // Compounding: 50 % of 100.00, then 10.00 off the 50.00 left.
        assert_eq!(run(&b, &[small.clone(), big.clone()]).discount(), 6000);
        let mut vip = promo("VIP", Benefit::PercentOff { percent_bp: 3000 });
        vip.exclusive = true;
        vip.priority = 20;
        let ev = run(&b, &[small.clone(), big.clone(), vip.clone()]);
        assert_eq!(ev.discount(), 3000);
        assert_eq!(ev.not_applied.iter().map(|n| n.reason_code.as_str()).collect::<Vec<_>>(), ["not_combinable"; 2]);
        vip.priority = 0;
        vip.created_at = 1;
        let ev = run(&b, &[small, big, vip]);
        assert_eq!(ev.discount(), 6000, "an exclusive one after others does not apply");
        assert_eq!(ev.not_applied[0].reason, "cannot be combined with Big");
    }

    #[test]
    fn buy_two_get_one_discounts_the_cheapest_of_each_three() {
        let b = basket(vec![line("A", "x", "masks", 1200, 2), line("B", "x", "masks", 800, 2)]);
        let ev = run(&b, &[promo("3 for 2", Benefit::BuyXGetY { buy: 2, get: 1, percent_bp: 10_000 })]);
        // Units 12, 12, 8 | 8: the one full run gives its cheapest (8.00) free.
        assert_eq!(ev.line_discounts, [0, 800]);
        let short = basket(vec![line("A", "x", "masks", 1200, 2)]);
        let ev = run(&short, &[promo("3 for 2", Benefit::BuyXGetY { buy: 2, get: 1, percent_bp: 10_000 })]);
        assert_eq!(ev.not_applied[0].reason, "add 1 more of your order to get 1");
    }

    #[test]
    fn tiers_gifts_samples_and_shipping() {
        let b = Basket {
            samples: vec!["S1".into(), "S9".into(), "S2".into()],
            ..basket(vec![line("A", "x", "serums", 6000, 1)])
        };
        let tiers = promo(
            "Spend more",
            Benefit::Tiered {
                tiers: vec![Tier { from: 3000, percent_bp: 500 }, Tier { from: 5000, percent_bp: 1000 }],
            },
        );
        let gift = promo("Gift", Benefit::Gift { sku: "MINI".into(), quantity: 1 });
        let samples =
            promo("Samples", Benefit::Samples { choose: 2, skus: vec!["S1".into(), "S2".into(), "S3".into()] });
        let ship = promo("Ship", Benefit::FreeShipping);
        let ev = run(&b, &[tiers, gift, samples, ship]);
        assert_eq!(ev.discount(), 600);
        assert_eq!(ev.gifts, [Gift { promotion_id: ev.gifts[0].promotion_id, sku: "MINI".into(), quantity: 1 }]);
        assert_eq!(ev.samples.as_ref().unwrap().chosen, ["S1", "S2"], "only offered ones, up to the number");
        assert!(ev.free_shipping);
        let mut gift = promo("Gift", Benefit::Gift { sku: "MINI".into(), quantity: 1 });
        gift.min_subtotal = Some(7000);
        let ev = run(&b, &[gift]);
        assert!(ev.gifts.is_empty(), "the gift goes when the cart no longer qualifies");
    }

    #[test]
    fn audience_and_schedule_refusals() {
        let mut first = promo("Welcome", Benefit::PercentOff { percent_bp: 1000 });
        first.audience = Audience::FirstOrder;
        let mut later = promo("Later", Benefit::PercentOff { percent_bp: 1000 });
        later.starts_at = Some(5_000);
        let guest = basket(vec![line("A", "x", "serums", 1000, 1)]);
        let ev = run(&guest, &[first.clone(), later]);
        let codes: Vec<&str> = ev.not_applied.iter().map(|n| n.reason_code.as_str()).collect();
        assert_eq!(codes, ["sign_in_required", "not_started"]);
        let returning = Basket { customer: Some(Uuid::nil()), first_order: false, ..guest.clone() };
        assert_eq!(run(&returning, std::slice::from_ref(&first)).not_applied[0].reason_code, "first_order_only");
        let new = Basket { customer: Some(Uuid::nil()), first_order: true, ..guest };
        assert_eq!(run(&new, &[first]).discount(), 100);
    }

    #[test]
    fn segments_keep_a_promotion_for_customers_in_one_of_them() {
        let mut oily = promo("Oily edit", Benefit::PercentOff { percent_bp: 1500 });
        oily.segments = vec!["concern:acne".into(), "skin_type:oily".into()];
        let guest = basket(vec![line("A", "x", "serums", 1000, 1)]);
        let why = |b: &Basket| run(b, std::slice::from_ref(&oily)).not_applied.first().map(|n| n.reason_code.clone());
        assert_eq!(why(&guest).as_deref(), Some("sign_in_required"));
        let her = |segments: Option<Vec<&str>>| Basket {
            customer: Some(Uuid::nil()),
            segments: segments.map(|v| v.into_iter().map(str::to_owned).collect()),
            ..guest.clone()
        };
        assert_eq!(why(&her(None)).as_deref(), Some("profile_unavailable"));
        let dry = run(&her(Some(vec!["skin_type:dry"])), std::slice::from_ref(&oily));
        assert_eq!(dry.not_applied[0].reason_code, "not_in_segment");
        assert_eq!(
            dry.not_applied[0].reason,
            "this promotion is for customers whose beauty profile says acne or oily skin"
        );
        assert_eq!(run(&her(Some(vec!["skin_type:dry", "concern:acne"])), &[oily]).discount(), 150);
    }

    proptest! {
        /// Whatever stacks, every line's discount is between 0 and its price, and the line
        /// discounts add up to what the applied promotions say they took.
        #[test]
        fn discounts_never_exceed_the_lines_and_add_up(
            prices in proptest::collection::vec((1i64..50_000, 1i64..5), 1..6),
            pcts in proptest::collection::vec(1u32..=10_000, 0..4),
            amounts in proptest::collection::vec(1i64..100_000, 0..3),
            bxgy in any::<bool>(),
        ) {
            let lines: Vec<BasketLine> = prices.iter().enumerate()
                .map(|(i, (p, q))| line(&format!("S{i}"), "x", "serums", *p, *q)).collect();
            let mut promos: Vec<Promotion> = pcts.iter().map(|bp| promo("p", Benefit::PercentOff { percent_bp: *bp })).collect();
            promos.extend(amounts.iter().map(|a| promo("a", Benefit::AmountOff { amount: *a })));
            if bxgy {
                promos.push(promo("b", Benefit::BuyXGetY { buy: 1, get: 1, percent_bp: 5_000 }));
            }
            let b = basket(lines);
            let ev = run(&b, &promos);
            for (l, d) in b.lines.iter().zip(&ev.line_discounts) {
                prop_assert!(*d >= 0 && *d <= l.total(), "{d} off {}", l.total());
            }
            prop_assert_eq!(ev.discount(), ev.applied.iter().map(|a| a.amount).sum::<i64>());
        }

        #[test]
        fn allocation_is_exact_and_bounded(weights in proptest::collection::vec(0i64..1_000_000, 1..8), amount in 0i64..10_000_000) {
            let shares = allocate(amount, &weights);
            let total: i64 = weights.iter().sum();
            prop_assert_eq!(shares.iter().sum::<i64>(), amount.min(total));
            for (s, w) in shares.iter().zip(&weights) {
                prop_assert!(*s >= 0 && s <= w);
            }
        }
    }
}
