//! What promotions did to a cart, in GraphQL: the codes entered, what applied and why, what
//! did not and why not, the samples on offer, and the free items added.

use async_graphql::SimpleObject;
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
