//! Training on the shop's behaviour: the model of our own (sequence-aware EASE^R, with the
//! settings the offline evaluation chose on validation) over the most popular products, and
//! the lists serving reads: "for you" per shopper, "similar" per product (by behaviour, and by
//! ingredients: TF-IDF over INCI keys), "bought together" per product (lines of one order),
//! and popularity overall and by skin type (for a new shopper: the cold start).

use crate::behaviour::{BehaviourEvent, EventKind};
use crate::models::Ease;
use crate::sequence::{SequenceEase, Transitions, recency};
use crate::serving::{Candidate, Item, Reason};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use uuid::Uuid;

/// The model's settings (the offline evaluation's choice on validation) and the lists' sizes.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    pub lambda: f64,
    pub tau: f32,
    pub short_tau: f32,
    pub beta: f32,
    pub window: usize,
    /// The model covers this many products, the most popular (EASE^R's matrix is square in
    /// them); the others are reached by ingredients and popularity.
    pub max_items: usize,
    /// Entries kept per list.
    pub top_n: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self { lambda: 500.0, tau: 20.0, short_tau: 3.0, beta: 0.5, window: 10, max_items: 2_000, top_n: 50 }
    }
}

/// Whose behaviour: a customer's, or an anonymous visitor's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum ShopperKey {
    Customer(Uuid),
    Visitor(String),
}

impl ShopperKey {
    pub fn of(e: &BehaviourEvent) -> Option<ShopperKey> {
        match (&e.customer_id, &e.anonymous_id) {
            (Some(c), _) => Some(ShopperKey::Customer(*c)),
            (None, Some(a)) => Some(ShopperKey::Visitor(a.clone())),
            (None, None) => None,
        }
    }
}

/// The trained model, kept to score a shopper's fresh behaviour between trainings.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Model {
    pub name: String,
    /// The products it covers, by index.
    pub products: Vec<Uuid>,
    index: HashMap<Uuid, u32>,
    scorer: SequenceEase,
}

impl Model {
    /// "For you" from a sequence of (product, kind), oldest first: the top `n` products
    /// outside what she bought, each with the product of hers that weighs most towards it.
    pub fn for_sequence(&self, history: &[(Uuid, EventKind)], n: usize, tau: f32) -> Vec<Candidate> {
        let seq: Vec<u32> = history.iter().filter_map(|(p, _)| self.index.get(p).copied()).collect();
        if seq.is_empty() {
            return vec![];
        }
        let bought: HashSet<u32> = history
            .iter()
            .filter(|(_, k)| *k == EventKind::Purchased)
            .filter_map(|(p, _)| self.index.get(p).copied())
            .collect();
        let scores = self.scorer.scores_of(&seq);
        let mut order: Vec<u32> =
            (0..scores.len() as u32).filter(|i| !bought.contains(i) && scores[*i as usize] > 0.0).collect();
        order.sort_by(|a, b| scores[*b as usize].total_cmp(&scores[*a as usize]).then(a.cmp(b)));
        let weights = recency(&seq, tau);
        order
            .into_iter()
            .take(n)
            .map(|j| {
                // Why: her product that weighs most towards it (recency × item weight).
                let (from, _) = weights
                    .iter()
                    .map(|&(i, w)| (i, w * self.scorer.ease().weight(i, j)))
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .expect("a sequence");
                let product_id = self.products[from as usize];
                let bought = history.iter().any(|(p, k)| *p == product_id && *k == EventKind::Purchased);
                Candidate {
                    product_id: self.products[j as usize],
                    score: scores[j as usize],
                    reason: if bought {
                        Reason::BecauseYouBought { product_id }
                    } else {
                        Reason::BecauseYouViewed { product_id }
                    },
                }
            })
            .collect()
    }
}

/// What training leaves for serving.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Lists {
    pub model: Option<Model>,
    pub settings: Settings,
    pub for_you: HashMap<ShopperKey, Vec<Candidate>>,
    pub similar: HashMap<Uuid, Vec<Candidate>>,
    pub alike: HashMap<Uuid, Vec<Candidate>>,
    pub bought_together: HashMap<Uuid, Vec<Candidate>>,
    pub popular_by_skin: HashMap<String, Vec<Candidate>>,
    pub popular: Vec<Candidate>,
    /// Per shopper, the time of the latest event training saw (fresher behaviour is scored
    /// live).
    pub seen_until: HashMap<ShopperKey, i64>,
    pub events: usize,
}

impl Lists {
    pub fn empty() -> Self {
        Lists {
            model: None,
            settings: Settings::default(),
            for_you: HashMap::new(),
            similar: HashMap::new(),
            alike: HashMap::new(),
            bought_together: HashMap::new(),
            popular_by_skin: HashMap::new(),
            popular: vec![],
            seen_until: HashMap::new(),
            events: 0,
        }
    }
}

