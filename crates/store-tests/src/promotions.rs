//! The promotions repository's contract: promotions and codes round-trip, a code is unique
//! across promotions, orders' uses are recorded once and forgotten on cancellation, and budget holds take every counter within its cap or nothing, once per
//! checkout attempt, give back once, and commit (taking again what an expired hold gave
//! back). Concurrent holds never take a counter past its cap.

use rouge_kernel::StoreError;
use rouge_promotions::{Code, Hold, HoldState, Promotion, PromotionInput, PromotionsRepository, Use};
use serde_json::json;
use uuid::Uuid;

fn promotion(name: &str) -> Promotion {
    let input: PromotionInput = serde_json::from_value(json!({
        "name": name, "requires_code": true, "max_uses": 10,
        "benefit": { "kind": "percent_off", "percent_bp": 1500 },
        "target": { "kind": "brand", "slug": "lumi" },
    }))
    .unwrap();
    input.into_promotion(Uuid::now_v7(), 1_000, 1_000)
}

fn code(c: &str, p: &Promotion, max: Option<i64>) -> Code {
    Code { code: c.into(), promotion_id: p.id, max_uses: max, used: 0, created_at: 2_000 }
}

fn hold(reference: &str, uses: &[(&str, i64)]) -> Hold {
    Hold {
        id: Uuid::now_v7(),
        reference: reference.into(),
        state: HoldState::Held,
        order_id: None,
        uses: uses.iter().map(|(k, cap)| Use { key: (*k).into(), cap: *cap, amount: 1 }).collect(),
        expires_at: 5_000,
    }
}

pub async fn promotions_and_codes_round_trip<S: PromotionsRepository>(store: S) {
    let (a, mut b) = (promotion("Spring"), promotion("Summer"));
    b.created_at = 2_000;
    store.save_promotion(&a).await.unwrap();
    store.save_promotion(&b).await.unwrap();
    assert_eq!(store.promotion(a.id).await.unwrap(), Some(a.clone()));
    b.name = "Summer glow".into();
    b.active = false;
    store.save_promotion(&b).await.unwrap();
    let all = store.promotions().await.unwrap();
    assert_eq!(all, [b.clone(), a.clone()], "newest first, replaced in place");

    store.add_codes(&[code("SPRING", &a, Some(1)), code("SPRING-2", &a, None)]).await.unwrap();
    let dup = store.add_codes(&[code("NEW", &b, None), code("SPRING", &b, None)]).await;
    assert!(matches!(dup, Err(StoreError::Duplicate { .. })), "{dup:?}");
    assert_eq!(store.code("NEW").await.unwrap(), None, "all or none");
    assert_eq!(store.code("SPRING").await.unwrap(), Some(code("SPRING", &a, Some(1))));
    let page = store.codes(a.id, Some("SPRING"), 10).await.unwrap();
    assert_eq!(page.iter().map(|c| c.code.as_str()).collect::<Vec<_>>(), ["SPRING-2"]);

    // Uses are the orders recorded with a promotion (and code), once per order.
    let (o1, o2) = (Uuid::now_v7(), Uuid::now_v7());
    for _ in 0..2 {
        store.record_uses(o1, &[(a.id, Some("SPRING".into())), (b.id, None)], 3_000).await.unwrap();
    }
    store.record_uses(o2, &[(a.id, Some("SPRING-2".into()))], 3_000).await.unwrap();
    assert_eq!(store.uses_of(&[a.id, b.id, Uuid::now_v7()]).await.unwrap(), [2, 1, 0]);
    assert_eq!(store.code("SPRING").await.unwrap().unwrap().used, 1, "a code counts the orders that used it");
    store.forget_uses(o1).await.unwrap();
    assert_eq!(store.uses_of(&[a.id, b.id]).await.unwrap(), [1, 0], "a cancelled order's uses are forgotten");
    assert_eq!(store.code("SPRING").await.unwrap().unwrap().used, 0);
}

pub async fn holds_take_every_budget_or_none_and_give_back_once<S: PromotionsRepository>(store: S) {
    let first = store.hold(&hold("a", &[("p:x", 2), ("c:ONE", 1)])).await.unwrap().unwrap();
    assert_eq!(store.taken(&["p:x".into(), "c:ONE".into(), "c:NONE".into()]).await.unwrap(), [1, 1, 0]);
    let again = store.hold(&hold("a", &[("p:x", 2), ("c:ONE", 1)])).await.unwrap().unwrap();
    assert_eq!(again.id, first.id, "a retry of the attempt gets its hold back");
    assert_eq!(store.taken(&["p:x".into()]).await.unwrap(), [1], "and takes nothing more");

    let refused = store.hold(&hold("b", &[("p:x", 2), ("c:ONE", 1)])).await.unwrap();
    assert_eq!(refused, Err("c:ONE".to_owned()), "the code is spent");
    assert_eq!(store.taken(&["p:x".into()]).await.unwrap(), [1], "nothing taken from the other budget");

    for _ in 0..2 {
        let h = store.release_hold(first.id).await.unwrap().unwrap();
        assert_eq!(h.state, HoldState::Released);
    }
    assert_eq!(store.taken(&["p:x".into(), "c:ONE".into()]).await.unwrap(), [0, 0], "given back once");
    assert_eq!(store.release_hold(Uuid::now_v7()).await.unwrap(), None);

    // An order recorded after its hold expired takes the uses again (it did use them).
    let order = Uuid::now_v7();
    let h = store.commit_hold(first.id, order).await.unwrap().unwrap();
    assert_eq!((h.state, h.order_id), (HoldState::Committed, Some(order)));
    assert_eq!(store.taken(&["p:x".into()]).await.unwrap(), [1]);
    store.commit_hold(first.id, order).await.unwrap();
    assert_eq!(store.taken(&["p:x".into()]).await.unwrap(), [1], "committing twice takes once");
    // A cancelled order gives its uses back.
    store.release_hold(first.id).await.unwrap();
    assert_eq!(store.taken(&["p:x".into()]).await.unwrap(), [0]);

    let late = store.hold(&hold("c", &[("p:y", 1)])).await.unwrap().unwrap();
    assert_eq!(store.expired_holds(4_999, 10).await.unwrap(), Vec::<Uuid>::new());
    assert_eq!(store.expired_holds(5_001, 10).await.unwrap(), [late.id]);
    // Expired and given back: a retry of that attempt takes the use again, within the cap.
    store.release_hold(late.id).await.unwrap();
    let other = store.hold(&hold("d", &[("p:y", 1)])).await.unwrap().unwrap();
    assert_eq!(store.hold(&hold("c", &[("p:y", 1)])).await.unwrap(), Err("p:y".to_owned()), "the use went to another");
    store.release_hold(other.id).await.unwrap();
    let again = store.hold(&hold("c", &[("p:y", 1)])).await.unwrap().unwrap();
    assert_eq!((again.id, again.state), (late.id, HoldState::Held), "the attempt's own hold, held again");
    assert_eq!(store.taken(&["p:y".into()]).await.unwrap(), [1]);
}

pub async fn concurrent_holds_never_pass_a_cap<S: PromotionsRepository>(store: S) {
    let mut tasks = vec![];
    for i in 0..40 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let h = hold(&format!("attempt-{i}"), &[("c:RUSH", 10), ("p:rush", 1_000)]);
            store.hold(&h).await.unwrap().is_ok()
        }));
    }
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 10, "exactly the code's ten uses");
    assert_eq!(store.taken(&["c:RUSH".into(), "p:rush".into()]).await.unwrap(), [10, 10]);
}
