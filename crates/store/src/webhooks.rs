//! Outbound webhooks' endpoints and deliveries (PostgreSQL keeps them in its `messaging` schema).

use crate::audit;
use crate::prelude::*;
use crate::unavailable;
use rouge_kernel::{DomainEvent, StoreResult};
use rouge_webhooks::{Delivery, DeliveryState, Due, Endpoint, Secrets, WebhookRepository};
use sqlx::types::Json;
use uuid::Uuid;

const ENDPOINT: &str = "SELECT id, url, description, event_types, secret, previous_secret, previous_until, enabled, \
     disabled_reason, failures, created_at, updated_at FROM webhook_endpoints";
const DELIVERY: &str = "SELECT endpoint_id, event_id, event_type, event, state, attempts, next_at, last_status, \
     last_error, updated_at FROM webhook_deliveries";

fn endpoint(r: &impl Read) -> Endpoint {
    Endpoint {
        id: r.get("id"),
        url: r.get("url"),
        description: r.get("description"),
        event_types: r.get::<Json<Vec<String>>>("event_types").0,
        enabled: r.get("enabled"),
        disabled_reason: r.get("disabled_reason"),
        failures: r.get("failures"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    }
}

fn delivery(r: &impl Read) -> Delivery {
    Delivery {
        endpoint_id: r.get("endpoint_id"),
        event_id: r.get("event_id"),
        event_type: r.get("event_type"),
        state: DeliveryState::parse(&r.get::<String>("state")).unwrap_or(DeliveryState::Failed),
        attempts: r.get("attempts"),
        next_at: r.get("next_at"),
        last_status: r.get("last_status"),
        last_error: r.get("last_error"),
        updated_at: r.get("updated_at"),
    }
}

impl<D: Dialect> WebhookRepository for Store<D> {
    async fn create_endpoint(&self, e: &Endpoint, secret: &str) -> StoreResult<()> {
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, url, description, event_types, secret, enabled, failures, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7)",
        )
        .arg(e.id)
        .arg(&e.url)
        .arg(&e.description)
        .arg(Json(&e.event_types))
        .arg(secret)
        .arg(e.enabled)
        .arg(e.created_at)
        .execute(D::on(&mut tx))
        .await
        .map_err(unavailable)?;
        audit::record::<D>(&mut tx, None, audit::json(e)).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }

    async fn endpoints(&self) -> StoreResult<Vec<Endpoint>> {
        let sql = format!("{ENDPOINT} ORDER BY created_at, id");
        Ok(self.all(sqlx::query(sqlx::AssertSqlSafe(sql))).await?.iter().map(endpoint).collect())
    }

    async fn endpoint(&self, id: Uuid) -> StoreResult<Option<(Endpoint, Secrets)>> {
        let sql = format!("{ENDPOINT} WHERE id = $1");
        let row = self.optional(sqlx::query(sqlx::AssertSqlSafe(sql)).arg(id)).await?;
        Ok(row.map(|r| {
            let previous: Option<String> = r.get("previous_secret");
            let until: Option<i64> = r.get("previous_until");
            (endpoint(&r), Secrets { current: r.get("secret"), previous: previous.zip(until) })
        }))
    }

    async fn update_endpoint(&self, e: &Endpoint) -> StoreResult<bool> {
        let before = self.endpoint(e.id).await?.map(|(b, _)| b);
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        let changed = sqlx::query(
            "UPDATE webhook_endpoints SET url = $2, description = $3, event_types = $4, enabled = $5, \
             disabled_reason = $6, failures = $7, updated_at = $8 WHERE id = $1",
        )
        .arg(e.id)
        .arg(&e.url)
        .arg(&e.description)
        .arg(Json(&e.event_types))
        .arg(e.enabled)
        .arg(&e.disabled_reason)
        .arg(e.failures)
        .arg(e.updated_at)
        .execute(D::on(&mut tx))
        .await
        .map_err(unavailable)?
        .rows_affected();
        audit::record::<D>(&mut tx, before.as_ref().and_then(audit::json), audit::json(e))
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(changed == 1)
    }

    async fn delete_endpoint(&self, id: Uuid) -> StoreResult<bool> {
        let before = self.endpoint(id).await?.map(|(b, _)| b);
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1")
            .arg(id)
            .execute(D::on(&mut tx))
            .await
            .map_err(unavailable)?;
        let gone = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
            .arg(id)
            .execute(D::on(&mut tx))
            .await
            .map_err(unavailable)?
            .rows_affected();
        if gone == 1 {
            audit::record::<D>(&mut tx, before.as_ref().and_then(audit::json), None).await.map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(gone == 1)
    }

    async fn replace_secrets(&self, id: Uuid, was: &str, current: &str, previous: Option<&str>) -> StoreResult<bool> {
        let q = sqlx::query(
            "UPDATE webhook_endpoints SET secret = $3, previous_secret = COALESCE($4, previous_secret) \
             WHERE id = $1 AND secret = $2",
        )
        .arg(id)
        .arg(was)
        .arg(current)
        .arg(previous);
        Ok(self.run(q).await?.rows_affected() == 1)
    }

    async fn rotate_secret(&self, id: Uuid, secret: &str, until: i64) -> StoreResult<bool> {
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        let changed = sqlx::query(
            "UPDATE webhook_endpoints SET previous_secret = secret, previous_until = $3, secret = $2 WHERE id = $1",
        )
        .arg(id)
        .arg(secret)
        .arg(until)
        .execute(D::on(&mut tx))
        .await
        .map_err(unavailable)?
        .rows_affected();
        let note = serde_json::json!({"endpoint": id, "secret": "rotated", "previous_valid_until": until});
        audit::record::<D>(&mut tx, None, Some(note)).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(changed == 1)
    }

    async fn enqueue(&self, endpoints: &[Uuid], event: &DomainEvent, now: i64) -> StoreResult<()> {
        if endpoints.is_empty() {
            return Ok(());
        }
        let mut q = sqlx::QueryBuilder::<D>::new(
            "INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, event, state, attempts, next_at, \
             updated_at) ",
        );
        q.push_values(endpoints, |mut b, id| {
            b.push_arg(*id)
                .push_arg(event.id)
                .push_arg(&event.event_type)
                .push_arg(Json(event))
                .push("'pending'")
                .push("0")
                .push_arg(now)
                .push_arg(now);
        });
        q.push(" ON CONFLICT (endpoint_id, event_id) DO NOTHING");
        q.build().execute(self.db()).await.map_err(unavailable).map(|_| ())
    }

    async fn claim_due(&self, now: i64, lease_until: i64, limit: i64) -> StoreResult<Vec<Due>> {
        let sql = format!("{DELIVERY} WHERE state = 'pending' AND next_at <= $1 ORDER BY next_at LIMIT $2");
        let rows = self.all(sqlx::query(sqlx::AssertSqlSafe(sql)).arg(now).arg(limit)).await?;
        let mut claimed = vec![];
        for r in rows {
            let d = delivery(&r);
            // Taken only if no other replica moved it meanwhile.
            let q = sqlx::query(
                "UPDATE webhook_deliveries SET next_at = $4 WHERE endpoint_id = $1 AND event_id = $2 \
                 AND state = 'pending' AND next_at = $3",
            )
            .arg(d.endpoint_id)
            .arg(d.event_id)
            .arg(d.next_at)
            .arg(lease_until);
            if self.run(q).await?.rows_affected() == 1 {
                let Json(event): Json<DomainEvent> = r.get("event");
                claimed.push(Due { delivery: Delivery { next_at: lease_until, ..d }, event });
            }
        }
        Ok(claimed)
    }

    async fn record_attempt(&self, d: &Delivery, delivered: bool, now: i64) -> StoreResult<i32> {
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        sqlx::query(
            "UPDATE webhook_deliveries SET state = $3, attempts = $4, next_at = $5, last_status = $6, last_error = $7, \
             updated_at = $8 WHERE endpoint_id = $1 AND event_id = $2",
        )
        .arg(d.endpoint_id)
        .arg(d.event_id)
        .arg(d.state.as_str())
        .arg(d.attempts)
        .arg(d.next_at)
        .arg(d.last_status)
        .arg(&d.last_error)
        .arg(now)
        .execute(D::on(&mut tx))
        .await
        .map_err(unavailable)?;
        let sql = if delivered {
            "UPDATE webhook_endpoints SET failures = 0 WHERE id = $1 RETURNING failures"
        } else {
            "UPDATE webhook_endpoints SET failures = failures + 1 WHERE id = $1 RETURNING failures"
        };
        let failures = sqlx::query(sql).arg(d.endpoint_id).fetch_optional(D::on(&mut tx)).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(failures.map_or(0, |r| r.get("failures")))
    }

    async fn deliveries(&self, endpoint: Uuid, state: Option<DeliveryState>, limit: i64) -> StoreResult<Vec<Delivery>> {
        let sql = format!(
            "{DELIVERY} WHERE endpoint_id = $1 AND ($2 = '' OR state = $2) ORDER BY updated_at DESC, event_id DESC LIMIT $3"
        );
        let q =
            sqlx::query(sqlx::AssertSqlSafe(sql)).arg(endpoint).arg(state.map_or("", DeliveryState::as_str)).arg(limit);
        Ok(self.all(q).await?.iter().map(delivery).collect())
    }

    async fn replay(&self, endpoint: Uuid, event: Uuid, now: i64) -> StoreResult<bool> {
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        let replayed = sqlx::query(
            "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_at = $3, updated_at = $3 \
             WHERE endpoint_id = $1 AND event_id = $2",
        )
        .arg(endpoint)
        .arg(event)
        .arg(now)
        .execute(D::on(&mut tx))
        .await
        .map_err(unavailable)?
        .rows_affected()
            == 1;
        if replayed {
            let note = serde_json::json!({ "endpoint": endpoint, "event": event, "replayed": true });
            audit::record::<D>(&mut tx, None, Some(note)).await.map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(replayed)
    }

    async fn disable_endpoint(&self, id: Uuid, reason: &str, now: i64) -> StoreResult<()> {
        let q = sqlx::query(
            "UPDATE webhook_endpoints SET enabled = $2, disabled_reason = $3, updated_at = $4 WHERE id = $1",
        )
        .arg(id)
        .arg(false)
        .arg(reason)
        .arg(now);
        self.exec(q).await
    }
}
