//! Consumers that must not lose an event: each event is claimed once across replicas (the
//! inbox), handled, and on failure retried with growing pauses; after the last attempt it is
//! parked as a dead letter for staff to inspect and replay (`/v1/admin/dead-letters`).

use crate::Subscriber;
use futures::future::BoxFuture;
use rouge_kernel::{DeliveryLog, DeliveryState, DomainEvent};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A consumer of events. `handle` must be idempotent: a retry may follow a success whose
/// record was lost.
pub trait Handler: Send + Sync + 'static {
    /// Its name in the inbox and the dead-letter list.
    fn name(&self) -> &'static str;
    /// The event types it handles (on a broker, its queue's bindings).
    fn events(&self) -> &'static [&'static str];
    fn wants(&self, event_type: &str) -> bool {
        self.events().contains(&event_type)
    }
    fn handle(&self, event: DomainEvent) -> BoxFuture<'static, Result<(), String>>;
    /// Whether replicas claim each event so that one handles it (an email is sent once);
    /// `false` for handlers every replica may run (idempotent store updates).
    fn exclusive(&self) -> bool {
        true
    }
}

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts before an event is parked (the first included).
    pub max_attempts: i32,
    /// Pause after the first failure; doubled after each further one.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 5, backoff: Duration::from_secs(2) }
    }
}

/// How long a started attempt may take before it is presumed lost and retried.
pub(crate) const LEASE_MS: i64 = 30_000;

pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Records a failed attempt and says what became of the event (`None`: not recorded).
pub(crate) async fn failed<S: DeliveryLog>(
    store: &S,
    name: &str,
    event: &DomainEvent,
    error: &str,
    policy: RetryPolicy,
) -> Option<DeliveryState> {
    let backoff = policy.backoff.as_millis() as i64;
    match store.record_failure(name, event, error, now(), policy.max_attempts, backoff).await {
        Ok(DeliveryState::Dead) => {
            tracing::error!(
                consumer = name, event = %event.id, kind = %event.event_type, %error,
                "event parked as a dead letter after its last attempt; replay it from /v1/admin/dead-letters"
            );
            Some(DeliveryState::Dead)
        }
        Ok(DeliveryState::Retrying) => {
            tracing::warn!(consumer = name, event = %event.id, kind = %event.event_type, %error, "event failed; will retry");
            Some(DeliveryState::Retrying)
        }
        Err(e) => {
            tracing::error!(consumer = name, event = %event.id, error = %e, "cannot record a failed delivery");
            None
        }
    }
}

/// A relay subscriber running `handler` on the events it wants, once across replicas. The
/// events of one relay batch are claimed in one statement, handled side by side, and their
/// successes recorded in one statement (the bookkeeping of a busy shop's consumers would
/// otherwise be two writes per event).
pub fn subscriber<S: DeliveryLog>(store: S, handler: Arc<dyn Handler>, policy: RetryPolicy) -> Subscriber {
    Arc::new(move |events| {
        let wanted: Vec<DomainEvent> = events.iter().filter(|e| handler.wants(&e.event_type)).cloned().collect();
        if wanted.is_empty() {
            return;
        }
        let (store, handler) = (store.clone(), handler.clone());
        tokio::spawn(async move { deliver(&store, &handler, wanted, policy).await });
    })
}

/// How many events one consumer handles at a time (more would only queue for connections).
const IN_FLIGHT: usize = 16;

