//! What reviews need: a store for reviews, votes and reports; orders, to tell a delivered
//! purchase; identity, for the reviewer's profile at the time.

use crate::model::{ReviewStatus, ReviewerProfile, StaffReview};
use rouge_catalog::{AgeBand, Concern, SkinType};
use rouge_kernel::StoreResult;
use std::future::Future;
use std::pin::Pin;
use uuid::Uuid;

/// Which reviews to read, newest first unless sorted otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviewFilter {
    pub product_id: Option<Uuid>,
    /// Her reviews (whatever their status).
    pub customer: Option<Uuid>,
    pub status: Option<ReviewStatus>,
    pub skin_type: Option<SkinType>,
    pub concern: Option<Concern>,
    pub age_band: Option<AgeBand>,
    pub rating: Option<u8>,
    /// Only reviews a customer reported.
    pub reported: bool,
    pub sort: ReviewSort,
    /// Keyset: the last item of the previous page, as (sort value, id).
    pub after: Option<(i64, Uuid)>,
    pub limit: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReviewSort {
    #[default]
    Newest,
    /// Most helpful first.
    Helpful,
    /// Highest rating first.
    RatingDesc,
    /// Lowest rating first.
    RatingAsc,
}

impl ReviewSort {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "newest" => ReviewSort::Newest,
            "helpful" => ReviewSort::Helpful,
            "rating_desc" => ReviewSort::RatingDesc,
            "rating_asc" => ReviewSort::RatingAsc,
            _ => return None,
        })
    }

    /// The value a review sorts by under this order (the cursor's first half).
    pub fn key(self, r: &crate::model::Review) -> i64 {
        match self {
            ReviewSort::Newest => r.created_at,
            ReviewSort::Helpful => r.helpful,
            ReviewSort::RatingDesc | ReviewSort::RatingAsc => i64::from(r.rating),
        }
    }
}

/// A product's approved reviews as counted for its rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProductRating {
    pub product_id: Uuid,
    pub count: i64,
    pub sum: i64,
}

/// Reviews, votes and reports, kept by the store.
pub trait ReviewsRepository: Clone + Send + Sync + 'static {
    /// Adds a new (pending) review.
    ///
    /// # Errors
    /// MUST return `Duplicate` (field `review`) when the same order line (order, SKU) has a
    /// review already.
    fn add_review(&self, r: &StaffReview) -> impl Future<Output = StoreResult<()>> + Send;
    /// Saves a moderated or replied review, audited as `actor`'s, with the event `kind`; when
    /// its approval changed, the product's rating too (`review.rating_changed`).
    fn save_review(&self, r: &StaffReview, kind: &str) -> impl Future<Output = StoreResult<()>> + Send;
    fn review(&self, id: Uuid) -> impl Future<Output = StoreResult<Option<StaffReview>>> + Send;
    fn reviews(&self, f: &ReviewFilter) -> impl Future<Output = StoreResult<Vec<StaffReview>>> + Send;
    /// Approved reviews of a product by (skin type shown, rating): their counts.
    fn rating_counts(
        &self,
        product: Uuid,
    ) -> impl Future<Output = StoreResult<Vec<(Option<SkinType>, u8, i64)>>> + Send;
    /// Every product with approved reviews.
    fn ratings(&self) -> impl Future<Output = StoreResult<Vec<ProductRating>>> + Send;
    /// Her vote that a review helped; `false` when she had voted already.
    fn vote(&self, review: Uuid, customer: Uuid) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Her report of abuse; `false` when she had reported it already.
    fn report(&self, review: Uuid, customer: Uuid, reason: &str) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Her erasure: her reviews stay, anonymised (no link to her or her order, display name
    /// "Former customer", no age band, shade or photos); her votes and reports go. Returns the
    /// reviews changed.
    fn forget_customer(&self, customer: Uuid) -> impl Future<Output = StoreResult<u64>> + Send;
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An order as reviews need it: whose, in which state, and the SKUs it holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Purchase {
    pub customer_id: Option<Uuid>,
    /// The order's status (`delivered`, …).
    pub status: String,
    pub skus: Vec<String>,
}

/// Orders, as reviews see them (in process, or the orders service over HTTP).
pub trait Purchases: Send + Sync + 'static {
    /// The order, or `None` when there is none.
    ///
    /// # Errors
    /// The cause, when orders cannot be asked.
    fn purchase(&self, order: Uuid) -> BoxFuture<'_, Result<Option<Purchase>, String>>;
}

/// Identity, as reviews see it.
pub trait Reviewers: Send + Sync + 'static {
    /// Her beauty profile now.
    ///
    /// # Errors
    /// The cause, when identity cannot be asked.
    fn profile(&self, customer: Uuid) -> BoxFuture<'_, Result<ReviewerProfile, String>>;
}
