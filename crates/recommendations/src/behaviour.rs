//! Behaviour in: what shoppers do on the storefront (views, searches, cart changes, wishlist),
//! sent in batches by the storefront, and purchases and returns taken from the orders' events.
//! Kept compactly (one row an event, no free text but a search's normalised words), for a
//! retention period, and erased with the customer.

use chrono::{DateTime, Utc};
use rouge_kernel::{FieldError, StoreResult, Validation};
use serde::{Deserialize, Serialize};
use std::future::Future;
use utoipa::ToSchema;
use uuid::Uuid;

/// At most this many events in one call.
pub const MAX_BATCH: usize = 100;
/// An event's time may be this far in the past (a storefront that was offline sends late) …
const LATE_MS: i64 = 7 * 24 * 3600 * 1000;
/// … and this far ahead of the server's clock (clocks drift).
const EARLY_MS: i64 = 5 * 60 * 1000;
/// A search's words are kept up to this many characters.
const MAX_QUERY: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    ProductViewed,
    SearchMade,
    AddedToCart,
    RemovedFromCart,
    Wishlisted,
    /// From `order.placed` (not sent by storefronts).
    Purchased,
    /// From `order.return_requested` (not sent by storefronts).
    Returned,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ProductViewed => "product_viewed",
            EventKind::SearchMade => "search_made",
            EventKind::AddedToCart => "added_to_cart",
            EventKind::RemovedFromCart => "removed_from_cart",
            EventKind::Wishlisted => "wishlisted",
            EventKind::Purchased => "purchased",
            EventKind::Returned => "returned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            EventKind::ProductViewed,
            EventKind::SearchMade,
            EventKind::AddedToCart,
            EventKind::RemovedFromCart,
            EventKind::Wishlisted,
            EventKind::Purchased,
            EventKind::Returned,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Whether a storefront may send it (purchases and returns come from orders).
    pub fn from_storefront(self) -> bool {
        !matches!(self, EventKind::Purchased | EventKind::Returned)
    }
}

/// One event as a storefront sends it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// The storefront's id for the event: sending it again (a retry) records it once.
    #[serde(default)]
    pub id: Option<Uuid>,
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// The product viewed, added, removed or wishlisted.
    #[serde(default)]
    pub product_id: Option<Uuid>,
    /// What was searched for (`search_made`).
    #[serde(default)]
    pub query: Option<String>,
    /// When it happened (now when absent); at most 7 days ago.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    /// The recommendations she came from (their `impression_id`), when she viewed, added or
    /// wishlisted a product they suggested: a click, and a purchase of it within 7 days is
    /// theirs too.
    #[serde(default)]
    pub impression_id: Option<Uuid>,
}

/// A batch of events from one shopper.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    /// The storefront's id of the visitor (a first-party cookie), 8 to 64 letters, digits,
    /// `-` or `_`; needed without a customer token.
    #[serde(default)]
    pub anonymous_id: Option<String>,
    /// Whether she agreed to personalisation; without it nothing is kept.
    pub consent: bool,
    pub events: Vec<EventInput>,
}

/// One event as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BehaviourEvent {
    pub id: Uuid,
    pub kind: EventKind,
    pub customer_id: Option<Uuid>,
    pub anonymous_id: Option<String>,
    pub product_id: Option<Uuid>,
    pub query: Option<String>,
    /// For a return: whether she said the product did not suit her.
    pub unsuitable: bool,
    /// Milliseconds since the epoch.
    pub at: i64,
    /// The recommendations it came from (a click on one of them, or a purchase of it).
    pub impression_id: Option<Uuid>,
}

/// What a batch came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Accepted {
    /// Events kept (a retry of one already kept counts here too).
    pub accepted: usize,
    /// Events dropped: all of them when she has not consented.
    pub ignored: usize,
}

