//! The outbox relay: reads committed events from the store's outbox in order and hands them
//! to in-process subscribers (search index, caches). Writers nudge it after a commit; it
//! also polls, so events written by another replica arrive too.

pub mod amqp;
pub mod broker;
pub mod durable;
pub mod mail;

pub use mail::Mailer;
use rouge_kernel::{DomainEvent, Outbox};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// Receives each batch of events once, in sequence order. Handlers must be idempotent:
/// after a restart the relay may hand over events a subscriber already saw.
pub type Subscriber = Arc<dyn Fn(&[DomainEvent]) + Send + Sync>;

const BATCH: i64 = 500;
const POLL: Duration = Duration::from_millis(50);

/// A handle to nudge the relay and see how far it has delivered.
#[derive(Clone, Default)]
pub struct RelayHandle {
    notify: Arc<Notify>,
    delivered: Arc<AtomicI64>,
}

impl RelayHandle {
    /// Tells the relay that new events were committed.
    pub fn nudge(&self) {
        self.notify.notify_one();
    }

    /// The sequence of the last delivered event.
    pub fn delivered(&self) -> i64 {
        self.delivered.load(Ordering::Acquire)
    }
}

/// Runs a consumer's handling of `event` in the event's trace (under a new span of it; a new
/// trace when it has none), so that the events it causes carry the same trace, and its logs
/// name the trace.
pub(crate) async fn traced<F: Future>(consumer: &str, event: &DomainEvent, f: F) -> F::Output {
    use tracing::Instrument;
    let parent = event.trace.as_deref().and_then(rouge_kernel::TraceContext::parse);
    let trace_id = tracing::field::Empty;
    let span = tracing::info_span!("event", consumer, event = %event.id, kind = %event.event_type, trace_id,
        otel.name = %format_args!("{consumer} {}", event.event_type), otel.kind = "consumer");
    // Exported spans: this one is the child of the span that caused the event.
    let ctx = rouge_kernel::otel::adopt(&span, event.trace.as_deref())
        .unwrap_or_else(|| parent.map_or_else(rouge_kernel::TraceContext::root, |t| t.child()));
    span.record("trace_id", ctx.trace_id.as_str());
    rouge_kernel::trace::within(ctx, f).instrument(span).await
}

/// Hands `events` to every subscriber and notes how far delivery got.
fn apply(subscribers: &[Subscriber], events: &[DomainEvent], handle: &RelayHandle) -> i64 {
    for s in subscribers {
        s(events);
    }
    let position = events.last().map_or_else(|| handle.delivered(), |e| e.sequence);
    handle.delivered.store(position, Ordering::Release);
    tracing::debug!(count = events.len(), position, "relayed events");
    position
}

/// Hands the outbox's events after `position` to `subscribers` until none are left (or the
/// store fails); returns the new position.
async fn drain<O: Outbox>(outbox: &O, mut position: i64, subscribers: &[Subscriber], handle: &RelayHandle) -> i64 {
    loop {
        match outbox.events_after(position, BATCH).await {
            Ok(events) if !events.is_empty() => {
                position = apply(subscribers, &events, handle);
                if (events.len() as i64) < BATCH {
                    return position;
                }
            }
            Ok(_) => return position,
            Err(e) => {
                tracing::warn!(error = %e, position, "outbox read failed; will retry");
                return position;
            }
        }
    }
}

/// Starts the relay after sequence `after`; it stops when `shutdown` turns true.
pub fn spawn<O: Outbox>(
    outbox: O,
    after: i64,
    subscribers: Vec<Subscriber>,
    mut shutdown: watch::Receiver<bool>,
) -> (RelayHandle, JoinHandle<()>) {
    let handle = RelayHandle::default();
    handle.delivered.store(after, Ordering::Release);
    let h = handle.clone();
    let task = tokio::spawn(async move {
        let mut position = after;
        loop {
            position = drain(&outbox, position, &subscribers, &h).await;
            tokio::select! {
                _ = h.notify.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = shutdown.changed() => break,
            }
            if *shutdown.borrow() {
                break;
            }
        }
        tracing::info!(position, "outbox relay stopped");
    });
    (handle, task)
}
