//! Replenishment reminders (PostgreSQL keeps them in the orders schema: the orders service
//! makes and sends them). Each is sent once: claimed with a lease, then marked sent.

use crate::prelude::*;
use crate::unavailable;
use rouge_kernel::StoreResult;
use rouge_subscriptions::{Reminder, ReminderKind, ReminderState, ReplenishmentRepository};
use uuid::Uuid;

macro_rules! columns {
    () => {
        "id, kind, customer_id, order_id, sku, quantity, bought_at, predicted_at, due_at, basis, state, cart_id"
    };
}
const COLUMNS: &str = columns!();
const REMINDER: &str = concat!("SELECT ", columns!(), " FROM replenishment_reminders");

fn reminder(r: &impl Read) -> Reminder {
    Reminder {
        id: r.get("id"),
        kind: ReminderKind::parse(&r.get::<String>("kind")).unwrap_or(ReminderKind::Runout),
        customer_id: r.get("customer_id"),
        order_id: r.get("order_id"),
        sku: r.get("sku"),
        quantity: r.get("quantity"),
        bought_at: r.get("bought_at"),
        predicted_at: r.get("predicted_at"),
        due_at: r.get("due_at"),
        basis: r.get("basis"),
        state: ReminderState::parse(&r.get::<String>("state")).unwrap_or(ReminderState::Cancelled),
        cart_id: r.get("cart_id"),
    }
}

impl<D: Dialect> ReplenishmentRepository for Store<D> {
    async fn add_reminders(&self, reminders: &[Reminder]) -> StoreResult<()> {
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        for r in reminders {
            // Bought again: what her earlier orders of this variant would have said is moot.
            if let Some(c) = r.customer_id {
                sqlx::query(
                    "UPDATE replenishment_reminders SET state = 'cancelled' \
                     WHERE customer_id = $1 AND sku = $2 AND order_id <> $3 AND state = 'pending'",
                )
                .arg(c)
                .arg(&r.sku)
                .arg(r.order_id)
                .execute(D::on(&mut tx))
                .await
                .map_err(unavailable)?;
            }
            sqlx::query(
                "INSERT INTO replenishment_reminders (id, kind, customer_id, order_id, sku, quantity, bought_at, \
                 predicted_at, due_at, basis, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending') \
                 ON CONFLICT (order_id, sku, kind) DO NOTHING",
            )
            .arg(r.id)
            .arg(r.kind.as_str())
            .arg(r.customer_id)
            .arg(r.order_id)
            .arg(&r.sku)
            .arg(r.quantity)
            .arg(r.bought_at)
            .arg(r.predicted_at)
            .arg(r.due_at)
            .arg(&r.basis)
            .execute(D::on(&mut tx))
            .await
            .map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)
    }

    async fn bought_before(&self, customer: Uuid, sku: &str) -> StoreResult<Vec<i64>> {
        let rows = self
            .all(
                sqlx::query(
                    "SELECT DISTINCT bought_at FROM replenishment_reminders WHERE customer_id = $1 AND sku = $2 \
                     ORDER BY bought_at",
                )
                .arg(customer)
                .arg(sku),
            )
            .await?;
        Ok(rows.iter().map(|r| r.get("bought_at")).collect())
    }

    async fn cancel_reminders(&self, order: Uuid) -> StoreResult<()> {
        self.exec(
            sqlx::query(
                "UPDATE replenishment_reminders SET state = 'cancelled' WHERE order_id = $1 AND state = 'pending'",
            )
            .arg(order),
        )
        .await
    }