/// Whether an event says she is interested in the product.
fn interest(kind: EventKind) -> bool {
    matches!(kind, EventKind::ProductViewed | EventKind::AddedToCart | EventKind::Wishlisted | EventKind::Purchased)
}

/// Trains on `events` (oldest first) over the products in `items`; `skin_of` gives customers'
/// skin types (for "popular with your skin type").
pub fn train(
    events: &[BehaviourEvent],
    items: &HashMap<Uuid, Item>,
    skin_of: &HashMap<Uuid, String>,
    s: &Settings,
) -> Lists {
    let mut lists = Lists::empty();
    lists.settings = s.clone();
    lists.events = events.len();
    // Sequences of interest per shopper, and who showed interest in what.
    let mut sequences: BTreeMap<ShopperKey, Vec<(Uuid, EventKind)>> = BTreeMap::new();
    let mut shoppers_of: HashMap<Uuid, HashSet<ShopperKey>> = HashMap::new();
    let mut buyers_by_skin: HashMap<String, HashMap<Uuid, usize>> = HashMap::new();
    let mut orders: BTreeMap<(Uuid, i64), Vec<Uuid>> = BTreeMap::new();
    for e in events {
        let (Some(key), Some(p)) = (ShopperKey::of(e), e.product_id) else { continue };
        match lists.seen_until.get_mut(&key) {
            Some(at) => *at = e.at,
            None => {
                lists.seen_until.insert(key.clone(), e.at);
            }
        }
        if !interest(e.kind) || !items.contains_key(&p) {
            continue;
        }
        sequences.entry(key.clone()).or_default().push((p, e.kind));
        shoppers_of.entry(p).or_default().insert(key.clone());
        if e.kind == EventKind::Purchased
            && let Some(c) = e.customer_id
        {
            // One order's lines share its time.
            orders.entry((c, e.at)).or_default().push(p);
            if let Some(skin) = skin_of.get(&c) {
                *buyers_by_skin.entry(skin.clone()).or_default().entry(p).or_default() += 1;
            }
        }
    }
    // Popularity: distinct shoppers interested, ties to the smaller id; every product is in
    // it (a new shop, without behaviour yet, still has something to show).
    let mut popular: Vec<(Uuid, usize)> =
        items.keys().map(|p| (*p, shoppers_of.get(p).map_or(0, HashSet::len))).collect();
    popular.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    lists.popular = popular
        .iter()
        .take(s.top_n.max(200))
        .map(|&(p, n)| Candidate { product_id: p, score: n as f32, reason: Reason::Popular })
        .collect();
    lists.popular_by_skin = popular_by_skin(&popular, items, &buyers_by_skin, s.top_n.max(200));
    lists.bought_together = bought_together(&orders, s.top_n);
    lists.alike = alike(items, s.top_n);
    // The model over the most popular products someone showed interest in.
    let products: Vec<Uuid> = popular.iter().filter(|(_, n)| *n > 0).take(s.max_items).map(|(p, _)| *p).collect();
    if products.len() >= 2 {
        let index: HashMap<Uuid, u32> = products.iter().enumerate().map(|(i, p)| (*p, i as u32)).collect();
        let n = products.len();
        let seqs: Vec<Vec<u32>> = sequences
            .values()
            .map(|h| h.iter().filter_map(|(p, _)| index.get(p).copied()).collect::<Vec<u32>>())
            .filter(|q: &Vec<u32>| !q.is_empty())
            .collect();
        let sets: Vec<Vec<u32>> = seqs
            .iter()
            .map(|q| {
                let mut set = q.clone();
                set.sort_unstable();
                set.dedup();
                set
            })
            .collect();
        let ease = Arc::new(Ease::fit_sets(&sets, n, s.lambda));
        let transitions = Arc::new(Transitions::fit_sequences(&seqs, n, s.window));
        let scorer = SequenceEase::from_sequences(seqs, ease.clone(), transitions, s.tau, s.short_tau, s.beta);
        let name = crate::models::Recommender::name(&scorer);
        let model = Model { name, products: products.clone(), index, scorer };
        for (key, history) in &sequences {
            let list = model.for_sequence(history, s.top_n, s.tau);
            if !list.is_empty() {
                lists.for_you.insert(key.clone(), list);
            }
        }
        for (i, p) in products.iter().enumerate() {
            let row = ease.row(i as u32);
            let mut order: Vec<usize> = (0..n).filter(|&j| j != i && row[j] > 0.0).collect();
            order.sort_by(|a, b| row[*b].total_cmp(&row[*a]).then(a.cmp(b)));
            let list: Vec<Candidate> = order
                .into_iter()
                .take(s.top_n)
                .map(|j| Candidate {
                    product_id: products[j],
                    score: row[j],
                    reason: Reason::Similar { product_id: *p, ingredients: false },
                })
                .collect();
            if !list.is_empty() {
                lists.similar.insert(*p, list);
            }
        }
        lists.model = Some(model);
    }
    lists
}

