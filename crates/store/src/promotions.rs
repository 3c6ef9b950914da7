//! Promotions, their codes, and the budget counters checkouts hold (PostgreSQL keeps them in
//! the orders schema: promotions are deployed with orders).
//!
//! A hold takes every counter it needs in one transaction, each by a conditional update
//! (`taken + amount <= cap`), in key order so that two checkouts never wait on each other in
//! a circle; a counter at its cap refuses and the transaction takes nothing. On PostgreSQL
//! the row lock of the update makes a concurrent checkout re-check the cap against the
//! committed count; SQLite has one writer at a time.

use crate::audit;
use crate::prelude::*;
use crate::unavailable;
use rouge_kernel::{DomainEvent, StoreError, StoreResult};
use rouge_promotions::{Code, Hold, HoldState, Promotion, PromotionsRepository, Use};
use sqlx::types::Json;
use uuid::Uuid;

const HOLD: &str = "SELECT id, reference, state, order_id, uses, expires_at FROM promotion_holds";
const CODE: &str = "SELECT c.code, c.promotion_id, c.max_uses, c.created_at, \
     (SELECT COUNT(*) FROM promotion_uses u WHERE u.code = c.code) AS used FROM promotion_codes c";

fn hold(r: &impl Read) -> Hold {
    Hold {
        id: r.get("id"),
        reference: r.get("reference"),
        state: HoldState::parse(&r.get::<String>("state")).unwrap_or(HoldState::Released),
        order_id: r.get("order_id"),
        uses: r.get::<Json<Vec<Use>>>("uses").0,
        expires_at: r.get("expires_at"),
    }
}

fn code(r: &impl Read) -> Code {
    Code {
        code: r.get("code"),
        promotion_id: r.get("promotion_id"),
        max_uses: r.get("max_uses"),
        used: r.get("used"),
        created_at: r.get("created_at"),
    }
}

fn promotion(r: &impl Read) -> StoreResult<Promotion> {
    Ok(r.get::<Json<Promotion>>("doc").0)
}

impl<D: Dialect> Store<D> {
    async fn hold_in(&self, tx: &mut D::Connection, id: Uuid) -> StoreResult<Option<Hold>> {
        let sql = format!("{HOLD} WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).arg(id).fetch_optional(D::on(tx)).await.map_err(unavailable)?;
        Ok(row.as_ref().map(hold))
    }
}

/// Makes sure a counter has its row (at 0), so that it can be locked and moved.
async fn counter<D: Dialect>(tx: &mut D::Connection, key: &str) -> StoreResult<()> {
    sqlx::query("INSERT INTO promotion_budgets (budget_key, taken) VALUES ($1, 0) ON CONFLICT (budget_key) DO NOTHING")
        .arg(key)
        .execute(D::on(tx))
        .await
        .map_err(unavailable)
        .map(|_| ())
}

/// Moves counters by `sign` × each use's amount, unconditionally (giving back, or taking again
/// for an order that did use them).
async fn shift<D: Dialect>(tx: &mut D::Connection, uses: &[Use], sign: i64) -> StoreResult<()> {
    let mut sorted: Vec<&Use> = uses.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    for u in sorted {
        counter::<D>(tx, &u.key).await?;
        // Never below zero (the CHECK would refuse it): a counter only gives back what it took.
        sqlx::query("UPDATE promotion_budgets SET taken = CASE WHEN taken + $2 < 0 THEN 0 ELSE taken + $2 END WHERE budget_key = $1")
        .arg(&u.key)
        .arg(sign * u.amount)
        .execute(D::on(tx))
        .await
        .map_err(unavailable)?;
    }
    Ok(())
}

impl<D: Dialect> PromotionsRepository for Store<D> {
    async fn save_promotion(&self, p: &Promotion) -> StoreResult<()> {
        let before = self.promotion(p.id).await?;
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        sqlx::query(
            "INSERT INTO promotions (id, doc, requires_code, active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, requires_code = excluded.requires_code, \
             active = excluded.active, updated_at = excluded.updated_at",
        )
        .arg(p.id)
        .arg(Json(p))
        .arg(p.requires_code)
        .arg(p.active)
        .arg(p.created_at)
        .arg(p.updated_at)
        .execute(D::on(&mut tx))
        .await
        .map_err(unavailable)?;
        audit::record::<D>(&mut tx, before.as_ref().and_then(audit::json), audit::json(p))
            .await
            .map_err(unavailable)?;
        let event = DomainEvent::new("promotion", p.id, "promotion.saved", serde_json::to_value(p).unwrap_or_default());
        self.commit(tx, &[event]).await.map_err(unavailable)
    }

