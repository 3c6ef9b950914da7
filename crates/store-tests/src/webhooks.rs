//! The webhook repository's contract: endpoints round-trip, a delivery is queued once per
//! endpoint, a due delivery is claimed by one sender until its lease ends, attempts are
//! recorded with the endpoint's failures in a row, replays start over, rotations keep the
//! previous secret.

use rouge_kernel::DomainEvent;
use rouge_webhooks::{DeliveryState, Endpoint, WebhookRepository};
use serde_json::json;
use uuid::Uuid;

fn endpoint(url: &str) -> Endpoint {
    Endpoint {
        id: Uuid::now_v7(),
        url: url.into(),
        description: "ERP".into(),
        event_types: vec!["order.placed".into()],
        enabled: true,
        disabled_reason: None,
        failures: 0,
        created_at: 1_000,
        updated_at: 1_000,
    }
}

pub async fn webhook_deliveries_are_queued_once_claimed_once_and_recorded<S: WebhookRepository>(store: S) {
    let (a, b) = (endpoint("https://a.example/hook"), endpoint("https://b.example/hook"));
    store.create_endpoint(&a, "whsec_one").await.unwrap();
    store.create_endpoint(&b, "whsec_two").await.unwrap();
    let (got, secrets) = store.endpoint(a.id).await.unwrap().unwrap();
    assert_eq!((got, secrets.current.as_str(), secrets.previous), (a.clone(), "whsec_one", None));
    assert_eq!(store.endpoints().await.unwrap().len(), 2);

    let e = DomainEvent::new("order", Uuid::now_v7(), "order.placed", json!({"n": 1}));
    for _ in 0..2 {
        store.enqueue(&[a.id, b.id], &e, 2_000).await.unwrap();
    }
    assert_eq!(store.deliveries(a.id, None, 10).await.unwrap().len(), 1, "queued once");
    assert!(store.claim_due(1_999, 70_000, 10).await.unwrap().is_empty(), "not due yet");
    let claimed = store.claim_due(2_000, 70_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(claimed[0].event.id, e.id);
    assert!(store.claim_due(3_000, 80_000, 10).await.unwrap().is_empty(), "claimed until the lease ends");

    // A failure: pending again later, the endpoint's failures counted; an answer resets them.
    let mut d = claimed.iter().find(|c| c.delivery.endpoint_id == a.id).unwrap().delivery.clone();
    d.attempts = 1;
    d.next_at = 10_000;
    d.last_status = Some(503);
    d.last_error = Some("answered 503".into());
    assert_eq!(store.record_attempt(&d, false, 5_000).await.unwrap(), 1);
    let retry = store.claim_due(10_000, 90_000, 10).await.unwrap();
    assert_eq!(retry.len(), 1, "the failed one is due again");
    let mut d = retry[0].delivery.clone();
    d.attempts = 2;
    d.state = DeliveryState::Delivered;
    d.last_status = Some(204);
    d.last_error = None;
    assert_eq!(store.record_attempt(&d, true, 11_000).await.unwrap(), 0, "an answer resets the count");
    let log = store.deliveries(a.id, Some(DeliveryState::Delivered), 10).await.unwrap();
    assert_eq!((log.len(), log[0].attempts, log[0].last_status), (1, 2, Some(204)));
    assert!(store.deliveries(a.id, Some(DeliveryState::Failed), 10).await.unwrap().is_empty());

    // A replay starts over; a rotation keeps the previous secret until its time.
    assert!(store.replay(a.id, e.id, 20_000).await.unwrap());
    assert!(!store.replay(a.id, Uuid::now_v7(), 20_000).await.unwrap(), "no such delivery");
    let again = store.claim_due(20_000, 90_000, 10).await.unwrap();
    assert_eq!((again.len(), again[0].delivery.attempts), (1, 0));
    assert!(store.rotate_secret(a.id, "whsec_three", 99_000).await.unwrap());
    let (_, s) = store.endpoint(a.id).await.unwrap().unwrap();
    assert_eq!((s.current.as_str(), s.previous), ("whsec_three", Some(("whsec_one".to_owned(), 99_000))));
    // Sealed (or re-wrapped) in place, unless rotated meanwhile.
    assert!(!store.replace_secrets(a.id, "whsec_one", "sealed-x", None).await.unwrap(), "not the current one");
    assert!(store.replace_secrets(a.id, "whsec_three", "sealed-3", Some("sealed-1")).await.unwrap());
    let (_, s) = store.endpoint(a.id).await.unwrap().unwrap();
    assert_eq!((s.current.as_str(), s.previous), ("sealed-3", Some(("sealed-1".to_owned(), 99_000))));

    // Disabled, changed, deleted with its log.
    store.disable_endpoint(b.id, "disabled after 40 failed attempts in a row", 30_000).await.unwrap();
    let (off, _) = store.endpoint(b.id).await.unwrap().unwrap();
    assert_eq!(
        (off.enabled, off.disabled_reason.as_deref()),
        (false, Some("disabled after 40 failed attempts in a row"))
    );
    let mut changed = a.clone();
    changed.event_types = vec!["*".into()];
    changed.updated_at = 40_000;
    assert!(store.update_endpoint(&changed).await.unwrap());
    assert_eq!(store.endpoint(a.id).await.unwrap().unwrap().0.event_types, ["*"]);
    assert!(store.delete_endpoint(a.id).await.unwrap());
    assert!(store.endpoint(a.id).await.unwrap().is_none());
    assert!(store.deliveries(a.id, None, 10).await.unwrap().is_empty(), "its log went with it");
    assert!(!store.delete_endpoint(a.id).await.unwrap());
}
