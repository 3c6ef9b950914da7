//! The monthly beauty box (PostgreSQL keeps it in the orders schema): a month's setup, and its
//! boxes once locked (in one transaction with the lock, once); each change audited (in an
//! admin request) and told (`box.saved`, `box.locked`) in its transaction.

use crate::prelude::*;
use crate::{audit, unavailable};
use rouge_kernel::DomainEvent;
use rouge_kernel::StoreResult;
use rouge_subscriptions::{BoxFill, BoxLocked, BoxMonth, BoxRepository};
use sqlx::types::Json;
use uuid::Uuid;

fn fill(r: &impl Read) -> BoxFill {
    BoxFill {
        subscription_id: r.get("subscription_id"),
        customer_id: r.get("customer_id"),
        skus: r.get::<Json<Vec<String>>>("skus").0,
        short: r.get("short"),
        reservation_id: r.get("reservation_id"),
        order_id: r.get("order_id"),
    }
}

/// A month's box as an aggregate id (its events' `aggregate_id`): the same for every store.
fn box_id(month: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("box:{month}").as_bytes())
}

/// A query of boxes: what [`fill`] reads, then `$where`.
macro_rules! fills {
    ($where:literal) => {
        concat!("SELECT subscription_id, customer_id, skus, short, reservation_id, order_id FROM box_contents ", $where)
    };
}

impl<D: Dialect> BoxRepository for Store<D> {
    async fn save_box_month(&self, b: &BoxMonth) -> StoreResult<bool> {
        let before = self.box_month(&b.month).await?;
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        let saved = sqlx::query(
            "INSERT INTO box_months (month, doc, locked, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (month) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at \
             WHERE box_months.locked = $3",
        )
        .arg(&b.month)
        .arg(Json(b))
        .arg(false)
        .arg(b.updated_at)
        .execute(D::on(&mut tx))
        .await
        .map_err(unavailable)?
        .rows_affected()
            == 1;
        if !saved {
            return Ok(false);
        }
        audit::record::<D>(&mut tx, before.as_ref().and_then(audit::json), audit::json(b))
            .await
            .map_err(unavailable)?;
        let event = DomainEvent::new("box", box_id(&b.month), "box.saved", serde_json::to_value(b).unwrap_or_default());
        self.commit(tx, &[event]).await.map_err(unavailable)?;
        Ok(true)
    }

    async fn box_month(&self, month: &str) -> StoreResult<Option<BoxMonth>> {
        let row = self.optional(sqlx::query("SELECT doc, locked FROM box_months WHERE month = $1").arg(month)).await?;
        Ok(row.map(|r| BoxMonth { locked: r.get("locked"), ..r.get::<Json<BoxMonth>>("doc").0 }))
    }

    async fn lock_box_month(&self, month: &str, fills: &[BoxFill], now: i64) -> StoreResult<bool> {
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        let locked = sqlx::query("UPDATE box_months SET locked = $2, updated_at = $3 WHERE month = $1 AND locked = $4")
            .arg(month)
            .arg(true)
            .arg(now)
            .arg(false)
            .execute(D::on(&mut tx))
            .await
            .map_err(unavailable)?
            .rows_affected()
            == 1;
        if !locked {
            return Ok(false);
        }
        let note = serde_json::json!({"month": month, "locked": true, "boxes": fills.len()});
        audit::record::<D>(&mut tx, None, Some(note)).await.map_err(unavailable)?;
        for f in fills {
            sqlx::query(
                "INSERT INTO box_contents (month, subscription_id, customer_id, skus, short, reservation_id) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .arg(month)
            .arg(f.subscription_id)
            .arg(f.customer_id)
            .arg(Json(&f.skus))
            .arg(f.short.as_deref())
            .arg(f.reservation_id)
            .execute(D::on(&mut tx))
            .await
            .map_err(unavailable)?;
        }
        let payload = serde_json::to_value(BoxLocked::new(month, now, fills)).unwrap_or_default();
        self.commit(tx, &[DomainEvent::new("box", box_id(month), "box.locked", payload)]).await.map_err(unavailable)?;
        Ok(true)
    }

    async fn box_fills(&self, month: &str) -> StoreResult<Vec<BoxFill>> {
        let q = sqlx::query(fills!("WHERE month = $1 ORDER BY subscription_id")).arg(month);
        Ok(self.all(q).await?.iter().map(fill).collect())
    }

    async fn box_of(&self, month: &str, subscription: Uuid) -> StoreResult<Option<BoxFill>> {
        let q = sqlx::query(fills!("WHERE month = $1 AND subscription_id = $2")).arg(month).arg(subscription);
        Ok(self.optional(q).await?.as_ref().map(fill))
    }

    async fn set_box_order(&self, month: &str, subscription: Uuid, order: Uuid) -> StoreResult<bool> {
        let q = sqlx::query(
            "UPDATE box_contents SET order_id = $3 WHERE month = $1 AND subscription_id = $2 AND order_id IS NULL",
        )
        .arg(month)
        .arg(subscription)
        .arg(order);
        Ok(self.run(q).await?.rows_affected() == 1)
    }

    async fn box_of_order(&self, order: Uuid) -> StoreResult<Option<BoxFill>> {
        let row = self.optional(sqlx::query(fills!("WHERE order_id = $1")).arg(order)).await?;
        Ok(row.as_ref().map(fill))
    }

    async fn had_in_boxes(&self, customer: Uuid, month: &str) -> StoreResult<Vec<String>> {
        let q =
            sqlx::query("SELECT skus FROM box_contents WHERE customer_id = $1 AND month < $2").arg(customer).arg(month);
        let rows = self.all(q).await?;
        Ok(rows.iter().flat_map(|r| r.get::<Json<Vec<String>>>("skus").0).collect())
    }
}