    async fn promotion(&self, id: Uuid) -> StoreResult<Option<Promotion>> {
        let row = self.optional(sqlx::query("SELECT doc FROM promotions WHERE id = $1").arg(id)).await?;
        row.as_ref().map(promotion).transpose()
    }

    async fn promotions(&self) -> StoreResult<Vec<Promotion>> {
        let rows = self.all(sqlx::query("SELECT doc FROM promotions ORDER BY created_at DESC, id DESC")).await?;
        rows.iter().map(promotion).collect()
    }

    async fn add_codes(&self, codes: &[Code]) -> StoreResult<()> {
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        // Bound in chunks: SQLite takes at most 32766 arguments a statement.
        for chunk in codes.chunks(1000) {
            let mut q =
                sqlx::QueryBuilder::<D>::new("INSERT INTO promotion_codes (code, promotion_id, max_uses, created_at) ");
            q.push_values(chunk, |mut b, c| {
                b.push_arg(&c.code).push_arg(c.promotion_id).push_arg(c.max_uses).push_arg(c.created_at);
            });
            if let Err(e) = q.build().execute(D::on(&mut tx)).await {
                return Err(match D::duplicate(&e) {
                    Some(_) => StoreError::duplicate("code", "(one of the codes)"),
                    None => unavailable(e),
                });
            }
        }
        let note = serde_json::json!({
            "promotion": codes.first().map(|c| c.promotion_id),
            "codes_added": codes.len(),
            "max_uses": codes.first().and_then(|c| c.max_uses),
        });
        audit::record::<D>(&mut tx, None, Some(note)).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }

    async fn code(&self, c: &str) -> StoreResult<Option<Code>> {
        let sql = format!("{CODE} WHERE c.code = $1");
        Ok(self.optional(sqlx::query(sqlx::AssertSqlSafe(sql)).arg(c)).await?.as_ref().map(code))
    }

    async fn codes(&self, promotion: Uuid, after: Option<&str>, limit: i64) -> StoreResult<Vec<Code>> {
        let sql = format!("{CODE} WHERE c.promotion_id = $1 AND c.code > $2 ORDER BY c.code LIMIT $3");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).arg(promotion).arg(after.unwrap_or("")).arg(limit);
        Ok(self.all(q).await?.iter().map(code).collect())
    }

