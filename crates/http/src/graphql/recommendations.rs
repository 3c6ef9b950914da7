//! Recommendations in GraphQL, as over REST (`GET /v1/recommendations`): the same contexts,
//! constraints and reasons; the answer is the REST body, as JSON.

use crate::error::ApiError;
use crate::graphql::accounts::Caller;
use crate::rest::recommendations::{Query, Recommendations, answer};
use crate::state::{AppState, Store};
use async_graphql::{Context, Json, Object};
use futures::future::BoxFuture;

/// The recommendations GraphQL needs, without naming the store type.
pub trait Recommending: Send + Sync {
    /// For the bearer's customer (verified by the gateway already, or not), or anyone.
    fn recommend(
        &self,
        bearer: Option<String>,
        verified: Option<crate::gateway::Verified>,
        q: Query,
    ) -> BoxFuture<'_, Result<Recommendations, ApiError>>;
}

impl<S: Store> Recommending for AppState<S> {
    fn recommend(
        &self,
        bearer: Option<String>,
        verified: Option<crate::gateway::Verified>,
        q: Query,
    ) -> BoxFuture<'_, Result<Recommendations, ApiError>> {
        Box::pin(async move {
            let customer = match bearer.as_deref() {
                Some(token) => Some(crate::rest::auth::customer(self, Some(token), verified.as_ref()).await?),
                None => None,
            };
            answer(self, customer, q).await
        })
    }
}

#[derive(Default)]
pub struct RecommendationQuery;

#[Object]
impl RecommendationQuery {
    /// Recommendations for a context (`for_you`, `similar`, `bought_together`, `routine`,
    /// `skin_type`), for the logged-in customer or anyone, each with its reason, as
    /// `GET /v1/recommendations` gives them; the same arguments.
    async fn recommendations(
        &self,
        ctx: &Context<'_>,
        context: String,
        product_id: Option<uuid::Uuid>,
        anonymous_id: Option<String>,
        skin_type: Option<String>,
        first: Option<i32>,
    ) -> async_graphql::Result<Json<Recommendations>> {
        let named = [
            ("context", Some(context)),
            ("product_id", product_id.map(|p| p.to_string())),
            ("anonymous_id", anonymous_id),
            ("skin_type", skin_type),
            ("limit", first.map(|n| n.to_string())),
        ];
        let pairs = named.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v))).collect();
        let q = Query::of(pairs).map_err(ApiError::into_graphql)?;
        let recommending = ctx.data_unchecked::<std::sync::Arc<dyn Recommending>>();
        let caller = ctx.data_opt::<Caller>();
        let (bearer, verified) = (caller.and_then(|c| c.bearer.clone()), caller.and_then(|c| c.verified.clone()));
        recommending.recommend(bearer, verified, q).await.map(Json).map_err(ApiError::into_graphql)
    }
}
