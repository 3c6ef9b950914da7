//! A test's own listening post on RabbitMQ: a fresh durable topic exchange (for the server or
//! publisher under test to publish to) and an exclusive queue bound to it, read one message at
//! a time.

use lapin::message::BasicGetMessage;
use lapin::options::{BasicGetOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};
use std::time::Duration;

/// A connection and a channel on it (for a test's setup and cleanup).
pub async fn channel(url: &str) -> (Connection, Channel) {
    let conn = Connection::connect(url, ConnectionProperties::default()).await.expect("the broker answers");
    let channel = conn.create_channel().await.unwrap();
    (conn, channel)
}

/// How many messages wait in `queue`, or `None` when there is no such queue.
pub async fn waiting(channel: &Channel, queue: &str) -> Option<u32> {
    let passive = QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() };
    channel.queue_declare(queue.into(), passive, FieldTable::default()).await.ok().map(|q| q.message_count())
}

/// A text header of a message, if it has one.
pub fn header(m: &BasicGetMessage, name: &str) -> Option<String> {
    match m.delivery.properties.headers().as_ref()?.inner().get(name)? {
        lapin::types::AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        _ => None,
    }
}

pub struct Listener {
    /// Kept: the channel lives on its connection.
    _conn: Connection,
    pub channel: Channel,
    pub exchange: String,
    queue: String,
}

impl Listener {
    /// A queue bound with `key` (`#` for everything) to a new exchange of the test's own.
    pub async fn new(url: &str, key: &str) -> Self {
        let (conn, channel) = channel(url).await;
        let exchange = format!("rouge.events.test.{}", uuid::Uuid::now_v7().simple());
        let durable = ExchangeDeclareOptions { durable: true, ..ExchangeDeclareOptions::default() };
        let none = FieldTable::default;
        channel.exchange_declare(exchange.as_str().into(), ExchangeKind::Topic, durable, none()).await.unwrap();
        let q = QueueDeclareOptions { exclusive: true, auto_delete: true, ..QueueDeclareOptions::default() };
        let queue = channel.queue_declare("".into(), q, none()).await.unwrap().name().to_string();
        let bind = QueueBindOptions::default();
        channel.queue_bind(queue.as_str().into(), exchange.as_str().into(), key.into(), bind, none()).await.unwrap();
        Self { _conn: conn, channel, exchange, queue }
    }

    /// The next message, if one is waiting.
    pub async fn next(&self) -> Option<BasicGetMessage> {
        self.channel.basic_get(self.queue.as_str().into(), BasicGetOptions { no_ack: true }).await.unwrap()
    }

    /// The next `n` messages, or fewer when a generous deadline passes first.
    pub async fn take(&self, n: usize) -> Vec<BasicGetMessage> {
        let mut out = vec![];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while out.len() < n && tokio::time::Instant::now() < deadline {
            match self.next().await {
                Some(m) => out.push(m),
                None => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        out
    }

    /// Deletes the exchange (the queue goes with the connection).
    pub async fn close(self) {
        self.channel.exchange_delete(self.exchange.as_str().into(), Default::default()).await.unwrap();
    }
}
