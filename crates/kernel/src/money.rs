use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// An ISO 4217 currency this shop can price in, with its number of minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Currency(&'static str);

/// Currencies with their minor-unit exponent (ISO 4217). Kept short on purpose: a shop that
/// needs another adds it here with its exponent, rather than guessing one at run time.
const CURRENCIES: &[(&str, u8)] = &[
    ("EUR", 2),
    ("USD", 2),
    ("GBP", 2),
    ("CHF", 2),
    ("SEK", 2),
    ("NOK", 2),
    ("DKK", 2),
    ("PLN", 2),
    ("CZK", 2),
    ("HUF", 2),
    ("RON", 2),
    ("CAD", 2),
    ("AUD", 2),
    ("NZD", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("CNY", 2),
    ("HKD", 2),
    ("SGD", 2),
    ("INR", 2),
    ("BRL", 2),
    ("MXN", 2),
    ("ZAR", 2),
    ("AED", 2),
    ("KWD", 3),
    ("BHD", 3),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not a supported ISO 4217 currency code")]
    UnknownCurrency(String),
    #[error("amount must not be negative")]
    Negative,
    #[error("currencies differ: {0} and {1}")]
    CurrencyMismatch(Currency, Currency),
}

impl Currency {
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(c, _)| Currency(c))
            .ok_or_else(|| MoneyError::UnknownCurrency(code.chars().take(16).collect()))
    }

    pub fn code(&self) -> &'static str {
        self.0
    }

    pub fn minor_units(&self) -> u8 {
        CURRENCIES.iter().find(|(c, _)| *c == self.0).map_or(2, |(_, e)| *e)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An amount of money in integer minor units (cents for EUR), never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    amount: i64,
    currency: Currency,
}

impl Money {
    /// A price: non-negative minor units in a known currency.
    pub fn new(amount: i64, currency: Currency) -> Result<Self, MoneyError> {
        if amount < 0 {
            return Err(MoneyError::Negative);
        }
        Ok(Self { amount, currency })
    }

    pub fn amount(&self) -> i64 {
        self.amount
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn checked_add(&self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        Ok(Money { amount: self.amount.saturating_add(other.amount), currency: self.currency })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exp = self.currency.minor_units() as u32;
        if exp == 0 {
            return write!(f, "{} {}", self.amount, self.currency);
        }
        let div = 10i64.pow(exp);
        write!(f, "{}.{:0w$} {}", self.amount / div, self.amount % div, self.currency, w = exp as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_currencies_only() {
        assert_eq!(Currency::parse("EUR").unwrap().code(), "EUR");
        assert!(Currency::parse("eur").is_err());
        assert!(Currency::parse("XXX").is_err());
        assert_eq!(Currency::parse("JPY").unwrap().minor_units(), 0);
    }

    #[test]
    fn money_is_non_negative_minor_units() {
        let eur = Currency::parse("EUR").unwrap();
        assert_eq!(Money::new(-1, eur), Err(MoneyError::Negative));
        assert_eq!(Money::new(2999, eur).unwrap().to_string(), "29.99 EUR");
        assert_eq!(Money::new(5, eur).unwrap().to_string(), "0.05 EUR");
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(Money::new(1500, jpy).unwrap().to_string(), "1500 JPY");
    }

    #[test]
    fn adding_needs_one_currency() {
        let eur = Currency::parse("EUR").unwrap();
        let usd = Currency::parse("USD").unwrap();
        let a = Money::new(100, eur).unwrap();
        assert_eq!(a.checked_add(a).unwrap().amount(), 200);
        assert!(a.checked_add(Money::new(1, usd).unwrap()).is_err());
    }

    #[test]
    fn deserialising_rejects_unknown_currency() {
        let bad: Result<Money, _> = serde_json::from_str(r#"{"amount":1,"currency":"ABC"}"#);
        assert!(bad.is_err());
    }
}
