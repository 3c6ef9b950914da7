//! Reviews' use cases: a customer reviews what was delivered to her, staff moderate and reply,
//! customers vote and report, shoppers read approved reviews and the ratings they make.

use crate::model::{Moderation, RatingSummary, Reply, Review, ReviewInput, ReviewStatus, StaffReview};
use crate::ports::{ProductRating, Purchases, ReviewFilter, Reviewers, ReviewsRepository};
use rouge_kernel::{FieldError, StoreError, Validation};
use std::sync::Arc;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewsError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("no such {0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Orders or identity could not be asked.
    #[error("{0}")]
    Unavailable(String),
    #[error("the store failed: {0}")]
    Store(String),
}

impl From<StoreError> for ReviewsError {
    fn from(e: StoreError) -> Self {
        match e {
            e @ (StoreError::Duplicate { .. } | StoreError::Stale) => ReviewsError::Conflict(e.to_string()),
            StoreError::Unavailable(cause) => ReviewsError::Store(cause),
        }
    }
}

impl From<Validation> for ReviewsError {
    fn from(v: Validation) -> Self {
        ReviewsError::Invalid(v.errors().to_vec())
    }
}

pub type Result<T> = std::result::Result<T, ReviewsError>;

fn invalid(field: &str, code: &'static str, message: &str) -> ReviewsError {
    ReviewsError::Invalid(vec![FieldError { field: field.into(), code, message: message.into() }])
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[derive(Clone)]
pub struct ReviewsService<R> {
    repo: R,
    purchases: Arc<dyn Purchases>,
    reviewers: Arc<dyn Reviewers>,
}

impl<R: ReviewsRepository> ReviewsService<R> {
    pub fn new(repo: R, purchases: Arc<dyn Purchases>, reviewers: Arc<dyn Reviewers>) -> Self {
        Self { repo, purchases, reviewers }
    }

    pub fn repo(&self) -> &R {
        &self.repo
    }

    /// A customer reviews a product she received: `skus` are the product's variants. The
    /// review waits for a moderator.
    ///
    /// # Errors
    /// `Invalid` (bad fields; `order_id` `not_purchased` or `not_delivered`); `Conflict` when
    /// that order line has a review; `Unavailable` when orders or identity cannot be asked.
    #[tracing::instrument(name = "reviews.submit", skip_all, fields(product = %product_id))]
    pub async fn submit(
        &self,
        customer: Uuid,
        product_id: Uuid,
        skus: &[String],
        input: ReviewInput,
    ) -> Result<StaffReview> {
        input.validate()?;
        if !skus.contains(&input.sku) {
            return Err(invalid("sku", "not_of_product", "not one of this product's variants"));
        }
        let purchase = self.purchases.purchase(input.order_id).await.map_err(ReviewsError::Unavailable)?;
        let Some(purchase) = purchase.filter(|p| p.customer_id == Some(customer) && p.skus.contains(&input.sku)) else {
            return Err(invalid(
                "order_id",
                "not_purchased",
                "reviews are of what you bought: none of your orders holds this variant",
            ));
        };
        if purchase.status != "delivered" {
            return Err(invalid(
                "order_id",
                "not_delivered",
                "this order has not been delivered yet: review it once it has arrived",
            ));
        }
        let profile = self.reviewers.profile(customer).await.map_err(ReviewsError::Unavailable)?;
        let t = now();
        let review = StaffReview {
            review: Review {
                id: rouge_kernel::new_id(),
                product_id,
                sku: input.sku.clone(),
                rating: input.rating,
                title: input.title.trim().to_owned(),
                text: input.text.trim().to_owned(),
                photos: input.photos.clone(),
                reviewer: input.reviewer(profile),
                verified_purchase: true,
                status: ReviewStatus::Pending,
                rejection_reason: None,
                reply: None,
                helpful: 0,
                created_at: t,
                updated_at: t,
            },
            customer_id: Some(customer),
            order_id: Some(input.order_id),
            reports: 0,
        };
        match self.repo.add_review(&review).await {
            Err(StoreError::Duplicate { .. }) => {
                Err(ReviewsError::Conflict("you have reviewed this item of this order already".into()))
            }
            other => other.map_err(ReviewsError::from),
        }?;
        tracing::info!(review = %review.review.id, "review submitted for moderation");
        Ok(review)
    }

    async fn get(&self, id: Uuid) -> Result<StaffReview> {
        self.repo.review(id).await?.ok_or_else(|| ReviewsError::NotFound(format!("review {id}")))
    }

    /// A review as staff see it.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn staff_review(&self, id: Uuid) -> Result<StaffReview> {
        self.get(id).await
    }

    /// Approves or rejects (with a reason the author reads).
    ///
    /// # Errors
    /// `NotFound`; `Invalid` for an unknown decision or a rejection without a reason.
    #[tracing::instrument(name = "reviews.moderate", skip_all, fields(review = %id))]
    pub async fn moderate(&self, id: Uuid, m: &Moderation) -> Result<StaffReview> {
        let reason = m.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
        let (status, kind) = match m.decision.as_str() {
            "approve" => (ReviewStatus::Approved, "review.approved"),
            "reject" => (ReviewStatus::Rejected, "review.rejected"),
            _ => return Err(invalid("decision", "unknown_value", "approve or reject")),
        };
        if status == ReviewStatus::Rejected && reason.is_none_or(|r| r.chars().count() > 500) {
            return Err(invalid("reason", "required", "say why, in at most 500 characters: the author reads it"));
        }
        let mut r = self.get(id).await?;
        r.review.status = status;
        r.review.rejection_reason = reason.filter(|_| status == ReviewStatus::Rejected).map(str::to_owned);
        r.review.updated_at = now();
        self.repo.save_review(&r, kind).await?;
        tracing::info!(review = %id, decision = %m.decision, "review moderated");
        Ok(r)
    }

    /// The shop's reply under a review (replaces an earlier one).
    ///
    /// # Errors
    /// `NotFound`; `Invalid` for an empty or overlong reply.
    #[tracing::instrument(name = "reviews.reply", skip_all, fields(review = %id))]
    pub async fn reply(&self, id: Uuid, text: &str) -> Result<StaffReview> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > 2000 {
            return Err(invalid("text", "invalid", "1 to 2000 characters"));
        }
        let mut r = self.get(id).await?;
        let t = now();
        r.review.reply = Some(Reply { text: text.to_owned(), at: t });
        r.review.updated_at = t;
        self.repo.save_review(&r, "review.replied").await?;
        Ok(r)
    }

    /// Reviews for staff (the moderation queue: `status=pending`; `reported`).
    ///
    /// # Errors
    /// When the store fails.
    pub async fn staff_reviews(&self, f: &ReviewFilter) -> Result<Vec<StaffReview>> {
        Ok(self.repo.reviews(f).await?)
    }

    /// A product's approved reviews.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn reviews(&self, f: &ReviewFilter) -> Result<Vec<Review>> {
        let f = ReviewFilter { status: Some(ReviewStatus::Approved), reported: false, ..f.clone() };
        Ok(self.repo.reviews(&f).await?.into_iter().map(|r| r.review).collect())
    }

    /// How a product is rated: average, count, distribution, by skin type.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn summary(&self, product: Uuid) -> Result<RatingSummary> {
        Ok(RatingSummary::of(&self.repo.rating_counts(product).await?))
    }

    /// Every product's rating (for the search index).
    ///
    /// # Errors
    /// When the store fails.
    pub async fn ratings(&self) -> Result<Vec<ProductRating>> {
        Ok(self.repo.ratings().await?)
    }

    async fn shown(&self, id: Uuid) -> Result<StaffReview> {
        self.get(id)
            .await
            .ok()
            .filter(|r| r.review.status == ReviewStatus::Approved)
            .ok_or_else(|| ReviewsError::NotFound(format!("review {id}")))
    }

    /// Her vote that a review helped (once; again: nothing). Returns the review.
    ///
    /// # Errors
    /// `NotFound` unless approved; `Invalid` for her own review.
    pub async fn vote(&self, id: Uuid, customer: Uuid) -> Result<Review> {
        let r = self.shown(id).await?;
        if r.customer_id == Some(customer) {
            return Err(invalid("review", "own_review", "your own review cannot be voted helpful by you"));
        }
        self.repo.vote(id, customer).await?;
        Ok(self.get(id).await?.review)
    }

    /// Her report of abuse (once; again: nothing).
    ///
    /// # Errors
    /// `NotFound` unless approved; `Invalid` without a reason.
    pub async fn report(&self, id: Uuid, customer: Uuid, reason: &str) -> Result<()> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(invalid("reason", "invalid", "say what is wrong, in 1 to 500 characters"));
        }
        self.shown(id).await?;
        if self.repo.report(id, customer, reason).await? {
            tracing::info!(review = %id, "review reported");
        }
        Ok(())
    }

    /// Her own reviews, whatever their status (a rejected one with its reason).
    ///
    /// # Errors
    /// When the store fails.
    pub async fn mine(&self, customer: Uuid, limit: i64, after: Option<(i64, Uuid)>) -> Result<Vec<Review>> {
        let f = ReviewFilter { customer: Some(customer), limit, after, ..ReviewFilter::default() };
        Ok(self.repo.reviews(&f).await?.into_iter().map(|r| r.review).collect())
    }

    /// Her erasure (see [`ReviewsRepository::forget_customer`]).
    ///
    /// # Errors
    /// When the store fails.
    pub async fn forget_customer(&self, customer: Uuid) -> Result<u64> {
        Ok(self.repo.forget_customer(customer).await?)
    }
}
