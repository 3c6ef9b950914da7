//! Measuring recommendations in the shop: every answer shown has an impression id; the
//! storefront sends it back with what the shopper did with a suggestion (a view, a cart
//! addition, a wishlist: a click), purchases are attributed to the impression she clicked the
//! product from (within [`ATTRIBUTION_DAYS`]), and the report gives click-through and
//! conversion per context and model, beside popularity's.
//!
//! The impression id says itself which context and model made the answer and when (a UUIDv8:
//! the time in its first 48 bits like a UUIDv7, then the context and the model, then random
//! bits), so nothing is stored per answer: each replica counts the answers it shows per day,
//! context and model, and adds its counts to the store every few seconds.

use rouge_kernel::StoreResult;
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use utoipa::ToSchema;
use uuid::Uuid;

/// A purchase counts for an impression when she clicked the product from it this many days
/// before at most.
pub const ATTRIBUTION_DAYS: i64 = 7;

/// A day, in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// The contexts, as the report names them (their codes are their positions, from 1).
pub const CONTEXTS: [&str; 5] = ["for_you", "similar", "bought_together", "routine", "skin_type"];
/// The models' families, as the report names them (their codes are their positions, from 1):
/// Rouge's own model, and what serves when it has nothing (popularity, by skin type or not).
pub const MODELS: [&str; 5] = ["seq-ease", "popularity-by-skin-type", "popularity", "ease+inci-tfidf", "co-purchase"];

/// A model's family: `seq-ease(λ=…)` is `seq-ease`.
pub fn family(model: &str) -> &'static str {
    MODELS
        .iter()
        .find(|m| model.strip_prefix(**m).is_some_and(|rest| rest.is_empty() || rest.starts_with('(')))
        .copied()
        .unwrap_or("popularity")
}

/// What an impression id says: the context, the model's family, and when it was shown (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Impression {
    pub context: &'static str,
    pub model: &'static str,
    pub at: i64,
}

impl Impression {
    /// An answer of `context` by `model` shown at `at` (ms).
    pub fn new(context: &str, model: &str, at: i64) -> Option<Self> {
        let context = CONTEXTS.iter().find(|c| **c == context)?;
        Some(Impression { context, model: family(model), at })
    }

    /// Its id: unique (74 random bits), and readable back by [`Impression::of`].
    pub fn id(&self) -> Uuid {
        let code = |all: &[&str; 5], name: &str| all.iter().position(|x| *x == name).map_or(0, |i| i as u8 + 1);
        let mut bytes = *Uuid::new_v4().as_bytes();
        bytes[..6].copy_from_slice(&self.at.to_be_bytes()[2..]);
        // Byte 6's high half is the version (8), byte 8's top bits the variant: the builder's.
        bytes[6] = code(&CONTEXTS, self.context);
        bytes[7] = code(&MODELS, self.model);
        uuid::Builder::from_custom_bytes(bytes).into_uuid()
    }

    /// What an impression id says, if it is one of Rouge's.
    pub fn of(id: Uuid) -> Option<Self> {
        let b = id.as_bytes();
        if id.get_version_num() != 8 || id.get_variant() != uuid::Variant::RFC4122 {
            return None;
        }
        let named = |all: &[&'static str; 5], code: u8| all.get(usize::from(code).checked_sub(1)?).copied();
        let mut at = [0u8; 8];
        at[2..].copy_from_slice(&b[..6]);
        Some(Impression {
            context: named(&CONTEXTS, b[6] & 0x0f)?,
            model: named(&MODELS, b[7])?,
            at: i64::from_be_bytes(at),
        })
    }

    /// Its day (days since the epoch, UTC).
    pub fn day(&self) -> i64 {
        self.at.div_euclid(DAY_MS)
    }
}

/// Answers shown on one day in one context by one model, and the suggestions they held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// Days since the epoch (UTC).
    pub day: i64,
    pub context: String,
    pub model: String,
    pub impressions: i64,
    pub items: i64,
}

/// What shoppers did from one impression: distinct products clicked, and bought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributed {
    pub impression_id: Uuid,
    pub clicks: i64,
    pub purchases: i64,
}

/// What the store keeps of impressions.
pub trait ImpressionRepository: Clone + Send + Sync + 'static {
    /// Adds these counts to those kept (one replica's since its last time).
    ///
    /// # Errors
    /// `Unavailable` when the store fails (nothing added).
    fn count_shown(&self, shown: &[Shown]) -> impl Future<Output = StoreResult<()>> + Send;
    /// The counts of days `from` to `to` (inclusive).
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn shown_between(&self, from: i64, to: i64) -> impl Future<Output = StoreResult<Vec<Shown>>> + Send;
    /// Per impression id: the distinct products clicked (viewed, added to a cart or
    /// wishlisted from it) and bought, of behaviour between `from` and `to` (ms).
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn attributed_between(&self, from: i64, to: i64) -> impl Future<Output = StoreResult<Vec<Attributed>>> + Send;
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ReportRow {
    pub context: String,
    /// The model's family: `seq-ease` (Rouge's model), `ease+inci-tfidf`, `co-purchase`,
    /// `popularity-by-skin-type`, `popularity`.
    pub model: String,
    /// Answers shown.
    pub impressions: i64,
    /// Suggestions in them.
    pub items: i64,
    /// Distinct products clicked from them.
    pub clicks: i64,
    /// Clicks per impression.
    pub click_through: f64,
    /// Products bought within 7 days of a click from them.
    pub purchases: i64,
    /// Purchases per impression.
    pub conversion: f64,
    /// This model's click-through over popularity's in the same context (popularity by skin
    /// type or not, whichever showed more); absent when popularity has no clicks there.
    pub lift_over_popularity: Option<f64>,
}