/// Claims `wanted` for `handler` (once across replicas), handles them a few at a time and
/// records the outcomes; returns when all are done.
async fn deliver<S: DeliveryLog>(store: &S, handler: &Arc<dyn Handler>, wanted: Vec<DomainEvent>, policy: RetryPolicy) {
    use futures::StreamExt;
    // The claim is also the note that it started: should this server die now, the events come
    // due for a retry.
    let mine: Vec<DomainEvent> = if handler.exclusive() {
        match store.begin_deliveries(handler.name(), &wanted, now(), LEASE_MS).await {
            Ok(ids) => wanted.into_iter().filter(|e| ids.contains(&e.id)).collect(),
            Err(err) => {
                return tracing::error!(consumer = handler.name(), events = wanted.len(), error = %err, "cannot claim events");
            }
        }
    } else {
        wanted
    };
    let outcomes: Vec<(DomainEvent, Result<(), String>)> = futures::stream::iter(mine.into_iter().map(|e| {
        let handler = handler.clone();
        async move {
            let outcome = crate::traced(handler.name(), &e, handler.handle(e.clone())).await;
            (e, outcome)
        }
    }))
    .buffer_unordered(IN_FLIGHT)
    .collect()
    .await;
    let mut done = vec![];
    for (e, outcome) in outcomes {
        match outcome {
            Ok(()) => done.push(e.id),
            Err(err) => {
                failed(store, handler.name(), &e, &err, policy).await;
            }
        }
    }
    if handler.exclusive()
        && !done.is_empty()
        && let Err(err) = store.record_successes(handler.name(), &done).await
    {
        tracing::warn!(consumer = handler.name(), events = done.len(), error = %err, "cannot clear delivery notes");
    }
}

/// Hands the events of `kinds` that occurred since `since` to `handlers` again, page by page
/// (`batch` events at a time, each page finished before the next is read), so that work a crash
/// interrupted between a commit and its consumers gets done. Claimed and finished events are
/// skipped by the claim; memory stays that of one page however busy the day was. Returns how
/// many events were read.
pub async fn catch_up<S: DeliveryLog + rouge_kernel::Outbox>(
    store: &S,
    handlers: &[Arc<dyn Handler>],
    kinds: &[&str],
    since: chrono::DateTime<chrono::Utc>,
    policy: RetryPolicy,
    batch: i64,
) -> usize {
    let mut read = 0;
    for kind in kinds {
        let mut after = 0;
        loop {
            let page = match store.recent_events(kind, since, after, batch).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, kind, "cannot read recent events to catch up on; the retry task covers failures");
                    break;
                }
            };
            let Some(last) = page.last() else { break };
            after = last.sequence;
            read += page.len();
            for h in handlers {
                let wanted: Vec<DomainEvent> = page.iter().filter(|e| h.wants(&e.event_type)).cloned().collect();
                if !wanted.is_empty() {
                    deliver(store, h, wanted, policy).await;
                }
            }
            if (page.len() as i64) < batch {
                break;
            }
        }
    }
    read
}

/// Retries due deliveries every half second until `stop`: those due for `overdue` already (on
/// the in-process transport, zero: this task is the retry; on a broker, whose delay queues
/// bring retries back, a safety net for a message that was lost, such as the replay of a dead
/// letter while the broker was away).
pub fn spawn_retries<S: DeliveryLog>(
    store: S,
    handlers: Vec<Arc<dyn Handler>>,
    policy: RetryPolicy,
    overdue: Duration,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let overdue = overdue.as_millis() as i64;
    tokio::spawn(async move {
        loop {
            // Taken until `now + LEASE_MS`, like any attempt.
            match store.take_due(now() - overdue, LEASE_MS + overdue, 100).await {
                Ok(due) => {
                    for d in due {
                        let Some(h) = handlers.iter().find(|h| h.name() == d.consumer) else {
                            tracing::warn!(consumer = %d.consumer, "a failed delivery for a consumer this server does not run");
                            continue;
                        };
                        match crate::traced(h.name(), &d.event, h.handle(d.event.clone())).await {
                            Ok(()) => {
                                tracing::info!(consumer = %d.consumer, event = %d.event.id, attempts = d.attempts + 1, "event handled on retry");
                                if let Err(e) = store.record_successes(&d.consumer, &[d.event.id]).await {
                                    tracing::warn!(error = %e, "cannot clear a delivered event's failure record");
                                }
                            }
                            Err(err) => {
                                failed(&store, h.name(), &d.event, &err, policy).await;
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot read failed deliveries; will retry"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.changed() => return,
            }
        }
    })
}
