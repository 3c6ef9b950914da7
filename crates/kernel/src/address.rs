//! A postal address, as customers keep them in their address book and checkouts ship to them.

use crate::Validation;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Who receives parcels there.
    pub name: String,
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    /// State, province or county, where taxes depend on it.
    #[serde(default)]
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. FR.
    pub country: String,
    /// For the carrier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl Address {
    /// Records every invalid field under `prefix` (e.g. `shipping_address`, `addresses[0]`).
    pub fn validate(&self, prefix: &str, v: &mut Validation) {
        let mut text = |field: &str, value: &str, required: bool, max: usize| {
            let n = value.trim().chars().count();
            if (required && n == 0) || n > max || value.chars().any(char::is_control) {
                let need = if required { "1" } else { "0" };
                v.push(
                    format!("{prefix}.{field}"),
                    "invalid",
                    format!("{field}: {need} to {max} printable characters"),
                );
            }
        };
        text("name", &self.name, true, 200);
        text("line1", &self.line1, true, 200);
        text("line2", self.line2.as_deref().unwrap_or(""), false, 200);
        text("city", &self.city, true, 100);
        text("postal_code", &self.postal_code, true, 20);
        text("region", self.region.as_deref().unwrap_or(""), false, 50);
        if !(self.country.len() == 2 && self.country.bytes().all(|b| b.is_ascii_uppercase())) {
            v.push(
                format!("{prefix}.country"),
                "invalid",
                "country is an ISO 3166-1 alpha-2 code in capitals, e.g. FR",
            );
        }
        if let Some(p) = &self.phone
            && (p.len() > 30 || !p.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c)))
        {
            v.push(format!("{prefix}.phone"), "invalid", "phone: digits, spaces and + - ( ) . only");
        }
    }
}
