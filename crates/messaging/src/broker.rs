//! Consumers on RabbitMQ (when `AMQP_URL` is set), in the two patterns the shop needs:
//!
//! - **Work consumers** ([`spawn_work`]: stock commit, emails; webhooks later) share one durable
//!   quorum queue per consumer name (`<exchange>.work.<name>`), so each event is handled once
//!   across replicas. The queue has a *single active consumer*: one replica at a time takes its
//!   messages in publication order, so the events of one aggregate are applied in the order
//!   they happened (what has arrived is handled a batch at a time: one aggregate's events one
//!   after the other, different aggregates side by side); the other replicas' consumers wait
//!   as hot standbys and take over when it goes. (A consistent-hash exchange with a queue per partition would
//!   spread one consumer's load over replicas, at the price of rebalancing partitions by
//!   hand; a shop's consumers are light next to its checkouts, so one queue in order wins.)
//!   Each event is claimed in the store's inbox (`deliveries`) by its id before it is handled,
//!   and the message acknowledged only after the outcome is recorded, so a redelivered
//!   message is never applied twice. A failure is retried through the broker: the message goes
//!   to a delay queue (`<exchange>.retry.<name>.<ms>`, whose time-to-live dead-letters it back
//!   to the work queue), pauses doubling as in the store's [`RetryPolicy`]; after the last
//!   attempt it is parked in `<exchange>.dead.<name>` and listed, like every failed delivery, at
//!   `/v1/admin/dead-letters`, whose replay sends it back to the work queue.
//! - **Read-model consumers** ([`spawn_read_models`]: search index, caches, stock board) get one
//!   queue per replica (`<exchange>.replica.<id>`, exclusive, gone with its connection), so every
//!   replica sees every event. On each (re)connection the replica first reads what it missed
//!   from the outbox, and while the broker is away it reads the outbox itself: the outbox is the
//!   truth, the broker the fast path.

use crate::durable::{Handler, LEASE_MS, RetryPolicy, failed, now};
use crate::{RelayHandle, Subscriber, apply, drain};
use futures::{FutureExt, StreamExt};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind};
use rouge_kernel::{Claim, DeliveryLog, DeliveryState, DomainEvent, Outbox};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The header counting a message's failed attempts (for choosing its next pause).
const ATTEMPTS: &str = "rouge-attempts";
/// Messages a consumer holds unacknowledged at a time.
const PREFETCH: u16 = 32;
const MAX_PAUSE: Duration = Duration::from_secs(10);
/// While the broker is away, a replica reads the outbox itself this often.
const FALLBACK_POLL: Duration = Duration::from_millis(100);

/// The broker's queues for the shop's work consumers: declared by the publisher before it
/// publishes anything (so no event misses a queue whose consumer has not started yet) and by
/// every consumer.
#[derive(Debug, Clone)]
pub struct Topology {
    pub exchange: String,
    /// Each work consumer's name and the event types it handles.
    pub work: Vec<(&'static str, &'static [&'static str])>,
    pub policy: RetryPolicy,
}

fn args(pairs: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in pairs {
        t.insert((*k).into(), v.clone());
    }
    t
}

fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(s.into())
}

impl Topology {
    pub fn new(exchange: &str, handlers: &[Arc<dyn Handler>], policy: RetryPolicy) -> Self {
        let work = handlers.iter().map(|h| (h.name(), h.events())).collect();
        Self { exchange: exchange.to_owned(), work, policy }
    }

    pub fn work_queue(&self, consumer: &str) -> String {
        format!("{}.work.{consumer}", self.exchange)
    }

    pub fn dead_queue(&self, consumer: &str) -> String {
        format!("{}.dead.{consumer}", self.exchange)
    }

    /// The delay queue holding messages for `delay` (its name carries the pause, so a changed
    /// policy declares new queues rather than clashing with the old ones' arguments).
    fn retry_queue(&self, consumer: &str, delay: Duration) -> String {
        format!("{}.retry.{consumer}.{}ms", self.exchange, delay.as_millis())
    }

