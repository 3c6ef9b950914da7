//! Subscriptions in GraphQL, for the signed-in customer, as over REST: hers, subscribing,
//! changing (cadence, quantity, date, card, pause, resume, cancel) and skipping a period.
//! Subscriptions are the REST bodies, as JSON.

use crate::error::ApiError;
use crate::rest::boxes::{BoxPage, box_page, her_box};
use crate::rest::subscriptions::{change_for, skip_for, subscribe_for};
use crate::state::{AppState, Store};
use async_graphql::{Context, Json, Object};
use futures::future::BoxFuture;
use rouge_identity::Permission;
use rouge_subscriptions::BoxFill;
use rouge_subscriptions::{Subscription, SubscriptionInput, SubscriptionPatch};
use uuid::Uuid;

/// What a customer does to her subscriptions.
pub enum SubChange {
    Create(SubscriptionInput),
    Change(Uuid, SubscriptionPatch),
    Skip(Uuid, i64),
}

/// The subscription operations GraphQL needs, without naming the store type.
pub trait Subscribing: Send + Sync {
    fn mine(&self, customer: Uuid) -> BoxFuture<'_, Result<Vec<Subscription>, ApiError>>;
    fn her_box(&self, customer: Uuid, month: String) -> BoxFuture<'_, Result<Vec<BoxFill>, ApiError>>;
    fn box_page(&self, month: String, lock: bool) -> BoxFuture<'_, Result<BoxPage, ApiError>>;
    fn change(&self, customer: Uuid, c: SubChange) -> BoxFuture<'_, Result<Subscription, ApiError>>;
}

impl<S: Store> Subscribing for AppState<S> {
    fn her_box(&self, customer: Uuid, month: String) -> BoxFuture<'_, Result<Vec<BoxFill>, ApiError>> {
        Box::pin(async move { her_box(self, customer, &month).await })
    }

    fn box_page(&self, month: String, lock: bool) -> BoxFuture<'_, Result<BoxPage, ApiError>> {
        Box::pin(async move { box_page(self, &month, lock).await })
    }

    fn mine(&self, customer: Uuid) -> BoxFuture<'_, Result<Vec<Subscription>, ApiError>> {
        let hers = rouge_subscriptions::SubscriptionFilter { customer: Some(customer), ..Default::default() };
        Box::pin(async move { Ok(self.store.subscriptions(&hers, 100).await?) })
    }

    fn change(&self, customer: Uuid, c: SubChange) -> BoxFuture<'_, Result<Subscription, ApiError>> {
        Box::pin(async move {
            match c {
                SubChange::Create(input) => subscribe_for(self, customer, input).await,
                SubChange::Change(id, patch) => change_for(self, customer, id, patch).await,
                SubChange::Skip(id, period) => skip_for(self, customer, id, period).await,
            }
        })
    }
}

fn subscribing<'a>(ctx: &Context<'a>) -> &'a std::sync::Arc<dyn Subscribing> {
    ctx.data_unchecked::<std::sync::Arc<dyn Subscribing>>()
}

#[derive(Default)]
pub struct SubscriptionQuery;

#[Object]
impl SubscriptionQuery {
    /// The signed-in customer's subscriptions, newest first (`GET /v1/subscriptions`).
    async fn my_subscriptions(&self, ctx: &Context<'_>) -> async_graphql::Result<Json<Vec<Subscription>>> {
        let customer = super::accounts::customer_id(ctx).await?;
        subscribing(ctx).mine(customer).await.map(Json).map_err(|e| e.into_graphql())
    }

    /// The signed-in customer's beauty box of a month (`YYYY-MM`), once locked.
    async fn my_box(&self, ctx: &Context<'_>, month: String) -> async_graphql::Result<Json<Vec<BoxFill>>> {
        let customer = super::accounts::customer_id(ctx).await?;
        subscribing(ctx).her_box(customer, month).await.map(Json).map_err(|e| e.into_graphql())
    }

    /// Staff (`orders:read`): a month's boxes as they would be filled now (or as locked).
    async fn box_preview(&self, ctx: &Context<'_>, month: String) -> async_graphql::Result<Json<BoxPage>> {
        super::orders::staff(ctx, Permission::OrdersRead).await?;
        subscribing(ctx).box_page(month, false).await.map(Json).map_err(|e| e.into_graphql())
    }
}

#[derive(Default)]
pub struct SubscriptionMutation;

async fn change(ctx: &Context<'_>, c: SubChange) -> async_graphql::Result<Json<Subscription>> {
    let customer = super::accounts::customer_id(ctx).await?;
    subscribing(ctx).change(customer, c).await.map(Json).map_err(|e| e.into_graphql())
}

#[Object]
impl SubscriptionMutation {
    /// Subscribes to a variant of one of her orders (`input`: the body of
    /// `POST /v1/subscriptions`).
    async fn subscribe(
        &self,
        ctx: &Context<'_>,
        input: Json<SubscriptionInput>,
    ) -> async_graphql::Result<Json<Subscription>> {
        change(ctx, SubChange::Create(input.0)).await
    }

    /// Changes her subscription (`PATCH /v1/subscriptions/{id}`).
    async fn change_subscription(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: Json<SubscriptionPatch>,
    ) -> async_graphql::Result<Json<Subscription>> {
        change(ctx, SubChange::Change(id, input.0)).await
    }

    /// Staff (`orders:write`): locks a month's boxes as filled now (again: the same boxes).
    async fn lock_box(&self, ctx: &Context<'_>, month: String) -> async_graphql::Result<Json<BoxPage>> {
        let by = super::orders::staff(ctx, Permission::OrdersWrite).await?;
        let address =
            ctx.data_opt::<super::accounts::Caller>().map_or_else(|| "unknown".to_owned(), |c| c.address.clone());
        // Audited as the REST route is.
        let route = "/v1/admin/boxes/{month}/lock";
        let scope =
            crate::audit::scope(&by, address, &axum::http::Method::PUT, route, route.replace("{month}", &month));
        let page = rouge_identity::audit::within(scope, subscribing(ctx).box_page(month, true)).await;
        page.map(Json).map_err(|e| e.into_graphql())
    }

    /// Skips the next period (`period`: the subscription's `period + 1`; again: nothing).
    async fn skip_subscription(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        period: i64,
    ) -> async_graphql::Result<Json<Subscription>> {
        change(ctx, SubChange::Skip(id, period)).await
    }
}
