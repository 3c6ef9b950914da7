use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// A URL-safe identifier: lowercase ASCII letters, digits and single inner hyphens, 1–120 chars.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a slug is 1–120 lowercase letters, digits and single hyphens, not starting or ending with one")]
pub struct SlugError;

impl Slug {
    pub fn parse(s: &str) -> Result<Self, SlugError> {
        let ok = !s.is_empty()
            && s.len() <= 120
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
            && !s.contains("--");
        if ok { Ok(Self(s.to_owned())) } else { Err(SlugError) }
    }

    /// Derives a slug from a display name: transliterated to ASCII (`deunicode`: accents
    /// and ligatures folded, other scripts spelled out, so "Łódź Œuvre" is `lodz-oeuvre` and a
    /// Chinese or Japanese name still gets a slug), anything else becomes a hyphen.
    pub fn from_name(name: &str) -> Result<Self, SlugError> {
        let ascii = deunicode::deunicode(name);
        let mut out = String::with_capacity(ascii.len());
        for ch in ascii.chars() {
            if ch.is_ascii_alphanumeric() {
                out.push(ch.to_ascii_lowercase());
            } else if !out.ends_with('-') && !out.is_empty() {
                out.push('-');
            }
        }
        while out.ends_with('-') {
            out.pop();
        }
        out.truncate(120);
        while out.ends_with('-') {
            out.pop();
        }
        Self::parse(&out)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Slug {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Slug::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_well_formed_slugs() {
        assert!(Slug::parse("niacinamide-10-serum").is_ok());
        assert!(Slug::parse("a").is_ok());
    }

    #[test]
    fn rejects_malformed_slugs() {
        for bad in ["", "-a", "a-", "a--b", "Upper", "sp ace", "é", "a/b", &"x".repeat(121)] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn derives_slugs_from_names() {
        assert_eq!(Slug::from_name("Crème Brûlée Lip Balm!").unwrap().as_str(), "creme-brulee-lip-balm");
        assert_eq!(Slug::from_name("  10% Niacinamide + Zinc ").unwrap().as_str(), "10-niacinamide-zinc");
        assert!(Slug::from_name("!!!").is_err());
        assert_eq!(Slug::from_name("Łódź Œuvre").unwrap().as_str(), "lodz-oeuvre");
        assert_eq!(Slug::from_name("Straße Ærø").unwrap().as_str(), "strasse-aero");
        assert_eq!(Slug::from_name("口红 Rouge").unwrap().as_str(), "kou-hong-rouge");
        assert!(Slug::from_name("資生堂").is_ok(), "a CJK name gets a slug");
    }
}