    /// The pause before the retry after the `n`-th failure (n ≥ 1): the store's, doubled each time.
    fn delay(&self, n: u32) -> Duration {
        let last = u32::try_from(self.policy.max_attempts - 1).unwrap_or(1).max(1);
        self.policy.backoff * 2u32.pow(n.clamp(1, last) - 1)
    }

    /// Declares the exchange and, for each work consumer, its queue (bound to its event types),
    /// delay queues and dead-letter queue. Declaring again is harmless.
    ///
    /// # Errors
    /// When the broker refuses or is unreachable.
    pub async fn declare(&self, ch: &Channel) -> Result<(), lapin::Error> {
        let durable = ExchangeDeclareOptions { durable: true, ..ExchangeDeclareOptions::default() };
        ch.exchange_declare(self.exchange.as_str().into(), ExchangeKind::Topic, durable, FieldTable::default()).await?;
        let durable = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
        for (name, events) in &self.work {
            let work = self.work_queue(name);
            let quorum =
                args(&[("x-queue-type", text("quorum")), ("x-single-active-consumer", AMQPValue::Boolean(true))]);
            ch.queue_declare(work.as_str().into(), durable, quorum).await?;
            for kind in *events {
                let bind = QueueBindOptions::default();
                let none = FieldTable::default();
                ch.queue_bind(work.as_str().into(), self.exchange.as_str().into(), (*kind).into(), bind, none).await?;
            }
            let last = u32::try_from(self.policy.max_attempts - 1).unwrap_or(1).max(1);
            for n in 1..=last {
                let delay = self.delay(n);
                let back = args(&[
                    ("x-message-ttl", AMQPValue::LongLongInt(delay.as_millis() as i64)),
                    ("x-dead-letter-exchange", text("")),
                    ("x-dead-letter-routing-key", text(&work)),
                ]);
                ch.queue_declare(self.retry_queue(name, delay).as_str().into(), durable, back).await?;
            }
            let dead = args(&[("x-queue-type", text("quorum"))]);
            ch.queue_declare(self.dead_queue(name).as_str().into(), durable, dead).await?;
        }
        Ok(())
    }

