use crate::SqliteStore;
use rouge_kernel::{DomainEvent, Outbox};
use sqlx::{Row, SqliteConnection};

/// Appends events inside the caller's transaction (one statement for all of them).
pub(crate) async fn append(tx: &mut SqliteConnection, events: &[DomainEvent]) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    // In chunks: a statement takes at most 32,766 parameters.
    for chunk in events.chunks(1000) {
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, occurred_at) ",
        );
        q.push_values(chunk, |mut b, e| {
            b.push_bind(e.id.to_string())
                .push_bind(&e.aggregate_type)
                .push_bind(e.aggregate_id.to_string())
                .push_bind(&e.event_type)
                .push_bind(e.payload.to_string())
                .push_bind(e.occurred_at.to_rfc3339());
        });
        q.build().execute(&mut *tx).await?;
    }
    Ok(())
}

fn event(r: &sqlx::sqlite::SqliteRow) -> rouge_kernel::StoreResult<DomainEvent> {
    let parse = |s: String| s.parse().map_err(|e: uuid::Error| corrupt(&e));
    Ok(DomainEvent {
        sequence: r.get("seq"),
        id: parse(r.get("id"))?,
        aggregate_type: r.get("aggregate_type"),
        aggregate_id: parse(r.get("aggregate_id"))?,
        event_type: r.get("event_type"),
        payload: serde_json::from_str(r.get::<&str, _>("payload")).map_err(|e| corrupt(&e))?,
        occurred_at: chrono::DateTime::parse_from_rfc3339(r.get::<&str, _>("occurred_at"))
            .map_err(|e| corrupt(&e))?
            .to_utc(),
    })
}

impl Outbox for SqliteStore {
    fn commit_hook(&self) -> &rouge_kernel::CommitHook {
        &self.hook
    }

    async fn events_after(&self, after: i64, limit: i64) -> rouge_kernel::StoreResult<Vec<DomainEvent>> {
        let rows = sqlx::query(
            "SELECT seq, id, aggregate_type, aggregate_id, event_type, payload, occurred_at FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(crate::unavailable)?;
        rows.iter().map(event).collect()
    }

    async fn recent_events(
        &self,
        event_type: &str,
        since: chrono::DateTime<chrono::Utc>,
        after: i64,
        limit: i64,
    ) -> rouge_kernel::StoreResult<Vec<DomainEvent>> {
        // RFC 3339 in UTC sorts as text in time order.
        let rows = sqlx::query(
            "SELECT seq, id, aggregate_type, aggregate_id, event_type, payload, occurred_at FROM outbox \
             WHERE event_type = $1 AND occurred_at > $2 AND seq > $3 ORDER BY seq LIMIT $4",
        )
        .bind(event_type)
        .bind(since.to_rfc3339())
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(crate::unavailable)?;
        rows.iter().map(event).collect()
    }

    async fn head(&self) -> rouge_kernel::StoreResult<i64> {
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM outbox")
            .fetch_one(&self.pool)
            .await
            .map_err(crate::unavailable)
    }
}

/// A stored event that does not read back.
fn corrupt(e: &dyn std::fmt::Display) -> rouge_kernel::StoreError {
    rouge_kernel::StoreError::Unavailable(format!("a corrupt outbox event: {e}"))
}
