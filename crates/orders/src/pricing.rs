//! Tax and shipping: rates by country (and region) and tax class, prices configured as
//! tax-inclusive (EU) or tax-exclusive (US) per channel, shipping zones and methods.
//!
//! Rounding: tax is computed and rounded **per line**, on the line's price after its share of
//! the discounts (half away from zero, to the currency's minor unit), then summed; shipping is
//! taxed at the destination's standard rate as one more line. Amounts are integer minor units
//! throughout. How promotions' discounts are spread over lines is `rouge_promotions::engine`'s
//! to say (by largest remainder).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A tax rate in basis points (2000 = 20 %).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaxRate {
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// A region within the country (a US state, a Canadian province); `None` for the whole country.
    #[serde(default)]
    pub region: Option<String>,
    /// The product tax class it applies to (`standard`, `reduced`, …).
    #[serde(default = "standard")]
    pub class: String,
    pub rate_bp: u32,
}

fn standard() -> String {
    "standard".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Rate {
    /// One price per order.
    Flat { amount: i64 },
    /// By total weight: the first band whose `up_to_grams` holds the parcel.
    Weight { bands: Vec<WeightBand> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WeightBand {
    pub up_to_grams: u32,
    pub amount: i64,
}

/// A way to ship to some countries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShippingMethod {
    pub code: String,
    pub name: String,
    /// ISO country codes this method ships to.
    pub countries: Vec<String>,
    pub rate: Rate,
    /// Free when the goods (after discounts, as priced) reach this amount.
    #[serde(default)]
    pub free_above: Option<i64>,
}

/// The shop's selling rules for one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Channel {
    pub currency: String,
    /// Catalogue prices include tax (EU style) or tax is added at checkout (US style).
    pub prices_include_tax: bool,
    pub tax_rates: Vec<TaxRate>,
    pub shipping: Vec<ShippingMethod>,
}

impl Default for Channel {
    /// An EU shop: prices include VAT; a few countries' standard rates; standard and express
    /// shipping, free standard shipping from 50 EUR.
    fn default() -> Self {
        let vat =
            |country: &str, rate_bp| TaxRate { country: country.into(), region: None, class: standard(), rate_bp };
        let eu: Vec<String> = ["FR", "DE", "BE", "NL", "IT", "ES", "AT", "IE", "PT", "LU"].map(String::from).to_vec();
        Self {
            currency: "EUR".into(),
            prices_include_tax: true,
            tax_rates: vec![
                vat("FR", 2000),
                vat("DE", 1900),
                vat("BE", 2100),
                vat("NL", 2100),
                vat("IT", 2200),
                vat("ES", 2100),
                vat("AT", 2000),
                vat("IE", 2300),
                vat("PT", 2300),
                vat("LU", 1700),
            ],
            shipping: vec![
                ShippingMethod {
                    code: "standard".into(),
                    name: "Standard (3–5 days)".into(),
                    countries: eu.clone(),
                    rate: Rate::Weight {
                        bands: vec![
                            WeightBand { up_to_grams: 500, amount: 490 },
                            WeightBand { up_to_grams: 2000, amount: 690 },
                            WeightBand { up_to_grams: 10_000, amount: 1290 },
                        ],
                    },
                    free_above: Some(5000),
                },
                ShippingMethod {
                    code: "express".into(),
                    name: "Express (next day)".into(),
                    countries: eu,
                    rate: Rate::Flat { amount: 1490 },
                    free_above: None,
                },
            ],
        }
    }
}

/// One line to price: its unit price as the catalogue gives it, quantity, the promotions'
/// discount on it, class and weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceLine {
    pub unit_price: i64,
    pub quantity: i64,
    /// Off the line's total (never more than it).
    pub discount: i64,
    pub tax_class: String,
    /// Grams per unit (estimated from the size for liquids: 1 ml ≈ 1 g).
    pub unit_grams: u32,
}

/// A line's money, as charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LineMoney {
    /// Unit price × quantity, in the channel's price basis.
    pub total: i64,
    /// The promotions' share of this line.
    pub discount: i64,
    /// The tax inside (inclusive) or on top of (exclusive) `total - discount`.
    pub tax: i64,
    pub rate_bp: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
pub struct Totals {
    /// Sum of line totals, in the channel's price basis.
    pub subtotal: i64,
    /// What promotions took off the lines (shipping made free shows as shipping 0).
    pub discount: i64,
    pub shipping: i64,
    /// All tax: lines and shipping.
    pub tax: i64,
    /// What the customer pays.
    pub total: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("no shipping method `{0}` ships to {1}")]
    NoSuchMethod(String, String),
    #[error("the parcel weighs {0} g, more than method `{1}` carries")]
    TooHeavy(u32, String),
}

