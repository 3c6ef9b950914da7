//! Customer accounts in GraphQL: `me`, `register`, `login`, `refreshSession`, `updateMe`, and
//! `products(forMe: true)`. The same service and the same rules as REST: `me` is always the
//! caller (there is no argument to name someone else), and a missing or bad token is refused.

use crate::state::{AppState, Store};
use async_graphql::{Context, ErrorExtensions, Json, Object, SimpleObject};
use futures::future::BoxFuture;
use rouge_identity::{Address, BeautyProfile, CustomerView, IdentityError, MeUpdate, RegisterInput, Session};
use uuid::Uuid;

/// The account operations GraphQL needs, without naming the store type.
pub trait Accounts: Send + Sync {
    /// The customer a bearer token speaks for.
    fn customer<'a>(&'a self, caller: Option<&'a Caller>) -> BoxFuture<'a, Result<Uuid, IdentityError>>;
    fn me(&self, id: Uuid) -> BoxFuture<'_, Result<CustomerView, IdentityError>>;
    fn register(&self, input: RegisterInput) -> BoxFuture<'_, Result<(), IdentityError>>;
    fn login<'a>(
        &'a self,
        email: &'a str,
        password: &'a str,
        address: &'a str,
    ) -> BoxFuture<'a, Result<Session, IdentityError>>;
    fn refresh<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Session, IdentityError>>;
    fn update_me(&self, id: Uuid, update: MeUpdate) -> BoxFuture<'_, Result<CustomerView, IdentityError>>;
}

impl<S: Store> Accounts for AppState<S> {
    fn customer<'a>(&'a self, caller: Option<&'a Caller>) -> BoxFuture<'a, Result<Uuid, IdentityError>> {
        Box::pin(async move {
            let bearer = caller.and_then(|c| c.bearer.as_deref());
            let verified = caller.and_then(|c| c.verified.as_ref());
            crate::rest::auth::customer(self, bearer, verified).await.map_err(|_| IdentityError::BadCredentials)
        })
    }
    fn me(&self, id: Uuid) -> BoxFuture<'_, Result<CustomerView, IdentityError>> {
        Box::pin(self.identity.me(id))
    }
    fn register(&self, input: RegisterInput) -> BoxFuture<'_, Result<(), IdentityError>> {
        Box::pin(async move {
            self.identity.register(input).await?;
            Ok(())
        })
    }
    fn login<'a>(
        &'a self,
        email: &'a str,
        password: &'a str,
        address: &'a str,
    ) -> BoxFuture<'a, Result<Session, IdentityError>> {
        Box::pin(self.identity.login(email, password, address))
    }
    fn refresh<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Session, IdentityError>> {
        Box::pin(self.identity.refresh(token))
    }
    fn update_me(&self, id: Uuid, update: MeUpdate) -> BoxFuture<'_, Result<CustomerView, IdentityError>> {
        Box::pin(async move {
            let view = self.identity.update_me(id, update, None).await?;
            // Her recommendations read her new profile at once.
            self.recs.forget(id);
            Ok(view)
        })
    }
}

/// Who sent this GraphQL request.
pub struct Caller {
    /// The client's account budget: register, login and refreshSession spend it, one unit per
    /// field, exactly as the REST account routes do.
    pub auth_budget: Option<crate::gateway::AuthBudget>,
    pub bearer: Option<String>,
    /// The bearer's claims, if the gateway verified them already.
    pub verified: Option<crate::gateway::Verified>,
    pub address: String,
}

/// An accounts error as GraphQL reports it: the same problem as REST's.
pub fn gql_error(e: IdentityError) -> async_graphql::Error {
    crate::error::ApiError::from(e).into_graphql()
}

fn accounts<'a>(ctx: &Context<'a>) -> &'a std::sync::Arc<dyn Accounts> {
    ctx.data_unchecked::<std::sync::Arc<dyn Accounts>>()
}

/// The logged-in customer, or an `UNAUTHENTICATED` error.
pub async fn customer_id(ctx: &Context<'_>) -> async_graphql::Result<Uuid> {
    accounts(ctx).customer(ctx.data_opt::<Caller>()).await.map_err(|_| gql_error(IdentityError::BadCredentials))
}

/// The customer's own account.
#[derive(SimpleObject)]
pub struct Customer {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub email_verified: bool,
    pub beauty_profile: Json<BeautyProfile>,
    pub phone: Option<String>,
    pub addresses: Json<Vec<Address>>,
    pub version: i64,
}

