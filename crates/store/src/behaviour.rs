//! Behaviour events for the recommendations (PostgreSQL keeps them in the catalogue's schema:
//! the recommendations are deployed with the catalogue). Written in batches, read in pages for
//! training, erased per customer, purged past retention.

use crate::prelude::*;
use crate::unavailable;
use rouge_kernel::StoreResult;
use rouge_recommendations::impressions::{Attributed, DAY_MS, ImpressionRepository, Shown};
use rouge_recommendations::{BehaviourEvent, BehaviourRepository, EventKind};
use uuid::Uuid;

const EVENT: &str = "SELECT id, kind, customer_id, anonymous_id, product_id, query, unsuitable, at, impression_id FROM behaviour_events";

fn event(r: &impl Read) -> BehaviourEvent {
    BehaviourEvent {
        id: r.get("id"),
        kind: EventKind::parse(&r.get::<String>("kind")).unwrap_or(EventKind::ProductViewed),
        customer_id: r.get("customer_id"),
        anonymous_id: r.get("anonymous_id"),
        product_id: r.get("product_id"),
        query: r.get("query"),
        unsuitable: r.get("unsuitable"),
        at: r.get("at"),
        impression_id: r.get("impression_id"),
    }
}

impl<D: Dialect> BehaviourRepository for Store<D> {
    #[tracing::instrument(name = "store.record_behaviour", skip_all, fields(otel.kind = "client", db.system = D::SYSTEM, events = events.len()))]
    async fn record_behaviour(&self, events: &[BehaviourEvent]) -> StoreResult<u64> {
        let mut new = 0;
        for chunk in events.chunks(200) {
            let mut q = sqlx::QueryBuilder::<D>::new(
                "INSERT INTO behaviour_events (id, kind, customer_id, anonymous_id, product_id, query, unsuitable, at, impression_id) ",
            );
            q.push_values(chunk, |mut b, e| {
                b.push_arg(e.id)
                    .push_arg(e.kind.as_str())
                    .push_arg(e.customer_id)
                    .push_arg(e.anonymous_id.as_deref())
                    .push_arg(e.product_id)
                    .push_arg(e.query.as_deref())
                    .push_arg(e.unsuitable)
                    .push_arg(e.at)
                    .push_arg(e.impression_id);
            });
            q.push(" ON CONFLICT (id) DO NOTHING");
            new += q.build().execute(self.db()).await.map_err(unavailable)?.rows_affected();
        }
        Ok(new)
    }

    async fn behaviour_since(
        &self,
        since: i64,
        after: Option<(i64, Uuid)>,
        limit: i64,
    ) -> StoreResult<Vec<BehaviourEvent>> {
        let (at, id) = after.unwrap_or((since - 1, Uuid::max()));
        let sql = format!("{EVENT} WHERE at >= $1 AND (at > $2 OR (at = $2 AND id > $3)) ORDER BY at, id LIMIT $4");
        let rows = self.all(sqlx::query(sqlx::AssertSqlSafe(sql)).arg(since).arg(at).arg(id).arg(limit)).await?;
        Ok(rows.iter().map(event).collect())
    }

    async fn behaviour_of(&self, customer: Uuid, limit: i64) -> StoreResult<Vec<BehaviourEvent>> {
        let sql = format!("{EVENT} WHERE customer_id = $1 ORDER BY at DESC, id DESC LIMIT $2");
        let rows = self.all(sqlx::query(sqlx::AssertSqlSafe(sql)).arg(customer).arg(limit)).await?;
        Ok(rows.iter().map(event).collect())
    }

    async fn behaviour_event(&self, id: Uuid) -> StoreResult<Option<BehaviourEvent>> {
        let sql = format!("{EVENT} WHERE id = $1");
        Ok(self.optional(sqlx::query(sqlx::AssertSqlSafe(sql)).arg(id)).await?.as_ref().map(event))
    }

    async fn link_visitor(&self, anonymous_id: &str, customer: Uuid) -> StoreResult<u64> {
        let q =
            sqlx::query("UPDATE behaviour_events SET customer_id = $1 WHERE anonymous_id = $2 AND customer_id IS NULL")
                .arg(customer)
                .arg(anonymous_id);
        Ok(self.run(q).await?.rows_affected())
    }

    async fn erase_behaviour(&self, customer: Uuid) -> StoreResult<u64> {
        let q = sqlx::query("DELETE FROM behaviour_events WHERE customer_id = $1").arg(customer);
        Ok(self.run(q).await?.rows_affected())
    }

    async fn purge_behaviour(&self, before: i64) -> StoreResult<u64> {
        let q = sqlx::query("DELETE FROM behaviour_events WHERE at < $1").arg(before);
        let purged = self.run(q).await?.rows_affected();
        let q = sqlx::query("DELETE FROM recommendation_shown WHERE day < $1").arg(before.div_euclid(DAY_MS));
        self.run(q).await?;
        Ok(purged)
    }
}

impl<D: Dialect> ImpressionRepository for Store<D> {
    async fn count_shown(&self, shown: &[Shown]) -> StoreResult<()> {
        for chunk in shown.chunks(200) {
            let mut q = sqlx::QueryBuilder::<D>::new(
                "INSERT INTO recommendation_shown (day, context, model, impressions, items) ",
            );
            q.push_values(chunk, |mut b, s| {
                b.push_arg(s.day)
                    .push_arg(s.context.as_str())
                    .push_arg(s.model.as_str())
                    .push_arg(s.impressions)
                    .push_arg(s.items);
            });
            q.push(
                " ON CONFLICT (day, context, model) DO UPDATE SET \
                 impressions = recommendation_shown.impressions + excluded.impressions, \
                 items = recommendation_shown.items + excluded.items",
            );
            q.build().execute(self.db()).await.map_err(unavailable)?;
        }
        Ok(())
    }

    async fn shown_between(&self, from: i64, to: i64) -> StoreResult<Vec<Shown>> {
        let q = sqlx::query(
            "SELECT day, context, model, impressions, items FROM recommendation_shown \
             WHERE day >= $1 AND day <= $2 ORDER BY day, context, model",
        )
        .arg(from)
        .arg(to);
        let rows = self.all(q).await?;
        Ok(rows
            .iter()
            .map(|r| Shown {
                day: r.get("day"),
                context: r.get("context"),
                model: r.get("model"),
                impressions: r.get("impressions"),
                items: r.get("items"),
            })
            .collect())
    }

    async fn attributed_between(&self, from: i64, to: i64) -> StoreResult<Vec<Attributed>> {
        let q = sqlx::query(
            "SELECT impression_id, \
             COUNT(DISTINCT CASE WHEN kind <> 'purchased' THEN product_id END) AS clicks, \
             COUNT(DISTINCT CASE WHEN kind = 'purchased' THEN product_id END) AS purchases \
             FROM behaviour_events WHERE impression_id IS NOT NULL AND at >= $1 AND at < $2 \
             AND kind <> 'returned' GROUP BY impression_id",
        )
        .arg(from)
        .arg(to);
        let rows = self.all(q).await?;
        Ok(rows
            .iter()
            .map(|r| Attributed {
                impression_id: r.get("impression_id"),
                clicks: r.get("clicks"),
                purchases: r.get("purchases"),
            })
            .collect())
    }
}
