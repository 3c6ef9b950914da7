//! Reviews in GraphQL, as over REST: a product's approved reviews with its rating by skin
//! type, submitting a review of a delivered purchase, helpful votes and reports; staff's queue,
//! moderation and replies (`reviews:moderate`, audited under the REST routes). Reviews and
//! pages are the REST bodies, as JSON.

use crate::error::ApiError;
use crate::rest::reviews::{ReviewPage, StaffReviewPage, filter_of, next, product};
use crate::state::{AppState, Store};
use async_graphql::{Context, Json, Object};
use futures::future::BoxFuture;
use rouge_identity::{Permission, Principal};
use rouge_reviews::{Moderation, Review, ReviewFilter, ReviewInput, StaffReview};
use uuid::Uuid;

/// What staff do to a review.
pub enum StaffAction {
    Moderate(Moderation),
    Reply(String),
}

/// The review operations GraphQL needs, without naming the store type.
pub trait Reviewing: Send + Sync {
    fn page(&self, slug: String, f: ReviewFilter) -> BoxFuture<'_, Result<ReviewPage, ApiError>>;
    fn submit(&self, customer: Uuid, slug: String, input: ReviewInput) -> BoxFuture<'_, Result<Review, ApiError>>;
    fn vote(&self, id: Uuid, customer: Uuid) -> BoxFuture<'_, Result<Review, ApiError>>;
    fn report(&self, id: Uuid, customer: Uuid, reason: String) -> BoxFuture<'_, Result<(), ApiError>>;
    fn queue(&self, f: ReviewFilter) -> BoxFuture<'_, Result<StaffReviewPage, ApiError>>;
    /// Audited under the REST route of the same action.
    fn staff(
        &self,
        by: Principal,
        address: String,
        id: Uuid,
        action: StaffAction,
    ) -> BoxFuture<'_, Result<StaffReview, ApiError>>;
}

impl<S: Store> Reviewing for AppState<S> {
    fn page(&self, slug: String, mut f: ReviewFilter) -> BoxFuture<'_, Result<ReviewPage, ApiError>> {
        Box::pin(async move {
            let p = product(self, &slug)?;
            f.product_id = Some(p.view.id);
            let items = self.reviews.reviews(&f).await?;
            let summary = self.reviews.summary(p.view.id).await?;
            let next_cursor = next(&f, &items.iter().collect::<Vec<_>>());
            Ok(ReviewPage { items, next_cursor, summary })
        })
    }

    fn submit(&self, customer: Uuid, slug: String, input: ReviewInput) -> BoxFuture<'_, Result<Review, ApiError>> {
        Box::pin(async move {
            let p = product(self, &slug)?;
            let skus: Vec<String> = p.view.variants.iter().map(|v| v.sku.to_string()).collect();
            Ok(self.reviews.submit(customer, p.view.id, &skus, input).await?.review)
        })
    }

    fn vote(&self, id: Uuid, customer: Uuid) -> BoxFuture<'_, Result<Review, ApiError>> {
        Box::pin(async move { Ok(self.reviews.vote(id, customer).await?) })
    }

    fn report(&self, id: Uuid, customer: Uuid, reason: String) -> BoxFuture<'_, Result<(), ApiError>> {
        Box::pin(async move { Ok(self.reviews.report(id, customer, &reason).await?) })
    }

    fn queue(&self, f: ReviewFilter) -> BoxFuture<'_, Result<StaffReviewPage, ApiError>> {
        Box::pin(async move {
            let items = self.reviews.staff_reviews(&f).await?;
            let next_cursor = next(&f, &items.iter().map(|r| &r.review).collect::<Vec<_>>());
            Ok(StaffReviewPage { items, next_cursor })
        })
    }

    fn staff(
        &self,
        by: Principal,
        address: String,
        id: Uuid,
        action: StaffAction,
    ) -> BoxFuture<'_, Result<StaffReview, ApiError>> {
        let route = match action {
            StaffAction::Moderate(_) => "/v1/admin/reviews/{id}/moderation",
            StaffAction::Reply(_) => "/v1/admin/reviews/{id}/reply",
        };
        let path = route.replace("{id}", &id.to_string());
        let scope = crate::audit::scope(&by, address, &axum::http::Method::PUT, route, path);
        let svc = self.reviews.clone();
        Box::pin(rouge_identity::audit::within(scope, async move {
            match action {
                StaffAction::Moderate(m) => Ok(svc.moderate(id, &m).await?),
                StaffAction::Reply(text) => Ok(svc.reply(id, &text).await?),
            }
        }))
    }
}

