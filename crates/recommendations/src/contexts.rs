//! The serving contexts: which lists a context reads, in what order, and what a new shopper
//! gets (the cold start: popular with her skin type, then popular). Every answer goes through
//! the hard constraints ([`crate::serving::serve`]) and says which model made it.

use crate::behaviour::EventKind;
use crate::serving::{Candidate, Item, Reason, Shopper, Step, Suggestion, serve};
use crate::training::{Lists, ShopperKey};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Her own list (her behaviour, scored by the model), then popular with her skin type.
    ForYou,
    /// Like this product: by behaviour, then by ingredients.
    Similar(Uuid),
    /// Bought in the same orders as this product, then like it.
    BoughtTogether(Uuid),
    /// The steps of her skincare routine she does not own yet, in routine order.
    Routine,
    /// What customers with her skin type buy.
    SkinType,
}

/// An answer: the suggestions and what made them.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub suggestions: Vec<Suggestion>,
    /// The model behind her own list (`seq-ease(…)`), or the fallback's name.
    pub model: String,
}

/// Her own list scored live by the model from her behaviour (oldest first, with what came
/// before the last training): what she did since the training is not in her trained list.
pub fn live(lists: &Lists, history: &[(Uuid, EventKind)]) -> Option<Vec<Candidate>> {
    lists.model.as_ref().map(|m| m.for_sequence(history, lists.settings.top_n, lists.settings.tau))
}

/// Recommends for `context`. `live` is her own list scored live ([`live`]) when she did
/// something since the training; her trained list (by `key`) otherwise.
pub fn recommend(
    lists: &Lists,
    items: &HashMap<Uuid, Item>,
    shopper: &Shopper,
    key: Option<&ShopperKey>,
    live: Option<&[Candidate]>,
    context: Context,
    limit: usize,
) -> Answer {
    let none: &[Candidate] = &[];
    let skin = shopper.skin_type.as_ref().and_then(|s| lists.popular_by_skin.get(s)).map_or(none, Vec::as_slice);
    let hers: &[Candidate] = match (live, key) {
        (Some(l), _) => l,
        (None, Some(k)) => lists.for_you.get(k).map_or(none, Vec::as_slice),
        (None, None) => none,
    };
    let model = |personal: bool| {
        if personal {
            lists.model.as_ref().map_or_else(|| "popularity".to_owned(), |m| m.name.clone())
        } else if shopper.skin_type.is_some() && !skin.is_empty() {
            "popularity-by-skin-type".to_owned()
        } else {
            "popularity".to_owned()
        }
    };
    let nothing = HashSet::new();
    match context {
        Context::ForYou => {
            let suggestions = serve([hers, skin, &lists.popular], items, shopper, false, &nothing, limit);
            let personal = suggestions
                .first()
                .is_some_and(|s| !hers.is_empty() && hers.iter().any(|h| h.product_id == s.product_id));
            Answer { suggestions, model: model(personal) }
        }
        Context::SkinType => {
            let suggestions = serve([skin, &lists.popular], items, shopper, false, &nothing, limit);
            Answer { suggestions, model: model(false) }
        }
        Context::Similar(p) => {
            let behaviour = list(&lists.similar, p);
            let ingredients = interleave(behaviour, list(&lists.alike, p));
            let exclude = HashSet::from([p]);
            let suggestions = serve([ingredients.as_slice()], items, shopper, true, &exclude, limit);
            Answer { suggestions, model: "ease+inci-tfidf".to_owned() }
        }
        Context::BoughtTogether(p) => {
            let exclude = HashSet::from([p]);
            let suggestions = serve(
                [list(&lists.bought_together, p), list(&lists.similar, p)],
                items,
                shopper,
                false,
                &exclude,
                limit,
            );
            Answer { suggestions, model: "co-purchase".to_owned() }
        }
        Context::Routine => {
            let owned: HashSet<Step> = shopper.owned.iter().filter_map(|p| items.get(p)?.step).collect();
            let missing: Vec<Step> = Step::ALL.into_iter().filter(|s| !owned.contains(s)).collect();
            let per_step = limit.div_ceil(missing.len().max(1)).max(1);
            let mut suggestions = vec![];
            for step in missing {
                let of_step: Vec<Candidate> = [hers, skin, &lists.popular]
                    .into_iter()
                    .flatten()
                    .filter(|c| items.get(&c.product_id).is_some_and(|i| i.step == Some(step)))
                    .map(|c| Candidate { reason: Reason::CompletesRoutine { step }, ..c.clone() })
                    .collect();
                let taken: HashSet<Uuid> = suggestions.iter().map(|s: &Suggestion| s.product_id).collect();
                suggestions.extend(serve([of_step.as_slice()], items, shopper, false, &taken, per_step));
            }
            suggestions.truncate(limit);
            Answer { suggestions, model: model(!hers.is_empty()) }
        }
    }
}

