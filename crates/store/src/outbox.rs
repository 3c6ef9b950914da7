//! The outbox: events written in the same transaction as the change they describe, read by
//! the relay in commit order. PostgreSQL keeps the table in its `catalog` schema.

use crate::prelude::*;

use rouge_kernel::{DomainEvent, Outbox, StoreResult};
use sqlx::types::Json;

/// Appends events inside the caller's transaction, in commit order (see
/// [`Dialect::OUTBOX_INSERT`]): one statement for up to a thousand of them.
pub(crate) async fn append<D: Dialect>(tx: &mut D::Connection, events: &[DomainEvent]) -> Result<(), sqlx::Error> {
    let (head, tail) = D::OUTBOX_INSERT;
    // In chunks: a statement takes at most 32,766 parameters on SQLite.
    for chunk in events.chunks(1000) {
        let mut q = sqlx::QueryBuilder::<D>::new(head);
        q.push_values(chunk, |mut b, e| {
            b.push_arg(e.id)
                .push_arg(&e.aggregate_type)
                .push_arg(e.aggregate_id)
                .push_arg(&e.event_type)
                .push_arg(Json(&e.payload))
                .push_arg(e.occurred_at)
                .push_arg(e.trace.as_deref());
        });
        q.push(tail);
        q.build().execute(D::on(tx)).await?;
    }
    Ok(())
}

fn event(r: &impl Read) -> DomainEvent {
    DomainEvent {
        sequence: r.get("seq"),
        id: r.get("id"),
        aggregate_type: r.get("aggregate_type"),
        aggregate_id: r.get("aggregate_id"),
        event_type: r.get("event_type"),
        payload: r.get::<Json<serde_json::Value>>("payload").0,
        occurred_at: r.get("occurred_at"),
        trace: r.get("trace"),
    }
}

impl<D: Dialect> Outbox for Store<D> {
    fn commit_hook(&self) -> &rouge_kernel::CommitHook {
        &self.hook
    }

    async fn events_after(&self, after: i64, limit: i64) -> StoreResult<Vec<DomainEvent>> {
        let q = sqlx::query(
            "SELECT seq, id, aggregate_type, aggregate_id, event_type, payload, occurred_at, trace FROM outbox \
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .arg(after)
        .arg(limit);
        let rows = self.all(q).await?;
        Ok(rows.iter().map(event).collect())
    }

    async fn recent_events(
        &self,
        event_type: &str,
        since: chrono::DateTime<chrono::Utc>,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<DomainEvent>> {
        // SQLite keeps the time as RFC 3339 text in UTC, which sorts in time order.
        let q = sqlx::query(
            "SELECT seq, id, aggregate_type, aggregate_id, event_type, payload, occurred_at, trace FROM outbox \
             WHERE event_type = $1 AND occurred_at > $2 AND seq > $3 ORDER BY seq LIMIT $4",
        )
        .arg(event_type)
        .arg(since)
        .arg(after)
        .arg(limit);
        let rows = self.all(q).await?;
        Ok(rows.iter().map(event).collect())
    }

    async fn last_of(&self, types: &[&str], at_most: i64) -> StoreResult<i64> {
        if types.is_empty() {
            return Ok(0);
        }
        let mut q = sqlx::QueryBuilder::<D>::new(
            "SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) AS last FROM outbox WHERE seq <= ",
        );
        q.push_arg(at_most);
        q.push(" AND event_type").push_in(types.iter().copied());
        let row = q.build().fetch_one(self.db()).await.map_err(crate::unavailable)?;
        Ok(row.get("last"))
    }

    async fn head(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) AS head FROM outbox").fetch_one(self.db());
        Ok(row.await.map_err(crate::unavailable)?.get("head"))
    }
}

impl<D: Dialect> rouge_kernel::Relays for Store<D> {
    async fn claim_relay(&self, name: &str, holder: &str, now: i64, until: i64) -> StoreResult<Option<i64>> {
        // A new name starts at the outbox's head; a lease passes on only once it ran out.
        let q = sqlx::query(
            "INSERT INTO relays (name, position, holder, lease_until) \
             VALUES ($1, (SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) FROM outbox), $2, $4) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until \
             WHERE relays.holder = excluded.holder OR relays.lease_until < $3 \
             RETURNING position",
        );
        let row = self.optional(q.arg(name).arg(holder).arg(now).arg(until)).await?;
        Ok(row.map(|r| r.get("position")))
    }

    async fn relay_position(&self, name: &str) -> StoreResult<Option<i64>> {
        let row = self.optional(sqlx::query("SELECT position FROM relays WHERE name = $1").arg(name)).await?;
        Ok(row.map(|r| r.get("position")))
    }

    async fn advance_relay(&self, name: &str, holder: &str, position: i64) -> StoreResult<bool> {
        let q = sqlx::query("UPDATE relays SET position = $3 WHERE name = $1 AND holder = $2 AND position <= $3");
        Ok(self.run(q.arg(name).arg(holder).arg(position)).await?.rows_affected() == 1)
    }
}