/// Per skin type: products bought by customers of that skin type first (by how many), then
/// products made for it (by popularity).
fn popular_by_skin(
    popular: &[(Uuid, usize)],
    items: &HashMap<Uuid, Item>,
    buyers_by_skin: &HashMap<String, HashMap<Uuid, usize>>,
    n: usize,
) -> HashMap<String, Vec<Candidate>> {
    let mut skins: HashSet<String> = buyers_by_skin.keys().cloned().collect();
    skins.extend(items.values().flat_map(|i| i.skin_types.iter().cloned()));
    let mut out = HashMap::new();
    for skin in skins {
        let bought = buyers_by_skin.get(&skin);
        let mut ranked: Vec<(Uuid, usize, usize)> = popular
            .iter()
            .filter_map(|&(p, pop)| {
                let b = bought.and_then(|m| m.get(&p)).copied().unwrap_or(0);
                let made_for = items.get(&p).is_some_and(|i| i.skin_types.contains(&skin));
                (b > 0 || made_for).then_some((p, b, pop))
            })
            .collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
        let list = ranked
            .into_iter()
            .take(n)
            .map(|(p, b, pop)| Candidate {
                product_id: p,
                score: (b * 1000 + pop) as f32,
                reason: Reason::PopularWithSkinType { skin_type: skin.clone() },
            })
            .collect();
        out.insert(skin, list);
    }
    out
}

/// Products bought in the same order, by how many orders.
fn bought_together(orders: &BTreeMap<(Uuid, i64), Vec<Uuid>>, n: usize) -> HashMap<Uuid, Vec<Candidate>> {
    let mut pairs: HashMap<Uuid, HashMap<Uuid, usize>> = HashMap::new();
    for lines in orders.values() {
        for a in lines {
            for b in lines {
                if a != b {
                    *pairs.entry(*a).or_default().entry(*b).or_default() += 1;
                }
            }
        }
    }
    pairs
        .into_iter()
        .map(|(a, with)| {
            let mut with: Vec<(Uuid, usize)> = with.into_iter().collect();
            with.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
            let list = with
                .into_iter()
                .take(n)
                .map(|(b, k)| Candidate {
                    product_id: b,
                    score: k as f32,
                    reason: Reason::BoughtTogether { product_id: a },
                })
                .collect();
            (a, list)
        })
        .collect()
}

/// Products with alike ingredients: cosine of TF-IDF vectors over INCI keys (an ingredient in
/// nearly every product, water, says little; a rare active says much). Ingredients in more
/// than half the products are left out of the index (they cannot make two products alike).
pub fn alike(items: &HashMap<Uuid, Item>, n: usize) -> HashMap<Uuid, Vec<Candidate>> {
    let total = items.len().max(1) as f32;
    let mut df: HashMap<&str, usize> = HashMap::new();
    for i in items.values() {
        for k in &i.ingredients {
            *df.entry(k.as_str()).or_default() += 1;
        }
    }
    let idf = |k: &str| (total / df[k] as f32).ln() + 1.0;
    let mut ids: Vec<Uuid> = items.keys().copied().collect();
    ids.sort_unstable();
    let vectors: Vec<Vec<(&str, f32)>> = ids
        .iter()
        .map(|id| {
            let v: Vec<(&str, f32)> = items[id].ingredients.iter().map(|k| (k.as_str(), idf(k))).collect();
            let norm = v.iter().map(|(_, w)| w * w).sum::<f32>().sqrt().max(f32::EPSILON);
            v.into_iter().map(|(k, w)| (k, w / norm)).collect()
        })
        .collect();
    let mut postings: HashMap<&str, Vec<(usize, f32)>> = HashMap::new();
    for (d, v) in vectors.iter().enumerate() {
        for &(k, w) in v {
            if (df[k] as f32) <= total / 2.0 || total < 4.0 {
                postings.entry(k).or_default().push((d, w));
            }
        }
    }
    let mut out = HashMap::new();
    let mut acc: HashMap<usize, f32> = HashMap::new();
    for (d, v) in vectors.iter().enumerate() {
        acc.clear();
        for &(k, w) in v {
            for &(e, x) in postings.get(k).map_or(&[][..], Vec::as_slice) {
                if e != d {
                    *acc.entry(e).or_default() += w * x;
                }
            }
        }
        let mut best: Vec<(usize, f32)> = acc.iter().map(|(e, s)| (*e, *s)).collect();
        best.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let list: Vec<Candidate> = best
            .into_iter()
            .take(n)
            .map(|(e, sim)| Candidate {
                product_id: ids[e],
                score: sim,
                reason: Reason::Similar { product_id: ids[d], ingredients: true },
            })
            .collect();
        if !list.is_empty() {
            out.insert(ids[d], list);
        }
    }
    out
}