fn reviewing<'a>(ctx: &Context<'a>) -> &'a std::sync::Arc<dyn Reviewing> {
    ctx.data_unchecked::<std::sync::Arc<dyn Reviewing>>()
}

fn gql(e: ApiError) -> async_graphql::Error {
    e.into_graphql()
}

/// Named arguments as the REST filter's parameters (absent ones left out).
fn pairs(named: &[(&str, Option<String>)]) -> Vec<(String, String)> {
    named.iter().filter_map(|(k, v)| v.clone().map(|v| ((*k).to_owned(), v))).collect()
}

#[derive(Default)]
pub struct ReviewQuery;

#[Object]
impl ReviewQuery {
    /// A product's approved reviews and its rating (average, count, distribution, by skin
    /// type), as `GET /v1/products/{slug}/reviews` gives them; the same filters.
    #[allow(clippy::too_many_arguments)]
    async fn product_reviews(
        &self,
        ctx: &Context<'_>,
        slug: String,
        skin_type: Option<String>,
        concern: Option<String>,
        age_band: Option<String>,
        rating: Option<i32>,
        sort: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Json<ReviewPage>> {
        let f = filter_of(
            pairs(&[
                ("skin_type", skin_type),
                ("concern", concern),
                ("age_band", age_band),
                ("rating", rating.map(|r| r.to_string())),
                ("sort", sort),
                ("limit", first.map(|n| n.to_string())),
                ("cursor", after),
            ]),
            &["skin_type", "concern", "age_band", "rating", "sort", "limit", "cursor"],
        )
        .map_err(gql)?;
        reviewing(ctx).page(slug, f).await.map(Json).map_err(gql)
    }

    /// Staff (`reviews:moderate`): the moderation queue (`status: "pending"`), reported ones,
    /// or all, newest first, as `GET /v1/admin/reviews`.
    async fn reviews(
        &self,
        ctx: &Context<'_>,
        status: Option<String>,
        reported: Option<bool>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Json<StaffReviewPage>> {
        super::orders::staff(ctx, Permission::ReviewsModerate).await?;
        let f = filter_of(
            pairs(&[
                ("status", status),
                ("reported", reported.map(|r| r.to_string())),
                ("limit", first.map(|n| n.to_string())),
                ("cursor", after),
            ]),
            &["status", "reported", "limit", "cursor"],
        )
        .map_err(gql)?;
        reviewing(ctx).queue(f).await.map(Json).map_err(gql)
    }
}

#[derive(Default)]
pub struct ReviewMutation;

async fn staff_action(ctx: &Context<'_>, id: Uuid, action: StaffAction) -> async_graphql::Result<Json<StaffReview>> {
    let by = super::orders::staff(ctx, Permission::ReviewsModerate).await?;
    let address = ctx.data_opt::<super::accounts::Caller>().map_or_else(|| "unknown".to_owned(), |c| c.address.clone());
    reviewing(ctx).staff(by, address, id, action).await.map(Json).map_err(gql)
}

#[Object]
impl ReviewMutation {
    /// The signed-in customer reviews a product delivered to her; `input` is the body of
    /// `POST /v1/products/{slug}/reviews`. The review waits for a moderator.
    async fn submit_review(
        &self,
        ctx: &Context<'_>,
        slug: String,
        input: Json<ReviewInput>,
    ) -> async_graphql::Result<Json<Review>> {
        let customer = super::accounts::customer_id(ctx).await?;
        reviewing(ctx).submit(customer, slug, input.0).await.map(Json).map_err(gql)
    }

    /// The signed-in customer found a review helpful (once).
    async fn vote_review_helpful(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Json<Review>> {
        let customer = super::accounts::customer_id(ctx).await?;
        reviewing(ctx).vote(id, customer).await.map(Json).map_err(gql)
    }

    /// The signed-in customer reports a review as abusive (once).
    async fn report_review(&self, ctx: &Context<'_>, id: Uuid, reason: String) -> async_graphql::Result<bool> {
        let customer = super::accounts::customer_id(ctx).await?;
        reviewing(ctx).report(id, customer, reason).await.map(|()| true).map_err(gql)
    }

    /// Staff (`reviews:moderate`): `decision` approve or reject (with a `reason`).
    async fn moderate_review(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        decision: String,
        reason: Option<String>,
    ) -> async_graphql::Result<Json<StaffReview>> {
        staff_action(ctx, id, StaffAction::Moderate(Moderation { decision, reason })).await
    }

    /// Staff (`reviews:moderate`): the shop's reply under a review.
    async fn reply_to_review(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        text: String,
    ) -> async_graphql::Result<Json<StaffReview>> {
        staff_action(ctx, id, StaffAction::Reply(text)).await
    }
}
