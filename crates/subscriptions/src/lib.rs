//! Subscriptions and replenishment. Today: replenishment reminders, predicted from what a
//! customer bought (its size and a usage rate for its kind of product, or her own reorder
//! interval once she has one) and from a product's period after opening (PAO), emailed with a
//! one-click reorder link before she runs out.

pub mod replenishment;

pub use replenishment::{
    Bought, Reminder, ReminderKind, ReminderState, ReplenishmentRepository, daily_use_hundredths, reminders,
};
