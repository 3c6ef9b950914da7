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

    /// Derives a slug from a display name: accents folded, anything else becomes a hyphen.
    pub fn from_name(name: &str) -> Result<Self, SlugError> {
        let mut out = String::with_capacity(name.len());
        for ch in name.chars().flat_map(fold_accent) {
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

fn fold_accent(c: char) -> std::iter::Take<std::array::IntoIter<char, 2>> {
    let (s, n) = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => (['a', ' '], 1),
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => (['e', ' '], 1),
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => (['i', ' '], 1),
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => (['o', ' '], 1),
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => (['u', ' '], 1),
        'ç' | 'Ç' => (['c', ' '], 1),
        'ñ' | 'Ñ' => (['n', ' '], 1),
        'ß' => (['s', 's'], 2),
        'æ' | 'Æ' => (['a', 'e'], 2),
        'œ' | 'Œ' => (['o', 'e'], 2),
        other => ([other, ' '], 1),
    };
    s.into_iter().take(n)
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
    }
}
