//! What identity stores: customer records whose personal data is sealed, refresh tokens,
//! one-time links, and failed-login counters. And the beauty profile, as the customer sees it.

use crate::vault::WrappedKey;
use rouge_catalog::{AgeBand, Concern, HairType, SkinType, Undertone};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A customer as stored. Every personal field is sealed under the customer's data key; the
/// email is found through its blind index. After erasure only the id and dates remain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRecord {
    pub id: Uuid,
    pub email_index: Option<String>,
    pub key: Option<WrappedKey>,
    pub email: Option<Vec<u8>>,
    pub name: Option<Vec<u8>>,
    pub profile: Option<Vec<u8>>,
    /// Phone and address book (a sealed [`Contact`]).
    pub contact: Option<Vec<u8>>,
    pub password_hash: Option<String>,
    /// Unix seconds.
    pub email_verified_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub erased_at: Option<i64>,
    pub version: i64,
}

/// A refresh token as stored: its hash, the family it rotates within, and its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    pub hash: String,
    pub family: Uuid,
    pub customer_id: Uuid,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// What spending a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshUse {
    /// Unused until now (and now marked used).
    Fresh(RefreshRecord),
    /// Used before, or its family revoked: someone holds a copy.
    Reused(RefreshRecord),
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkPurpose {
    VerifyEmail,
    ResetPassword,
}

impl LinkPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::VerifyEmail => "verify_email",
            LinkPurpose::ResetPassword => "reset_password",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShadeProfile {
    pub undertone: Undertone,
    /// 1 (fairest) to 10 (deepest), as on the catalogue's shades.
    pub depth: u8,
}

/// What a customer tells the shop about her skin, hair and sensitivities. Health data: it is
/// sealed like every other personal field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BeautyProfile {
    #[serde(default)]
    pub skin_type: Option<SkinType>,
    #[serde(default)]
    pub concerns: Vec<Concern>,
    /// Ingredients to avoid, by INCI or everyday name ("fragrance", "alcohol", "nut oils").
    #[serde(default)]
    pub avoid_ingredients: Vec<String>,
    #[serde(default)]
    pub shade: Option<ShadeProfile>,
    #[serde(default)]
    pub hair_types: Vec<HairType>,
    /// Shown on her reviews unless she hides it.
    #[serde(default)]
    pub age_band: Option<AgeBand>,
}

impl BeautyProfile {
    /// Checks the bounds a store can hold; returns the errors by field.
    pub fn validate(&self) -> Vec<rouge_kernel::FieldError> {
        let mut v = rouge_kernel::Validation::new();
        if self.avoid_ingredients.len() > 50 {
            v.push("avoid_ingredients", "too_many", "at most 50 ingredients");
        }
        for (i, name) in self.avoid_ingredients.iter().enumerate() {
            let n = name.trim().chars().count();
            if n == 0 || n > 100 || name.chars().any(char::is_control) {
                v.push(
                    format!("avoid_ingredients[{i}]"),
                    "invalid",
                    "an ingredient name is 1–100 printable characters",
                );
            }
        }
        if let Some(s) = &self.shade
            && !(1..=10).contains(&s.depth)
        {
            v.push("shade.depth", "range", "depth is 1 (fairest) to 10 (deepest)");
        }
        if self.concerns.len() > 20 || self.hair_types.len() > 20 {
            v.push("concerns", "too_many", "at most 20 values");
        }
        v.errors().to_vec()
    }

    /// The segments her profile puts her in, as promotions name them: `skin_type:oily`,
    /// `concern:acne`, `hair_type:curly`, `undertone:warm`.
    pub fn segments(&self) -> Vec<String> {
        let mut s: Vec<String> = self.skin_type.iter().map(|t| format!("skin_type:{}", t.as_str())).collect();
        s.extend(self.concerns.iter().map(|c| format!("concern:{}", c.as_str())));
        s.extend(self.hair_types.iter().map(|h| format!("hair_type:{}", h.as_str())));
        s.extend(self.shade.iter().map(|sh| format!("undertone:{}", sh.undertone.as_str())));
        s
    }
}

pub use rouge_kernel::Address;

/// How to reach the customer: sealed with her other personal fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub addresses: Vec<Address>,
}

impl Contact {
    /// Checks the phone (E.164: `+` and 8–15 digits, spaces allowed) and each address.
    pub fn validate(&self) -> Vec<rouge_kernel::FieldError> {
        let mut v = rouge_kernel::Validation::new();
        if let Some(p) = &self.phone {
            let digits: String = p.chars().filter(|c| !c.is_whitespace()).collect();
            let ok = digits
                .strip_prefix('+')
                .is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()));
            if !ok {
                v.push("phone", "invalid", "an international number: + and 8 to 15 digits, e.g. +33 6 12 34 56 78");
            }
        }
        if self.addresses.len() > 10 {
            v.push("addresses", "too_many", "at most 10 addresses");
        }
        for (i, a) in self.addresses.iter().enumerate() {
            a.validate(&format!("addresses[{i}]"), &mut v);
        }
        v.errors().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_names_her_segments_as_promotions_do() {
        let p = BeautyProfile {
            skin_type: Some(SkinType::Oily),
            concerns: vec![Concern::Acne, Concern::DarkCircles],
            hair_types: vec![HairType::Curly],
            shade: Some(ShadeProfile { undertone: Undertone::Olive, depth: 4 }),
            ..BeautyProfile::default()
        };
        assert_eq!(
            p.segments(),
            ["skin_type:oily", "concern:acne", "concern:dark_circles", "hair_type:curly", "undertone:olive"]
        );
        assert!(BeautyProfile::default().segments().is_empty());
    }
}
