//! Serving: candidates a context proposes (each with its reason) go through the **hard
//! constraints** after scoring, whatever model proposed them: never a product with an
//! ingredient she avoids, never one that cannot be bought (sold out, archived, unlisted),
//! never one she returned as unsuitable, and a product sold in shades only when one of its
//! shades matches hers (when she has told it). What is left is served best first, once each.

use serde::Serialize;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// A product as serving sees it (built from the catalogue's read model and stock).
#[derive(Debug, Clone, Default)]
pub struct Item {
    pub id: Uuid,
    /// Its ingredients' normalised INCI keys.
    pub ingredients: HashSet<String>,
    pub skin_types: Vec<String>,
    /// Its step in a skincare routine, if it is one.
    pub step: Option<Step>,
    /// Listed, not archived, and some variant in stock.
    pub sellable: bool,
    /// Its variants' shades as (undertone, depth 1–10); empty when it has none.
    pub shades: Vec<(String, u8)>,
}

/// What serving knows of the shopper.
#[derive(Debug, Clone, Default)]
pub struct Shopper {
    pub skin_type: Option<String>,
    /// The INCI keys she avoids (her everyday names already resolved).
    pub avoid: HashSet<String>,
    /// Her shade as (undertone, depth 1–10).
    pub shade: Option<(String, u8)>,
    /// Products she returned as unsuitable.
    pub unsuitable: HashSet<Uuid>,
    /// Products she bought (not proposed again as new; the routine reads her steps from them).
    pub owned: HashSet<Uuid>,
}

/// The steps of a skincare routine, in the order they are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Cleanser,
    Toner,
    Serum,
    Moisturiser,
    Spf,
}

impl Step {
    pub const ALL: [Step; 5] = [Step::Cleanser, Step::Toner, Step::Serum, Step::Moisturiser, Step::Spf];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Cleanser => "cleanser",
            Step::Toner => "toner",
            Step::Serum => "serum",
            Step::Moisturiser => "moisturiser",
            Step::Spf => "spf",
        }
    }

    /// The step a category slug stands for (`cleansers`, `face-serums`, `sunscreen`…).
    pub fn of_category(slug: &str) -> Option<Step> {
        let s = slug.to_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| s.contains(w));
        if has(&["cleans", "face-wash", "micellar"]) {
            Some(Step::Cleanser)
        } else if has(&["toner", "tonic", "essence"]) {
            Some(Step::Toner)
        } else if has(&["serum", "ampoule"]) {
            Some(Step::Serum)
        } else if has(&["moistur", "cream", "lotion"]) && !has(&["sun", "spf"]) {
            Some(Step::Moisturiser)
        } else if has(&["spf", "sun"]) {
            Some(Step::Spf)
        } else {
            None
        }
    }
}

/// Why a product was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Unknown,
    NotSellable,
    Avoided(String),
    ReturnedUnsuitable,
    ShadeMismatch,
}

/// Whether her shade matches one of the product's: the same undertone (or a neutral one) and
/// a depth at most one step away.
pub fn shade_matches(hers: &(String, u8), shades: &[(String, u8)]) -> bool {
    shades.iter().any(|(u, d)| (u == &hers.0 || u == "neutral") && d.abs_diff(hers.1) <= 1)
}

/// The hard constraints: `Ok` when the product may be shown to her.
///
/// # Errors
/// The first constraint it breaks.
pub fn admissible(item: Option<&Item>, shopper: &Shopper) -> Result<(), Refusal> {
    let item = item.ok_or(Refusal::Unknown)?;
    if !item.sellable {
        return Err(Refusal::NotSellable);
    }
    if let Some(a) = item.ingredients.iter().find(|i| shopper.avoid.contains(*i)) {
        return Err(Refusal::Avoided(a.clone()));
    }
    if shopper.unsuitable.contains(&item.id) {
        return Err(Refusal::ReturnedUnsuitable);
    }
    if let Some(hers) = &shopper.shade
        && !item.shades.is_empty()
        && !shade_matches(hers, &item.shades)
    {
        return Err(Refusal::ShadeMismatch);
    }
    Ok(())
}

