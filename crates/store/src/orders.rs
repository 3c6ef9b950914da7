//! The orders repository. PostgreSQL keeps these tables in its `orders` schema.

use crate::audit;
use crate::prelude::*;
use crate::unavailable;

use rouge_kernel::DomainEvent;
use rouge_orders::ports::StoreResult;
use rouge_orders::{
    Cart, CartState, Order, OrderEvent, OrderFilter, OrdersRepository, Sealed, SealedKeyRef, StoreError, TimelineEntry,
};
use sqlx::types::Json;
use uuid::Uuid;

fn sealed(r: &impl Read) -> Option<Sealed> {
    let master: Option<String> = r.get("contact_master");
    Some(Sealed { master_id: master?, key: r.get("contact_key"), data: r.get("contact") })
}

fn cart_row(r: &impl Read) -> (Cart, Option<Sealed>) {
    let Json(mut cart): Json<Cart> = r.get("doc");
    // The columns are the truth: placing an order completes the cart without its document.
    cart.state = CartState::parse(r.get("state")).unwrap_or(cart.state);
    cart.version = r.get("version");
    cart.checkout_until = r.get("lease_until");
    (cart, sealed(r))
}

fn order_row(r: &impl Read) -> Order {
    let Json(mut o): Json<Order> = r.get("doc");
    o.number = r.get("number");
    o
}

async fn insert_events<D: Dialect>(
    tx: &mut sqlx::Transaction<'static, D>,
    order: Uuid,
    first_seq: i64,
    events: &[OrderEvent],
    at: i64,
) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    // One statement for all of them: each statement is a round trip to PostgreSQL.
    let mut q = sqlx::QueryBuilder::<D>::new("INSERT INTO order_events (order_id, seq, event_type, data, at) ");
    q.push_values(events.iter().enumerate(), |mut b, (i, e)| {
        b.push_arg(order).push_arg(first_seq + i as i64).push_arg(e.kind()).push_arg(Json(e)).push_arg(at);
    });
    q.build().execute(D::on(tx)).await.map_err(|e| match e.as_database_error() {
        Some(d) if d.is_unique_violation() => StoreError::Stale,
        _ => unavailable(e),
    })?;
    Ok(())
}

impl<D: Dialect> OrdersRepository for Store<D> {
    async fn save_cart(&self, cart: &Cart, contact: Option<&Sealed>) -> StoreResult<()> {
        let (master, key, data) = match contact {
            Some(s) => (Some(s.master_id.as_str()), Some(s.key.as_slice()), Some(s.data.as_slice())),
            None => (None, None, None),
        };
        // One binding for both statements: a new cart is inserted, a known one replaced if it
        // is still the version before this one.
        let sql = if cart.version == 1 {
            "INSERT INTO carts (id, customer_id, state, version, doc, contact_master, contact_key, contact, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING"
        } else {
            "UPDATE carts SET customer_id = $2, state = $3, version = $4, doc = $5, \
             contact_master = COALESCE($6, contact_master), contact_key = COALESCE($7, contact_key), \
             contact = COALESCE($8, contact), updated_at = $9 WHERE id = $1 AND version = $4 - 1"
        };
        let done = sqlx::query(sql)
            .arg(cart.id)
            .arg(cart.customer_id)
            .arg(cart.state.as_str())
            .arg(cart.version)
            .arg(Json(cart))
            .arg(master)
            .arg(key)
            .arg(data)
            .arg(cart.updated_at)
            .execute(self.db())
            .await;
        match done.map_err(unavailable)?.rows_affected() {
            1 => Ok(()),
            _ => Err(StoreError::Stale),
        }
    }

    async fn cart(&self, id: Uuid) -> StoreResult<Option<(Cart, Option<Sealed>)>> {
        let q = sqlx::query(
            "SELECT state, version, doc, lease_until, contact_master, contact_key, contact FROM carts WHERE id = $1",
        )
        .arg(id);
        let row = self.optional(q).await?;
        Ok(row.as_ref().map(cart_row))
    }

    async fn open_cart_of(&self, customer: Uuid) -> StoreResult<Option<Uuid>> {
        let q = sqlx::query(
            // A subscription's renewal cart is the shop's, not the one she shops with.
            "SELECT id FROM carts WHERE customer_id = $1 AND state = 'open' \
             AND NOT EXISTS (SELECT 1 FROM subscription_renewals r WHERE r.cart_id = carts.id) \
             ORDER BY updated_at DESC LIMIT 1",
        )
        .arg(customer);
        let row = self.optional(q).await?;
        Ok(row.map(|r| r.get("id")))
    }