impl EventBatch {
    /// The events to keep from this batch sent by `customer` (from her token, if any) at
    /// `now` (ms); none without consent.
    ///
    /// # Errors
    /// Every invalid field: an empty or oversized batch, no shopper, a malformed anonymous id,
    /// an event of a kind storefronts do not send, without its product or query, or out of time.
    pub fn accept(&self, customer: Option<Uuid>, now: i64) -> Result<Vec<BehaviourEvent>, Vec<FieldError>> {
        let mut v = Validation::new();
        if self.events.is_empty() {
            v.push("events", "empty", "send at least one event");
        }
        if self.events.len() > MAX_BATCH {
            v.push("events", "too_many", format!("at most {MAX_BATCH} events a call"));
        }
        match &self.anonymous_id {
            Some(a)
                if !(8..=64).contains(&a.len())
                    || !a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                v.push("anonymous_id", "invalid", "8 to 64 letters, digits, `-` or `_`")
            }
            None if customer.is_none() => {
                v.push("anonymous_id", "required", "an anonymous id, or a customer token, says whose events these are")
            }
            _ => {}
        }
        let mut kept = vec![];
        for (n, e) in self.events.iter().enumerate().take(MAX_BATCH) {
            let field = |f: &str| format!("events[{n}].{f}");
            if !e.kind.from_storefront() {
                v.push(field("type"), "not_allowed", "purchases and returns are taken from orders");
            }
            let needs_product = !matches!(e.kind, EventKind::SearchMade);
            if needs_product && e.product_id.is_none() {
                v.push(field("product_id"), "required", format!("a {} event names its product", e.kind.as_str()));
            }
            let query = match (&e.query, e.kind) {
                (Some(q), EventKind::SearchMade) => {
                    let words = normalise_query(q);
                    if words.is_empty() {
                        v.push(field("query"), "required", "what was searched for");
                    }
                    Some(words)
                }
                (None, EventKind::SearchMade) => {
                    v.push(field("query"), "required", "what was searched for");
                    None
                }
                (Some(_), _) => {
                    v.push(field("query"), "not_allowed", "only a search_made event has a query");
                    None
                }
                (None, _) => None,
            };
            let at = e.at.map_or(now, |t| t.timestamp_millis());
            if at < now - LATE_MS || at > now + EARLY_MS {
                v.push(field("at"), "out_of_range", "at most 7 days ago, and not in the future");
            }
            if let Some(i) = e.impression_id {
                if matches!(e.kind, EventKind::SearchMade | EventKind::RemovedFromCart) {
                    v.push(
                        field("impression_id"),
                        "not_allowed",
                        "a view, a cart addition or a wishlist comes from recommendations",
                    );
                } else if crate::impressions::Impression::of(i).is_none() {
                    v.push(field("impression_id"), "invalid", "an impression_id given with recommendations");
                }
            }
            kept.push(BehaviourEvent {
                // Her id and the storefront's event id make a retry the same event.
                id: e.id.map_or_else(Uuid::now_v7, |id| {
                    let who = customer.map_or_else(|| self.anonymous_id.clone().unwrap_or_default(), |c| c.to_string());
                    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("behaviour/{who}/{id}").as_bytes())
                }),
                kind: e.kind,
                customer_id: customer,
                anonymous_id: self.anonymous_id.clone(),
                product_id: if needs_product { e.product_id } else { None },
                query,
                unsuitable: false,
                at,
                impression_id: e.impression_id,
            });
        }
        v.finish(|| if self.consent { kept } else { vec![] })
    }
}

/// The id of the purchase of `sku` in `order` (a replayed `order.placed` records it once; a
/// return finds it).
pub fn purchase_id(order: Uuid, sku: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("behaviour/purchase/{order}/{sku}").as_bytes())
}

/// Whether a return's reason says the product did not suit her (a reaction, irritation,
/// breakouts, an allergy, the wrong shade or skin type): she is never recommended it again.
pub fn unsuitable(reason: &str) -> bool {
    const SIGNS: [&str; 12] = [
        "unsuitable",
        "not suit",
        "n't suit",
        "didnt suit",
        "reaction",
        "irritat",
        "breakout",
        "broke out",
        "allerg",
        "rash",
        "wrong shade",
        "too harsh",
    ];
    let reason = reason.to_lowercase();
    SIGNS.iter().any(|s| reason.contains(s))
}

/// A search's words, lower case, single-spaced, at most [`MAX_QUERY`] characters.
fn normalise_query(q: &str) -> String {
    let words: Vec<String> = q.split_whitespace().map(str::to_lowercase).collect();
    words.join(" ").chars().take(MAX_QUERY).collect()
}