/// Why a product is suggested.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// Her history: the product of hers that weighs most towards it.
    BecauseYouBought {
        product_id: Uuid,
    },
    BecauseYouViewed {
        product_id: Uuid,
    },
    /// Shoppers who bought this product bought it too.
    BoughtTogether {
        product_id: Uuid,
    },
    /// Shoppers who took this product took it too, or its ingredients are alike.
    Similar {
        product_id: Uuid,
        ingredients: bool,
    },
    /// Popular with customers of her skin type.
    PopularWithSkinType {
        skin_type: String,
    },
    /// The next step of her routine she does not own.
    CompletesRoutine {
        step: Step,
    },
    Popular,
}

/// A proposal before the constraints.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Candidate {
    pub product_id: Uuid,
    pub score: f32,
    pub reason: Reason,
}

/// What is served.
pub type Suggestion = Candidate;

/// The first `limit` admissible candidates, best first (candidates come in preference order:
/// earlier lists before later ones, each best first), each product once; products she owns are
/// skipped unless `owned_ok`.
pub fn serve<'a>(
    lists: impl IntoIterator<Item = &'a [Candidate]>,
    items: &HashMap<Uuid, Item>,
    shopper: &Shopper,
    owned_ok: bool,
    exclude: &HashSet<Uuid>,
    limit: usize,
) -> Vec<Suggestion> {
    let mut out: Vec<Suggestion> = vec![];
    let mut seen: HashSet<Uuid> = HashSet::new();
    for list in lists {
        for c in list {
            if out.len() >= limit {
                return out;
            }
            if exclude.contains(&c.product_id)
                || (!owned_ok && shopper.owned.contains(&c.product_id))
                || !seen.insert(c.product_id)
                || admissible(items.get(&c.product_id), shopper).is_err()
            {
                continue;
            }
            out.push(c.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const INGREDIENTS: [&str; 6] = ["aqua", "parfum", "alcohol denat", "niacinamide", "retinol", "linalool"];
    const UNDERTONES: [&str; 4] = ["cool", "warm", "neutral", "olive"];

    prop_compose! {
        fn item(id: u8)(ing in proptest::collection::hash_set(0..6usize, 0..4), sellable in any::<bool>(),
                       shades in proptest::collection::vec((0..4usize, 1..=10u8), 0..3)) -> Item {
            Item {
                id: Uuid::from_u128(u128::from(id)),
                ingredients: ing.into_iter().map(|i| INGREDIENTS[i].to_owned()).collect(),
                sellable,
                shades: shades.into_iter().map(|(u, d)| (UNDERTONES[u].to_owned(), d)).collect(),
                ..Item::default()
            }
        }
    }

    fn catalogue() -> impl Strategy<Value = HashMap<Uuid, Item>> {
        proptest::collection::vec(0u8..40, 0..30).prop_flat_map(|ids| {
            let strategies: Vec<_> = ids.into_iter().map(item).collect();
            strategies.prop_map(|items| items.into_iter().map(|i| (i.id, i)).collect())
        })
    }

    prop_compose! {
        fn shopper()(avoid in proptest::collection::hash_set(0..6usize, 0..3),
                     shade in proptest::option::of((0..4usize, 1..=10u8)),
                     unsuitable in proptest::collection::hash_set(0u8..40, 0..5)) -> Shopper {
            Shopper {
                avoid: avoid.into_iter().map(|i| INGREDIENTS[i].to_owned()).collect(),
                shade: shade.map(|(u, d)| (UNDERTONES[u].to_owned(), d)),
                unsuitable: unsuitable.into_iter().map(|i| Uuid::from_u128(u128::from(i))).collect(),
                ..Shopper::default()
            }
        }
    }

    fn candidates() -> impl Strategy<Value = Vec<Candidate>> {
        proptest::collection::vec((0u8..40, -5.0f32..5.0), 0..60).prop_map(|cs| {
            cs.into_iter()
                .map(|(id, score)| Candidate {
                    product_id: Uuid::from_u128(u128::from(id)),
                    score,
                    reason: Reason::Popular,
                })
                .collect()
        })
    }

    proptest! {
        /// Whatever a model proposes, nothing served breaks a hard constraint, nothing comes
        /// twice, and nothing admissible is dropped while there is room.
        #[test]
        fn nothing_served_breaks_a_hard_constraint(items in catalogue(), her in shopper(), lists in proptest::collection::vec(candidates(), 1..3), limit in 1usize..20) {
            let served = serve(lists.iter().map(Vec::as_slice), &items, &her, true, &HashSet::new(), limit);
            prop_assert!(served.len() <= limit);
            let mut seen = HashSet::new();
            for s in &served {
                prop_assert!(seen.insert(s.product_id), "served twice");
                let item = items.get(&s.product_id);
                prop_assert!(item.is_some(), "unknown product served");
                let item = item.unwrap();
                prop_assert!(item.sellable, "sold out or archived");
                prop_assert!(item.ingredients.is_disjoint(&her.avoid), "an avoided ingredient");
                prop_assert!(!her.unsuitable.contains(&s.product_id), "returned as unsuitable");
                if let Some(hers) = &her.shade {
                    prop_assert!(item.shades.is_empty() || item.shades.iter().any(|(u, d)| (u == &hers.0 || u == "neutral") && d.abs_diff(hers.1) <= 1), "a shade not hers");
                }
            }
            let admissible_distinct: HashSet<Uuid> = lists.iter().flatten()
                .filter(|c| admissible(items.get(&c.product_id), &her).is_ok())
                .map(|c| c.product_id).collect();
            prop_assert_eq!(served.len(), admissible_distinct.len().min(limit));
        }
    }

    #[test]
    fn each_refusal_is_named() {
        let her = Shopper {
            avoid: ["parfum".to_owned()].into(),
            shade: Some(("warm".into(), 4)),
            unsuitable: [Uuid::from_u128(3)].into(),
            ..Shopper::default()
        };
        let base = Item { id: Uuid::from_u128(1), sellable: true, ..Item::default() };
        assert_eq!(admissible(None, &her), Err(Refusal::Unknown));
        assert_eq!(admissible(Some(&base), &her), Ok(()));
        let sold_out = Item { sellable: false, ..base.clone() };
        assert_eq!(admissible(Some(&sold_out), &her), Err(Refusal::NotSellable));
        let scented = Item { ingredients: ["aqua".into(), "parfum".into()].into(), ..base.clone() };
        assert_eq!(admissible(Some(&scented), &her), Err(Refusal::Avoided("parfum".into())));
        let returned = Item { id: Uuid::from_u128(3), ..base.clone() };
        assert_eq!(admissible(Some(&returned), &her), Err(Refusal::ReturnedUnsuitable));
        let pale = Item { shades: vec![("cool".into(), 4), ("warm".into(), 1)], ..base.clone() };
        assert_eq!(admissible(Some(&pale), &her), Err(Refusal::ShadeMismatch));
        let near = Item { shades: vec![("neutral".into(), 5)], ..base };
        assert_eq!(admissible(Some(&near), &her), Ok(()));
    }

    #[test]
    fn categories_name_routine_steps() {
        assert_eq!(Step::of_category("gentle-cleansers"), Some(Step::Cleanser));
        assert_eq!(Step::of_category("face-serums"), Some(Step::Serum));
        assert_eq!(Step::of_category("day-creams"), Some(Step::Moisturiser));
        assert_eq!(Step::of_category("sun-care"), Some(Step::Spf));
        assert_eq!(Step::of_category("lipsticks"), None);
    }
}
