//! Promotions' use cases: staff set promotions and codes up; carts are priced with them;
//! checkouts hold their budgets (and give them back) like stock.

use crate::codes;
use crate::engine::{self, Applied, Basket, Candidate, Evaluation, NotApplied};
use crate::model::{Benefit, Code, Promotion, PromotionInput};
use crate::ports::{Hold, HoldState, OfferSource, Profiles, PromotionsRepository, Use};
use rouge_kernel::{FieldError, StoreError, Validation};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromotionsError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("no such {0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A discount the cart showed can no longer be given: its budget ran out meanwhile.
    #[error("{0}")]
    UsedUp(String),
    #[error("the store failed: {0}")]
    Store(String),
}

impl From<StoreError> for PromotionsError {
    fn from(e: StoreError) -> Self {
        match e {
            e @ (StoreError::Duplicate { .. } | StoreError::Stale) => PromotionsError::Conflict(e.to_string()),
            StoreError::Unavailable(cause) => PromotionsError::Store(cause),
        }
    }
}

impl From<Validation> for PromotionsError {
    fn from(v: Validation) -> Self {
        PromotionsError::Invalid(v.errors().to_vec())
    }
}

pub type Result<T> = std::result::Result<T, PromotionsError>;

/// Codes staff add: one they name, or a batch generated.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodesInput {
    /// A code to add as written (3 to 32 letters, digits, `-`, `_`; any case).
    #[serde(default)]
    pub code: Option<String>,
    /// Or this many unique random codes (1 to 10000)…
    #[serde(default)]
    pub count: Option<u32>,
    /// …each starting with this (up to 12 characters).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Orders each code may be used for (1: single use); omit for no limit of its own.
    #[serde(default)]
    pub max_uses: Option<i64>,
}

/// An offer shown on listings and product pages.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct Offer {
    pub promotion_id: Uuid,
    pub name: String,
    /// "-20 %", "Gift with purchase", "Buy 2 get 1 free".
    pub badge: String,
    /// What it applies to: a listing badges the items its target holds (their brand, category
    /// or SKU).
    pub target: crate::model::Target,
    /// Kept for customers in one of these segments (`skin_type:oily`…); empty: for everyone.
    pub segments: Vec<String>,
    /// Spending needed on the promotion's target, if any.
    pub min_subtotal: Option<i64>,
    /// When it ends (ms since the epoch), if it does.
    pub ends_at: Option<i64>,
}

/// The offers live at an instant, with a version that changes when they do (storefront
/// pages that show them are cached by it).
#[derive(Debug, Clone, Default)]
pub struct LiveOffers {
    pub offers: Vec<Offer>,
    pub version: u64,
}

impl LiveOffers {
    /// Those whose target holds one of a product's variants, given as (SKU, brand slug,
    /// category slugs with their ancestors).
    pub fn for_variants(&self, variants: &[(String, String, Vec<String>)]) -> Vec<&Offer> {
        let lines: Vec<engine::BasketLine> = variants
            .iter()
            .map(|(sku, brand, categories)| engine::BasketLine {
                sku: sku.clone(),
                brand: brand.clone(),
                categories: categories.clone(),
                unit_price: 0,
                quantity: 1,
            })
            .collect();
        self.offers.iter().filter(|o| lines.iter().any(|l| engine::in_target(l, &o.target))).collect()
    }
}

/// A promotion with what its budget has taken so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PromotionView {
    #[serde(flatten)]
    pub promotion: Promotion,
    /// Orders that used it (or hold it in a checkout now).
    pub used: i64,
    pub badge: String,
}

const CACHE_TTL: Duration = Duration::from_secs(2);

/// Every promotion as read at an instant.
type Snapshot = (Instant, Arc<Vec<Promotion>>);

/// The offers computed from a list (the list they came from, valid until, the offers).
type LiveSnapshot = (Arc<Vec<Promotion>>, i64, Arc<LiveOffers>);
/// The live offers a source told, and when.
type Told = (Instant, Arc<LiveOffers>);
const HOLD_TTL_MS: i64 = 15 * 60 * 1000;

