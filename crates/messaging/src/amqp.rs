//! The outbox published to RabbitMQ (when `AMQP_URL` is set): every domain event goes to one
//! durable topic exchange, in commit order, with publisher confirms. An event counts as
//! published only once the broker confirmed it; the position is then kept in the store
//! ([`Relays`], written at most four times a second and on stop), so a restart, or another
//! replica taking over the lease, carries on from there.
//! One replica publishes at a time (the lease); the others stand by. While the broker is
//! away, writes keep committing to the outbox and the publisher retries with growing pauses,
//! then publishes the backlog in order.
//!
//! A message: routing key = event type, message id = event id, type = event type, body = the
//! event's JSON envelope (id, sequence, aggregate, type, payload, time), headers
//! `aggregate_type`, `aggregate_id`, `sequence`, `schema_version` and, when the event has one,
//! `traceparent` (the W3C trace context of the request that caused it); persistent.

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind};
use rouge_kernel::{DomainEvent, Outbox, Relays};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// The exchange every event is published to.
pub const EXCHANGE: &str = "rouge.events";
/// The version of the message layout above; consumers may refuse one they do not know.
pub const SCHEMA_VERSION: i32 = 1;
/// The publisher's name in the store's relay table.
pub const RELAY: &str = "amqp";

const BATCH: i64 = 500;
const POLL: Duration = Duration::from_millis(50);
/// Renewed when half is left, which outlasts a publish's time-out, so a holder that is
/// still publishing does not lose the lease to another replica.
const LEASE_MS: i64 = 15_000;
/// How often a replica standing by asks whether the lease has lapsed.
const STANDBY: Duration = Duration::from_millis(2_500);
const MAX_PAUSE: Duration = Duration::from_secs(10);
/// How often the published position is written to the store (and on stop): a write per batch
/// would be one per checkout in a busy shop. A publisher that dies may send up to this much
/// again after another takes over; consumers deduplicate by event id, read models by sequence.
const RECORD_EVERY: Duration = Duration::from_millis(250);
/// How long connecting, or one batch's publishing and confirms, may take: a broker that
/// vanished without closing the connection is noticed by this, not only by heartbeats.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Where the outbox publisher sends events: RabbitMQ here; a Kafka adapter would implement
/// the same (topic per aggregate type, key = aggregate id, so one aggregate's events keep
/// their order in one partition).
pub trait Publisher: Send + 'static {
    /// Sends `events` in order; `Ok` only once the broker has taken every one.
    fn publish(&mut self, events: &[DomainEvent]) -> impl Future<Output = Result<(), String>> + Send;
}

/// Publishes events to one exchange over one connection, made again after a failure.
pub struct AmqpPublisher {
    url: String,
    exchange: String,
    /// The work consumers' queues, declared before anything is published.
    topology: Option<crate::broker::Topology>,
    link: Option<(Connection, Channel)>,
}

impl AmqpPublisher {
    /// A publisher to `exchange` on the broker at `url` (`amqp://user:pass@host:port/vhost`);
    /// it connects on first use.
    pub fn new(url: &str, exchange: &str) -> Self {
        Self { url: url.to_owned(), exchange: exchange.to_owned(), topology: None, link: None }
    }

    /// Declares the work consumers' queues (bound to their events) on each connection before
    /// publishing, so that no event misses a queue whose consumer has not started yet.
    #[must_use]
    pub fn with_topology(mut self, topology: crate::broker::Topology) -> Self {
        self.exchange.clone_from(&topology.exchange);
        self.topology = Some(topology);
        self
    }

    async fn channel(&mut self) -> Result<Channel, lapin::Error> {
        if let Some((conn, ch)) = &self.link
            && conn.status().connected()
            && ch.status().connected()
        {
            return Ok(ch.clone());
        }
        let conn = Connection::connect(&self.url, ConnectionProperties::default()).await?;
        let ch = conn.create_channel().await?;
        ch.confirm_select(ConfirmSelectOptions::default()).await?;
        match &self.topology {
            Some(t) => t.declare(&ch).await?,
            None => {
                let durable = ExchangeDeclareOptions { durable: true, ..ExchangeDeclareOptions::default() };
                let none = FieldTable::default();
                ch.exchange_declare(self.exchange.as_str().into(), ExchangeKind::Topic, durable, none).await?;
            }
        }
        tracing::info!(exchange = %self.exchange, "connected to the broker");
        self.link = Some((conn, ch.clone()));
        Ok(ch)
    }

    async fn try_publish(&mut self, events: &[DomainEvent]) -> Result<(), String> {
        let ch = self.channel().await.map_err(|e| e.to_string())?;
        let mut confirms = Vec::with_capacity(events.len());
        for e in events {
            let body = serde_json::to_vec(e).map_err(|e| e.to_string())?;
            let confirm = ch
                .basic_publish(
                    self.exchange.as_str().into(),
                    e.event_type.as_str().into(),
                    BasicPublishOptions::default(),
                    &body,
                    properties(e),
                )
                .await
                .map_err(|e| e.to_string())?;
            confirms.push(confirm);
        }
        for (e, confirm) in events.iter().zip(confirms) {
            match confirm.await.map_err(|e| e.to_string())? {
                Confirmation::Ack(_) => {}
                other => return Err(format!("the broker did not take event {} ({other:?})", e.id)),
            }
        }
        Ok(())
    }
}