/// Rounds `n / d` half away from zero.
fn div_round(n: i128, d: i128) -> i64 {
    let q = (n.abs() + d / 2) / d;
    (if n < 0 { -q } else { q }) as i64
}

impl Channel {
    /// The rate for a class at a destination: the region's if one is set, else the country's;
    /// 0 when the shop has none (it does not collect tax there).
    pub fn rate(&self, country: &str, region: Option<&str>, class: &str) -> u32 {
        let of = |r: Option<&str>| {
            self.tax_rates.iter().find(|t| t.country == country && t.class == class && t.region.as_deref() == r)
        };
        region.and_then(|r| of(Some(r))).or_else(|| of(None)).map_or(0, |t| t.rate_bp)
    }

    /// Tax of an amount at a rate, in this channel's price basis.
    pub fn tax_of(&self, amount: i64, rate_bp: u32) -> i64 {
        let r = i128::from(rate_bp);
        if self.prices_include_tax {
            div_round(i128::from(amount) * r, 10_000 + r)
        } else {
            div_round(i128::from(amount) * r, 10_000)
        }
    }

    pub fn line(&self, l: &PriceLine, country: &str, region: Option<&str>) -> LineMoney {
        let total = l.unit_price.saturating_mul(l.quantity);
        let discount = l.discount.clamp(0, total.max(0));
        let rate_bp = self.rate(country, region, &l.tax_class);
        LineMoney { total, discount, tax: self.tax_of(total - discount, rate_bp), rate_bp }
    }

    /// Methods shipping to `country`, with their price for these lines.
    pub fn methods_for(&self, lines: &[PriceLine], country: &str) -> Vec<(&ShippingMethod, Result<i64, PricingError>)> {
        self.shipping
            .iter()
            .filter(|m| m.countries.iter().any(|c| c == country))
            .map(|m| (m, self.shipping_price(m, lines)))
            .collect()
    }

    fn shipping_price(&self, m: &ShippingMethod, lines: &[PriceLine]) -> Result<i64, PricingError> {
        let goods: i64 = lines.iter().map(|l| l.unit_price.saturating_mul(l.quantity) - l.discount.max(0)).sum();
        if m.free_above.is_some_and(|t| goods >= t) {
            return Ok(0);
        }
        match &m.rate {
            Rate::Flat { amount } => Ok(*amount),
            Rate::Weight { bands } => {
                let grams: u32 = lines.iter().map(|l| l.unit_grams.saturating_mul(l.quantity as u32)).sum();
                bands
                    .iter()
                    .find(|b| grams <= b.up_to_grams)
                    .map(|b| b.amount)
                    .ok_or_else(|| PricingError::TooHeavy(grams, m.code.clone()))
            }
        }
    }

    /// Prices lines for a destination and (optionally) a shipping method.
    ///
    /// # Errors
    /// When the method does not ship there or cannot carry the parcel.
    pub fn price(
        &self,
        lines: &[PriceLine],
        country: Option<(&str, Option<&str>)>,
        method: Option<&str>,
    ) -> Result<(Vec<LineMoney>, Totals), PricingError> {
        self.price_with(lines, country, method, false)
    }