#[derive(Clone)]
pub struct PromotionsService<R> {
    repo: R,
    /// Every promotion, read again after [`CACHE_TTL`] (and at once after a change here): a
    /// replica sees another's changes within that time. Budgets are always counted in the
    /// store.
    cache: Arc<RwLock<Option<Snapshot>>>,
    /// The live offers of a snapshot, until the next schedule boundary (a start or an end):
    /// storefront pages read them on every request.
    offers: Arc<RwLock<Option<LiveSnapshot>>>,
    /// Where customers' segments come from; without it nobody is in a segment.
    profiles: Option<Arc<dyn Profiles>>,
    /// Where the live offers come from in a process apart from the promotions' tables (the
    /// orders service), and what it last told (kept [`CACHE_TTL`], an answer or none).
    source: Option<Arc<dyn OfferSource>>,
    told: Arc<RwLock<Option<Told>>>,
}

/// Offers with their version: a hash of them, the same in every process that has them.
fn live_offers_of(offers: Vec<Offer>) -> Arc<LiveOffers> {
    let version = std::hash::BuildHasher::hash_one(
        &std::hash::BuildHasherDefault::<std::hash::DefaultHasher>::default(),
        &offers,
    );
    Arc::new(LiveOffers { offers, version })
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The budgets with a limit that applying `p` (with `code` and its limit, for `customer`)
/// takes from.
fn limited_uses(p: &Promotion, code: Option<&(String, Option<i64>)>, customer: Option<Uuid>) -> Vec<Use> {
    let mut uses = vec![];
    if let Some(cap) = p.max_uses {
        uses.push(Use { key: total_key(p.id), cap, amount: 1 });
    }
    if let (Some(cap), Some(c)) = (p.max_uses_per_customer, customer) {
        uses.push(Use { key: customer_key(p.id, c), cap, amount: 1 });
    }
    if let Some((code, Some(cap))) = code {
        uses.push(Use { key: code_key(code), cap: *cap, amount: 1 });
    }
    uses
}

fn total_key(p: Uuid) -> String {
    format!("p:{p}")
}

fn code_key(c: &str) -> String {
    format!("c:{c}")
}

fn customer_key(p: Uuid, c: Uuid) -> String {
    format!("pc:{p}:{c}")
}

impl<R: PromotionsRepository> PromotionsService<R> {
    pub fn new(repo: R) -> Self {
        Self { repo, cache: Arc::default(), offers: Arc::default(), profiles: None, source: None, told: Arc::default() }
    }

    /// Takes the live offers from `source` (a process apart from the promotions' tables).
    #[must_use]
    pub fn with_offer_source(mut self, source: Arc<dyn OfferSource>) -> Self {
        self.source = Some(source);
        self
    }

    /// Whether the live offers come from another service.
    pub fn offers_told(&self) -> bool {
        self.source.is_some()
    }

    /// The live offers as the source tells them, asked at most every [`CACHE_TTL`]; none while
    /// it cannot be asked (pages go without them rather than wait).
    async fn told_offers(&self, source: &dyn OfferSource) -> Arc<LiveOffers> {
        if let Some((at, live)) = self.told.read().expect("told offers").as_ref()
            && at.elapsed() < CACHE_TTL
        {
            return live.clone();
        }
        let live = match source.live().await {
            Ok(offers) => live_offers_of(offers),
            Err(e) => {
                tracing::warn!(error = %e, "the live offers cannot be asked of the orders service: pages go without them");
                Arc::default()
            }
        };
        *self.told.write().expect("told offers") = Some((Instant::now(), live.clone()));
        live
    }

    /// Reads customers' segments from `profiles` (for promotions kept for segments).
    #[must_use]
    pub fn with_profiles(mut self, profiles: Arc<dyn Profiles>) -> Self {
        self.profiles = Some(profiles);
        self
    }

    /// The basket with its customer's segments, when a candidate is kept for segments and
    /// they were not read yet; unread (and said so on the cart) when identity cannot tell.
    async fn with_segments(&self, basket: &Basket, candidates: &[Candidate<'_>]) -> Option<Basket> {
        let customer = basket.customer?;
        if basket.segments.is_some() || candidates.iter().all(|c| c.promotion.segments.is_empty()) {
            return None;
        }
        let segments = match &self.profiles {
            None => Some(vec![]),
            Some(p) => match p.segments(customer).await {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(error = %e, "customer segments unknown: promotions kept for segments left out of this cart");
                    None
                }
            },
        };
        Some(Basket { segments, ..basket.clone() })
    }

    pub fn repo(&self) -> &R {
        &self.repo
    }

    async fn all(&self) -> Result<Arc<Vec<Promotion>>> {
        if let Some((at, list)) = self.cache.read().expect("promotions cache").as_ref()
            && at.elapsed() < CACHE_TTL
        {
            return Ok(list.clone());
        }
        let list = Arc::new(self.repo.promotions().await?);
        *self.cache.write().expect("promotions cache") = Some((Instant::now(), list.clone()));
        Ok(list)
    }

    fn forget(&self) {
        *self.cache.write().expect("promotions cache") = None;
    }

    async fn view(&self, p: Promotion) -> Result<PromotionView> {
        let used = self.repo.uses_of(&[p.id]).await?[0];
        let badge = p.badge();
        Ok(PromotionView { promotion: p, used, badge })
    }

    /// # Errors
    /// `Invalid` with every bad field.
    #[tracing::instrument(name = "promotions.create", skip_all)]
    pub async fn create(&self, input: PromotionInput) -> Result<PromotionView> {
        input.validate()?;
        let t = now();
        let p = input.into_promotion(rouge_kernel::new_id(), t, t);
        self.repo.save_promotion(&p).await?;
        self.forget();
        tracing::info!(promotion = %p.id, name = %p.name, "promotion created");
        self.view(p).await
    }

    /// Replaces a promotion's rules (its uses so far stay counted).
    ///
    /// # Errors
    /// `NotFound`; `Invalid` with every bad field.
    #[tracing::instrument(name = "promotions.replace", skip_all, fields(promotion = %id))]
    pub async fn replace(&self, id: Uuid, input: PromotionInput) -> Result<PromotionView> {
        input.validate()?;
        let old = self.repo.promotion(id).await?.ok_or_else(|| PromotionsError::NotFound(format!("promotion {id}")))?;
        let p = input.into_promotion(id, old.created_at, now());
        self.repo.save_promotion(&p).await?;
        self.forget();
        self.view(p).await
    }

    /// # Errors
    /// `NotFound`.
    pub async fn get(&self, id: Uuid) -> Result<PromotionView> {
        let p = self.repo.promotion(id).await?.ok_or_else(|| PromotionsError::NotFound(format!("promotion {id}")))?;
        self.view(p).await
    }

    /// Every promotion, newest first, with its uses.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn list(&self) -> Result<Vec<PromotionView>> {
        let list = self.repo.promotions().await?;
        let ids: Vec<Uuid> = list.iter().map(|p| p.id).collect();
        let used = self.repo.uses_of(&ids).await?;
        Ok(list.into_iter().zip(used).map(|(p, used)| PromotionView { badge: p.badge(), promotion: p, used }).collect())
    }

    /// Adds one named code, or a batch of generated ones, to a promotion that takes codes.
    ///
    /// # Errors
    /// `NotFound`; `Invalid`; `Conflict` when a named code exists already.
    #[tracing::instrument(name = "promotions.add_codes", skip_all, fields(promotion = %id))]
    pub async fn add_codes(&self, id: Uuid, input: &CodesInput) -> Result<Vec<Code>> {
        let p = self.repo.promotion(id).await?.ok_or_else(|| PromotionsError::NotFound(format!("promotion {id}")))?;
        let mut v = Validation::new();
        if !p.requires_code {
            v.push("promotion", "automatic", "this promotion applies by itself; set requires_code to give it codes");
        }
        if input.max_uses.is_some_and(|m| m < 1) {
            v.push("max_uses", "out_of_range", "at least 1 (omit it for no limit)");
        }
        let prefix = input.prefix.as_deref().unwrap_or("");
        let wanted: Vec<String> = match (&input.code, input.count) {
            (Some(c), None) if input.prefix.is_none() => match codes::normalize(c) {
                Some(c) => vec![c],
                None => {
                    v.push("code", "invalid", "3 to 32 letters, digits, `-` or `_`");
                    vec![]
                }
            },
            (None, Some(n)) if (1..=10_000).contains(&n) => {
                if prefix.len() > 12 || (!prefix.is_empty() && codes::normalize(&format!("{prefix}XXX")).is_none()) {
                    v.push("prefix", "invalid", "up to 12 letters, digits, `-` or `_`");
                }
                codes::generate(&prefix.to_ascii_uppercase(), 10, n as usize)
            }
            (None, Some(_)) => {
                v.push("count", "out_of_range", "from 1 to 10000 codes at a time");
                vec![]
            }
            _ => {
                v.push("code", "one_of", "either `code`, or `count` (with an optional `prefix`)");
                vec![]
            }
        };
        if !v.is_empty() {
            return Err(v.into());
        }
        let t = now();
        let make = |code: String| Code { code, promotion_id: id, max_uses: input.max_uses, used: 0, created_at: t };
        let batch: Vec<Code> = wanted.into_iter().map(make).collect();
        match self.repo.add_codes(&batch).await {
            Ok(()) => {}
            Err(StoreError::Duplicate { .. }) if input.code.is_some() => {
                return Err(PromotionsError::Conflict(format!("the code {} exists already", batch[0].code)));
            }
            // A generated batch met an existing code (about one chance in 10^9 per code): draw
            // the whole batch again once.
            Err(StoreError::Duplicate { .. }) => {
                let again: Vec<Code> =
                    codes::generate(&prefix.to_ascii_uppercase(), 10, batch.len()).into_iter().map(make).collect();
                self.repo.add_codes(&again).await?;
                tracing::info!(promotion = %id, count = again.len(), "codes generated");
                return Ok(again);
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(promotion = %id, count = batch.len(), "codes added");
        Ok(batch)
    }

    /// # Errors
    /// `NotFound`.
    pub async fn codes(&self, id: Uuid, after: Option<&str>, limit: i64) -> Result<Vec<Code>> {
        self.repo.promotion(id).await?.ok_or_else(|| PromotionsError::NotFound(format!("promotion {id}")))?;
        Ok(self.repo.codes(id, after, limit).await?)
    }

    /// Whether a live promotion is for a first order (when the store cannot say: true, so a
    /// cart still asks).
    pub async fn wants_first_order(&self) -> bool {
        let t = now();
        self.all()
            .await
            .map_or(true, |all| all.iter().any(|p| p.live_at(t) && p.audience == crate::model::Audience::FirstOrder))
    }

    /// The offers live now: automatic promotions within their schedule.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn live_offers(&self) -> Result<Arc<LiveOffers>> {
        if let Some(source) = &self.source {
            return Ok(self.told_offers(source.as_ref()).await);
        }
        let t = now();
        let all = self.all().await?;
        if let Some((list, until, live)) = self.offers.read().expect("offers cache").as_ref()
            && Arc::ptr_eq(list, &all)
            && t < *until
        {
            return Ok(live.clone());
        }
        // Valid until the next start or end of an automatic promotion.
        let until = all
            .iter()
            .filter(|p| p.active && !p.requires_code)
            .flat_map(|p| [p.starts_at, p.ends_at])
            .flatten()
            .filter(|at| *at > t)
            .min()
            .unwrap_or(i64::MAX);
        let offers: Vec<Offer> = all
            .iter()
            .filter(|p| !p.requires_code && p.live_at(t))
            .map(|p| Offer {
                promotion_id: p.id,
                name: p.name.clone(),
                badge: p.badge(),
                target: p.target.clone(),
                segments: p.segments.clone(),
                min_subtotal: p.min_subtotal,
                ends_at: p.ends_at,
            })
            .collect();
        let live = live_offers_of(offers);
        *self.offers.write().expect("offers cache") = Some((all, until, live.clone()));
        Ok(live)
    }

    /// Prices a basket: the live automatic promotions and those its codes unlock, each
    /// within its budgets as counted now.
    ///
    /// # Errors
    /// When the store fails.
    #[tracing::instrument(name = "promotions.evaluate", skip_all)]
    pub async fn evaluate(&self, basket: &Basket) -> Result<Evaluation> {
        Ok(self.evaluate_without(basket, &[]).await?.0)
    }

    /// The evaluation, and the limit of each code it read (so a checkout need not read them
    /// again to hold their budgets).
    async fn evaluate_without(
        &self,
        basket: &Basket,
        excluded: &[Uuid],
    ) -> Result<(Evaluation, Vec<(String, Option<i64>)>)> {
        let all = self.all().await?;
        let mut refused: Vec<NotApplied> = vec![];
        let mut candidates: Vec<Candidate<'_>> = all
            .iter()
            .filter(|p| !p.requires_code && p.live_at(basket.now) && !excluded.contains(&p.id))
            .map(|p| Candidate { promotion: p, code: None })
            .collect();
        let mut code_limits: Vec<(usize, String, Option<i64>)> = vec![];
        for raw in &basket.codes {
            let unknown = || NotApplied {
                promotion_id: None,
                name: None,
                code: Some(raw.clone()),
                reason_code: "unknown_code".into(),
                reason: format!("{raw} is not a code of this shop"),
            };
            let Some(code) = self.repo.code(raw).await? else {
                refused.push(unknown());
                continue;
            };
            let Some(p) = all.iter().find(|p| p.id == code.promotion_id) else {
                refused.push(unknown());
                continue;
            };
            if candidates.iter().any(|c| c.promotion.id == p.id) || excluded.contains(&p.id) {
                continue;
            }
            code_limits.push((candidates.len(), code.code.clone(), code.max_uses));
            candidates.push(Candidate { promotion: p, code: Some(code.code) });
        }
        // Budgets as counted now (only those with a limit are read): a promotion whose budget
        // is spent is out, with the reason.
        let mut keys: Vec<String> = vec![];
        for (_, code, max) in &code_limits {
            if max.is_some() {
                keys.push(code_key(code));
            }
        }
        for c in &candidates {
            let p = c.promotion;
            if p.max_uses.is_some() {
                keys.push(total_key(p.id));
            }
            if let (Some(_), Some(cu)) = (p.max_uses_per_customer, basket.customer) {
                keys.push(customer_key(p.id, cu));
            }
        }
        let taken: std::collections::HashMap<String, i64> = if keys.is_empty() {
            Default::default()
        } else {
            let counts = self.repo.taken(&keys).await?;
            keys.into_iter().zip(counts).collect()
        };
        let count = |k: String| taken.get(&k).copied().unwrap_or(0);
        let mut spent: Vec<usize> = vec![];
        for (i, c) in candidates.iter().enumerate() {
            let p = c.promotion;
            let code_spent =
                code_limits.iter().any(|(k, code, max)| *k == i && max.is_some_and(|m| count(code_key(code)) >= m));
            let mine = basket.customer.map_or(0, |cu| count(customer_key(p.id, cu)));
            let why = if p.max_uses.is_some_and(|m| count(total_key(p.id)) >= m) {
                Some(match p.benefit {
                    Benefit::Gift { .. } => "the gifts have all been given",
                    Benefit::Samples { .. } => "the samples have all been given",
                    _ => "this promotion has been used up",
                })
            } else if code_spent {
                Some("this code has been used up")
            } else if basket.customer.is_some() && p.max_uses_per_customer.is_some_and(|m| mine >= m) {
                Some("you have used this promotion as often as it allows")
            } else {
                None
            };
            if let Some(why) = why {
                spent.push(i);
                refused.push(NotApplied {
                    promotion_id: Some(p.id),
                    name: Some(p.name.clone()),
                    code: c.code.clone(),
                    reason_code: "used_up".into(),
                    reason: why.into(),
                });
            }
        }
        let live: Vec<Candidate<'_>> =
            candidates.into_iter().enumerate().filter(|(i, _)| !spent.contains(i)).map(|(_, c)| c).collect();
        let read = self.with_segments(basket, &live).await;
        let mut ev = engine::evaluate(read.as_ref().unwrap_or(basket), &live);
        refused.append(&mut ev.not_applied);
        ev.not_applied = refused;
        Ok((ev, code_limits.into_iter().map(|(_, code, max)| (code, max)).collect()))
    }

    /// Prices a basket for checkout and holds the budgets of what applied, for `reference`
    /// (the checkout attempt) until it commits, fails or expires. A gift or samples whose
    /// budget ran out are left out (the price does not change); a discount whose budget ran out
    /// is refused, so nobody pays more than the cart showed.
    ///
    /// # Errors
    /// `UsedUp` naming the promotion or code; the store's failures.
    #[tracing::instrument(name = "promotions.hold", skip_all)]
    pub async fn hold(&self, reference: &str, basket: &Basket) -> Result<(Evaluation, Option<Uuid>)> {
        let mut excluded: Vec<Uuid> = vec![];
        let all = self.all().await?;
        loop {
            let (ev, code_limits) = self.evaluate_without(basket, &excluded).await?;
            // A code she entered that has run out: she pays nothing she has not seen. She takes
            // it off the cart to check out at the price without it.
            if let Some(spent) = ev.not_applied.iter().find(|n| n.reason_code == "used_up" && n.code.is_some()) {
                let code = spent.code.as_deref().unwrap_or_default();
                return Err(PromotionsError::UsedUp(format!(
                    "the code {code} has been used up; take it off the cart to check out without it"
                )));
            }
            let mut uses: Vec<Use> = vec![];
            // Only budgets with a limit are held here, on the checkout's path (a counter every
            // checkout takes is a row they all queue on); the others are counted when the
            // order is recorded ([`PromotionsService::spend`]).
            for a in &ev.applied {
                let Some(p) = all.iter().find(|p| p.id == a.promotion_id) else { continue };
                let code = a.code.as_ref().and_then(|c| code_limits.iter().find(|(k, _)| k == c));
                uses.extend(limited_uses(p, code, basket.customer));
            }
            if uses.is_empty() {
                return Ok((ev, None));
            }
            let hold = Hold {
                id: rouge_kernel::new_id(),
                reference: reference.to_owned(),
                state: HoldState::Held,
                order_id: None,
                uses,
                expires_at: now() + HOLD_TTL_MS,
            };
            match self.repo.hold(&hold).await? {
                Ok(h) => return Ok((ev, Some(h.id))),
                Err(key) => {
                    let owner = ev.applied.iter().find(|a| {
                        key == total_key(a.promotion_id)
                            || a.code.as_ref().is_some_and(|c| key == code_key(c))
                            || basket.customer.is_some_and(|c| key == customer_key(a.promotion_id, c))
                    });
                    let Some(a) = owner else {
                        return Err(PromotionsError::Store(format!("a hold refused an unknown budget {key}")));
                    };
                    let p = all.iter().find(|p| p.id == a.promotion_id);
                    if p.is_some_and(|p| matches!(p.benefit, Benefit::Gift { .. } | Benefit::Samples { .. })) {
                        tracing::info!(promotion = %a.promotion_id, "budget ran out during checkout: left out");
                        excluded.push(a.promotion_id);
                        continue;
                    }
                    let what = match &a.code {
                        Some(c) => format!("the code {c}"),
                        None => format!("the promotion “{}”", a.name),
                    };
                    return Err(PromotionsError::UsedUp(format!(
                        "{what} has just been used up; the cart's price has changed, check it and try again"
                    )));
                }
            }
        }
    }

    /// Gives a hold's uses back (a failed checkout, a cancelled order); again: nothing.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn release(&self, hold: Uuid) -> Result<()> {
        self.repo.release_hold(hold).await?;
        Ok(())
    }

    /// Records what an order used: spends its checkout's hold (the limited budgets) and records
    /// the promotions and codes it used (what staff read as their uses), once per order.
    ///
    /// # Errors
    /// `NotFound` for a hold that is not there; when the store fails.
    pub async fn spend(&self, order: Uuid, hold: Option<Uuid>, applied: &[Applied]) -> Result<()> {
        if let Some(h) = hold {
            self.repo.commit_hold(h, order).await?.ok_or_else(|| PromotionsError::NotFound(format!("hold {h}")))?;
        }
        let uses: Vec<(Uuid, Option<String>)> = applied.iter().map(|a| (a.promotion_id, a.code.clone())).collect();
        Ok(self.repo.record_uses(order, &uses, now()).await?)
    }

    /// Gives a cancelled order's uses back: its checkout's hold, and its record of uses.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn give_back(&self, order: Uuid, hold: Option<Uuid>) -> Result<()> {
        if let Some(h) = hold {
            self.repo.release_hold(h).await?;
        }
        Ok(self.repo.forget_uses(order).await?)
    }

    /// Gives back the budgets of checkouts that never finished; returns how many.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn release_expired(&self) -> Result<usize> {
        let mut n = 0;
        loop {
            let due = self.repo.expired_holds(now(), 200).await?;
            if due.is_empty() {
                return Ok(n);
            }
            for id in due {
                if self.repo.release_hold(id).await?.is_some_and(|h| h.state == HoldState::Released) {
                    n += 1;
                }
            }
        }
    }
}