    /// Deletes every queue [`Topology::declare`] made, and the exchange (a test's cleanup).
    ///
    /// # Errors
    /// When the broker refuses or is unreachable.
    pub async fn delete(&self, ch: &Channel) -> Result<(), lapin::Error> {
        let last = u32::try_from(self.policy.max_attempts - 1).unwrap_or(1).max(1);
        for (name, _) in &self.work {
            let mut queues = vec![self.work_queue(name), self.dead_queue(name)];
            queues.extend((1..=last).map(|n| self.retry_queue(name, self.delay(n))));
            for q in queues {
                ch.queue_delete(q.as_str().into(), QueueDeleteOptions::default()).await?;
            }
        }
        ch.exchange_delete(self.exchange.as_str().into(), Default::default()).await
    }
}

impl Topology {
    /// [`Topology::delete`] over a connection of its own to the broker at `url`.
    ///
    /// # Errors
    /// When the broker refuses or is unreachable.
    pub async fn delete_at(&self, url: &str) -> Result<(), String> {
        let conn = Connection::connect(url, ConnectionProperties::default()).await.map_err(|e| e.to_string())?;
        let ch = conn.create_channel().await.map_err(|e| e.to_string())?;
        self.delete(&ch).await.map_err(|e| e.to_string())
    }
}

/// Sends `body` to `queue` through the default exchange and waits for the broker's confirm.
async fn send(ch: &Channel, queue: &str, body: &[u8], props: BasicProperties) -> Result<(), String> {
    let confirm = ch
        .basic_publish("".into(), queue.into(), BasicPublishOptions::default(), body, props)
        .await
        .map_err(|e| e.to_string())?;
    match confirm.await.map_err(|e| e.to_string())? {
        Confirmation::Ack(_) => Ok(()),
        other => Err(format!("the broker did not take the message ({other:?})")),
    }
}

fn attempts(d: &Delivery) -> u32 {
    let headers = d.properties.headers().as_ref();
    match headers.and_then(|h| h.inner().get(ATTEMPTS)) {
        Some(AMQPValue::LongInt(n)) => u32::try_from(*n).unwrap_or(0),
        Some(AMQPValue::LongLongInt(n)) => u32::try_from(*n).unwrap_or(0),
        _ => 0,
    }
}

/// The message's properties with its attempt count set to `n`.
fn with_attempts(d: &Delivery, n: u32) -> BasicProperties {
    let mut headers = d.properties.headers().clone().unwrap_or_default();
    headers.insert(ATTEMPTS.into(), AMQPValue::LongInt(i32::try_from(n).unwrap_or(i32::MAX)));
    d.properties.clone().with_headers(headers)
}

/// Runs `handler` as a work consumer on its queue until `stop`, reconnecting with growing
/// pauses while the broker is away (the events wait in the durable queue meanwhile).
pub fn spawn_work<S: DeliveryLog>(
    url: String,
    topology: Arc<Topology>,
    store: S,
    handler: Arc<dyn Handler>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut pause = Duration::from_millis(100);
        loop {
            let mut worked = false;
            let outcome = work(&url, &topology, &store, &handler, &mut stop, &mut worked).await;
            if *stop.borrow() {
                break;
            }
            if worked {
                pause = Duration::from_millis(100);
            }
            if let Err(e) = outcome {
                tracing::warn!(consumer = handler.name(), error = %e, retry_in_ms = pause.as_millis() as u64,
                    "work consumer lost the broker; its events wait in the queue");
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => break,
            }
            pause = (pause * 2).min(MAX_PAUSE);
        }
        tracing::info!(consumer = handler.name(), "work consumer stopped");
    })
}

