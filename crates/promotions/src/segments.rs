//! Customer segments a promotion may be kept for, named from the beauty profile's closed
//! vocabularies: `skin_type:oily`, `concern:acne`, `hair_type:curly`, `undertone:warm`.
//! Identity says which segments a customer is in; a promotion with segments applies to a
//! signed-in customer in at least one of them.

use rouge_catalog::{Concern, HairType, SkinType, Undertone};

/// At most this many segments on one promotion.
pub const MAX_SEGMENTS: usize = 20;

/// The segment's words for a shopper ("oily skin"), or `None` when it is not a segment.
pub fn words(segment: &str) -> Option<String> {
    let (kind, value) = segment.split_once(':')?;
    let human = |s: &str| s.replace('_', " ");
    match kind {
        "skin_type" => SkinType::parse(value).map(|v| format!("{} skin", v.as_str())),
        "concern" => Concern::parse(value).map(|v| human(v.as_str())),
        "hair_type" => HairType::parse(value).map(|v| format!("{} hair", human(v.as_str()))),
        "undertone" => Undertone::parse(value).map(|v| format!("{} undertones", v.as_str())),
        _ => None,
    }
}

/// The accepted forms, for error messages.
pub fn expected() -> String {
    format!(
        "skin_type:<{}>, concern:<{}>, hair_type:<{}> or undertone:<{}>",
        SkinType::expected(),
        Concern::expected(),
        HairType::expected(),
        Undertone::expected()
    )
}

/// "oily skin or acne", for the reasons a cart gives.
pub fn list_words(segments: &[String]) -> String {
    let words: Vec<String> = segments.iter().filter_map(|s| words(s)).collect();
    match words.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_parse_from_the_profile_vocabularies_only() {
        assert_eq!(words("skin_type:oily").as_deref(), Some("oily skin"));
        assert_eq!(words("concern:dark_circles").as_deref(), Some("dark circles"));
        assert_eq!(words("hair_type:colour_treated").as_deref(), Some("colour treated hair"));
        assert_eq!(words("undertone:warm").as_deref(), Some("warm undertones"));
        for bad in ["skin_type:greasy", "skin:oily", "oily", "skin_type:", ":oily", "skin_type:Oily"] {
            assert_eq!(words(bad), None, "{bad}");
        }
    }

    #[test]
    fn lists_read_as_alternatives() {
        let s = |v: &[&str]| list_words(&v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(s(&["skin_type:oily"]), "oily skin");
        assert_eq!(s(&["skin_type:oily", "concern:acne"]), "oily skin or acne");
        assert_eq!(
            s(&["skin_type:oily", "skin_type:combination", "concern:acne"]),
            "oily skin, combination skin or acne"
        );
    }
}