    #[tracing::instrument(name = "store.lease_checkout", skip_all, fields(otel.kind = "client", db.system = D::SYSTEM))]
    async fn lease_checkout(
        &self,
        cart: Uuid,
        customer: Option<Uuid>,
        key: &str,
        now: i64,
        until: i64,
    ) -> StoreResult<Option<(Cart, Option<Sealed>)>> {
        let q = sqlx::query(
            "UPDATE carts SET lease_key = $2, lease_until = $4, version = version + 1 WHERE id = $1 AND state = 'open' \
             AND (lease_key IS NULL OR lease_key = $2 OR lease_until < $3) AND (customer_id IS NULL OR customer_id = $5) \
             RETURNING state, version, doc, lease_until, contact_master, contact_key, contact",
        )
        .arg(cart)
        .arg(key)
        .arg(now)
        .arg(until)
        .arg(customer);
        let row = self.optional(q).await?;
        Ok(row.as_ref().map(cart_row))
    }

    async fn order_by_payment(&self, payment_id: &str) -> StoreResult<Option<Uuid>> {
        let q = sqlx::query("SELECT id FROM orders WHERE payment_id = $1").arg(payment_id);
        let row = self.optional(q).await?;
        Ok(row.map(|r| r.get("id")))
    }

    async fn end_lease(&self, cart: Uuid, key: &str) -> StoreResult<()> {
        let q = sqlx::query("UPDATE carts SET lease_key = NULL, lease_until = NULL WHERE id = $1 AND lease_key = $2")
            .arg(cart)
            .arg(key);
        self.run(q).await?;
        Ok(())
    }

