use crate::PgStore;
use rouge_kernel::{DomainEvent, Outbox};
use sqlx::types::Json;
use sqlx::{PgConnection, Row};

/// Key of the advisory lock that serialises outbox writers (see the migration).
const OUTBOX_LOCK: i64 = 0x726f_7567_655f_6f62;

/// Appends events inside the caller's transaction, in commit order.
pub(crate) async fn append(tx: &mut PgConnection, events: &[DomainEvent]) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(OUTBOX_LOCK).execute(&mut *tx).await?;
    for e in events {
        sqlx::query(
            "INSERT INTO catalog.outbox (id, aggregate_type, aggregate_id, event_type, payload, occurred_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(e.id)
        .bind(&e.aggregate_type)
        .bind(e.aggregate_id)
        .bind(&e.event_type)
        .bind(Json(&e.payload))
        .bind(e.occurred_at)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

fn event(r: &sqlx::postgres::PgRow) -> DomainEvent {
    DomainEvent {
        sequence: r.get("seq"),
        id: r.get("id"),
        aggregate_type: r.get("aggregate_type"),
        aggregate_id: r.get("aggregate_id"),
        event_type: r.get("event_type"),
        payload: r.get::<Json<serde_json::Value>, _>("payload").0,
        occurred_at: r.get("occurred_at"),
    }
}

impl Outbox for PgStore {
    async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<DomainEvent>, String> {
        let rows = sqlx::query(
            "SELECT seq, id, aggregate_type, aggregate_id, event_type, payload, occurred_at FROM catalog.outbox WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| e.to_string())?;
        Ok(rows.iter().map(event).collect())
    }

    async fn recent_events(
        &self,
        event_type: &str,
        since: chrono::DateTime<chrono::Utc>,
        limit: i64,
    ) -> Result<Vec<DomainEvent>, String> {
        let rows = sqlx::query(
            "SELECT seq, id, aggregate_type, aggregate_id, event_type, payload, occurred_at FROM catalog.outbox \
             WHERE event_type = $1 AND occurred_at > $2 ORDER BY seq LIMIT $3",
        )
        .bind(event_type)
        .bind(since)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| e.to_string())?;
        Ok(rows.iter().map(event).collect())
    }

    async fn head(&self) -> Result<i64, String> {
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM catalog.outbox")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| e.to_string())
    }
}