/// One connection's worth of consuming; returns when the connection fails or `stop` turns.
async fn work<S: DeliveryLog>(
    url: &str,
    topology: &Topology,
    store: &S,
    handler: &Arc<dyn Handler>,
    stop: &mut watch::Receiver<bool>,
    worked: &mut bool,
) -> Result<(), String> {
    let name = handler.name();
    let conn = Connection::connect(url, ConnectionProperties::default()).await.map_err(|e| e.to_string())?;
    let publish = conn.create_channel().await.map_err(|e| e.to_string())?;
    publish.confirm_select(ConfirmSelectOptions::default()).await.map_err(|e| e.to_string())?;
    topology.declare(&publish).await.map_err(|e| e.to_string())?;
    let ch = conn.create_channel().await.map_err(|e| e.to_string())?;
    ch.basic_qos(PREFETCH, BasicQosOptions::default()).await.map_err(|e| e.to_string())?;
    let queue = topology.work_queue(name);
    let tag = format!("{name}-{}", std::process::id());
    let mut deliveries = ch
        .basic_consume(
            queue.as_str().into(),
            tag.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(consumer = name, %queue, "work consumer attached (it takes messages while it is the active one)");
    loop {
        // What has arrived meanwhile (up to the prefetch) is handled with it: the events of one
        // aggregate one after the other in their order, different aggregates side by side.
        let Some(batch) = arrived(&mut deliveries, usize::from(PREFETCH), stop).await? else { return Ok(()) };
        *worked = true;
        settle_batch(topology, store, handler, &publish, batch).await?;
    }
}

/// The next delivery (waited for) and what has arrived with it, up to `most`; `None` on `stop`,
/// `Err` when the broker goes.
async fn arrived(
    deliveries: &mut lapin::Consumer,
    most: usize,
    stop: &mut watch::Receiver<bool>,
) -> Result<Option<Vec<Delivery>>, String> {
    let mut next = tokio::select! {
        next = deliveries.next() => next,
        _ = stop.changed() => return Ok(None),
    };
    let mut batch = vec![];
    loop {
        match next {
            Some(Ok(d)) => batch.push(d),
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("the broker ended the consumer".into()),
        }
        if batch.len() >= most {
            return Ok(Some(batch));
        }
        match deliveries.next().now_or_never() {
            Some(n) => next = n,
            None => return Ok(Some(batch)),
        }
    }
}

/// What became of one delivery of a batch.
enum Outcome {
    /// Handled: acknowledged once the batch's successes are recorded.
    Handled,
    /// Nothing more to do here (settled before, or sent on to a delay or dead-letter queue).
    Done,
}

/// Settles a batch of deliveries: every event claimed in one statement; those that are this
/// consumer's handled (one aggregate's one after the other, different aggregates side by
/// side); the successes recorded in one statement; then every message acknowledged. When the
/// store or the broker fails, the unsettled messages go back to the queue and come again.
async fn settle_batch<S: DeliveryLog>(
    topology: &Topology,
    store: &S,
    handler: &Arc<dyn Handler>,
    publish: &Channel,
    batch: Vec<Delivery>,
) -> Result<(), String> {
    let name = handler.name();
    let (mut kept, mut events) = (vec![], vec![]);
    for d in batch {
        match serde_json::from_slice::<DomainEvent>(&d.data) {
            Ok(e) => {
                kept.push(d);
                events.push(e);
            }
            Err(err) => {
                tracing::error!(consumer = name, error = %err, "a message that is not an event; parked");
                send(publish, &topology.dead_queue(name), &d.data, d.properties.clone()).await?;
                d.acker.ack(BasicAckOptions::default()).await.map_err(|e| e.to_string())?;
            }
        }
    }
    let claims = match store.claim_deliveries(name, &events, now(), LEASE_MS).await {
        Ok(c) => c,
        Err(e) => return requeue(name, &e.to_string(), kept.iter()).await,
    };
    // One lane per aggregate: (aggregate, its deliveries in order).
    type Lane<'a> = (uuid::Uuid, Vec<(&'a Delivery, &'a DomainEvent, Claim)>);
    let mut lanes: Vec<Lane> = vec![];
    for ((d, e), claim) in kept.iter().zip(&events).zip(claims) {
        match lanes.iter_mut().find(|(a, _)| *a == e.aggregate_id) {
            Some((_, lane)) => lane.push((d, e, claim)),
            None => lanes.push((e.aggregate_id, vec![(d, e, claim)])),
        }
    }
    let runs = lanes.into_iter().map(|(_, lane)| async move {
        let mut out = vec![];
        for (d, e, claim) in lane {
            let outcome = take(topology, store, handler, publish, d, e, claim).await;
            out.push((d, e, outcome));
        }
        out
    });
    let outcomes: Vec<(&Delivery, &DomainEvent, Result<Outcome, String>)> =
        futures::future::join_all(runs).await.into_iter().flatten().collect();
    let handled: Vec<uuid::Uuid> =
        outcomes.iter().filter(|(_, _, o)| matches!(o, Ok(Outcome::Handled))).map(|(_, e, _)| e.id).collect();
    let recorded = handled.is_empty() || store.record_successes(name, &handled).await.is_ok();
    let mut again = vec![];
    for (d, _, outcome) in outcomes {
        match outcome {
            Ok(Outcome::Handled) if !recorded => again.push(d),
            Ok(_) => {
                d.acker.ack(BasicAckOptions::default()).await.map_err(|e| e.to_string())?;
            }
            Err(_) => again.push(d),
        }
    }
    if again.is_empty() { Ok(()) } else { requeue(name, "the store or the broker failed", again.into_iter()).await }
}

/// Puts messages back in the queue after a pause (the store or the broker failed).
async fn requeue<'a>(name: &str, why: &str, messages: impl Iterator<Item = &'a Delivery>) -> Result<(), String> {
    tracing::warn!(consumer = name, error = why, "cannot settle events now; they stay queued");
    tokio::time::sleep(Duration::from_millis(500)).await;
    for d in messages {
        let again = BasicNackOptions { requeue: true, ..BasicNackOptions::default() };
        d.acker.nack(again).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Acts on one claimed delivery.
async fn take<S: DeliveryLog>(
    topology: &Topology,
    store: &S,
    handler: &Arc<dyn Handler>,
    publish: &Channel,
    d: &Delivery,
    event: &DomainEvent,
    claim: Claim,
) -> Result<Outcome, String> {
    let name = handler.name();
    match claim {
        Claim::Settled => {
            tracing::debug!(consumer = name, event = %event.id, "already settled; acknowledged");
            Ok(Outcome::Done)
        }
        // Another attempt holds it (its server may have died: the lease runs out), or it came
        // back a little early: it waits in the shortest delay queue.
        Claim::Busy => {
            let queue = topology.retry_queue(name, topology.delay(1));
            send(publish, &queue, &d.data, d.properties.clone()).await.map(|()| Outcome::Done)
        }
        Claim::Mine => match crate::traced(name, event, handler.handle(event.clone())).await {
            Ok(()) => Ok(Outcome::Handled),
            Err(err) => {
                let n = attempts(d) + 1;
                let sent = match failed(store, name, event, &err, topology.policy).await {
                    Some(DeliveryState::Retrying) => {
                        let queue = topology.retry_queue(name, topology.delay(n));
                        send(publish, &queue, &d.data, with_attempts(d, n)).await
                    }
                    Some(DeliveryState::Dead) => {
                        send(publish, &topology.dead_queue(name), &d.data, with_attempts(d, n)).await
                    }
                    None => Err("the failure could not be recorded".into()),
                };
                sent.map(|()| Outcome::Done)
            }
        },
    }
}

/// Sends a replayed dead letter back to its consumer's work queue (the store has put it back in
/// line already; should this fail, the retry task's safety net handles it).
///
/// # Errors
/// When the broker refuses or is unreachable.
pub async fn redeliver(url: &str, topology: &Topology, consumer: &str, event: &DomainEvent) -> Result<(), String> {
    let send_it = async {
        let conn = Connection::connect(url, ConnectionProperties::default()).await.map_err(|e| e.to_string())?;
        let ch = conn.create_channel().await.map_err(|e| e.to_string())?;
        ch.confirm_select(ConfirmSelectOptions::default()).await.map_err(|e| e.to_string())?;
        topology.declare(&ch).await.map_err(|e| e.to_string())?;
        let body = serde_json::to_vec(event).map_err(|e| e.to_string())?;
        let sent = send(&ch, &topology.work_queue(consumer), &body, crate::amqp::properties(event)).await;
        let _ = conn.close(200, "done".into()).await;
        sent
    };
    tokio::time::timeout(Duration::from_secs(5), send_it).await.map_err(|_| "the broker did not answer".to_string())?
}

/// Feeds this replica's read models (`subscribers`) from its own queue on the broker, after
/// sequence `after`, until `stop`; see the module's notes. Events arrive in commit order; one
/// already applied (by sequence) is skipped, so catching up from the outbox and the queue may
/// overlap.
#[allow(clippy::too_many_arguments)]
pub fn spawn_read_models<O: Outbox>(
    url: String,
    exchange: String,
    replica: String,
    outbox: O,
    after: i64,
    wanted: &'static [&'static str],
    subscribers: Vec<Subscriber>,
    mut stop: watch::Receiver<bool>,
) -> (RelayHandle, JoinHandle<()>) {
    let handle = RelayHandle::default();
    handle.delivered.store(after, Ordering::Release);
    let h = handle.clone();
    let queue = format!("{exchange}.replica.{replica}");
    let task = tokio::spawn(async move {
        let mut position = after;
        let mut pause = Duration::from_millis(100);
        loop {
            let read_models = ReadModels { subscribers: &subscribers, wanted, handle: &h };
            match follow(&url, &exchange, &queue, &outbox, &read_models, &mut position, &mut stop).await {
                Ok(()) => break,
                Err(e) => tracing::warn!(error = %e, %queue, position,
                    "read models lost the broker; reading the outbox until it is back"),
            }
            // The broker is away: the outbox, read directly, keeps the read models current.
            let until = tokio::time::Instant::now() + pause;
            while tokio::time::Instant::now() < until {
                position = drain(&outbox, position, &subscribers, &h).await;
                tokio::select! {
                    _ = h.notify.notified() => {}
                    _ = tokio::time::sleep(FALLBACK_POLL) => {}
                    _ = stop.changed() => {}
                }
                if *stop.borrow() {
                    break;
                }
            }
            if *stop.borrow() {
                break;
            }
            pause = (pause * 2).min(MAX_PAUSE);
        }
        tracing::info!(position, "read-model consumer stopped");
    });
    (handle, task)
}

/// A replica's read models: what they are handed, which event types they want (the replica's
/// queue is bound to those only; empty: all), and how far they got. When catching up from the
/// outbox they are handed every event after their position.
struct ReadModels<'a> {
    subscribers: &'a [Subscriber],
    wanted: &'static [&'static str],
    handle: &'a RelayHandle,
}

