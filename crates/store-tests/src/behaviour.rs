//! The behaviour repository's contract: a batch is kept once (a retried event is not kept
//! twice); training reads every event since a time in (time, id) pages; her latest events come
//! newest first; erasure removes hers and no one else's; retention purges what is too old.

use rouge_recommendations::impressions::{Attributed, ImpressionRepository, Shown};
use rouge_recommendations::{BehaviourEvent, BehaviourRepository, EventKind};
use uuid::Uuid;

fn ev(kind: EventKind, customer: Option<Uuid>, at: i64) -> BehaviourEvent {
    BehaviourEvent {
        id: Uuid::now_v7(),
        kind,
        customer_id: customer,
        anonymous_id: customer.is_none().then(|| "visitor-0001".to_owned()),
        product_id: (kind != EventKind::SearchMade).then(Uuid::now_v7),
        query: (kind == EventKind::SearchMade).then(|| "vitamin c".to_owned()),
        unsuitable: kind == EventKind::Returned,
        at,
        impression_id: None,
    }
}

pub async fn behaviour_is_kept_once_read_in_pages_erased_and_purged<S: BehaviourRepository>(store: S) {
    let (ana, bea) = (Uuid::now_v7(), Uuid::now_v7());
    let base = 1_000_000;
    let events = vec![
        ev(EventKind::ProductViewed, Some(ana), base),
        ev(EventKind::SearchMade, Some(ana), base + 10),
        ev(EventKind::Returned, Some(ana), base + 10),
        ev(EventKind::AddedToCart, None, base + 20),
        ev(EventKind::Purchased, Some(bea), base + 30),
    ];
    assert_eq!(store.record_behaviour(&events).await.unwrap(), 5);
    assert_eq!(store.record_behaviour(&events[..2]).await.unwrap(), 0, "a retry keeps nothing twice");

    // Every event since `base + 5`, two a page, in (time, id) order.
    let mut seen = vec![];
    let mut after = None;
    loop {
        let page = store.behaviour_since(base + 5, after, 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|e| (e.at, e.id));
        seen.extend(page);
    }
    let mut want: Vec<BehaviourEvent> = events[1..].to_vec();
    want.sort_by_key(|e| (e.at, e.id));
    assert_eq!(seen, want, "every field kept as it was");

    assert_eq!(store.behaviour_event(events[2].id).await.unwrap().as_ref(), Some(&events[2]));
    assert_eq!(store.behaviour_event(Uuid::now_v7()).await.unwrap(), None);
    let hers = store.behaviour_of(ana, 10).await.unwrap();
    assert_eq!(hers.len(), 3);
    assert_eq!(hers[2], events[0], "newest first");
    assert_eq!(store.behaviour_of(ana, 1).await.unwrap().len(), 1);

    assert_eq!(store.erase_behaviour(ana).await.unwrap(), 3);
    assert!(store.behaviour_of(ana, 10).await.unwrap().is_empty());
    assert_eq!(store.behaviour_of(bea, 10).await.unwrap().len(), 1, "only hers");

    assert_eq!(store.purge_behaviour(base + 25).await.unwrap(), 1, "the anonymous cart event is too old");
    let left = store.behaviour_since(0, None, 10).await.unwrap();
    assert_eq!(left.iter().map(|e| e.kind).collect::<Vec<_>>(), [EventKind::Purchased]);
}

/// The impressions' contract: counts of answers shown add up across replicas' calls and are
/// read by day; per impression, the distinct products clicked and bought in a time window
/// (returns and events without an impression left out); a clicked event keeps its impression.
pub async fn impressions_are_counted_and_attributed<S: BehaviourRepository + ImpressionRepository>(store: S) {
    let shown = |day, context: &str, impressions, items| Shown {
        day,
        context: context.into(),
        model: "seq-ease".into(),
        impressions,
        items,
    };
    store.count_shown(&[shown(100, "for_you", 3, 30), shown(101, "similar", 1, 4)]).await.unwrap();
    store.count_shown(&[shown(100, "for_you", 2, 20), shown(102, "for_you", 7, 70)]).await.unwrap();
    assert_eq!(
        store.shown_between(100, 101).await.unwrap(),
        [shown(100, "for_you", 5, 50), shown(101, "similar", 1, 4)],
        "two replicas' counts add up"
    );

    let (ana, one, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let (serum, cream) = (Uuid::now_v7(), Uuid::now_v7());
    let base = 5_000_000;
    let of = |kind, product, impression: Option<Uuid>, at| BehaviourEvent {
        product_id: Some(product),
        impression_id: impression,
        ..ev(kind, Some(ana), at)
    };
    let events = [
        of(EventKind::ProductViewed, serum, Some(one), base),
        of(EventKind::ProductViewed, serum, Some(one), base + 1),
        of(EventKind::AddedToCart, cream, Some(one), base + 2),
        of(EventKind::Purchased, serum, Some(one), base + 3),
        of(EventKind::Returned, serum, Some(one), base + 4),
        of(EventKind::ProductViewed, cream, None, base + 5),
        of(EventKind::Wishlisted, cream, Some(other), base + 100),
    ];
    store.record_behaviour(&events).await.unwrap();
    assert_eq!(store.behaviour_event(events[0].id).await.unwrap().and_then(|e| e.impression_id), Some(one));
    let mut got = store.attributed_between(base, base + 101).await.unwrap();
    got.sort_by_key(|a| a.clicks);
    assert_eq!(
        got,
        [
            Attributed { impression_id: other, clicks: 1, purchases: 0 },
            Attributed { impression_id: one, clicks: 2, purchases: 1 },
        ]
    );
    assert_eq!(store.attributed_between(base, base + 100).await.unwrap().len(), 1, "the window's end left out");
}

/// A visitor's events become the customer's who logs in on her storefront: those with no
/// customer yet, of that visitor only, once.
pub async fn a_visitors_events_become_hers_when_she_logs_in<S: BehaviourRepository>(store: S) {
    let (ana, bea) = (Uuid::now_v7(), Uuid::now_v7());
    let visitor =
        |id: &str, at| BehaviourEvent { anonymous_id: Some(id.to_owned()), ..ev(EventKind::ProductViewed, None, at) };
    let events = [
        visitor("visitor-ana", 10),
        visitor("visitor-ana", 20),
        visitor("visitor-other", 30),
        BehaviourEvent { anonymous_id: Some("visitor-ana".into()), ..ev(EventKind::AddedToCart, Some(bea), 40) },
    ];
    store.record_behaviour(&events).await.unwrap();
    assert_eq!(store.link_visitor("visitor-ana", ana).await.unwrap(), 2);
    assert_eq!(store.link_visitor("visitor-ana", ana).await.unwrap(), 0, "once");
    let hers = store.behaviour_of(ana, 10).await.unwrap();
    assert_eq!(hers.iter().map(|e| e.id).collect::<Vec<_>>(), [events[1].id, events[0].id]);
    assert_eq!(store.behaviour_of(bea, 10).await.unwrap().len(), 1, "another customer's stays hers");
    assert_eq!(store.behaviour_event(events[2].id).await.unwrap().and_then(|e| e.customer_id), None);
}
