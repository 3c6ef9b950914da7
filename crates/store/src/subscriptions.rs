//! Subscriptions and their renewals (PostgreSQL keeps them in the orders schema). A
//! subscription is saved with its event in one transaction, only over the version it was read
//! at (a save ends a renewer's claim); a due one is claimed by one renewer at a time; a
//! period's renewal row is made once and gets one cart and one order.

use crate::prelude::*;
use crate::unavailable;
use rouge_kernel::{DomainEvent, StoreError, StoreResult};
use rouge_subscriptions::{
    Renewal, SavedPayment, Subscription, SubscriptionFilter, SubscriptionRepository, SubscriptionStatus,
};
use uuid::Uuid;

macro_rules! columns {
    () => {
        "id, customer_id, origin_order_id, sku, quantity, cadence_weeks, status, next_at, period, payment_provider, \
         payment_token, payment_customer, failures, paused_reason, last_order_id, created_at, updated_at"
    };
}
const SUBSCRIPTION: &str = concat!("SELECT ", columns!(), " FROM subscriptions");

fn subscription(r: &impl Read) -> Subscription {
    Subscription {
        id: r.get("id"),
        customer_id: r.get("customer_id"),
        origin_order_id: r.get("origin_order_id"),
        sku: r.get("sku"),
        quantity: r.get("quantity"),
        cadence_weeks: u32::try_from(r.get::<i32>("cadence_weeks")).unwrap_or(1),
        status: SubscriptionStatus::parse(&r.get::<String>("status")).unwrap_or(SubscriptionStatus::Paused),
        next_at: r.get("next_at"),
        period: r.get("period"),
        payment: SavedPayment {
            provider: r.get("payment_provider"),
            token: r.get("payment_token"),
            customer: r.get("payment_customer"),
        },
        failures: r.get("failures"),
        paused_reason: r.get("paused_reason"),
        last_order_id: r.get("last_order_id"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    }
}

fn renewal(r: &impl Read) -> Renewal {
    Renewal {
        subscription_id: r.get("subscription_id"),
        period: r.get("period"),
        cart_id: r.get("cart_id"),
        order_id: r.get("order_id"),
    }
}

use crate::now_ms;

impl<D: Dialect> SubscriptionRepository for Store<D> {
    async fn save_subscription(&self, s: &Subscription, expected: Option<i64>, event: &str) -> StoreResult<()> {
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        let q = match expected {
            None => sqlx::query(
                "INSERT INTO subscriptions (id, customer_id, origin_order_id, sku, quantity, cadence_weeks, status, \
                 next_at, period, payment_provider, payment_token, failures, paused_reason, last_order_id, created_at, \
                 updated_at, payment_customer) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                 $16, $17)",
            ),
            Some(_) => sqlx::query(
                "UPDATE subscriptions SET customer_id = $2, origin_order_id = $3, sku = $4, quantity = $5, \
                 cadence_weeks = $6, status = $7, next_at = $8, period = $9, payment_provider = $10, \
                 payment_token = $11, failures = $12, paused_reason = $13, last_order_id = $14, created_at = $15, \
                 updated_at = $16, payment_customer = $17, lease_until = 0 WHERE id = $1 AND updated_at = $18",
            ),
        };
        let q = q
            .arg(s.id)
            .arg(s.customer_id)
            .arg(s.origin_order_id)
            .arg(&s.sku)
            .arg(s.quantity)
            .arg(i32::try_from(s.cadence_weeks).unwrap_or(1))
            .arg(s.status.as_str())
            .arg(s.next_at)
            .arg(s.period)
            .arg(&s.payment.provider)
            .arg(&s.payment.token)
            .arg(s.failures)
            .arg(s.paused_reason.as_deref())
            .arg(s.last_order_id)
            .arg(s.created_at)
            .arg(s.updated_at)
            .arg(s.payment.customer.as_deref());
        let q = match expected {
            Some(at) => q.arg(at),
            None => q,
        };
        let done = q.execute(D::on(&mut tx)).await.map_err(unavailable)?.rows_affected();
        if done != 1 {
            return Err(StoreError::Stale);
        }
        // The event says what changed, never the payment token.
        let payload = serde_json::to_value(s).unwrap_or_default();
        let e = DomainEvent::new("subscription", s.id, event, payload);
        self.commit(tx, &[e]).await.map_err(unavailable)
    }

    async fn subscription(&self, id: Uuid) -> StoreResult<Option<Subscription>> {
        let sql = format!("{SUBSCRIPTION} WHERE id = $1");
        Ok(self.optional(sqlx::query(sqlx::AssertSqlSafe(sql)).arg(id)).await?.as_ref().map(subscription))
    }

    async fn subscriptions(&self, f: &SubscriptionFilter, limit: i64) -> StoreResult<Vec<Subscription>> {
        let sql = format!(
            "{SUBSCRIPTION} WHERE ($1 IS NULL OR customer_id = $1) AND ($2 IS NULL OR status = $2) \
             AND ($3 IS NULL OR sku = $3) AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .arg(f.customer)
            .arg(f.status.map(SubscriptionStatus::as_str))
            .arg(f.sku.as_deref())
            .arg(f.before)
            .arg(limit);
        Ok(self.all(q).await?.iter().map(subscription).collect())
    }

    async fn claim_due_subscriptions(&self, now: i64, lease_until: i64, limit: i64) -> StoreResult<Vec<Subscription>> {
        let sql = format!(
            "SELECT {}, lease_until FROM subscriptions WHERE status = 'active' AND next_at <= $1 AND lease_until <= $1 \
             ORDER BY next_at LIMIT $2",
            columns!()
        );
        let rows = self.all(sqlx::query(sqlx::AssertSqlSafe(sql)).arg(now).arg(limit)).await?;
        let mut claimed = vec![];
        for row in rows {
            // Taken only if no other renewer took it meanwhile.
            let q = sqlx::query("UPDATE subscriptions SET lease_until = $3 WHERE id = $1 AND lease_until = $2")
                .arg(row.get::<Uuid>("id"))
                .arg(row.get::<i64>("lease_until"))
                .arg(lease_until);
            if self.run(q).await?.rows_affected() == 1 {
                claimed.push(subscription(&row));
            }
        }
        Ok(claimed)
    }

    async fn release_subscription_claim(&self, subscription: Uuid, lease_until: i64) -> StoreResult<bool> {
        let q = sqlx::query("UPDATE subscriptions SET lease_until = $3 WHERE id = $1 AND lease_until = $2")
            .arg(subscription)
            .arg(lease_until)
            .arg(0_i64);
        Ok(self.run(q).await?.rows_affected() == 1)
    }

    async fn release_subscription_claims(&self, lease_until: i64) -> StoreResult<u64> {
        let q = sqlx::query("UPDATE subscriptions SET lease_until = 0 WHERE lease_until = $1").arg(lease_until);
        Ok(self.run(q).await?.rows_affected())
    }

    async fn renewal(&self, subscription: Uuid, period: i64) -> StoreResult<Renewal> {
        self.exec(
            sqlx::query(
                "INSERT INTO subscription_renewals (subscription_id, period, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (subscription_id, period) DO NOTHING",
            )
            .arg(subscription)
            .arg(period)
            .arg(now_ms()),
        )
        .await?;
        let row = self
            .one(
                sqlx::query(
                    "SELECT subscription_id, period, cart_id, order_id FROM subscription_renewals \
                     WHERE subscription_id = $1 AND period = $2",
                )
                .arg(subscription)
                .arg(period),
            )
            .await?;
        Ok(renewal(&row))
    }

    async fn set_renewal_cart(&self, subscription: Uuid, period: i64, cart: Uuid) -> StoreResult<Uuid> {
        self.exec(
            sqlx::query(
                "UPDATE subscription_renewals SET cart_id = $3 WHERE subscription_id = $1 AND period = $2 \
                 AND cart_id IS NULL",
            )
            .arg(subscription)
            .arg(period)
            .arg(cart),
        )
        .await?;
        let r = self.renewal(subscription, period).await?;
        Ok(r.cart_id.unwrap_or(cart))
    }

    async fn set_renewal_order(&self, subscription: Uuid, period: i64, order: Uuid) -> StoreResult<()> {
        self.exec(
            sqlx::query("UPDATE subscription_renewals SET order_id = $3 WHERE subscription_id = $1 AND period = $2")
                .arg(subscription)
                .arg(period)
                .arg(order),
        )
        .await
    }

    async fn forget_subscriptions(&self, customer: Uuid) -> StoreResult<u64> {
        let q = sqlx::query(
            "UPDATE subscriptions SET status = 'cancelled', payment_token = '', payment_customer = NULL, updated_at = $2 \
             WHERE customer_id = $1",
        )
        .arg(customer)
        .arg(now_ms());
        Ok(self.run(q).await?.rows_affected())
    }
}