    async fn claim_due_reminders(&self, now: i64, lease_until: i64, limit: i64) -> StoreResult<Vec<Reminder>> {
        let sql = format!(
            "SELECT {COLUMNS}, lease_until FROM replenishment_reminders \
             WHERE state = 'pending' AND due_at <= $1 AND lease_until <= $1 ORDER BY due_at LIMIT $2"
        );
        let rows = self.all(sqlx::query(sqlx::AssertSqlSafe(sql)).arg(now).arg(limit)).await?;
        let mut claimed = vec![];
        for row in rows {
            let r = reminder(&row);
            // Taken only if no other replica took it meanwhile.
            let q = sqlx::query(
                "UPDATE replenishment_reminders SET lease_until = $3 WHERE id = $1 AND state = 'pending' \
                 AND lease_until = $2",
            )
            .arg(r.id)
            .arg(row.get::<i64>("lease_until"))
            .arg(lease_until);
            if self.run(q).await?.rows_affected() == 1 {
                claimed.push(r);
            }
        }
        Ok(claimed)
    }

    async fn release_reminder_claim(&self, id: Uuid, lease_until: i64) -> StoreResult<bool> {
        let q = sqlx::query(
            "UPDATE replenishment_reminders SET lease_until = $3 WHERE id = $1 AND state = 'pending' AND lease_until = $2",
        )
        .arg(id)
        .arg(lease_until)
        .arg(0_i64);
        Ok(self.run(q).await?.rows_affected() == 1)
    }

    async fn release_reminder_claims(&self, lease_until: i64) -> StoreResult<u64> {
        let q = sqlx::query(
            "UPDATE replenishment_reminders SET lease_until = 0 WHERE state = 'pending' AND lease_until = $1",
        )
        .arg(lease_until);
        Ok(self.run(q).await?.rows_affected())
    }

    async fn mark_sent(&self, id: Uuid, token_hash: &str, now: i64) -> StoreResult<()> {
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        let sent = sqlx::query(
            "UPDATE replenishment_reminders SET state = 'sent', token_hash = $2, sent_at = $3 \
             WHERE id = $1 AND state = 'pending'",
        )
        .arg(id)
        .arg(token_hash)
        .arg(now)
        .execute(D::on(&mut tx))
        .await
        .map_err(unavailable)?
        .rows_affected()
            == 1;
        let mut events = vec![];
        if sent {
            let sql = format!("{REMINDER} WHERE id = $1");
            let row =
                sqlx::query(sqlx::AssertSqlSafe(sql)).arg(id).fetch_one(D::on(&mut tx)).await.map_err(unavailable)?;
            let r = reminder(&row);
            let payload = serde_json::to_value(&r).unwrap_or_default();
            events.push(rouge_kernel::DomainEvent::new("reminder", r.id, "replenishment.reminder_sent", payload));
        }
        self.commit(tx, &events).await.map_err(unavailable)
    }

    async fn by_token(&self, token_hash: &str) -> StoreResult<Option<Reminder>> {
        let sql = format!("{REMINDER} WHERE token_hash = $1");
        Ok(self.optional(sqlx::query(sqlx::AssertSqlSafe(sql)).arg(token_hash)).await?.as_ref().map(reminder))
    }

    async fn set_cart(&self, id: Uuid, cart: Uuid) -> StoreResult<bool> {
        let q = sqlx::query("UPDATE replenishment_reminders SET cart_id = $2 WHERE id = $1 AND cart_id IS NULL")
            .arg(id)
            .arg(cart);
        Ok(self.run(q).await?.rows_affected() == 1)
    }

    async fn reminders_of(&self, customer: Uuid) -> StoreResult<Vec<Reminder>> {
        let sql = format!("{REMINDER} WHERE customer_id = $1 ORDER BY bought_at DESC, kind");
        Ok(self.all(sqlx::query(sqlx::AssertSqlSafe(sql)).arg(customer)).await?.iter().map(reminder).collect())
    }

    async fn forget_reminders(&self, customer: Uuid) -> StoreResult<u64> {
        let q = sqlx::query("DELETE FROM replenishment_reminders WHERE customer_id = $1").arg(customer);
        Ok(self.run(q).await?.rows_affected())
    }
}
