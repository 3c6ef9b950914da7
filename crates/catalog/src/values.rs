//! Value types of the catalogue that parse: an invalid one cannot be built.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use utoipa::ToSchema;

macro_rules! parsed_string {
    ($name:ident, $err:literal, $parse:expr) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, ValueError> {
                let f: fn(&str) -> Option<String> = $parse;
                f(s).map($name).ok_or(ValueError($err))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub &'static str);

parsed_string!(Sku, "a SKU is 1–64 characters: upper-case letters, digits, '-', '_' or '.'", |s| {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    ok.then(|| s.to_owned())
});

parsed_string!(Gtin, "a GTIN is 8, 12, 13 or 14 digits with a valid check digit", |s| {
    let digits: Vec<u32> = s.chars().map(|c| c.to_digit(10)).collect::<Option<_>>()?;
    if ![8, 12, 13, 14].contains(&digits.len()) {
        return None;
    }
    let (body, check) = digits.split_at(digits.len() - 1);
    // GS1: from the right, weights alternate 3, 1, 3, … over the body.
    let sum: u32 = body.iter().rev().enumerate().map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d }).sum();
    ((10 - sum % 10) % 10 == check[0]).then(|| s.to_owned())
});

parsed_string!(HexColour, "a colour is '#' followed by six hexadecimal digits, e.g. #C68E6F", |s| {
    let ok = s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| s.to_ascii_uppercase())
});

/// A pack size: an amount in a unit, e.g. 30 ml. Fractions are given in the smaller unit
/// (1.7 fl oz is sold as 50 ml), so the amount stays an integer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Size {
    pub amount: u32,
    pub unit: SizeUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SizeUnit {
    Ml,
    G,
    Pcs,
}

impl Size {
    pub fn validate(&self) -> Result<(), ValueError> {
        if self.amount == 0 || self.amount > 100_000 {
            return Err(ValueError("a size amount is between 1 and 100000"));
        }
        Ok(())
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            SizeUnit::Ml => "ml",
            SizeUnit::G => "g",
            SizeUnit::Pcs => "pcs",
        };
        write!(f, "{} {unit}", self.amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtin_check_digits() {
        assert!(Gtin::parse("4006381333931").is_ok()); // EAN-13
        assert!(Gtin::parse("036000291452").is_ok()); // UPC-A
        assert!(Gtin::parse("96385074").is_ok()); // EAN-8
        assert!(Gtin::parse("10614141000415").is_ok()); // GTIN-14
        assert!(Gtin::parse("4006381333932").is_err());
        assert!(Gtin::parse("400638133393").is_err());
        assert!(Gtin::parse("40063813339a1").is_err());
        assert!(Gtin::parse("").is_err());
    }

    #[test]
    fn skus_and_colours() {
        assert!(Sku::parse("SER-NIA-30ML").is_ok());
        assert!(Sku::parse("ser-nia").is_err());
        assert!(Sku::parse(&"A".repeat(65)).is_err());
        assert_eq!(HexColour::parse("#c68e6f").unwrap().as_str(), "#C68E6F");
        assert!(HexColour::parse("c68e6f").is_err());
        assert!(HexColour::parse("#c68e6g").is_err());
    }

    #[test]
    fn sizes_are_positive() {
        assert!(Size { amount: 30, unit: SizeUnit::Ml }.validate().is_ok());
        assert!(Size { amount: 0, unit: SizeUnit::G }.validate().is_err());
        assert_eq!(Size { amount: 30, unit: SizeUnit::Ml }.to_string(), "30 ml");
    }
}