impl From<CustomerView> for Customer {
    fn from(v: CustomerView) -> Self {
        Customer {
            id: v.id,
            email: v.email,
            name: v.name,
            email_verified: v.email_verified,
            beauty_profile: Json(v.beauty_profile),
            phone: v.phone,
            addresses: Json(v.addresses),
            version: v.version,
        }
    }
}

#[derive(SimpleObject)]
#[graphql(name = "Session")]
pub struct SessionGql {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds the access token is valid.
    pub expires_in: i64,
}

impl From<Session> for SessionGql {
    fn from(s: Session) -> Self {
        SessionGql { access_token: s.access_token, refresh_token: s.refresh_token, expires_in: s.expires_in }
    }
}

pub async fn me(ctx: &Context<'_>) -> async_graphql::Result<Customer> {
    let id = customer_id(ctx).await?;
    accounts(ctx).me(id).await.map(Customer::from).map_err(gql_error)
}

pub async fn profile(ctx: &Context<'_>) -> async_graphql::Result<BeautyProfile> {
    me(ctx).await.map(|c| c.beauty_profile.0)
}

/// Spends the caller's account budget; `RATE_LIMITED` (with `retryAfter`) when it is spent.
async fn spend_auth(ctx: &Context<'_>) -> async_graphql::Result<()> {
    let Some(budget) = ctx.data_opt::<Caller>().and_then(|c| c.auth_budget.as_ref()) else { return Ok(()) };
    budget.spend().await.map_err(|secs| {
        async_graphql::Error::new(format!("the auth budget of this client is spent; retry in {secs} s")).extend_with(
            |_, ext| {
                ext.set("code", "RATE_LIMITED");
                ext.set("retryAfter", secs);
            },
        )
    })
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Registers a customer; the answer is `true` whether or not the address was taken (its
    /// owner is told by email), exactly as `POST /v1/auth/register`.
    async fn register(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
        name: Option<String>,
    ) -> async_graphql::Result<bool> {
        spend_auth(ctx).await?;
        accounts(ctx).register(RegisterInput { email, password, name }).await.map(|()| true).map_err(gql_error)
    }

    /// Logs in; throttled like `POST /v1/auth/login`.
    async fn login(&self, ctx: &Context<'_>, email: String, password: String) -> async_graphql::Result<SessionGql> {
        spend_auth(ctx).await?;
        let address = ctx.data_opt::<Caller>().map_or("unknown", |c| c.address.as_str());
        accounts(ctx).login(&email, &password, address).await.map(SessionGql::from).map_err(gql_error)
    }

    /// Trades a refresh token for a new pair; a reused one ends the session.
    async fn refresh_session(&self, ctx: &Context<'_>, refresh_token: String) -> async_graphql::Result<SessionGql> {
        spend_auth(ctx).await?;
        accounts(ctx).refresh(&refresh_token).await.map(SessionGql::from).map_err(gql_error)
    }

    /// The logged-in customer asks to send units of her order back.
    async fn request_return(
        &self,
        ctx: &Context<'_>,
        order: Uuid,
        lines: Json<Vec<rouge_orders::Units>>,
        reason: String,
    ) -> async_graphql::Result<crate::graphql::orders::OrderGql> {
        crate::graphql::orders::request_return(ctx, order, lines, reason).await
    }

    /// Staff: moves an order on, as `POST /v1/admin/orders/{id}/transitions` (`orders:write`;
    /// a refund needs `orders:refund`). `command` is e.g. `{"action": "capture"}`.
    async fn transition_order(
        &self,
        ctx: &Context<'_>,
        order: Uuid,
        command: Json<rouge_orders::Command>,
    ) -> async_graphql::Result<crate::graphql::orders::OrderGql> {
        crate::graphql::orders::transition_order(ctx, order, command).await
    }

    /// Changes the caller's name and/or beauty profile (the profile is replaced as a whole).
    async fn update_me(
        &self,
        ctx: &Context<'_>,
        name: Option<String>,
        beauty_profile: Option<Json<BeautyProfile>>,
        phone: Option<String>,
        addresses: Option<Json<Vec<Address>>>,
    ) -> async_graphql::Result<Customer> {
        let id = customer_id(ctx).await?;
        let update = MeUpdate {
            name: name.map(Some),
            beauty_profile: beauty_profile.map(|j| j.0),
            phone: phone.map(Some),
            addresses: addresses.map(|j| j.0),
        };
        accounts(ctx).update_me(id, update).await.map(Customer::from).map_err(gql_error)
    }
}
