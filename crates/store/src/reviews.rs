//! Reviews, their helpful votes and reports of abuse (PostgreSQL keeps them in the catalogue
//! schema: reviews are deployed with the catalogue). The review is a JSON document; the columns
//! beside it are what filters, sorts and ratings read. A change of approval writes the
//! product's new rating as an event in the same transaction, for the search index.

use crate::audit;
use crate::prelude::*;
use crate::unavailable;
use rouge_catalog::SkinType;
use rouge_kernel::{DomainEvent, StoreError, StoreResult};
use rouge_reviews::{ProductRating, ReviewFilter, ReviewSort, ReviewStatus, ReviewsRepository, StaffReview};
use sqlx::types::Json;
use uuid::Uuid;

const REVIEW: &str = "SELECT doc, customer_id, order_id, helpful, reports FROM reviews";

fn review(r: &impl Read) -> StaffReview {
    let mut s = r.get::<Json<StaffReview>>("doc").0;
    s.customer_id = r.get("customer_id");
    s.order_id = r.get("order_id");
    s.review.helpful = r.get("helpful");
    s.reports = r.get("reports");
    s
}

/// `,acne,redness,`: one concern is found with `LIKE '%,acne,%'`.
fn concerns(r: &StaffReview) -> String {
    let mut s = String::from(",");
    for c in &r.review.reviewer.concerns {
        s.push_str(c.as_str());
        s.push(',');
    }
    s
}

fn audit_view(r: &StaffReview) -> Option<serde_json::Value> {
    // Staff decisions are audited without the review's words or the reviewer's traits.
    Some(serde_json::json!({
        "review": r.review.id,
        "product": r.review.product_id,
        "status": r.review.status,
        "rejection_reason": r.review.rejection_reason,
        "reply": r.review.reply.as_ref().map(|p| &p.text),
    }))
}

impl<D: Dialect> Store<D> {
    async fn rating_of(&self, tx: &mut D::Connection, product: Uuid) -> StoreResult<ProductRating> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, COALESCE(SUM(rating), 0) AS s FROM reviews WHERE product_id = $1 AND status = 'approved'",
        )
        .arg(product)
        .fetch_one(D::on(tx))
        .await
        .map_err(unavailable)?;
        Ok(ProductRating { product_id: product, count: row.get("n"), sum: row.get("s") })
    }
}

fn rating_event(r: ProductRating) -> DomainEvent {
    let payload = serde_json::to_value(rouge_reviews::RatingChanged {
        product_id: r.product_id,
        count: r.count,
        sum: r.sum,
        average: rouge_reviews::mean(r.sum, r.count),
    })
    .unwrap_or_default();
    DomainEvent::new("product", r.product_id, "review.rating_changed", payload)
}

fn public(r: &StaffReview) -> serde_json::Value {
    serde_json::to_value(&r.review).unwrap_or_default()
}

