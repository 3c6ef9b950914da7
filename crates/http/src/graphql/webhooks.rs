//! Outbound webhooks in GraphQL, for staff (`webhooks:manage`), as over REST: endpoints (the
//! secret shown when made and when rotated), their delivery log and replays. Changes are
//! audited under the REST route of the same change. Endpoints and deliveries are the REST
//! bodies, as JSON.

use crate::error::ApiError;
use crate::rest::webhooks::{
    EndpointInput, EndpointPatch, EndpointWithSecret, create_endpoint, endpoint_deliveries, rotate_secret,
    update_endpoint,
};
use crate::state::{AppState, Store};
use async_graphql::{Context, Json, Object};
use axum::http::Method;
use futures::future::BoxFuture;
use rouge_identity::{Permission, Principal};
use rouge_webhooks::{Delivery, DeliveryState, Endpoint};
use uuid::Uuid;

/// What staff change.
pub enum HookChange {
    Create(EndpointInput),
    Update(Uuid, EndpointPatch),
    Delete(Uuid),
    Rotate(Uuid),
    Replay(Uuid, Uuid),
}

/// What a change answers.
pub enum HookChanged {
    Endpoint(Box<Endpoint>),
    WithSecret(Box<EndpointWithSecret>),
    Done,
}

/// The webhook operations GraphQL needs, without naming the store type.
pub trait Hooking: Send + Sync {
    fn endpoints(&self) -> BoxFuture<'_, Result<Vec<Endpoint>, ApiError>>;
    fn deliveries(
        &self,
        id: Uuid,
        state: Option<DeliveryState>,
        limit: i64,
    ) -> BoxFuture<'_, Result<Vec<Delivery>, ApiError>>;
    fn change(&self, by: Principal, address: String, c: HookChange) -> BoxFuture<'_, Result<HookChanged, ApiError>>;
}

impl<S: Store> Hooking for AppState<S> {
    fn endpoints(&self) -> BoxFuture<'_, Result<Vec<Endpoint>, ApiError>> {
        Box::pin(async move { Ok(self.store.endpoints().await?) })
    }

    fn deliveries(
        &self,
        id: Uuid,
        state: Option<DeliveryState>,
        limit: i64,
    ) -> BoxFuture<'_, Result<Vec<Delivery>, ApiError>> {
        Box::pin(endpoint_deliveries(self, id, state, limit))
    }

    fn change(&self, by: Principal, address: String, c: HookChange) -> BoxFuture<'_, Result<HookChanged, ApiError>> {
        let (method, route, id) = match &c {
            HookChange::Create(_) => (Method::POST, "/v1/admin/webhooks", None),
            HookChange::Update(id, _) => (Method::PATCH, "/v1/admin/webhooks/{id}", Some(*id)),
            HookChange::Delete(id) => (Method::DELETE, "/v1/admin/webhooks/{id}", Some(*id)),
            HookChange::Rotate(id) => (Method::POST, "/v1/admin/webhooks/{id}/rotate-secret", Some(*id)),
            HookChange::Replay(id, _) => (Method::POST, "/v1/admin/webhooks/{id}/deliveries/{event}/replay", Some(*id)),
        };
        let mut path = id.map_or_else(|| route.to_owned(), |id| route.replace("{id}", &id.to_string()));
        if let HookChange::Replay(_, event) = &c {
            path = path.replace("{event}", &event.to_string());
        }
        let scope = crate::audit::scope(&by, address, &method, route, path);
        Box::pin(rouge_identity::audit::within(scope, async move {
            let now = chrono::Utc::now().timestamp_millis();
            match c {
                HookChange::Create(input) => Ok(HookChanged::WithSecret(Box::new(create_endpoint(self, input).await?))),
                HookChange::Update(id, p) => Ok(HookChanged::Endpoint(Box::new(update_endpoint(self, id, p).await?))),
                HookChange::Rotate(id) => Ok(HookChanged::WithSecret(Box::new(rotate_secret(self, id).await?))),
                HookChange::Delete(id) if self.store.delete_endpoint(id).await? => Ok(HookChanged::Done),
                HookChange::Replay(id, event) if self.store.replay(id, event, now).await? => Ok(HookChanged::Done),
                HookChange::Delete(_) | HookChange::Replay(..) => {
                    Err(ApiError::NotFound("no such webhook endpoint or delivery".into()))
                }
            }
        }))
    }
}

