//! A review as written by a customer who received what she reviews, as moderated by staff, and
//! as shoppers read it: the reviewer's skin, concerns, age band and shade at the time of the
//! review (copied from her profile, each of which she may hide), under a display name she
//! chooses (never her email or her name on the account).

use rouge_catalog::{AgeBand, Concern, SkinType, Undertone};
use rouge_kernel::Validation;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    /// Waiting for a moderator; not shown to shoppers.
    Pending,
    Approved,
    /// Not shown; the reason is the author's to read.
    Rejected,
}

impl ReviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Pending => "pending",
            ReviewStatus::Approved => "approved",
            ReviewStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(ReviewStatus::Pending),
            "approved" => Some(ReviewStatus::Approved),
            "rejected" => Some(ReviewStatus::Rejected),
            _ => None,
        }
    }
}

/// The reviewer's shade when she wrote the review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReviewerShade {
    pub undertone: Undertone,
    /// 1 (fairest) to 10 (deepest).
    pub depth: u8,
}

/// Who wrote a review, as shoppers see her: what she chose to show of her profile then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
pub struct Reviewer {
    pub display_name: String,
    pub skin_type: Option<SkinType>,
    pub concerns: Vec<Concern>,
    pub age_band: Option<AgeBand>,
    pub shade: Option<ReviewerShade>,
}

/// The profile a review copies, as identity tells it at the time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ReviewerProfile {
    pub skin_type: Option<SkinType>,
    pub concerns: Vec<Concern>,
    pub age_band: Option<AgeBand>,
    pub shade: Option<ReviewerShade>,
}

/// The shop's answer under a review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reply {
    pub text: String,
    /// When (ms since the epoch).
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Review {
    pub id: Uuid,
    pub product_id: Uuid,
    /// The variant she bought.
    pub sku: String,
    /// 1 to 5.
    pub rating: u8,
    pub title: String,
    pub text: String,
    /// Photo URLs (https).
    pub photos: Vec<String>,
    pub reviewer: Reviewer,
    /// Bought and delivered: every review is of a delivered order line.
    pub verified_purchase: bool,
    pub status: ReviewStatus,
    /// Why a moderator rejected it.
    pub rejection_reason: Option<String>,
    pub reply: Option<Reply>,
    /// Customers who found it helpful.
    pub helpful: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What staff see besides: whose it is, which order, and reports of abuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StaffReview {
    #[serde(flatten)]
    pub review: Review,
    /// Empty once she erased her account (the review stays, anonymised).
    pub customer_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    /// Reports of abuse by customers.
    pub reports: i64,
}

/// Which parts of her profile a reviewer may hide.
pub const HIDEABLE: [&str; 4] = ["skin_type", "concerns", "age_band", "shade"];

/// What a customer sends to review a product she received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    /// Her order that delivered it.
    pub order_id: Uuid,
    /// The variant she bought (one of the product's).
    pub sku: String,
    /// 1 to 5.
    pub rating: u8,
    pub title: String,
    pub text: String,
    #[serde(default)]
    pub photos: Vec<String>,
    /// Shown instead of her name: 2 to 40 characters, not an email address.
    pub display_name: String,
    /// Parts of her profile not to show: `skin_type`, `concerns`, `age_band`, `shade`.
    #[serde(default)]
    pub hide: Vec<String>,
}

fn text(v: &mut Validation, field: &str, s: &str, max: usize) {
    let n = s.trim().chars().count();
    if n == 0 || n > max {
        v.push(field, "invalid", format!("1 to {max} characters"));
    }
}

impl ReviewInput {
    /// # Errors
    /// Every field out of bounds, at once.
    pub fn validate(&self) -> Result<(), Validation> {
        let mut v = Validation::new();
        if !(1..=5).contains(&self.rating) {
            v.push("rating", "out_of_range", "a whole number from 1 to 5");
        }
        text(&mut v, "title", &self.title, 120);
        text(&mut v, "text", &self.text, 5000);
        if self.photos.len() > 6 {
            v.push("photos", "too_many", "at most 6 photos");
        }
        for (i, p) in self.photos.iter().enumerate() {
            let ok = p.len() <= 500
                && p.strip_prefix("https://")
                    .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace));
            if !ok {
                v.push(format!("photos.{i}"), "invalid", "an https:// URL of at most 500 characters");
            }
        }
        let name = self.display_name.trim();
        let n = name.chars().count();
        if !(2..=40).contains(&n) || name.chars().any(char::is_control) {
            v.push("display_name", "invalid", "2 to 40 printable characters");
        } else if name.contains('@') {
            v.push("display_name", "email", "a display name is shown to everyone: not an email address");
        }
        for (i, h) in self.hide.iter().enumerate() {
            if !HIDEABLE.contains(&h.as_str()) {
                v.push(format!("hide.{i}"), "unknown_value", format!("one of: {}", HIDEABLE.join(", ")));
            }
        }
        if v.is_empty() { Ok(()) } else { Err(v) }
    }

    /// The reviewer as shown: her profile then, less what she hides.
    pub fn reviewer(&self, profile: ReviewerProfile) -> Reviewer {
        let shown = |part: &str| !self.hide.iter().any(|h| h == part);
        Reviewer {
            display_name: self.display_name.trim().to_owned(),
            skin_type: profile.skin_type.filter(|_| shown("skin_type")),
            concerns: if shown("concerns") { profile.concerns } else { vec![] },
            age_band: profile.age_band.filter(|_| shown("age_band")),
            shade: profile.shade.filter(|_| shown("shade")),
        }
    }
}

