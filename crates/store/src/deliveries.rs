//! Failed deliveries and dead letters. PostgreSQL keeps the table in its `messaging` schema.

use crate::audit;
use crate::prelude::*;
use crate::unavailable;

use rouge_kernel::{Claim, DeliveryLog, DeliveryState, DomainEvent, FailedDelivery};
use sqlx::types::Json;
use uuid::Uuid;

fn row(r: &impl Read) -> FailedDelivery {
    let Json(event): Json<DomainEvent> = r.get("event");
    FailedDelivery {
        consumer: r.get("consumer"),
        event,
        attempts: r.get("attempts"),
        next_at: r.get("next_at"),
        last_error: r.get("last_error"),
        state: if r.get::<String>("state") == "dead" { DeliveryState::Dead } else { DeliveryState::Retrying },
        updated_at: r.get("updated_at"),
    }
}

/// `INSERT INTO deliveries … VALUES …`: `events` claimed by `consumer` as started now, due again
/// (presumed lost) after `lease_ms`; the caller adds what happens on a conflict.
fn started<D: Dialect>(consumer: &str, events: &[DomainEvent], now: i64, lease_ms: i64) -> sqlx::QueryBuilder<D> {
    let mut q = sqlx::QueryBuilder::<D>::new(
        "INSERT INTO deliveries (consumer, event_id, event_type, event, attempts, next_at, last_error, state, updated_at) ",
    );
    q.push_values(events, |mut b, e| {
        b.push_arg(consumer)
            .push_arg(e.id)
            .push_arg(&e.event_type)
            .push_arg(Json(e))
            .push("0")
            .push_arg(now + lease_ms)
            .push("'started; no outcome recorded yet'")
            .push("'retrying'")
            .push_arg(now);
    });
    q
}

const COLUMNS: &str = "SELECT consumer, event, attempts, next_at, last_error, state, updated_at FROM deliveries";

impl<D: Dialect> DeliveryLog for Store<D> {
    async fn record_failure(
        &self,
        consumer: &str,
        event: &DomainEvent,
        error: &str,
        now: i64,
        max_attempts: i32,
        backoff_ms: i64,
    ) -> rouge_kernel::StoreResult<DeliveryState> {
        let error: String = error.chars().take(2000).collect();
        let q = sqlx::query(
            "INSERT INTO deliveries (consumer, event_id, event_type, event, attempts, next_at, last_error, state, updated_at) \
             VALUES ($1, $2, $3, $4, 1, $5 + $6, $7, CASE WHEN $8 <= 1 THEN 'dead' ELSE 'retrying' END, $5) \
             ON CONFLICT (consumer, event_id) DO UPDATE SET attempts = deliveries.attempts + 1, \
             next_at = $5 + $6 * (CASE WHEN deliveries.attempts >= 16 THEN 65536 ELSE (1 << deliveries.attempts) END), \
             last_error = excluded.last_error, updated_at = $5, \
             state = CASE WHEN deliveries.attempts + 1 >= $8 THEN 'dead' ELSE 'retrying' END \
             RETURNING state",
        )
        .arg(consumer)
        .arg(event.id)
        .arg(&event.event_type)
        .arg(Json(event))
        .arg(now)
        .arg(backoff_ms)
        .arg(error)
        .arg(max_attempts);
        let r = self.one(q).await?;
        Ok(if r.get::<String>("state") == "dead" { DeliveryState::Dead } else { DeliveryState::Retrying })
    }

    async fn begin_deliveries(
        &self,
        consumer: &str,
        events: &[DomainEvent],
        now: i64,
        lease_ms: i64,
    ) -> rouge_kernel::StoreResult<Vec<Uuid>> {
        let mut claimed = vec![];
        for chunk in events.chunks(500) {
            let mut q = started::<D>(consumer, chunk, now, lease_ms);
            q.push(" ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id");
            let rows = q.build().fetch_all(self.db()).await.map_err(unavailable)?;
            claimed.extend(rows.iter().map(|r| r.get::<Uuid>("event_id")));
        }
        Ok(claimed)
    }

