//! Promotions in GraphQL: what they did to a cart (the codes entered, what applied and why,
//! what did not and why not, the samples on offer, the free items added), the offers live
//! now, and staff's promotions (`promotions:manage`, audited like the REST routes).

use crate::state::{AppState, Store};
use async_graphql::{Context, Json, Object, SimpleObject};
use futures::future::BoxFuture;
use rouge_identity::{Permission, Principal};
use rouge_promotions::service::{CodesInput, PromotionView};
use rouge_promotions::{Code, PromotionInput, PromotionsError};
use uuid::Uuid;

/// A promotion that applied.
#[derive(SimpleObject)]
pub struct AppliedPromotion {
    pub promotion_id: Uuid,
    pub name: String,
    /// The code that unlocked it.
    pub code: Option<String>,
    /// What it took off the lines (minor units).
    pub amount: i64,
    pub free_shipping: bool,
    /// Why it applied, in words.
    pub reason: String,
}

/// A promotion or code that did not apply.
#[derive(SimpleObject)]
pub struct PromotionNotApplied {
    pub promotion_id: Option<Uuid>,
    pub name: Option<String>,
    pub code: Option<String>,
    /// A stable reason (`below_minimum`, `used_up`, `unknown_code`, …).
    pub reason_code: String,
    /// Why not, in words ("spend 12.00 more on your order").
    pub reason: String,
}

/// Samples the shopper may pick (`pickCartSamples`), and those she did.
#[derive(SimpleObject)]
pub struct SampleOffer {
    pub promotion_id: Uuid,
    pub choose: u32,
    pub skus: Vec<String>,
    pub chosen: Vec<String>,
}

#[derive(SimpleObject)]
pub struct CartPromotions {
    pub codes: Vec<String>,
    pub applied: Vec<AppliedPromotion>,
    pub not_applied: Vec<PromotionNotApplied>,
    pub samples: Option<SampleOffer>,
}

/// A gift or picked sample a promotion adds (free).
#[derive(SimpleObject)]
pub struct FreeItem {
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    /// `gift` or `sample`.
    pub kind: String,
    pub promotion_id: Uuid,
}

pub fn applied(a: &rouge_promotions::Applied) -> AppliedPromotion {
    AppliedPromotion {
        promotion_id: a.promotion_id,
        name: a.name.clone(),
        code: a.code.clone(),
        amount: a.amount,
        free_shipping: a.free_shipping,
        reason: a.reason.clone(),
    }
}

impl From<&rouge_orders::CartPromotions> for CartPromotions {
    fn from(p: &rouge_orders::CartPromotions) -> Self {
        CartPromotions {
            codes: p.codes.clone(),
            applied: p.applied.iter().map(applied).collect(),
            not_applied: p
                .not_applied
                .iter()
                .map(|n| PromotionNotApplied {
                    promotion_id: n.promotion_id,
                    name: n.name.clone(),
                    code: n.code.clone(),
                    reason_code: n.reason_code.clone(),
                    reason: n.reason.clone(),
                })
                .collect(),
            samples: p.samples.as_ref().map(|s| SampleOffer {
                promotion_id: s.promotion_id,
                choose: s.choose,
                skus: s.skus.clone(),
                chosen: s.chosen.clone(),
            }),
        }
    }
}

impl From<&rouge_orders::FreeItem> for FreeItem {
    fn from(f: &rouge_orders::FreeItem) -> Self {
        FreeItem {
            sku: f.sku.clone(),
            name: f.name.clone(),
            quantity: f.quantity,
            kind: f.kind.clone(),
            promotion_id: f.promotion_id,
        }
    }
}

/// The promotion operations GraphQL needs, without naming the store type.
pub trait Promoting: Send + Sync {
    fn promotions(&self) -> BoxFuture<'_, Result<Vec<PromotionView>, PromotionsError>>;
    fn offers(&self) -> BoxFuture<'_, Result<Vec<rouge_promotions::Offer>, PromotionsError>>;
    /// A staff change, written to the audit trail under the REST route of the same change.
    fn staff_change(
        &self,
        by: Principal,
        address: String,
        change: Change,
    ) -> BoxFuture<'_, Result<Changed, PromotionsError>>;
}

/// What staff change: a new promotion, one replaced, or codes added.
pub enum Change {
    Create(PromotionInput),
    Replace(Uuid, PromotionInput),
    AddCodes(Uuid, CodesInput),
}

pub enum Changed {
    Promotion(Box<PromotionView>),
    Codes(Vec<Code>),
}