fn hooking<'a>(ctx: &Context<'a>) -> &'a std::sync::Arc<dyn Hooking> {
    ctx.data_unchecked::<std::sync::Arc<dyn Hooking>>()
}

fn gql(e: ApiError) -> async_graphql::Error {
    e.into_graphql()
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// Staff (`webhooks:manage`): every endpoint (no secrets), as `GET /v1/admin/webhooks`.
    async fn webhook_endpoints(&self, ctx: &Context<'_>) -> async_graphql::Result<Json<Vec<Endpoint>>> {
        super::orders::staff(ctx, Permission::WebhooksManage).await?;
        hooking(ctx).endpoints().await.map(Json).map_err(gql)
    }

    /// Staff: an endpoint's deliveries, newest first; `state` pending, delivered or failed;
    /// `first` 1–100 (50).
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        endpoint_id: Uuid,
        state: Option<String>,
        first: Option<i32>,
    ) -> async_graphql::Result<Json<Vec<Delivery>>> {
        super::orders::staff(ctx, Permission::WebhooksManage).await?;
        let state = match state.as_deref().map(DeliveryState::parse) {
            Some(None) => return Err(async_graphql::Error::new("state: pending, delivered or failed")),
            other => other.flatten(),
        };
        let limit = match first {
            None => 50,
            Some(n) if (1..=100).contains(&n) => i64::from(n),
            Some(_) => return Err(async_graphql::Error::new("first: a whole number from 1 to 100")),
        };
        hooking(ctx).deliveries(endpoint_id, state, limit).await.map(Json).map_err(gql)
    }

    /// The event types an endpoint may ask for.
    async fn webhook_event_types(&self) -> Vec<&'static str> {
        crate::rest::webhooks::event_types().to_vec()
    }
}

#[derive(Default)]
pub struct WebhookMutation;

async fn change(ctx: &Context<'_>, c: HookChange) -> async_graphql::Result<HookChanged> {
    let by = super::orders::staff(ctx, Permission::WebhooksManage).await?;
    let address = ctx.data_opt::<super::accounts::Caller>().map_or_else(|| "unknown".to_owned(), |c| c.address.clone());
    hooking(ctx).change(by, address, c).await.map_err(gql)
}

fn with_secret(c: HookChanged) -> Json<serde_json::Value> {
    Json(match c {
        HookChanged::WithSecret(e) => serde_json::to_value(*e).unwrap_or_default(),
        HookChanged::Endpoint(e) => serde_json::to_value(*e).unwrap_or_default(),
        HookChanged::Done => serde_json::Value::Null,
    })
}

#[Object]
impl WebhookMutation {
    /// Staff (`webhooks:manage`): registers an endpoint (`input`: the body of
    /// `POST /v1/admin/webhooks`); the answer holds its `whsec_` secret, once.
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: Json<EndpointInput>,
    ) -> async_graphql::Result<Json<serde_json::Value>> {
        change(ctx, HookChange::Create(input.0)).await.map(with_secret)
    }

    /// Staff: changes an endpoint (`PATCH /v1/admin/webhooks/{id}`).
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: Json<EndpointPatch>,
    ) -> async_graphql::Result<Json<serde_json::Value>> {
        change(ctx, HookChange::Update(id, input.0)).await.map(with_secret)
    }

    /// Staff: deletes an endpoint and its delivery log.
    async fn delete_webhook_endpoint(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<bool> {
        change(ctx, HookChange::Delete(id)).await.map(|_| true)
    }

    /// Staff: a new secret (the previous one signs too for a day); the answer holds it, once.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<Json<serde_json::Value>> {
        change(ctx, HookChange::Rotate(id)).await.map(with_secret)
    }

    /// Staff: sends a delivery again (its attempts start over).
    async fn replay_webhook_delivery(
        &self,
        ctx: &Context<'_>,
        endpoint_id: Uuid,
        event_id: Uuid,
    ) -> async_graphql::Result<bool> {
        change(ctx, HookChange::Replay(endpoint_id, event_id)).await.map(|_| true)
    }
}