fn list(m: &HashMap<Uuid, Vec<Candidate>>, p: Uuid) -> &[Candidate] {
    m.get(&p).map_or(&[], Vec::as_slice)
}

/// a₀, b₀, a₁, b₁, … (then the rest of the longer).
fn interleave(a: &[Candidate], b: &[Candidate]) -> Vec<Candidate> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    for k in 0..a.len().max(b.len()) {
        out.extend(a.get(k).cloned());
        out.extend(b.get(k).cloned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::behaviour::BehaviourEvent;
    use crate::training::{Settings, train};

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }
    const CLEANSER: u128 = 1;
    const TONER: u128 = 2;
    const SERUM: u128 = 3;
    const SCENTED_SERUM: u128 = 4;
    const CREAM: u128 = 5;
    const SPF: u128 = 6;

    fn item(n: u128, step: Option<Step>, ingredients: &[&str], skin: &[&str]) -> Item {
        Item {
            id: id(n),
            ingredients: ingredients.iter().map(|s| (*s).to_owned()).collect(),
            skin_types: skin.iter().map(|s| (*s).to_owned()).collect(),
            step,
            sellable: true,
            shades: vec![],
        }
    }

    fn shop() -> HashMap<Uuid, Item> {
        [
            item(CLEANSER, Some(Step::Cleanser), &["aqua", "glycerin", "coco-glucoside"], &[]),
            item(TONER, Some(Step::Toner), &["aqua", "glycerin", "witch hazel"], &[]),
            item(SERUM, Some(Step::Serum), &["aqua", "niacinamide", "zinc pca"], &["oily"]),
            item(SCENTED_SERUM, Some(Step::Serum), &["aqua", "niacinamide", "zinc pca", "parfum"], &["oily"]),
            item(CREAM, Some(Step::Moisturiser), &["aqua", "glycerin", "shea butter"], &["dry"]),
            item(SPF, Some(Step::Spf), &["aqua", "zinc oxide"], &[]),
        ]
        .into_iter()
        .map(|i| (i.id, i))
        .collect()
    }

    fn ev(kind: EventKind, customer: u128, product: u128, at: i64) -> BehaviourEvent {
        BehaviourEvent {
            id: Uuid::now_v7(),
            kind,
            customer_id: Some(id(1000 + customer)),
            anonymous_id: None,
            product_id: Some(id(product)),
            query: None,
            unsuitable: false,
            at,
            impression_id: None,
        }
    }

    /// Twenty customers go cleanser (with a toner in the same order) → serum → cream; the
    /// first ten have oily skin, the others dry.
    fn trained() -> (Lists, HashMap<Uuid, Item>) {
        let mut events = vec![];
        let mut skin = HashMap::new();
        for c in 0..20u128 {
            let t = (c as i64) * 100;
            events.push(ev(EventKind::ProductViewed, c, CLEANSER, t));
            events.push(ev(EventKind::Purchased, c, CLEANSER, t + 1));
            events.push(ev(EventKind::Purchased, c, TONER, t + 1));
            events.push(ev(EventKind::Purchased, c, SERUM, t + 2));
            events.push(ev(EventKind::Purchased, c, CREAM, t + 3));
            skin.insert(id(1000 + c), if c < 10 { "oily" } else { "dry" }.to_owned());
        }
        // Two see the scented serum after the serum, and one the SPF.
        events.push(ev(EventKind::ProductViewed, 0, SCENTED_SERUM, 5));
        events.push(ev(EventKind::ProductViewed, 1, SCENTED_SERUM, 105));
        events.push(ev(EventKind::ProductViewed, 2, SPF, 205));
        events.sort_by_key(|e| (e.at, e.id));
        let items = shop();
        let settings = Settings { lambda: 1.0, ..Settings::default() };
        (train(&events, &items, &skin, &settings), items)
    }

    fn ids(a: &Answer) -> Vec<Uuid> {
        a.suggestions.iter().map(|s| s.product_id).collect()
    }

    #[test]
    fn for_you_follows_what_she_did_and_says_why() {
        let (lists, items) = trained();
        // A visitor who just viewed the cleanser, scored live: the toner and the serum follow it.
        let fresh = [(id(CLEANSER), EventKind::ProductViewed)];
        let a =
            recommend(&lists, &items, &Shopper::default(), None, live(&lists, &fresh).as_deref(), Context::ForYou, 3);
        assert!(a.model.starts_with("seq-ease("), "{a:?}");
        assert!(ids(&a)[..2].contains(&id(TONER)) && ids(&a)[..2].contains(&id(SERUM)), "{a:?}");
        assert_eq!(a.suggestions[0].reason, Reason::BecauseYouViewed { product_id: id(CLEANSER) });
        // She avoids niacinamide: neither serum, whatever the model thinks.
        let her = Shopper { avoid: HashSet::from(["niacinamide".to_owned()]), ..Shopper::default() };
        let a = recommend(&lists, &items, &her, None, live(&lists, &fresh).as_deref(), Context::ForYou, 6);
        assert!(!ids(&a).contains(&id(SERUM)) && !ids(&a).contains(&id(SCENTED_SERUM)), "{a:?}");
        // A trained customer's own list: what she bought is not proposed again.
        let key = ShopperKey::Customer(id(1000));
        let owned = HashSet::from([id(CLEANSER), id(TONER), id(SERUM), id(CREAM)]);
        let hers = Shopper { owned, ..Shopper::default() };
        let a = recommend(&lists, &items, &hers, Some(&key), None, Context::ForYou, 3);
        assert!(!ids(&a).is_empty() && ids(&a).iter().all(|p| !hers.owned.contains(p)), "{a:?}");
    }

    #[test]
    fn a_new_shopper_gets_what_her_skin_type_buys() {
        let (lists, items) = trained();
        let oily = Shopper { skin_type: Some("oily".into()), ..Shopper::default() };
        let a = recommend(&lists, &items, &oily, None, None, Context::ForYou, 4);
        assert_eq!(a.model, "popularity-by-skin-type");
        assert_eq!(a.suggestions[0].reason, Reason::PopularWithSkinType { skin_type: "oily".into() });
        let dry = Shopper { skin_type: Some("dry".into()), ..Shopper::default() };
        let b = recommend(&lists, &items, &dry, None, None, Context::SkinType, 4);
        // The cream is made for dry skin; every product was bought by both groups.
        assert!(ids(&b).contains(&id(CREAM)), "{b:?}");
        assert!(!ids(&b).contains(&id(SCENTED_SERUM)), "made for oily skin and bought by no one: {b:?}");
    }

    #[test]
    fn a_shop_without_behaviour_still_answers_from_the_profile() {
        let items = shop();
        let lists = train(&[], &items, &HashMap::new(), &Settings::default());
        assert!(lists.model.is_none());
        let oily = Shopper { skin_type: Some("oily".into()), ..Shopper::default() };
        let a = recommend(&lists, &items, &oily, None, None, Context::ForYou, 2);
        assert_eq!(ids(&a), [id(SERUM), id(SCENTED_SERUM)], "made for oily skin first: {a:?}");
        assert_eq!(a.model, "popularity-by-skin-type");
        let anyone = recommend(&lists, &items, &Shopper::default(), None, None, Context::ForYou, 10);
        assert_eq!(anyone.suggestions.len(), items.len(), "{anyone:?}");
    }

    #[test]
    fn product_contexts_read_behaviour_orders_and_ingredients() {
        let (lists, items) = trained();
        let anyone = Shopper::default();
        let a = recommend(&lists, &items, &anyone, None, None, Context::BoughtTogether(id(CLEANSER)), 3);
        // Only the toner shares its orders; then products like it by behaviour.
        assert_eq!(a.suggestions[0].product_id, id(TONER), "{a:?}");
        assert_eq!(a.suggestions[0].reason, Reason::BoughtTogether { product_id: id(CLEANSER) });
        assert!(
            a.suggestions[1..].iter().all(|s| matches!(s.reason, Reason::Similar { ingredients: false, .. })),
            "{a:?}"
        );
        let s = recommend(&lists, &items, &anyone, None, None, Context::Similar(id(SERUM)), 10);
        assert!(!ids(&s).contains(&id(SERUM)));
        let scented = s.suggestions.iter().find(|x| x.product_id == id(SCENTED_SERUM)).expect("alike by ingredients");
        assert!(matches!(scented.reason, Reason::Similar { ingredients: true, .. }), "{s:?}");
    }

    #[test]
    fn the_routine_fills_the_steps_she_lacks_in_order() {
        let (lists, items) = trained();
        let her = Shopper { owned: HashSet::from([id(CLEANSER), id(SERUM)]), ..Shopper::default() };
        let a = recommend(&lists, &items, &her, None, None, Context::Routine, 3);
        let steps: Vec<Option<Step>> = a.suggestions.iter().map(|s| items[&s.product_id].step).collect();
        assert_eq!(steps, [Some(Step::Toner), Some(Step::Moisturiser), Some(Step::Spf)], "{a:?}");
        assert_eq!(a.suggestions[2].reason, Reason::CompletesRoutine { step: Step::Spf });
    }
}