impl<D: Dialect> ReviewsRepository for Store<D> {
    async fn add_review(&self, r: &StaffReview) -> StoreResult<()> {
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        let res = sqlx::query(
            "INSERT INTO reviews (id, product_id, sku, customer_id, order_id, status, rating, skin_type, age_band, \
             concerns, doc, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .arg(r.review.id)
        .arg(r.review.product_id)
        .arg(&r.review.sku)
        .arg(r.customer_id)
        .arg(r.order_id)
        .arg(r.review.status.as_str())
        .arg(i32::from(r.review.rating))
        .arg(r.review.reviewer.skin_type.map(|s| s.as_str()))
        .arg(r.review.reviewer.age_band.map(|s| s.as_str()))
        .arg(concerns(r))
        .arg(Json(r))
        .arg(r.review.created_at)
        .arg(r.review.updated_at)
        .execute(D::on(&mut tx))
        .await;
        if let Err(e) = res {
            return Err(match D::duplicate(&e) {
                Some(_) => {
                    StoreError::duplicate("review", format!("{} of {}", r.review.sku, r.order_id.unwrap_or_default()))
                }
                None => unavailable(e),
            });
        }
        let event = DomainEvent::new("review", r.review.id, "review.submitted", public(r));
        self.commit(tx, &[event]).await.map_err(unavailable)
    }

    async fn save_review(&self, r: &StaffReview, kind: &str) -> StoreResult<()> {
        let before = self.review(r.review.id).await?;
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        sqlx::query("UPDATE reviews SET status = $2, doc = $3, updated_at = $4 WHERE id = $1")
            .arg(r.review.id)
            .arg(r.review.status.as_str())
            .arg(Json(r))
            .arg(r.review.updated_at)
            .execute(D::on(&mut tx))
            .await
            .map_err(unavailable)?;
        audit::record::<D>(&mut tx, before.as_ref().and_then(audit_view), audit_view(r)).await.map_err(unavailable)?;
        let mut events = vec![DomainEvent::new("review", r.review.id, kind, public(r))];
        let was = before.map(|b| b.review.status == ReviewStatus::Approved);
        if was != Some(r.review.status == ReviewStatus::Approved) {
            events.push(rating_event(self.rating_of(&mut tx, r.review.product_id).await?));
        }
        self.commit(tx, &events).await.map_err(unavailable)
    }

    async fn review(&self, id: Uuid) -> StoreResult<Option<StaffReview>> {
        let sql = format!("{REVIEW} WHERE id = $1");
        Ok(self.optional(sqlx::query(sqlx::AssertSqlSafe(sql)).arg(id)).await?.as_ref().map(review))
    }

    async fn reviews(&self, f: &ReviewFilter) -> StoreResult<Vec<StaffReview>> {
        let mut q = sqlx::QueryBuilder::<D>::new(REVIEW);
        q.push(" WHERE 1 = 1");
        if let Some(p) = f.product_id {
            q.push(" AND product_id = ").push_arg(p);
        }
        if let Some(c) = f.customer {
            q.push(" AND customer_id = ").push_arg(c);
        }
        if let Some(s) = f.status {
            q.push(" AND status = ").push_arg(s.as_str());
        }
        if let Some(s) = f.skin_type {
            q.push(" AND skin_type = ").push_arg(s.as_str());
        }
        if let Some(a) = f.age_band {
            q.push(" AND age_band = ").push_arg(a.as_str());
        }
        if let Some(c) = f.concern {
            q.push(" AND concerns LIKE ").push_arg(format!("%,{},%", c.as_str()));
        }
        if let Some(r) = f.rating {
            q.push(" AND rating = ").push_arg(i32::from(r));
        }
        if f.reported {
            q.push(" AND reports > 0");
        }
        let (column, descending) = match f.sort {
            ReviewSort::Newest => ("created_at", true),
            ReviewSort::Helpful => ("helpful", true),
            ReviewSort::RatingDesc => ("rating", true),
            ReviewSort::RatingAsc => ("rating", false),
        };
        if let Some((key, id)) = f.after {
            let (cmp, idcmp) = if descending { ("<", "<") } else { (">", ">") };
            q.push(format!(" AND ({column} {cmp} ")).push_arg(key);
            q.push(format!(" OR ({column} = ")).push_arg(key);
            q.push(format!(" AND id {idcmp} ")).push_arg(id);
            q.push("))");
        }
        let dir = if descending { "DESC" } else { "ASC" };
        q.push(format!(" ORDER BY {column} {dir}, id {dir} LIMIT ")).push_arg(f.limit);
        let rows = q.build().fetch_all(self.db()).await.map_err(unavailable)?;
        Ok(rows.iter().map(review).collect())
    }

    async fn rating_counts(&self, product: Uuid) -> StoreResult<Vec<(Option<SkinType>, u8, i64)>> {
        let rows = self
            .all(
                sqlx::query(
                    "SELECT skin_type, rating, COUNT(*) AS n FROM reviews WHERE product_id = $1 AND status = 'approved' \
                     GROUP BY skin_type, rating",
                )
                .arg(product),
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let skin: Option<String> = r.get("skin_type");
                let rating: i32 = r.get("rating");
                (skin.as_deref().and_then(SkinType::parse), u8::try_from(rating).unwrap_or(0), r.get("n"))
            })
            .collect())
    }

    async fn ratings(&self) -> StoreResult<Vec<ProductRating>> {
        let rows = self
            .all(sqlx::query(
                "SELECT product_id, COUNT(*) AS n, SUM(rating) AS s FROM reviews WHERE status = 'approved' GROUP BY product_id",
            ))
            .await?;
        Ok(rows
            .iter()
            .map(|r| ProductRating { product_id: r.get("product_id"), count: r.get("n"), sum: r.get("s") })
            .collect())
    }

    async fn vote(&self, review: Uuid, customer: Uuid) -> StoreResult<bool> {
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        let insert = sqlx::query(
            "INSERT INTO review_votes (review_id, customer_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (review_id, customer_id) DO NOTHING",
        )
        .arg(review)
        .arg(customer)
        .arg(crate::now_ms());
        let added = count_once::<D>(&mut tx, insert, "helpful", review).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(added)
    }

    async fn report(&self, review: Uuid, customer: Uuid, reason: &str) -> StoreResult<bool> {
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        let insert = sqlx::query(
            "INSERT INTO review_reports (review_id, customer_id, reason, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (review_id, customer_id) DO NOTHING",
        )
        .arg(review)
        .arg(customer)
        .arg(reason)
        .arg(crate::now_ms());
        let added = count_once::<D>(&mut tx, insert, "reports", review).await?;
        let reported = rouge_reviews::ReviewReported { review_id: review, reason: reason.to_owned() };
        let event =
            DomainEvent::new("review", review, "review.reported", serde_json::to_value(reported).unwrap_or_default());
        self.commit(tx, if added { std::slice::from_ref(&event) } else { &[] }).await.map_err(unavailable)?;
        Ok(added)
    }

    async fn forget_customer(&self, customer: Uuid) -> StoreResult<u64> {
        let sql = format!("{REVIEW} WHERE customer_id = $1");
        let mine: Vec<StaffReview> =
            self.all(sqlx::query(sqlx::AssertSqlSafe(sql)).arg(customer)).await?.iter().map(review).collect();
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        for mut r in mine.iter().cloned() {
            let who = &mut r.review.reviewer;
            who.display_name = "Former customer".into();
            who.age_band = None;
            who.shade = None;
            r.review.photos.clear();
            r.customer_id = None;
            r.order_id = None;
            sqlx::query(
                "UPDATE reviews SET customer_id = NULL, order_id = NULL, age_band = NULL, doc = $2 WHERE id = $1",
            )
            .arg(r.review.id)
            .arg(Json(&r))
            .execute(D::on(&mut tx))
            .await
            .map_err(unavailable)?;
        }
        // Her votes and reports go, and the counts with them.
        for (table, count) in [("review_votes", "helpful"), ("review_reports", "reports")] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE reviews SET {count} = {count} - 1 WHERE id IN (SELECT review_id FROM {table} WHERE customer_id = $1)"
            )))
            .arg(customer)
            .execute(D::on(&mut tx))
            .await
            .map_err(unavailable)?;
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE customer_id = $1")))
                .arg(customer)
                .execute(D::on(&mut tx))
                .await
                .map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(mine.len() as u64)
    }
}

/// Runs `insert` (a customer's one vote or report: no row when she did it already) and, when it
/// added its row, counts it in the review's `column`.
async fn count_once<D: Dialect>(
    tx: &mut D::Connection,
    insert: Statement<'_, D>,
    column: &str,
    review: Uuid,
) -> StoreResult<bool> {
    let added = insert.execute(D::on(tx)).await.map_err(unavailable)?.rows_affected() == 1;
    if added {
        sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE reviews SET {column} = {column} + 1 WHERE id = $1")))
            .arg(review)
            .execute(D::on(tx))
            .await
            .map_err(unavailable)?;
    }
    Ok(added)
}
