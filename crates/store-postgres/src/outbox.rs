use crate::PgStore;
use rouge_kernel::{DomainEvent, Outbox};
use sqlx::types::Json;
use sqlx::{PgConnection, Row};

/// Key of the advisory lock that serialises outbox writers (see the migration).
const OUTBOX_LOCK: i64 = 0x726f_7567_655f_6f62;

/// Appends events inside the caller's transaction, in commit order: one statement takes the
/// writers' lock and inserts them all (each statement is a round trip, and the lock is held
/// from here to the commit, so it is taken as late as possible).
pub(crate) async fn append(tx: &mut PgConnection, events: &[DomainEvent]) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    // In chunks: a statement takes at most 65,535 parameters.
    for chunk in events.chunks(1000) {
        let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new("WITH writers AS (SELECT pg_advisory_xact_lock(");
        q.push_bind(OUTBOX_LOCK);
        q.push(
            ")) INSERT INTO catalog.outbox (id, aggregate_type, aggregate_id, event_type, payload, occurred_at) \
         SELECT e.* FROM writers, (",
        );
        q.push_values(chunk, |mut b, e| {
            b.push_bind(e.id)
                .push_bind(&e.aggregate_type)
                .push_bind(e.aggregate_id)
                .push_bind(&e.event_type)
                .push_bind(Json(&e.payload))
                .push_bind(e.occurred_at);
        });
        q.push(") AS e (id, aggregate_type, aggregate_id, event_type, payload, occurred_at)");
        q.build().execute(&mut *tx).await?;
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
    fn commit_hook(&self) -> &rouge_kernel::CommitHook {
        &self.hook
    }

    async fn events_after(&self, after: i64, limit: i64) -> rouge_kernel::StoreResult<Vec<DomainEvent>> {
        let rows = sqlx::query(
            "SELECT seq, id, aggregate_type, aggregate_id, event_type, payload, occurred_at FROM catalog.outbox WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(crate::unavailable)?;
        Ok(rows.iter().map(event).collect())
    }

    async fn recent_events(
        &self,
        event_type: &str,
        since: chrono::DateTime<chrono::Utc>,
        after: i64,
        limit: i64,
    ) -> rouge_kernel::StoreResult<Vec<DomainEvent>> {
        let rows = sqlx::query(
            "SELECT seq, id, aggregate_type, aggregate_id, event_type, payload, occurred_at FROM catalog.outbox \
             WHERE event_type = $1 AND occurred_at > $2 AND seq > $3 ORDER BY seq LIMIT $4",
        )
        .bind(event_type)
        .bind(since)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(crate::unavailable)?;
        Ok(rows.iter().map(event).collect())
    }

    async fn head(&self) -> rouge_kernel::StoreResult<i64> {
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM catalog.outbox")
            .fetch_one(&self.pool)
            .await
            .map_err(crate::unavailable)
    }
}