impl Publisher for AmqpPublisher {
    /// Publishes `events` in order and waits until the broker confirmed every one. On an
    /// error (unreachable, refused, silent) the connection is made again on the next call and
    /// the whole batch sent again (consumers deduplicate by message id).
    async fn publish(&mut self, events: &[DomainEvent]) -> Result<(), String> {
        let result = match tokio::time::timeout(TIMEOUT, self.try_publish(events)).await {
            Ok(done) => done,
            Err(_) => Err(format!("the broker did not confirm within {} s", TIMEOUT.as_secs())),
        };
        if result.is_err() {
            self.link = None;
        }
        result
    }
}

pub(crate) fn properties(e: &DomainEvent) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert("aggregate_type".into(), AMQPValue::LongString(e.aggregate_type.as_str().into()));
    headers.insert("aggregate_id".into(), AMQPValue::LongString(e.aggregate_id.to_string().as_str().into()));
    headers.insert("sequence".into(), AMQPValue::LongLongInt(e.sequence));
    headers.insert("schema_version".into(), AMQPValue::LongInt(SCHEMA_VERSION));
    if let Some(t) = &e.trace {
        headers.insert("traceparent".into(), AMQPValue::LongString(t.as_str().into()));
    }
    BasicProperties::default()
        .with_message_id(e.id.to_string().as_str().into())
        .with_type(e.event_type.as_str().into())
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
        .with_timestamp(u64::try_from(e.occurred_at.timestamp()).unwrap_or_default())
        .with_headers(headers)
}

/// Runs a publisher of the outbox as `holder` (a name unique to this process) until `shutdown` turns true.
pub fn spawn_publisher<S: Outbox + Relays, P: Publisher>(
    store: S,
    mut publisher: P,
    holder: String,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let wake = Arc::new(Notify::new());
    let w = wake.clone();
    store.commit_hook().add(move || w.notify_one());
    tokio::spawn(async move {
        let mut pause = POLL;
        let mut leased_until = 0;
        let mut position = None;
        let mut standing_by = false;
        // Published but not yet written to the store, and when it last was.
        let mut pending: Option<i64> = None;
        let mut recorded = std::time::Instant::now();
        loop {
            if pending.is_some() && recorded.elapsed() >= RECORD_EVERY {
                record(&store, &holder, &mut position, &mut pending).await;
                recorded = std::time::Instant::now();
            }
            let now = chrono::Utc::now().timestamp_millis();
            // The lease is renewed when half of it is left.
            if position.is_none() || now > leased_until - LEASE_MS / 2 {
                match store.claim_relay(RELAY, &holder, now, now + LEASE_MS).await {
                    Ok(Some(stored)) => {
                        // Renewing: what this publisher sent but has not written yet is ahead.
                        let at = position.map_or(stored, |p| p.max(stored));
                        if standing_by || position.is_none() {
                            tracing::info!(position = at, "publishing the outbox to the broker");
                        }
                        (position, leased_until, standing_by) = (Some(at), now + LEASE_MS, false);
                    }
                    Ok(None) => {
                        if !standing_by {
                            tracing::info!("another replica publishes the outbox; standing by");
                        }
                        (position, standing_by) = (None, true);
                    }
                    Err(e) => tracing::warn!(error = %e, "could not renew the publisher's lease; will retry"),
                }
            }
            let mut full = false;
            if let Some(at) = position {
                match store.events_after(at, BATCH).await {
                    Ok(events) if !events.is_empty() => match publisher.publish(&events).await {
                        Ok(()) => {
                            let last = events.last().map_or(at, |e| e.sequence);
                            (position, pending) = (Some(last), Some(last));
                            full = events.len() as i64 == BATCH;
                            pause = POLL;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, backlog_from = at, retry_in_ms = pause.as_millis() as u64,
                                "the broker did not take the events; the outbox keeps them");
                            pause = (pause * 2).min(MAX_PAUSE);
                        }
                    },
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "outbox read failed; will retry"),
                }
            }
            if full {
                continue;
            }
            let wait = if standing_by { STANDBY } else { pause };
            tokio::select! {
                _ = wake.notified(), if wait == POLL => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                break;
            }
        }
        record(&store, &holder, &mut position, &mut pending).await;
        tracing::info!("outbox publisher stopped");
    })
}

/// Writes the published position, if one is pending; a lost lease (another replica publishes
/// now) stands this one by.
async fn record<S: Relays>(store: &S, holder: &str, position: &mut Option<i64>, pending: &mut Option<i64>) {
    let Some(at) = *pending else { return };
    match store.advance_relay(RELAY, holder, at).await {
        Ok(true) => *pending = None,
        Ok(false) => (*position, *pending) = (None, None),
        // Kept pending: written with the next one.
        Err(e) => tracing::warn!(error = %e, "could not record the published position; will retry"),
    }
}
