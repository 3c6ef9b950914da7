//! The reviews repository's contract: one review per order line; filters, sorts and keyset
//! pages; ratings counted from approved reviews only, moving with each approval; one vote and
//! one report per customer; erasure anonymises her reviews and takes back her votes.

use rouge_catalog::{AgeBand, Concern, SkinType};
use rouge_kernel::StoreError;
use rouge_reviews::{
    ReviewFilter, ReviewInput, ReviewSort, ReviewStatus, ReviewerProfile, ReviewsRepository, StaffReview,
};
use uuid::Uuid;

fn review(product: Uuid, customer: Uuid, rating: u8, skin: Option<SkinType>, at: i64) -> StaffReview {
    let input = ReviewInput {
        order_id: Uuid::now_v7(),
        sku: "SKU-1".into(),
        rating,
        title: "Good".into(),
        text: "It works.".into(),
        photos: vec!["https://img.example/a.jpg".into()],
        display_name: "Ana L.".into(),
        hide: vec![],
    };
    let profile = ReviewerProfile {
        skin_type: skin,
        concerns: vec![Concern::Acne],
        age_band: Some(AgeBand::From25To34),
        shade: None,
    };
    StaffReview {
        review: rouge_reviews::Review {
            id: Uuid::now_v7(),
            product_id: product,
            sku: input.sku.clone(),
            rating,
            title: input.title.clone(),
            text: input.text.clone(),
            photos: input.photos.clone(),
            reviewer: input.reviewer(profile),
            verified_purchase: true,
            status: ReviewStatus::Pending,
            rejection_reason: None,
            reply: None,
            helpful: 0,
            created_at: at,
            updated_at: at,
        },
        customer_id: Some(customer),
        order_id: Some(input.order_id),
        reports: 0,
    }
}

async fn approve<S: ReviewsRepository>(store: &S, r: &mut StaffReview) {
    r.review.status = ReviewStatus::Approved;
    store.save_review(r, "review.approved").await.unwrap();
}

pub async fn one_review_per_order_line_and_filters<S: ReviewsRepository>(store: S) {
    let (product, ana, bea) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let mut a = review(product, ana, 5, Some(SkinType::Oily), 1_000);
    store.add_review(&a).await.unwrap();
    let again = StaffReview { review: rouge_reviews::Review { id: Uuid::now_v7(), ..a.review.clone() }, ..a.clone() };
    assert!(matches!(store.add_review(&again).await, Err(StoreError::Duplicate { .. })), "one per order line");
    let mut b = review(product, bea, 2, Some(SkinType::Dry), 2_000);
    b.review.reviewer.concerns = vec![Concern::Redness];
    store.add_review(&b).await.unwrap();
    let mut c = review(product, bea, 4, None, 3_000);
    store.add_review(&c).await.unwrap();
    assert!(store.ratings().await.unwrap().is_empty(), "pending reviews do not rate");
    approve(&store, &mut a).await;
    approve(&store, &mut b).await;
    approve(&store, &mut c).await;

    let ids = |v: Vec<StaffReview>| v.into_iter().map(|r| r.review.id).collect::<Vec<_>>();
    let all = ReviewFilter { product_id: Some(product), limit: 10, ..ReviewFilter::default() };
    assert_eq!(ids(store.reviews(&all).await.unwrap()), [c.review.id, b.review.id, a.review.id], "newest first");
    let oily = ReviewFilter { skin_type: Some(SkinType::Oily), ..all.clone() };
    assert_eq!(ids(store.reviews(&oily).await.unwrap()), [a.review.id]);
    let acne = ReviewFilter { concern: Some(Concern::Acne), ..all.clone() };
    assert_eq!(ids(store.reviews(&acne).await.unwrap()), [c.review.id, a.review.id]);
    let best = ReviewFilter { sort: ReviewSort::RatingDesc, limit: 2, ..all.clone() };
    let page = store.reviews(&best).await.unwrap();
    assert_eq!(ids(page.clone()), [a.review.id, c.review.id]);
    let last = &page[1].review;
    let next = ReviewFilter { after: Some((ReviewSort::RatingDesc.key(last), last.id)), ..best };
    assert_eq!(ids(store.reviews(&next).await.unwrap()), [b.review.id], "the next page starts after the cursor");

    let rated = store.ratings().await.unwrap();
    assert_eq!((rated.len(), rated[0].count, rated[0].sum), (1, 3, 11));
    let mut counts = store.rating_counts(product).await.unwrap();
    counts.sort_by_key(|c| c.1);
    assert_eq!(counts, [(Some(SkinType::Dry), 2, 1), (None, 4, 1), (Some(SkinType::Oily), 5, 1)]);
    b.review.status = ReviewStatus::Rejected;
    store.save_review(&b, "review.rejected").await.unwrap();
    assert_eq!(store.ratings().await.unwrap()[0].count, 2, "a withdrawn approval leaves the rating");
}

pub async fn votes_and_reports_count_once_and_erasure_anonymises<S: ReviewsRepository>(store: S) {
    let (product, ana, bea) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let mut a = review(product, ana, 5, Some(SkinType::Oily), 1_000);
    store.add_review(&a).await.unwrap();
    approve(&store, &mut a).await;
    assert!(store.vote(a.review.id, bea).await.unwrap());
    assert!(!store.vote(a.review.id, bea).await.unwrap(), "one vote per customer");
    assert!(store.report(a.review.id, bea, "spam").await.unwrap());
    assert!(!store.report(a.review.id, bea, "spam again").await.unwrap());
    let got = store.review(a.review.id).await.unwrap().unwrap();
    assert_eq!((got.review.helpful, got.reports), (1, 1));
    let reported = ReviewFilter { reported: true, limit: 10, ..ReviewFilter::default() };
    assert_eq!(store.reviews(&reported).await.unwrap().len(), 1);

    // Bea erases her account: her vote and report go. Ana erases hers: her review stays,
    // without her.
    store.forget_customer(bea).await.unwrap();
    let got = store.review(a.review.id).await.unwrap().unwrap();
    assert_eq!((got.review.helpful, got.reports), (0, 0));
    assert_eq!(store.forget_customer(ana).await.unwrap(), 1);
    let got = store.review(a.review.id).await.unwrap().unwrap();
    assert_eq!((got.customer_id, got.order_id), (None, None));
    assert_eq!(got.review.reviewer.display_name, "Former customer");
    assert_eq!((got.review.reviewer.age_band, got.review.photos.len()), (None, 0));
    assert_eq!(got.review.reviewer.skin_type, Some(SkinType::Oily), "the skin type stays for the ratings");
    assert_eq!(got.review.text, "It works.");
    assert_eq!(store.ratings().await.unwrap()[0].count, 1, "her rating still counts");
}