/// A moderator's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Moderation {
    /// `approve` or `reject`.
    pub decision: String,
    /// Required to reject: the author reads it.
    #[serde(default)]
    pub reason: Option<String>,
}

/// How a product is rated, by approved reviews.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Default)]
pub struct RatingSummary {
    /// The mean rating, to two decimals; null without reviews.
    pub average: Option<f64>,
    pub count: i64,
    /// How many reviews gave 1, 2, 3, 4 and 5 stars.
    pub distribution: [i64; 5],
    /// The same by the reviewers' skin type (those who showed it), most reviews first.
    pub by_skin_type: Vec<SkinTypeRating>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SkinTypeRating {
    pub skin_type: SkinType,
    pub average: f64,
    pub count: i64,
}

/// `review.rating_changed`: a product's rating over its approved reviews, after an approval
/// or its withdrawal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RatingChanged {
    pub product_id: Uuid,
    pub count: i64,
    /// The sum of the ratings (the average is `sum / count`).
    pub sum: i64,
    pub average: Option<f64>,
}

/// `review.reported`: a customer reported a review as abusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReviewReported {
    pub review_id: Uuid,
    pub reason: String,
}

/// A mean to two decimals, from a sum and a count.
pub fn mean(sum: i64, count: i64) -> Option<f64> {
    (count > 0).then(|| ((sum * 100 + count / 2) / count) as f64 / 100.0)
}

impl RatingSummary {
    /// From counts of approved reviews by (skin type shown, rating).
    pub fn of(counts: &[(Option<SkinType>, u8, i64)]) -> Self {
        let mut s = RatingSummary::default();
        let mut by: Vec<(SkinType, i64, i64)> = vec![];
        for &(skin, rating, n) in counts {
            if !(1..=5).contains(&rating) {
                continue;
            }
            s.count += n;
            s.distribution[usize::from(rating - 1)] += n;
            if let Some(t) = skin {
                match by.iter_mut().find(|(k, _, _)| *k == t) {
                    Some(e) => {
                        e.1 += n * i64::from(rating);
                        e.2 += n;
                    }
                    None => by.push((t, n * i64::from(rating), n)),
                }
            }
        }
        let sum: i64 = s.distribution.iter().enumerate().map(|(i, n)| (i as i64 + 1) * n).sum();
        s.average = mean(sum, s.count);
        by.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        s.by_skin_type = by
            .into_iter()
            .map(|(skin_type, sum, count)| SkinTypeRating {
                skin_type,
                average: mean(sum, count).unwrap_or(0.0),
                count,
            })
            .collect();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ReviewInput {
        ReviewInput {
            order_id: Uuid::nil(),
            sku: "S".into(),
            rating: 5,
            title: "Calmer skin".into(),
            text: "Two weeks in, less redness.".into(),
            photos: vec!["https://img.example/1.jpg".into()],
            display_name: "Ana L.".into(),
            hide: vec![],
        }
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = ReviewInput {
            rating: 6,
            title: " ".into(),
            photos: vec!["http://img.example/1.jpg".into()],
            display_name: "ana@example.com".into(),
            hide: vec!["email".into()],
            ..input()
        };
        let fields: Vec<String> = bad.validate().unwrap_err().errors().iter().map(|e| e.field.clone()).collect();
        assert_eq!(fields, ["rating", "title", "photos.0", "display_name", "hide.0"]);
        assert!(input().validate().is_ok());
    }

    #[test]
    fn hidden_parts_of_the_profile_are_not_copied() {
        let profile = ReviewerProfile {
            skin_type: Some(SkinType::Oily),
            concerns: vec![Concern::Acne],
            age_band: Some(AgeBand::From25To34),
            shade: Some(ReviewerShade { undertone: Undertone::Warm, depth: 3 }),
        };
        let r = ReviewInput { hide: vec!["age_band".into(), "shade".into()], ..input() }.reviewer(profile);
        assert_eq!((r.skin_type, r.concerns.len(), r.age_band, r.shade), (Some(SkinType::Oily), 1, None, None));
        assert_eq!(r.display_name, "Ana L.");
    }

    #[test]
    fn summaries_count_and_average_by_skin_type() {
        let s = RatingSummary::of(&[
            (Some(SkinType::Oily), 5, 3),
            (Some(SkinType::Oily), 4, 2),
            (Some(SkinType::Dry), 2, 1),
            (None, 3, 1),
        ]);
        assert_eq!((s.count, s.distribution), (7, [0, 1, 1, 2, 3]));
        // (15 + 8 + 2 + 3) / 7 = 4.0
        assert_eq!(s.average, Some(4.0));
        assert_eq!(s.by_skin_type[0], SkinTypeRating { skin_type: SkinType::Oily, average: 4.6, count: 5 });
        assert_eq!(s.by_skin_type[1], SkinTypeRating { skin_type: SkinType::Dry, average: 2.0, count: 1 });
        assert_eq!(RatingSummary::of(&[]).average, None);
        assert_eq!(mean(14, 3), Some(4.67), "rounded half up to two decimals");
    }
}
