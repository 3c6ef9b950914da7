//! First expired, first out: which lots a quantity is taken from.

use crate::model::{Lot, StockRules};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A quantity taken from one lot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Allocation {
    pub lot_id: Uuid,
    pub sku: String,
    pub location: String,
    pub batch: String,
    pub expires_on: Option<chrono::NaiveDate>,
    pub quantity: i64,
}

/// Takes `quantity` of one SKU from `lots`, soonest expiry first (lots without an expiry
/// last, then oldest received first), skipping lots that are quarantined or expire within the
/// window. `Err(available)` when the sellable lots hold less than asked.
pub fn allocate(lots: &[Lot], quantity: i64, rules: &StockRules) -> Result<Vec<Allocation>, i64> {
    let mut order: Vec<&Lot> = lots.iter().filter(|l| l.sellable(rules) && l.available() > 0).collect();
    order.sort_by_key(|l| (l.expires_on.is_none(), l.expires_on, l.received_at, l.id));
    let available: i64 = order.iter().map(|l| l.available()).sum();
    if quantity <= 0 || available < quantity {
        return Err(available);
    }
    let mut need = quantity;
    let mut out = vec![];
    for l in order {
        if need == 0 {
            break;
        }
        let take = need.min(l.available());
        out.push(Allocation {
            lot_id: l.id,
            sku: l.sku.clone(),
            location: l.location.clone(),
            batch: l.batch.clone(),
            expires_on: l.expires_on,
            quantity: take,
        });
        need -= take;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use proptest::prelude::*;

    fn day(n: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Duration::days(n)
    }

    fn lot(i: u128, expires: Option<i64>, on_hand: i64, reserved: i64, quarantined: bool) -> Lot {
        Lot {
            id: Uuid::from_u128(i),
            sku: "SKU".into(),
            location: "main".into(),
            batch: format!("B{i}"),
            expires_on: expires.map(day),
            on_hand,
            reserved,
            quarantined,
            received_at: i as i64,
        }
    }

    const RULES: StockRules = StockRules { cutoff: NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(), low_stock: 0 };

    #[test]
    fn takes_the_soonest_expiry_first_and_skips_lots_inside_the_window() {
        let lots = [
            lot(1, Some(100), 5, 0, false),
            lot(2, Some(20), 50, 0, false), // expires before the cut-off (day 30)
            lot(3, Some(60), 3, 1, false),
            lot(4, None, 10, 0, false),
            lot(5, Some(40), 10, 0, true), // quarantined
        ];
        let got = allocate(&lots, 8, &RULES).unwrap();
        let taken: Vec<(u128, i64)> = got.iter().map(|a| (a.lot_id.as_u128(), a.quantity)).collect();
        assert_eq!(taken, [(3, 2), (1, 5), (4, 1)]);
        assert_eq!(allocate(&lots, 18, &RULES), Err(17));
    }

    proptest! {
        /// Whatever the lots, an allocation takes exactly what was asked, never more than a
        /// lot has free, only from sellable lots, and never skips a sooner-expiring lot that
        /// still has free stock.
        #[test]
        fn allocations_are_exact_sellable_and_first_expired_first(
            specs in proptest::collection::vec((proptest::option::of(0i64..120), 0i64..20, 0i64..5, proptest::bool::weighted(0.2)), 0..8),
            want in 1i64..60,
        ) {
            let lots: Vec<Lot> = specs.iter().enumerate()
                .map(|(i, (e, on, res, q))| lot(i as u128 + 1, *e, *on, (*res).min(*on), *q))
                .collect();
            let free: i64 = lots.iter().filter(|l| l.sellable(&RULES)).map(Lot::available).sum();
            match allocate(&lots, want, &RULES) {
                Err(available) => { prop_assert!(free < want); prop_assert_eq!(available, free); }
                Ok(got) => {
                    prop_assert_eq!(got.iter().map(|a| a.quantity).sum::<i64>(), want);
                    for a in &got {
                        let l = lots.iter().find(|l| l.id == a.lot_id).unwrap();
                        prop_assert!(l.sellable(&RULES) && a.quantity > 0 && a.quantity <= l.available());
                    }
                    // Every lot used before the last one was emptied, and no unused sellable
                    // lot expires sooner than a used one.
                    for a in &got[..got.len() - 1] {
                        let l = lots.iter().find(|l| l.id == a.lot_id).unwrap();
                        prop_assert_eq!(a.quantity, l.available());
                    }
                    let last = lots.iter().find(|l| l.id == got.last().unwrap().lot_id).unwrap();
                    for l in lots.iter().filter(|l| l.sellable(&RULES) && l.available() > 0) {
                        if !got.iter().any(|a| a.lot_id == l.id) {
                            let key = |l: &Lot| (l.expires_on.is_none(), l.expires_on, l.received_at);
                            prop_assert!(key(l) >= key(last));
                        }
                    }
                }
            }
        }
    }
}
