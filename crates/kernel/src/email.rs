use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// An email address, normalised for lookups: trimmed, lower-cased. Checked for shape only;
/// whether it receives mail is what the verification email finds out.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an email address looks like name@example.com (at most 254 characters)")]
pub struct EmailError;

impl Email {
    pub fn parse(s: &str) -> Result<Self, EmailError> {
        let s = s.trim().to_lowercase();
        let (local, domain) = s.rsplit_once('@').ok_or(EmailError)?;
        let ok = s.len() <= 254
            && !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '.')
            && !s.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"'));
        if ok { Ok(Self(s)) } else { Err(EmailError) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Email {
    // Personal data stays out of logs, even debug ones.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Email::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse("  Ana.Silva+shop@Example.COM ").unwrap().as_str(), "ana.silva+shop@example.com");
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "ana@@example.com",
            "a b@example.com",
            "ana@exa..mple.com",
            "ana@example.com\n",
            "<ana@example.com>",
        ] {
            assert!(Email::parse(bad).is_err() || bad.trim() != bad, "{bad:?}");
        }
        assert!(Email::parse("ana@example.com\n").is_ok(), "surrounding whitespace is trimmed");
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
        assert_eq!(format!("{:?}", Email::parse("ana@example.com").unwrap()), "Email(<redacted>)");
    }
}