/// Attaches this replica's queue, catches up from the outbox, then applies what arrives;
/// returns `Ok` on `stop`, `Err` when the broker goes.
async fn follow<O: Outbox>(
    url: &str,
    exchange: &str,
    queue: &str,
    outbox: &O,
    models: &ReadModels<'_>,
    position: &mut i64,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), String> {
    let (subscribers, handle) = (models.subscribers, models.handle);
    let conn = Connection::connect(url, ConnectionProperties::default()).await.map_err(|e| e.to_string())?;
    let ch = conn.create_channel().await.map_err(|e| e.to_string())?;
    let durable = ExchangeDeclareOptions { durable: true, ..ExchangeDeclareOptions::default() };
    ch.exchange_declare(exchange.into(), ExchangeKind::Topic, durable, FieldTable::default())
        .await
        .map_err(|e| e.to_string())?;
    let own = QueueDeclareOptions { exclusive: true, auto_delete: true, ..QueueDeclareOptions::default() };
    ch.queue_declare(queue.into(), own, FieldTable::default()).await.map_err(|e| e.to_string())?;
    // Bound to the event types the read models want (everything when they want all).
    let keys: Vec<&str> = if models.wanted.is_empty() { vec!["#"] } else { models.wanted.to_vec() };
    for key in keys {
        let bind = QueueBindOptions::default();
        ch.queue_bind(queue.into(), exchange.into(), key.into(), bind, FieldTable::default())
            .await
            .map_err(|e| e.to_string())?;
    }
    let no_ack = BasicConsumeOptions { no_ack: true, ..BasicConsumeOptions::default() };
    let mut deliveries =
        ch.basic_consume(queue.into(), "".into(), no_ack, FieldTable::default()).await.map_err(|e| e.to_string())?;
    // Bound first, read second: whatever committed before the binding is in the outbox, and
    // whatever after it is in the queue too (skipped below when already applied).
    *position = drain(outbox, *position, subscribers, handle).await;
    tracing::info!(%queue, position = *position, "read models follow the broker");
    loop {
        // What has arrived meanwhile goes in the same batch (one cache clear, one index pass).
        let Some(arrived) = arrived(&mut deliveries, 500, stop).await? else { return Ok(()) };
        let mut batch: Vec<DomainEvent> = vec![];
        for d in arrived {
            match serde_json::from_slice::<DomainEvent>(&d.data) {
                Ok(e) if e.sequence > batch.last().map_or(*position, |l| l.sequence) => batch.push(e),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "a message that is not an event; skipped"),
            }
        }
        if !batch.is_empty() {
            *position = apply(subscribers, &batch, handle);
        }
    }
}
