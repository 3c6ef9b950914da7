//! The audit trail on SQLite.

use crate::{SqliteStore, unavailable};
use rouge_catalog::RepoError;
use rouge_identity::audit::{AuditChain, chain_hash};
use rouge_identity::ports::{AuditRepository, RepoResult};
use rouge_identity::{Actor, AuditEntry, AuditFilter, AuditInput};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

fn entry(r: &SqliteRow) -> RepoResult<AuditEntry> {
    let text: String = r.get("entry");
    Ok(AuditEntry {
        seq: r.get("seq"),
        entry: serde_json::from_str(&text).map_err(|e| RepoError::Unavailable(format!("corrupt audit entry: {e}")))?,
        prev_hash: r.get("prev_hash"),
        hash: r.get("hash"),
    })
}

fn actor_id(a: &Actor) -> String {
    match a {
        Actor::Staff(id) | Actor::ApiKey(id) => id.to_string(),
    }
}

impl AuditRepository for SqliteStore {
    async fn append_audit(&self, e: &AuditInput) -> RepoResult<AuditEntry> {
        let run = async {
            let mut tx = self.pool.begin().await?;
            // Writing the head first takes the write lock: appends queue here, one at a time.
            let head = sqlx::query("UPDATE audit_head SET count = count + 1 WHERE id = 1 RETURNING count, hash")
                .fetch_one(&mut *tx)
                .await?;
            let (seq, prev): (i64, String) = (head.get("count"), head.get("hash"));
            let hash = chain_hash(&prev, seq, e);
            sqlx::query(
                "INSERT INTO audit_log (seq, id, at_ms, actor_id, route, entry, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(seq)
            .bind(e.id.to_string())
            .bind(e.at_ms)
            .bind(actor_id(&e.actor))
            .bind(&e.route)
            .bind(serde_json::to_string(e).expect("entries serialise"))
            .bind(&prev)
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1").bind(&hash).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(AuditEntry { seq, entry: e.clone(), prev_hash: prev, hash })
        };
        run.await.map_err(unavailable)
    }

    async fn audit(&self, f: &AuditFilter) -> RepoResult<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT seq, entry, prev_hash, hash FROM audit_log \
             WHERE ($1 IS NULL OR actor_id = $1) AND ($2 IS NULL OR route = $2) AND ($3 IS NULL OR at_ms >= $3) \
             AND ($4 IS NULL OR at_ms < $4) AND ($5 IS NULL OR seq < $5) ORDER BY seq DESC LIMIT $6",
        )
        .bind(f.actor.map(|a| a.to_string()))
        .bind(&f.route)
        .bind(f.since_ms)
        .bind(f.until_ms)
        .bind(f.before_seq)
        .bind(f.limit)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(entry).collect()
    }

    async fn audit_chain(&self) -> RepoResult<AuditChain> {
        let rows = sqlx::query("SELECT seq, entry, prev_hash, hash FROM audit_log ORDER BY seq")
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        let head = sqlx::query("SELECT count, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .map(|r| (r.get::<i64, _>("count"), r.get::<String, _>("hash")));
        Ok((rows.iter().map(entry).collect::<RepoResult<_>>()?, head))
    }
}