    async fn record_uses(&self, order: Uuid, uses: &[(Uuid, Option<String>)], at: i64) -> StoreResult<()> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut q = sqlx::QueryBuilder::<D>::new("INSERT INTO promotion_uses (order_id, promotion_id, code, at) ");
        q.push_values(uses, |mut b, (promotion, code)| {
            b.push_arg(order).push_arg(*promotion).push_arg(code.as_deref()).push_arg(at);
        });
        q.push(" ON CONFLICT (order_id, promotion_id) DO NOTHING");
        q.build().execute(self.db()).await.map_err(unavailable).map(|_| ())
    }

    async fn forget_uses(&self, order: Uuid) -> StoreResult<()> {
        self.exec(sqlx::query("DELETE FROM promotion_uses WHERE order_id = $1").arg(order)).await
    }

    async fn uses_of(&self, promotions: &[Uuid]) -> StoreResult<Vec<i64>> {
        if promotions.is_empty() {
            return Ok(vec![]);
        }
        let mut q =
            sqlx::QueryBuilder::<D>::new("SELECT promotion_id, COUNT(*) AS n FROM promotion_uses WHERE promotion_id");
        q.push_in(promotions.iter().copied());
        q.push(" GROUP BY promotion_id");
        let rows = q.build().fetch_all(self.db()).await.map_err(unavailable)?;
        let found: std::collections::HashMap<Uuid, i64> =
            rows.iter().map(|r| (r.get::<Uuid>("promotion_id"), r.get::<i64>("n"))).collect();
        Ok(promotions.iter().map(|p| found.get(p).copied().unwrap_or(0)).collect())
    }

    async fn taken(&self, keys: &[String]) -> StoreResult<Vec<i64>> {
        if keys.is_empty() {
            return Ok(vec![]);
        }
        let mut q = sqlx::QueryBuilder::<D>::new("SELECT budget_key, taken FROM promotion_budgets WHERE budget_key");
        q.push_in(keys.iter());
        let rows = q.build().fetch_all(self.db()).await.map_err(unavailable)?;
        let found: std::collections::HashMap<String, i64> =
            rows.iter().map(|r| (r.get::<String>("budget_key"), r.get::<i64>("taken"))).collect();
        Ok(keys.iter().map(|k| found.get(k).copied().unwrap_or(0)).collect())
    }

    #[tracing::instrument(name = "store.promotion_hold", skip_all, fields(otel.kind = "client", db.system = D::SYSTEM))]
    async fn hold(&self, h: &Hold) -> StoreResult<Result<Hold, String>> {
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        let sql = format!("{HOLD} WHERE reference = $1");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).arg(&h.reference);
        let existing = q.fetch_optional(D::on(&mut tx)).await.map_err(unavailable)?.map(|r| hold(&r));
        // A retry of a live attempt gets its hold back; one whose hold expired meanwhile takes
        // its uses again, within the caps like a new one.
        let uses = match &existing {
            Some(e) if e.state != HoldState::Released => return Ok(Ok(e.clone())),
            Some(e) => e.uses.clone(),
            None => h.uses.clone(),
        };
        let mut sorted: Vec<&Use> = uses.iter().collect();
        sorted.sort_by(|a, b| a.key.cmp(&b.key));
        for u in sorted {
            counter::<D>(&mut tx, &u.key).await?;
            let took = sqlx::query(
                "UPDATE promotion_budgets SET taken = taken + $2 WHERE budget_key = $1 AND taken + $2 <= $3",
            )
            .arg(&u.key)
            .arg(u.amount)
            .arg(u.cap)
            .execute(D::on(&mut tx))
            .await
            .map_err(unavailable)?
            .rows_affected();
            if took == 0 {
                tx.rollback().await.map_err(unavailable)?;
                return Ok(Err(u.key.clone()));
            }
        }
        if let Some(e) = existing {
            sqlx::query("UPDATE promotion_holds SET state = 'held', expires_at = $2 WHERE id = $1")
                .arg(e.id)
                .arg(h.expires_at)
                .execute(D::on(&mut tx))
                .await
                .map_err(unavailable)?;
            tx.commit().await.map_err(unavailable)?;
            return Ok(Ok(Hold { state: HoldState::Held, expires_at: h.expires_at, ..e }));
        }
        sqlx::query(
            "INSERT INTO promotion_holds (id, reference, state, order_id, uses, expires_at, created_at) \
             VALUES ($1, $2, 'held', NULL, $3, $4, $5)",
        )
        .arg(h.id)
        .arg(&h.reference)
        .arg(Json(&h.uses))
        .arg(h.expires_at)
        .arg(chrono::Utc::now().timestamp_millis())
        .execute(D::on(&mut tx))
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(Ok(Hold { state: HoldState::Held, order_id: None, ..h.clone() }))
    }

    #[tracing::instrument(name = "store.promotion_release", skip_all, fields(otel.kind = "client", db.system = D::SYSTEM))]
    async fn release_hold(&self, id: Uuid) -> StoreResult<Option<Hold>> {
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        // The state moves first: of two concurrent releases, one changes the row and gives back.
        let moved = sqlx::query("UPDATE promotion_holds SET state = 'released' WHERE id = $1 AND state <> 'released'")
            .arg(id)
            .execute(D::on(&mut tx))
            .await
            .map_err(unavailable)?
            .rows_affected();
        let h = self.hold_in(&mut tx, id).await?;
        if moved == 1
            && let Some(h) = &h
        {
            shift::<D>(&mut tx, &h.uses, -1).await?;
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(h)
    }

    #[tracing::instrument(name = "store.promotion_commit", skip_all, fields(otel.kind = "client", db.system = D::SYSTEM))]
    async fn commit_hold(&self, id: Uuid, order: Uuid) -> StoreResult<Option<Hold>> {
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        let Some(before) = self.hold_in(&mut tx, id).await? else { return Ok(None) };
        let moved =
            sqlx::query("UPDATE promotion_holds SET state = 'committed', order_id = $2 WHERE id = $1 AND state = $3")
                .arg(id)
                .arg(order)
                .arg(before.state.as_str())
                .execute(D::on(&mut tx))
                .await
                .map_err(unavailable)?
                .rows_affected();
        if moved == 1 && before.state == HoldState::Released {
            tracing::warn!(hold = %id, order = %order, "a promotion hold expired before its order was recorded; its uses are taken again");
            shift::<D>(&mut tx, &before.uses, 1).await?;
        }
        let h = self.hold_in(&mut tx, id).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(h)
    }

    async fn expired_holds(&self, now: i64, limit: i64) -> StoreResult<Vec<Uuid>> {
        let q = sqlx::query(
            "SELECT id FROM promotion_holds WHERE state = 'held' AND expires_at < $1 ORDER BY expires_at LIMIT $2",
        )
        .arg(now)
        .arg(limit);
        Ok(self.all(q).await?.iter().map(|r| r.get("id")).collect())
    }
}