/// Click-through and conversion per context and model for impressions `shown` on days `from`
/// to `to` (inclusive), from what was attributed to them.
pub fn report(shown: &[Shown], attributed: &[Attributed], from: i64, to: i64) -> Vec<ReportRow> {
    let mut rows: BTreeMap<(String, String), ReportRow> = BTreeMap::new();
    let row = |rows: &mut BTreeMap<(String, String), ReportRow>, context: &str, model: &str| {
        rows.entry((context.to_owned(), model.to_owned()))
            .or_insert_with(|| ReportRow {
                context: context.to_owned(),
                model: model.to_owned(),
                impressions: 0,
                items: 0,
                clicks: 0,
                click_through: 0.0,
                purchases: 0,
                conversion: 0.0,
                lift_over_popularity: None,
            })
            .clone()
    };
    for s in shown.iter().filter(|s| (from..=to).contains(&s.day)) {
        let mut r = row(&mut rows, &s.context, &s.model);
        r.impressions += s.impressions;
        r.items += s.items;
        rows.insert((s.context.clone(), s.model.clone()), r);
    }
    for a in attributed {
        let Some(i) = Impression::of(a.impression_id).filter(|i| (from..=to).contains(&i.day())) else { continue };
        let mut r = row(&mut rows, i.context, i.model);
        r.clicks += a.clicks;
        r.purchases += a.purchases;
        rows.insert((i.context.to_owned(), i.model.to_owned()), r);
    }
    let rate = |n: i64, of: i64| if of > 0 { n as f64 / of as f64 } else { 0.0 };
    let mut rows: Vec<ReportRow> = rows
        .into_values()
        .map(|mut r| {
            r.click_through = rate(r.clicks, r.impressions);
            r.conversion = rate(r.purchases, r.impressions);
            r
        })
        .collect();
    let baselines: Vec<(String, f64)> = CONTEXTS
        .iter()
        .filter_map(|c| {
            let popular = rows
                .iter()
                .filter(|r| r.context == *c && r.model.starts_with("popularity"))
                .max_by_key(|r| r.impressions)?;
            (popular.clicks > 0).then(|| ((*c).to_owned(), popular.click_through))
        })
        .collect();
    for r in &mut rows {
        r.lift_over_popularity = baselines.iter().find(|(c, _)| *c == r.context).map(|(_, ctr)| r.click_through / ctr);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_impression_id_says_its_context_model_and_time() {
        let at = 1_790_000_123_456;
        let shown = Impression::new("similar", "ease+inci-tfidf", at).unwrap();
        let (a, b) = (shown.id(), shown.id());
        assert_ne!(a, b, "unique");
        assert_eq!(Impression::of(a), Some(shown));
        let ours = Impression::new("for_you", "seq-ease(λ=500,τ=20)", at).unwrap();
        assert_eq!((ours.context, ours.model), ("for_you", "seq-ease"));
        assert_eq!(Impression::of(ours.id()).map(|i| i.model), Some("seq-ease"));
        assert!(Impression::new("nearby", "popularity", at).is_none());
        assert_eq!(Impression::of(Uuid::now_v7()), None, "not one of ours");
        assert_eq!(Impression::of(Uuid::new_v4()), None);
    }

    #[test]
    fn the_report_gives_rates_per_context_and_model_against_popularity() {
        let day = 20_000;
        let at = day * DAY_MS + 3_600_000;
        let shown = |context: &str, model: &str, impressions, items| Shown {
            day,
            context: context.into(),
            model: model.into(),
            impressions,
            items,
        };
        let counts = [
            shown("for_you", "seq-ease", 100, 1000),
            shown("for_you", "popularity-by-skin-type", 200, 2000),
            shown("for_you", "popularity", 10, 100),
            Shown { day: day - 5, ..shown("for_you", "seq-ease", 999, 9990) },
        ];
        let imp = |m| Impression::new("for_you", m, at).unwrap().id();
        let attributed = [
            Attributed { impression_id: imp("seq-ease(x)"), clicks: 8, purchases: 2 },
            Attributed { impression_id: imp("seq-ease(x)"), clicks: 2, purchases: 0 },
            Attributed { impression_id: imp("popularity-by-skin-type"), clicks: 10, purchases: 1 },
            // Shown before the period: not counted.
            Attributed {
                impression_id: Impression::new("for_you", "seq-ease", at - 5 * DAY_MS).unwrap().id(),
                clicks: 50,
                purchases: 50,
            },
        ];
        let rows = report(&counts, &attributed, day, day);
        let ours = rows.iter().find(|r| r.model == "seq-ease").unwrap();
        assert_eq!((ours.impressions, ours.items, ours.clicks, ours.purchases), (100, 1000, 10, 2));
        assert!((ours.click_through - 0.1).abs() < 1e-9 && (ours.conversion - 0.02).abs() < 1e-9);
        // Popularity by skin type showed more than plain popularity: it is the baseline.
        assert_eq!(ours.lift_over_popularity, Some(2.0));
        let popular = rows.iter().find(|r| r.model == "popularity").unwrap();
        assert_eq!((popular.clicks, popular.click_through, popular.lift_over_popularity), (0, 0.0, Some(0.0)));
        assert_eq!(rows.len(), 3);
    }
}