    /// [`Channel::price`], with shipping made free by a promotion (the method must still be
    /// able to carry the parcel there).
    ///
    /// # Errors
    /// When the method does not ship there or cannot carry the parcel.
    pub fn price_with(
        &self,
        lines: &[PriceLine],
        country: Option<(&str, Option<&str>)>,
        method: Option<&str>,
        free_shipping: bool,
    ) -> Result<(Vec<LineMoney>, Totals), PricingError> {
        let (country, region) = country.unwrap_or(("", None));
        let priced: Vec<LineMoney> = lines.iter().map(|l| self.line(l, country, region)).collect();
        let subtotal: i64 = priced.iter().map(|l| l.total).sum();
        let discount: i64 = priced.iter().map(|l| l.discount).sum();
        let mut tax: i64 = priced.iter().map(|l| l.tax).sum();
        let shipping = match method {
            None => 0,
            Some(code) => {
                let m = self
                    .shipping
                    .iter()
                    .find(|m| m.code == code && m.countries.iter().any(|c| c == country))
                    .ok_or_else(|| PricingError::NoSuchMethod(code.to_owned(), country.to_owned()))?;
                let price = self.shipping_price(m, lines)?;
                if free_shipping { 0 } else { price }
            }
        };
        tax += self.tax_of(shipping, self.rate(country, region, "standard"));
        let goods = subtotal - discount;
        let total = if self.prices_include_tax { goods + shipping } else { goods + shipping + tax };
        Ok((priced, Totals { subtotal, discount, shipping, tax, total }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(price: i64, qty: i64, grams: u32) -> PriceLine {
        PriceLine { unit_price: price, quantity: qty, discount: 0, tax_class: "standard".into(), unit_grams: grams }
    }

    #[test]
    fn tax_is_on_the_price_after_discount_and_free_shipping_still_weighs() {
        let c = Channel::default();
        // 30.00 less 6.00 = 24.00 incl. 20 %: 4.00 tax; 40.00 goods after discount: under the
        // 50.00 for free shipping, so 4.90 for 100 g, unless a promotion makes it free.
        let lines = [PriceLine { discount: 600, ..line(3000, 1, 50) }, line(1600, 1, 50)];
        let (money, t) = c.price(&lines, Some(("FR", None)), Some("standard")).unwrap();
        assert_eq!((money[0].discount, money[0].tax), (600, 400));
        assert_eq!(t, Totals { subtotal: 4600, discount: 600, shipping: 490, tax: 400 + 267 + 82, total: 4490 });
        let (_, free) = c.price_with(&lines, Some(("FR", None)), Some("standard"), true).unwrap();
        assert_eq!((free.shipping, free.total), (0, 4000));
        let heavy = [PriceLine { discount: 100, ..line(100, 11, 1000) }];
        assert!(c.price_with(&heavy, Some(("FR", None)), Some("standard"), true).is_err(), "too heavy all the same");
    }

    #[test]
    fn inclusive_prices_carry_their_tax_rounded_per_line() {
        let c = Channel::default();
        // 29.00 incl. 20 %: 4.833… → 4.83; 3 × 9.99 = 29.97 → 4.995 → 5.00 (half away from zero)
        let (lines, t) = c.price(&[line(2900, 1, 30), line(999, 3, 50)], Some(("FR", None)), Some("standard")).unwrap();
        assert_eq!(lines.iter().map(|l| l.tax).collect::<Vec<_>>(), [483, 500]);
        assert_eq!(t, Totals { subtotal: 5897, discount: 0, shipping: 0, tax: 983, total: 5897 }, "free above 50 EUR");
        let (_, t) = c.price(&[line(2000, 1, 600)], Some(("DE", None)), Some("standard")).unwrap();
        // 6.90 shipping for 600 g, taxed at 19 % inside: 1.10
        assert_eq!(t, Totals { subtotal: 2000, discount: 0, shipping: 690, tax: 319 + 110, total: 2690 });
    }

    #[test]
    fn exclusive_prices_add_tax_by_region() {
        let c = Channel {
            currency: "USD".into(),
            prices_include_tax: false,
            tax_rates: vec![
                TaxRate { country: "US".into(), region: Some("NY".into()), class: "standard".into(), rate_bp: 888 },
                TaxRate { country: "US".into(), region: None, class: "standard".into(), rate_bp: 500 },
            ],
            shipping: vec![ShippingMethod {
                code: "ground".into(),
                name: "Ground".into(),
                countries: vec!["US".into()],
                rate: Rate::Flat { amount: 800 },
                free_above: None,
            }],
        };
        let (_, ny) = c.price(&[line(1000, 2, 0)], Some(("US", Some("NY"))), Some("ground")).unwrap();
        // 20.00 × 8.88 % = 1.776 → 1.78; shipping 8.00 × 8.88 % = 0.7104 → 0.71
        assert_eq!(ny, Totals { subtotal: 2000, discount: 0, shipping: 800, tax: 178 + 71, total: 3049 });
        let (_, tx) = c.price(&[line(1000, 2, 0)], Some(("US", Some("TX"))), None).unwrap();
        assert_eq!((tx.tax, tx.total), (100, 2100), "the country rate where the region has none");
        assert!(matches!(
            c.price(&[line(1, 1, 0)], Some(("FR", None)), Some("ground")),
            Err(PricingError::NoSuchMethod(..))
        ));
    }

    #[test]
    fn weight_bands_and_limits() {
        let c = Channel::default();
        let heavy = [line(100, 11, 1000)];
        assert!(matches!(
            c.price(&heavy, Some(("FR", None)), Some("standard")),
            Err(PricingError::TooHeavy(11_000, _))
        ));
        let options = c.methods_for(&[line(100, 1, 100)], "FR");
        let prices: Vec<(&str, i64)> = options.iter().map(|(m, p)| (m.code.as_str(), *p.as_ref().unwrap())).collect();
        assert_eq!(prices, [("standard", 490), ("express", 1490)]);
        assert!(c.methods_for(&[], "US").is_empty());
    }
}