impl<S: Store> Promoting for AppState<S> {
    fn promotions(&self) -> BoxFuture<'_, Result<Vec<PromotionView>, PromotionsError>> {
        Box::pin(self.promotions.list())
    }

    fn offers(&self) -> BoxFuture<'_, Result<Vec<rouge_promotions::Offer>, PromotionsError>> {
        Box::pin(async move { Ok(self.promotions.live_offers().await?.offers.clone()) })
    }

    fn staff_change(
        &self,
        by: Principal,
        address: String,
        change: Change,
    ) -> BoxFuture<'_, Result<Changed, PromotionsError>> {
        let (route, id) = match &change {
            Change::Create(_) => ("/v1/admin/promotions", None),
            Change::Replace(id, _) => ("/v1/admin/promotions/{id}", Some(*id)),
            Change::AddCodes(id, _) => ("/v1/admin/promotions/{id}/codes", Some(*id)),
        };
        let method =
            if matches!(change, Change::Replace(..)) { axum::http::Method::PUT } else { axum::http::Method::POST };
        let path = id.map_or_else(|| route.to_owned(), |id| route.replace("{id}", &id.to_string()));
        let scope = crate::audit::scope(&by, address, &method, route, path);
        let svc = self.promotions.clone();
        Box::pin(rouge_identity::audit::within(scope, async move {
            match change {
                Change::Create(input) => svc.create(input).await.map(|v| Changed::Promotion(Box::new(v))),
                Change::Replace(id, input) => svc.replace(id, input).await.map(|v| Changed::Promotion(Box::new(v))),
                Change::AddCodes(id, input) => svc.add_codes(id, &input).await.map(Changed::Codes),
            }
        }))
    }
}

fn promoting<'a>(ctx: &Context<'a>) -> &'a std::sync::Arc<dyn Promoting> {
    ctx.data_unchecked::<std::sync::Arc<dyn Promoting>>()
}

fn promotions_error(e: PromotionsError) -> async_graphql::Error {
    crate::error::ApiError::from(e).into_graphql()
}

/// A promotion code with its uses.
#[derive(SimpleObject)]
pub struct PromotionCode {
    pub code: String,
    pub max_uses: Option<i64>,
    pub used: i64,
}

#[derive(Default)]
pub struct PromotionQuery;

#[Object]
impl PromotionQuery {
    /// Staff (`promotions:manage`): every promotion, newest first, with its uses and badge, as
    /// `GET /v1/admin/promotions` gives them.
    async fn promotions(&self, ctx: &Context<'_>) -> async_graphql::Result<Json<Vec<PromotionView>>> {
        super::orders::staff(ctx, Permission::PromotionsManage).await?;
        promoting(ctx).promotions().await.map(Json).map_err(promotions_error)
    }

    /// The offers live now, as `GET /v1/offers` (badge, target, minimum).
    async fn offers(&self, ctx: &Context<'_>) -> async_graphql::Result<Json<Vec<rouge_promotions::Offer>>> {
        promoting(ctx).offers().await.map(Json).map_err(promotions_error)
    }
}

#[derive(Default)]
pub struct PromotionMutation;

async fn change(ctx: &Context<'_>, change: Change) -> async_graphql::Result<Changed> {
    let by = super::orders::staff(ctx, Permission::PromotionsManage).await?;
    let address = ctx.data_opt::<super::accounts::Caller>().map_or_else(|| "unknown".to_owned(), |c| c.address.clone());
    promoting(ctx).staff_change(by, address, change).await.map_err(promotions_error)
}

fn promotion(c: Changed) -> Json<PromotionView> {
    match c {
        Changed::Promotion(v) => Json(*v),
        Changed::Codes(_) => unreachable!("a promotion change answers with the promotion"),
    }
}

#[Object]
impl PromotionMutation {
    /// Staff (`promotions:manage`): sets up a promotion; `input` is the body of
    /// `POST /v1/admin/promotions` (e.g. `{"name": "…", "benefit": {"kind": "percent_off",
    /// "percent_bp": 2000}}`).
    async fn create_promotion(
        &self,
        ctx: &Context<'_>,
        input: Json<PromotionInput>,
    ) -> async_graphql::Result<Json<PromotionView>> {
        change(ctx, Change::Create(input.0)).await.map(promotion)
    }

    /// Staff: replaces a promotion's rules (`PUT /v1/admin/promotions/{id}`).
    async fn replace_promotion(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        input: Json<PromotionInput>,
    ) -> async_graphql::Result<Json<PromotionView>> {
        change(ctx, Change::Replace(id, input.0)).await.map(promotion)
    }

    /// Staff: adds a named code or a generated batch (`POST /v1/admin/promotions/{id}/codes`).
    async fn add_promotion_codes(
        &self,
        ctx: &Context<'_>,
        promotion_id: Uuid,
        input: Json<CodesInput>,
    ) -> async_graphql::Result<Vec<PromotionCode>> {
        match change(ctx, Change::AddCodes(promotion_id, input.0)).await? {
            Changed::Codes(codes) => Ok(codes
                .into_iter()
                .map(|c| PromotionCode { code: c.code, max_uses: c.max_uses, used: c.used })
                .collect()),
            Changed::Promotion(_) => unreachable!("adding codes answers with the codes"),
        }
    }
}
