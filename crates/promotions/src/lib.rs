//! Promotions: what staff set up (rules with a benefit, a target, conditions, a schedule and
//! budgets; codes that unlock them), the engine that prices a basket with them and explains
//! itself ("why this discount", "why not"), and the holds that keep budgets from being
//! overspent by concurrent checkouts, as stock is.

pub mod codes;
pub mod engine;
pub mod model;
pub mod ports;
pub mod segments;
pub mod service;

pub use engine::{
    Applied, Basket, BasketLine, Candidate, Evaluation, Gift, NotApplied, SampleOffer, allocate, evaluate,
};
pub use model::{Audience, Benefit, Code, Promotion, PromotionInput, Target, Tier};
pub use ports::{Hold, HoldState, OfferSource, Profiles, PromotionsRepository, Use};
pub use service::{CodesInput, LiveOffers, Offer, PromotionView, PromotionsError, PromotionsService};
