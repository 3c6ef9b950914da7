//! A cart priced with its promotions: the basket promotions see, the free items they add
//! (gifts, picked samples), each line's discount, tax on what is left, and shipping (free when
//! a promotion says so). The cart shows this quote; checkout charges it.

use super::*;
use crate::ports::{Basket, BasketLine, Evaluation, PromotionError};
use rouge_promotions::{Applied, NotApplied, SampleOffer};

/// A free item a promotion adds to the cart: a gift, or a sample the shopper picked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FreeItem {
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    /// `gift` or `sample`.
    pub kind: String,
    pub promotion_id: Uuid,
}

/// What promotions did to the cart, and why (and why not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, Default)]
pub struct CartPromotions {
    /// The codes entered.
    pub codes: Vec<String>,
    pub applied: Vec<Applied>,
    pub not_applied: Vec<NotApplied>,
    /// Samples on offer, to pick with `PUT /v1/carts/{id}/samples`.
    pub samples: Option<SampleOffer>,
}

/// A cart priced.
pub(super) struct Quote {
    pub views: Vec<Option<SkuView>>,
    pub free: Vec<(FreeItem, SkuView)>,
    /// The cart's lines, then the free items.
    pub money: Vec<LineMoney>,
    pub totals: Totals,
    pub promotions: CartPromotions,
}

impl From<PromotionError> for OrdersError {
    fn from(e: PromotionError) -> Self {
        match e {
            PromotionError::UsedUp(why) => OrdersError::PromotionUsedUp(why),
            PromotionError::Unavailable(cause) => OrdersError::Store(cause),
        }
    }
}

impl<R: OrdersRepository> OrdersService<R> {
    /// The basket promotions see: the lines as the catalogue sells them now, who buys, the
    /// codes and the picked samples.
    pub(super) async fn basket(&self, cart: &Cart, views: &[Option<SkuView>]) -> Result<Basket> {
        let first_order = match cart.customer_id {
            // Asked of the store only when a live promotion is for first orders.
            Some(c) if self.promotions.wants_first_order().await => {
                let filter = OrderFilter { customer_id: Some(c), limit: 1, ..OrderFilter::default() };
                self.repo.orders(&filter).await?.is_empty()
            }
            _ => false,
        };
        let lines = cart
            .lines
            .iter()
            .zip(views)
            .map(|(l, v)| BasketLine {
                sku: l.sku.clone(),
                brand: v.as_ref().map(|v| v.brand.clone()).unwrap_or_default(),
                categories: v.as_ref().map(|v| v.categories.clone()).unwrap_or_default(),
                unit_price: v.as_ref().map_or(l.price_when_added, |v| v.unit_price),
                quantity: l.quantity,
            })
            .collect();
        Ok(Basket {
            lines,
            customer: cart.customer_id,
            first_order,
            segments: None,
            codes: cart.codes.clone(),
            samples: cart.samples.clone(),
            now: now(),
        })
    }

    /// Prices a cart with an evaluation of its basket; `method` overrides the cart's
    /// shipping method (`None` in the override: no shipping yet).
    ///
    /// # Errors
    /// `Store` when the catalogue cannot be asked about the free items.
    pub(super) async fn quote(
        &self,
        cart: &Cart,
        views: Vec<Option<SkuView>>,
        ev: Evaluation,
        method: Option<Option<&str>>,
    ) -> Result<std::result::Result<Quote, PricingError>> {
        let mut promotions = CartPromotions {
            codes: cart.codes.clone(),
            applied: ev.applied,
            not_applied: ev.not_applied,
            samples: ev.samples.clone(),
        };
        let mut wanted: Vec<FreeItem> = ev
            .gifts
            .iter()
            .map(|g| FreeItem {
                sku: g.sku.clone(),
                name: String::new(),
                quantity: g.quantity,
                kind: "gift".into(),
                promotion_id: g.promotion_id,
            })
            .collect();
        if let Some(s) = &ev.samples {
            wanted.extend(s.chosen.iter().map(|sku| FreeItem {
                sku: sku.clone(),
                name: String::new(),
                quantity: 1,
                kind: "sample".into(),
                promotion_id: s.promotion_id,
            }));
        }
        let mut free = vec![];
        if !wanted.is_empty() {
            let skus: Vec<String> = wanted.iter().map(|f| f.sku.clone()).collect();
            let found = self
                .catalog
                .skus(&skus)
                .await
                .map_err(|e| OrdersError::Store(format!("the catalogue did not answer: {e}")))?;
            for (mut item, view) in wanted.into_iter().zip(found) {
                match view.filter(|v| v.on_sale) {
                    Some(v) => {
                        item.name = v.name.clone();
                        free.push((item, v));
                    }
                    None => promotions.not_applied.push(NotApplied {
                        promotion_id: Some(item.promotion_id),
                        name: None,
                        code: None,
                        reason_code: "unavailable".into(),
                        reason: format!("the {} {} is not available", item.kind, item.sku),
                    }),
                }
            }
        }
        let mut lines = Self::price_lines(cart, &views);
        for (l, d) in lines.iter_mut().zip(&ev.line_discounts) {
            l.discount = *d;
        }
        lines.extend(free.iter().map(|(item, v)| PriceLine {
            unit_price: 0,
            quantity: item.quantity,
            discount: 0,
            tax_class: v.tax_class.clone(),
            unit_grams: v.unit_grams,
        }));
        let dest = cart.country.as_deref().map(|c| (c, cart.region.as_deref()));
        let method = method.unwrap_or(cart.shipping_method.as_deref());
        Ok(self.channel.price_with(&lines, dest, method, ev.free_shipping).map(|(money, totals)| Quote {
            views,
            free,
            money,
            totals,
            promotions,
        }))
    }

    /// The cart's quote as the shopper sees it now (its shipping method's price when it can
    /// be had, else without shipping).
    pub(super) async fn quote_now(&self, cart: &Cart) -> Result<Quote> {
        let views = self.views(cart).await?;
        let basket = self.basket(cart, &views).await?;
        let ev = self.promotions.evaluate(&basket).await?;
        match self.quote(cart, views.clone(), ev.clone(), None).await? {
            Ok(q) => Ok(q),
            Err(_) => match self.quote(cart, views, ev, Some(None)).await? {
                Ok(q) => Ok(q),
                Err(e) => Err(OrdersError::Store(format!("a cart without shipping cannot fail to price: {e}"))),
            },
        }
    }
}