    async fn claim_deliveries(
        &self,
        consumer: &str,
        events: &[DomainEvent],
        now: i64,
        lease_ms: i64,
    ) -> rouge_kernel::StoreResult<Vec<Claim>> {
        let mut mine = std::collections::HashSet::new();
        for chunk in events.chunks(500) {
            let mut q = started::<D>(consumer, chunk, now, lease_ms);
            q.push(
                " ON CONFLICT (consumer, event_id) DO UPDATE SET next_at = excluded.next_at, updated_at = excluded.updated_at \
                 WHERE deliveries.state = 'retrying' AND deliveries.next_at <= ",
            );
            q.push_arg(now);
            q.push(" RETURNING event_id");
            let rows = q.build().fetch_all(self.db()).await.map_err(unavailable)?;
            mine.extend(rows.iter().map(|r| r.get::<Uuid>("event_id")));
        }
        // Why not, for the others.
        let others: Vec<Uuid> = events.iter().map(|e| e.id).filter(|id| !mine.contains(id)).collect();
        let mut settled = std::collections::HashSet::new();
        for chunk in others.chunks(500) {
            let mut q = sqlx::QueryBuilder::<D>::new("SELECT event_id FROM deliveries WHERE consumer = ");
            q.push_arg(consumer);
            q.push(" AND state IN ('done', 'dead') AND event_id").push_in(chunk.iter().copied());
            let rows = q.build().fetch_all(self.db()).await.map_err(unavailable)?;
            settled.extend(rows.iter().map(|r| r.get::<Uuid>("event_id")));
        }
        Ok(events
            .iter()
            .map(|e| {
                if mine.contains(&e.id) {
                    Claim::Mine
                } else if settled.contains(&e.id) {
                    Claim::Settled
                } else {
                    Claim::Busy
                }
            })
            .collect())
    }

    async fn record_successes(&self, consumer: &str, events: &[Uuid]) -> rouge_kernel::StoreResult<()> {
        for chunk in events.chunks(500) {
            let mut q =
                sqlx::QueryBuilder::<D>::new("UPDATE deliveries SET state = 'done', last_error = '', updated_at = ");
            q.push_arg(chrono::Utc::now().timestamp_millis());
            q.push(" WHERE consumer = ");
            q.push_arg(consumer);
            q.push(" AND event_id").push_in(chunk.iter().copied());
            q.build().execute(self.db()).await.map_err(unavailable)?;
        }
        Ok(())
    }

    async fn purge_done_deliveries(&self, before: i64) -> rouge_kernel::StoreResult<u64> {
        Ok(sqlx::query("DELETE FROM deliveries WHERE state = 'done' AND updated_at < $1")
            .arg(before)
            .execute(self.db())
            .await
            .map_err(unavailable)?
            .rows_affected())
    }

    async fn take_due(&self, now: i64, lease_ms: i64, limit: i64) -> rouge_kernel::StoreResult<Vec<FailedDelivery>> {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{COLUMNS} WHERE state = 'retrying' AND next_at <= $1 ORDER BY next_at LIMIT $2"
        )))
        .arg(now)
        .arg(limit);
        let rows = self.all(q).await?;
        let mut taken = vec![];
        for r in rows {
            let d = row(&r);
            let q = sqlx::query(
                "UPDATE deliveries SET next_at = $4 WHERE consumer = $1 AND event_id = $2 AND next_at = $3 AND state = 'retrying'",
            )
            .arg(&d.consumer)
            .arg(d.event.id)
            .arg(d.next_at)
            .arg(now + lease_ms);
            let won = self.run(q).await?.rows_affected();
            if won == 1 {
                taken.push(d);
            }
        }
        Ok(taken)
    }

    async fn failed_deliveries(&self, limit: i64) -> rouge_kernel::StoreResult<Vec<FailedDelivery>> {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{COLUMNS} WHERE state <> 'done' ORDER BY CASE WHEN state = 'dead' THEN 0 ELSE 1 END, updated_at DESC LIMIT $1"
        )))
        .arg(limit);
        let rows = self.all(q).await?;
        Ok(rows.iter().map(row).collect())
    }

    async fn delivery_backlog(&self) -> rouge_kernel::StoreResult<(i64, i64)> {
        let q = sqlx::query(
            "SELECT COUNT(*) FILTER (WHERE state = 'retrying') AS retrying, COUNT(*) FILTER (WHERE state = 'dead') AS dead \
             FROM deliveries WHERE state <> 'done'",
        );
        let r = self.one(q).await?;
        Ok((r.get("retrying"), r.get("dead")))
    }

    async fn replay_delivery(
        &self,
        consumer: &str,
        event: Uuid,
        now: i64,
    ) -> rouge_kernel::StoreResult<Option<DomainEvent>> {
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        let sql = format!("{COLUMNS} WHERE consumer = $1 AND event_id = $2");
        let read = || sqlx::query(sqlx::AssertSqlSafe(sql.clone())).arg(consumer).arg(event);
        let before = read().fetch_optional(D::on(&mut tx)).await.map_err(unavailable)?.map(|r| row(&r));
        let done = sqlx::query(
            "UPDATE deliveries SET state = 'retrying', attempts = 0, next_at = $3, updated_at = $3 \
             WHERE consumer = $1 AND event_id = $2 AND state = 'dead'",
        )
        .arg(consumer)
        .arg(event)
        .arg(now)
        .execute(D::on(&mut tx))
        .await
        .map_err(unavailable)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let after = row(&read().fetch_one(D::on(&mut tx)).await.map_err(unavailable)?);
        let before = before.as_ref().and_then(audit::json);
        audit::record::<D>(&mut tx, before, audit::json(&after)).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(Some(after.event))
    }
}