    #[tracing::instrument(name = "store.place_order", skip_all, fields(otel.kind = "client", db.system = D::SYSTEM))]
    async fn place_order(
        &self,
        order: &Order,
        events: &[OrderEvent],
        contact: Option<&Sealed>,
        outbox: &[DomainEvent],
    ) -> StoreResult<Order> {
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        let mut order = order.clone();
        order.version = events.len() as i64;
        // The number is drawn inside the insert (a sequence on PostgreSQL): no shared counter
        // row for every placement to queue on.
        let number: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO orders (id, number, cart_id, customer_id, status, version, placed_at, doc, contact_master, contact_key, contact, payment_id) \
             VALUES ($1, {}, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING number",
            D::NEXT_ORDER_NUMBER
        )))
        .arg(order.id)
        .arg(order.cart_id)
        .arg(order.customer_id)
        .arg(order.status.as_str())
        .arg(order.version)
        .arg(order.placed_at)
        .arg(Json(&order))
        .arg(contact.map(|s| s.master_id.as_str()))
        .arg(contact.map(|s| s.key.as_slice()))
        .arg(contact.map(|s| s.data.as_slice()))
        .arg(order.payment.as_ref().map(|p| p.payment_id.as_str()))
        .fetch_one(D::on(&mut tx))
        .await
        .map_err(|e| match e.as_database_error() {
            Some(d) if d.is_unique_violation() => StoreError::duplicate("cart", order.cart_id.to_string()),
            _ => unavailable(e),
        })?
        .get("number");
        order.number = number;
        insert_events(&mut tx, order.id, 1, events, order.placed_at).await?;
        sqlx::query(
            "UPDATE carts SET state = 'completed', version = version + 1, lease_key = NULL, lease_until = NULL WHERE id = $1",
        )
        .arg(order.cart_id)
        .execute(D::on(&mut tx))
        .await
        .map_err(unavailable)?;
        let mut outbox = outbox.to_vec();
        for e in &mut outbox {
            if let Some(m) = e.payload.as_object_mut() {
                m.insert("number".into(), number.into());
            }
        }
        self.commit(tx, &outbox).await.map_err(unavailable)?;
        Ok(order)
    }

    #[tracing::instrument(name = "store.append_order", skip_all, fields(otel.kind = "client", db.system = D::SYSTEM))]
    async fn append_order(
        &self,
        order: &Order,
        expected: i64,
        events: &[OrderEvent],
        outbox: &[DomainEvent],
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        let before = if rouge_identity::audit::current().is_some() {
            let row = sqlx::query("SELECT number, doc FROM orders WHERE id = $1")
                .arg(order.id)
                .fetch_optional(D::on(&mut tx));
            row.await.map_err(unavailable)?.map(|r| order_row(&r))
        } else {
            None
        };
        let done = sqlx::query("UPDATE orders SET status = $2, version = $3, doc = $4 WHERE id = $1 AND version = $5")
            .arg(order.id)
            .arg(order.status.as_str())
            .arg(order.version)
            .arg(Json(order))
            .arg(expected)
            .execute(D::on(&mut tx))
            .await
            .map_err(unavailable)?
            .rows_affected();
        if done == 0 {
            return Err(StoreError::Stale);
        }
        insert_events(&mut tx, order.id, expected + 1, events, order.updated_at).await?;
        let before = before.as_ref().and_then(audit::json);
        audit::record::<D>(&mut tx, before, audit::json(order)).await.map_err(unavailable)?;
        self.commit(tx, outbox).await.map_err(unavailable)?;
        Ok(())
    }

    #[tracing::instrument(name = "store.order", skip_all, fields(otel.kind = "client", db.system = D::SYSTEM))]
    async fn order(&self, id: Uuid) -> StoreResult<Option<(Order, Option<Sealed>)>> {
        let q =
            sqlx::query("SELECT number, doc, contact_master, contact_key, contact FROM orders WHERE id = $1").arg(id);
        let row = self.optional(q).await?;
        Ok(row.map(|r| (order_row(&r), sealed(&r))))
    }

    async fn order_of_cart(&self, cart: Uuid) -> StoreResult<Option<Uuid>> {
        let q = sqlx::query("SELECT id FROM orders WHERE cart_id = $1").arg(cart);
        let row = self.optional(q).await?;
        Ok(row.map(|r| r.get("id")))
    }

    async fn orders(&self, f: &OrderFilter) -> StoreResult<Vec<Order>> {
        let q = sqlx::query(
            "SELECT number, doc FROM orders WHERE ($1 IS NULL OR customer_id = $1) AND ($2 IS NULL OR status = $2) \
             AND number < $3 ORDER BY number DESC LIMIT $4",
        )
        .arg(f.customer_id)
        .arg(f.status.map(|s| s.as_str()))
        .arg(f.before_number.unwrap_or(i64::MAX))
        .arg(f.limit);
        let rows = self.all(q).await?;
        Ok(rows.iter().map(order_row).collect())
    }

    async fn order_events(&self, id: Uuid) -> StoreResult<Vec<TimelineEntry>> {
        let q = sqlx::query("SELECT seq, data, at FROM order_events WHERE order_id = $1 ORDER BY seq").arg(id);
        let rows = self.all(q).await?;
        Ok(rows
            .iter()
            .map(|r| {
                let Json(event): Json<OrderEvent> = r.get("data");
                TimelineEntry { seq: r.get("seq"), at: r.get("at"), event }
            })
            .collect())
    }

    async fn order_ids(&self) -> StoreResult<Vec<(Uuid, i64)>> {
        let q = sqlx::query("SELECT id, number FROM orders ORDER BY number");
        let rows = self.all(q).await?;
        Ok(rows.iter().map(|r| (r.get("id"), r.get("number"))).collect())
    }

    async fn forget_contacts_of(&self, customer: Uuid) -> StoreResult<u64> {
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        let mut n = 0;
        for sql in [
            "UPDATE orders SET contact_master = NULL, contact_key = NULL, contact = NULL WHERE customer_id = $1 AND contact IS NOT NULL",
            "UPDATE carts SET contact_master = NULL, contact_key = NULL, contact = NULL WHERE customer_id = $1 AND contact IS NOT NULL",
        ] {
            n += sqlx::query(sql).arg(customer).execute(D::on(&mut tx)).await.map_err(unavailable)?.rows_affected();
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(n)
    }

    async fn sealed_keys(&self, current: &str) -> StoreResult<Vec<SealedKeyRef>> {
        let mut out = vec![];
        for (table, sql) in [
            ("carts", "SELECT id, id AS owner, contact_master, contact_key FROM carts WHERE contact_master <> $1"),
            (
                "orders",
                "SELECT id, cart_id AS owner, contact_master, contact_key FROM orders WHERE contact_master <> $1",
            ),
        ] {
            let rows = sqlx::query(sql).arg(current).fetch_all(self.db()).await.map_err(unavailable)?;
            out.extend(rows.iter().map(|r| SealedKeyRef {
                table,
                id: r.get("id"),
                owner: r.get("owner"),
                master_id: r.get("contact_master"),
                key: r.get("contact_key"),
            }));
        }
        Ok(out)
    }

    async fn contacts_by_master(&self) -> StoreResult<Vec<(String, i64)>> {
        let q = sqlx::query(
            "SELECT contact_master, COUNT(*) AS n FROM (SELECT contact_master FROM carts WHERE contact_master IS NOT NULL \
             UNION ALL SELECT contact_master FROM orders WHERE contact_master IS NOT NULL) AS sealed GROUP BY contact_master",
        );
        let rows = self.all(q).await?;
        Ok(rows.iter().map(|r| (r.get("contact_master"), r.get("n"))).collect())
    }

    async fn replace_sealed_key(&self, old: &SealedKeyRef, master_id: &str, key: &[u8]) -> StoreResult<bool> {
        let sql = match old.table {
            "carts" => {
                "UPDATE carts SET contact_master = $2, contact_key = $3 WHERE id = $1 AND contact_master = $4 AND contact_key = $5"
            }
            _ => {
                "UPDATE orders SET contact_master = $2, contact_key = $3 WHERE id = $1 AND contact_master = $4 AND contact_key = $5"
            }
        };
        let q = sqlx::query(sql).arg(old.id).arg(master_id).arg(key).arg(&old.master_id).arg(old.key.as_slice());
        let done = self.run(q).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn replace_projection(&self, order: &Order) -> StoreResult<()> {
        let q = sqlx::query("UPDATE orders SET status = $2, version = $3, doc = $4 WHERE id = $1")
            .arg(order.id)
            .arg(order.status.as_str())
            .arg(order.version)
            .arg(Json(order));
        self.run(q).await?;
        Ok(())
    }
}
