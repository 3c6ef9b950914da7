//! Reviews: only of a delivered order line (verified purchase), with the reviewer's skin type,
//! concerns, age band and shade at the time (each of which she may hide) under a display name
//! she chooses; a moderation queue, the shop's replies, helpful votes and reports of abuse; and
//! the ratings they make per product, by skin type too.

pub mod model;
pub mod ports;
pub mod service;

pub use model::{
    HIDEABLE, Moderation, RatingChanged, RatingSummary, Reply, Review, ReviewInput, ReviewReported, ReviewStatus,
    Reviewer, ReviewerProfile, ReviewerShade, SkinTypeRating, StaffReview, mean,
};
pub use ports::{ProductRating, Purchase, Purchases, ReviewFilter, ReviewSort, Reviewers, ReviewsRepository};
pub use service::{ReviewsError, ReviewsService};