/// What the store keeps of behaviour.
pub trait BehaviourRepository: Clone + Send + Sync + 'static {
    /// Keeps events; one whose id is kept already is skipped. Returns how many were new.
    ///
    /// # Errors
    /// `Unavailable` when the store fails (nothing kept).
    fn record_behaviour(&self, events: &[BehaviourEvent]) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Events at or after `since` (ms), oldest first, a page of `limit` after `after`
    /// (the last page's last (at, id)); training reads them all this way.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn behaviour_since(
        &self,
        since: i64,
        after: Option<(i64, Uuid)>,
        limit: i64,
    ) -> impl Future<Output = StoreResult<Vec<BehaviourEvent>>> + Send;
    /// Her latest `limit` events, newest first.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn behaviour_of(&self, customer: Uuid, limit: i64)
    -> impl Future<Output = StoreResult<Vec<BehaviourEvent>>> + Send;
    /// One event by its id.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn behaviour_event(&self, id: Uuid) -> impl Future<Output = StoreResult<Option<BehaviourEvent>>> + Send;
    /// Makes a visitor's events hers: she logged in on the storefront that gave her
    /// `anonymous_id` (and consented). Returns how many became hers.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn link_visitor(&self, anonymous_id: &str, customer: Uuid) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Removes every event of hers (erasure). Returns how many.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn erase_behaviour(&self, customer: Uuid) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Removes every event older than `before` (ms; retention). Returns how many.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    fn purge_behaviour(&self, before: i64) -> impl Future<Output = StoreResult<u64>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn batch(json: serde_json::Value) -> EventBatch {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_consented_batch_is_kept_and_a_retry_is_the_same_event() {
        let p = Uuid::now_v7();
        let id = Uuid::now_v7();
        let b = batch(serde_json::json!({"anonymous_id": "visitor-123", "consent": true, "events": [
            {"id": id, "type": "product_viewed", "product_id": p},
            {"type": "search_made", "query": "  Vitamin   C Serum "},
        ]}));
        let kept = b.accept(None, NOW).unwrap();
        assert_eq!(kept.len(), 2);
        assert_eq!((kept[0].kind, kept[0].product_id, kept[0].at), (EventKind::ProductViewed, Some(p), NOW));
        assert_eq!(kept[1].query.as_deref(), Some("vitamin c serum"));
        assert_eq!(b.accept(None, NOW + 5).unwrap()[0].id, kept[0].id, "same storefront id, same event");
        // Without consent nothing is kept (and the batch is still checked).
        let no = batch(serde_json::json!({"anonymous_id": "visitor-123", "consent": false, "events": [
            {"type": "wishlisted", "product_id": p}]}));
        assert_eq!(no.accept(None, NOW), Ok(vec![]));
    }

    #[test]
    fn a_return_that_did_not_suit_her_is_told_from_one_that_did_not_please() {
        for r in ["Unsuitable for my skin", "I had a reaction", "it irritated my skin", "didn't suit me", "Wrong shade"]
        {
            assert!(unsuitable(r), "{r}");
        }
        for r in ["arrived damaged", "changed my mind", "ordered twice"] {
            assert!(!unsuitable(r), "{r}");
        }
    }

    #[test]
    fn every_mistake_is_named() {
        let b = batch(serde_json::json!({"anonymous_id": "x", "consent": true, "events": [
            {"type": "purchased", "product_id": Uuid::now_v7()},
            {"type": "added_to_cart"},
            {"type": "search_made"},
            {"type": "wishlisted", "product_id": Uuid::now_v7(), "query": "x"},
            {"type": "product_viewed", "product_id": Uuid::now_v7(), "at": "2020-01-01T00:00:00Z"},
        ]}));
        let errors = b.accept(None, NOW).unwrap_err();
        let fields: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            fields,
            [
                ("anonymous_id", "invalid"),
                ("events[0].type", "not_allowed"),
                ("events[1].product_id", "required"),
                ("events[2].query", "required"),
                ("events[3].query", "not_allowed"),
                ("events[4].at", "out_of_range"),
            ]
        );
        let nobody = batch(serde_json::json!({"consent": true, "events": []}));
        let codes: Vec<&str> = nobody.accept(None, NOW).unwrap_err().iter().map(|e| e.code).collect();
        assert_eq!(codes, ["empty", "required"]);
        let many: Vec<_> =
            (0..101).map(|_| serde_json::json!({"type": "product_viewed", "product_id": Uuid::now_v7()})).collect();
        let big = batch(serde_json::json!({"consent": true, "events": many}));
        assert_eq!(big.accept(Some(Uuid::now_v7()), NOW).unwrap_err()[0].code, "too_many");
    }
}
