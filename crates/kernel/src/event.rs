use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The envelope every domain event travels in, from the outbox to each consumer. `id` makes
/// delivery idempotent; `sequence` (assigned by the outbox) gives the order of delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainEvent {
    pub id: Uuid,
    pub sequence: i64,
    pub aggregate_type: String,
    pub aggregate_id: Uuid,
    pub event_type: String,
    pub payload: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
    /// The W3C `traceparent` of what caused it (the request or event being handled), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

impl DomainEvent {
    /// A new event, not yet in the outbox (sequence 0 until the store assigns one).
    pub fn new(aggregate_type: &str, aggregate_id: Uuid, event_type: &str, payload: serde_json::Value) -> Self {
        Self {
            id: crate::new_id(),
            sequence: 0,
            aggregate_type: aggregate_type.to_owned(),
            aggregate_id,
            event_type: event_type.to_owned(),
            payload,
            occurred_at: Utc::now(),
            trace: crate::trace::current().map(|t| t.header()),
        }
    }
}
