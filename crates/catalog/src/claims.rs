//! Free-from claims, derived from the INCI list by the rules in `data/free_from.json`.

use crate::inci::IngredientBook;
use serde::Deserialize;
use std::sync::OnceLock;

const RULES_JSON: &str = include_str!("../../../data/free_from.json");

#[derive(Debug, Deserialize)]
pub struct ClaimRule {
    pub claim: String,
    pub label: String,
    #[serde(default)]
    exact: Vec<String>,
    #[serde(default)]
    contains: Vec<String>,
    #[serde(default)]
    suffix: Vec<String>,
    #[serde(default)]
    allergens: bool,
    #[serde(default)]
    unless: Vec<String>,
}

#[derive(Deserialize)]
struct RuleFile {
    claims: Vec<ClaimRule>,
}

impl ClaimRule {
    /// Whether this normalised INCI key breaks the claim.
    fn broken_by(&self, key: &str, book: &IngredientBook) -> bool {
        if self.unless.iter().any(|u| key == u) {
            return false;
        }
        self.exact.iter().any(|e| key == e)
            || self.contains.iter().any(|c| key.contains(c.as_str()))
            || self.suffix.iter().any(|s| key.split([' ', '/']).any(|w| w.ends_with(s.as_str())))
            || (self.allergens && book.is_allergen(key))
    }
}

/// Every claim Rouge knows, in file order.
pub fn rules() -> &'static [ClaimRule] {
    static RULES: OnceLock<Vec<ClaimRule>> = OnceLock::new();
    RULES.get_or_init(|| serde_json::from_str::<RuleFile>(RULES_JSON).expect("data/free_from.json is valid").claims)
}

pub fn is_known_claim(claim: &str) -> bool {
    rules().iter().any(|r| r.claim == claim)
}

/// The claims a product with these normalised INCI keys earns. An empty list earns none:
/// "free from" is only said of a product whose ingredients are known.
pub fn free_from(keys: &[String]) -> Vec<String> {
    if keys.is_empty() {
        return Vec::new();
    }
    let book = IngredientBook::get();
    rules().iter().filter(|rule| !keys.iter().any(|k| rule.broken_by(k, book))).map(|rule| rule.claim.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inci::normalise;

    fn claims(list: &[&str]) -> Vec<String> {
        free_from(&list.iter().map(|s| normalise(s)).collect::<Vec<_>>())
    }

    #[test]
    fn a_plain_serum_earns_every_claim() {
        let c = claims(&["Aqua", "Niacinamide", "Glycerin", "Zinc PCA", "Phenoxyethanol"]);
        for claim in
            ["fragrance-free", "alcohol-free", "paraben-free", "silicone-free", "sulfate-free", "essential-oil-free"]
        {
            assert!(c.contains(&claim.to_string()), "missing {claim} in {c:?}");
        }
    }

    #[test]
    fn each_rule_is_broken_by_what_it_names() {
        assert!(!claims(&["Aqua", "Parfum"]).contains(&"fragrance-free".into()));
        assert!(!claims(&["Aqua", "Linalool"]).contains(&"fragrance-free".into()), "allergens are fragrance");
        assert!(!claims(&["Alcohol Denat.", "Aqua"]).contains(&"alcohol-free".into()));
        assert!(claims(&["Cetearyl Alcohol", "Aqua"]).contains(&"alcohol-free".into()), "fatty alcohols are fine");
        assert!(!claims(&["Aqua", "Methylparaben"]).contains(&"paraben-free".into()));
        assert!(!claims(&["Aqua", "Dimethicone"]).contains(&"silicone-free".into()));
        assert!(!claims(&["Aqua", "Cyclopentasiloxane"]).contains(&"silicone-free".into()));
        assert!(claims(&["Aqua", "Silica"]).contains(&"silicone-free".into()), "silica is not a silicone");
        assert!(!claims(&["Aqua", "Sodium Laureth Sulphate"]).contains(&"sulfate-free".into()));
        assert!(!claims(&["Aqua", "Lavandula Angustifolia Oil"]).contains(&"essential-oil-free".into()));
    }

    #[test]
    fn no_ingredient_list_no_claims() {
        assert!(claims(&[]).is_empty());
    }
}
