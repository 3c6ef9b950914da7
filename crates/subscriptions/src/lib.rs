//! Subscriptions and replenishment: subscriptions to a variant every N weeks, renewed through
//! the checkout with a saved payment method, with a dunning schedule (`subscription.rs`); and
//! replenishment reminders, predicted from what a customer bought (its size and a usage rate
//! for its kind of product, or her own reorder interval once she has one) and from a product's
//! period after opening (PAO), emailed with a one-click reorder link before she runs out.

pub mod boxes;
pub mod replenishment;
pub mod subscription;

pub use boxes::{
    BoxFill, BoxInput, BoxLocked, BoxMonth, BoxRepository, ItemFacts, PoolItem, Subscriber, allocate, month_of,
    month_start, set_aside_until, valid_month,
};
pub use replenishment::{
    Bought, Reminder, ReminderKind, ReminderState, ReplenishmentRepository, daily_use_hundredths, reminders,
};
pub use subscription::{
    DUNNING_DAYS, Renewal, SavedPayment, Subscription, SubscriptionFilter, SubscriptionInput, SubscriptionPatch,
    SubscriptionRepository, SubscriptionStatus,
};
