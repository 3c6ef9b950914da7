//! The audit trail (PostgreSQL keeps them in its `identity` schema).

use crate::prelude::*;
use crate::unavailable;
use rouge_catalog::RepoError;
use rouge_identity::audit::{AuditChain, chain_hash};
use rouge_identity::ports::{AuditRepository, RepoResult};
use rouge_identity::{Actor, AuditEntry, AuditFilter, AuditInput};

fn entry(r: &impl Read) -> RepoResult<AuditEntry> {
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

/// Appends an entry inside the caller's transaction.
async fn append_in<D: Dialect>(tx: &mut D::Connection, e: &AuditInput) -> Result<AuditEntry, sqlx::Error> {
    // Updating the head first locks its row: appends queue here, one at a time.
    let head = sqlx::query("UPDATE audit_head SET count = count + 1 WHERE id = 1 RETURNING count, hash")
        .fetch_optional(D::on(tx))
        .await?
        .ok_or_else(|| sqlx::Error::Protocol("the audit trail has lost its head row; `rouge audit verify`".into()))?;
    let (seq, prev): (i64, String) = (head.get("count"), head.get("hash"));
    let hash = chain_hash(&prev, seq, e);
    sqlx::query(
        "INSERT INTO audit_log (seq, id, at_ms, actor_id, route, entry, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .arg(seq)
    .arg(e.id)
    .arg(e.at_ms)
    .arg(actor_id(&e.actor))
    .arg(&e.route)
    .arg(serde_json::to_string(e).expect("entries serialise"))
    .arg(&prev)
    .arg(&hash)
    .execute(D::on(tx))
    .await?;
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1").arg(&hash).execute(D::on(tx)).await?;
    Ok(AuditEntry { seq, entry: e.clone(), prev_hash: prev, hash })
}

/// Inside a change's transaction: when the change is made in an audit scope (an admin
/// request), appends its entry, so that the two commit together or not at all.
pub(crate) async fn record<D: Dialect>(
    tx: &mut D::Connection,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<(), sqlx::Error> {
    if let Some(scope) = rouge_identity::audit::current() {
        append_in::<D>(tx, &scope.entry(before, after)).await?;
    }
    Ok(())
}

pub(crate) use rouge_identity::audit::{api_key_view, staff_view};

/// A domain object as the trail records it.
pub(crate) fn json<T: serde::Serialize>(v: &T) -> Option<serde_json::Value> {
    serde_json::to_value(v).ok()
}

impl<D: Dialect> AuditRepository for Store<D> {
    async fn append_audit(&self, e: &AuditInput) -> RepoResult<AuditEntry> {
        let run = async {
            let mut tx = self.write_tx().await?;
            let entry = append_in::<D>(&mut tx, e).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(entry)
        };
        run.await.map_err(unavailable)
    }

    async fn audit(&self, f: &AuditFilter) -> RepoResult<Vec<AuditEntry>> {
        let q = sqlx::query(
            "SELECT seq, entry, prev_hash, hash FROM audit_log \
             WHERE (CAST($1 AS TEXT) IS NULL OR actor_id = $1) AND (CAST($2 AS TEXT) IS NULL OR route = $2) AND (CAST($3 AS BIGINT) IS NULL OR at_ms >= $3) \
             AND (CAST($4 AS BIGINT) IS NULL OR at_ms < $4) AND (CAST($5 AS BIGINT) IS NULL OR seq < $5) ORDER BY seq DESC LIMIT $6",
        )
        .arg(f.actor.map(|a| a.to_string()))
        .arg(&f.route)
        .arg(f.since_ms)
        .arg(f.until_ms)
        .arg(f.before_seq)
        .arg(f.limit);
        let rows = self.all(q).await?;
        rows.iter().map(entry).collect()
    }

    async fn audit_chain(&self) -> RepoResult<AuditChain> {
        let q = sqlx::query("SELECT seq, entry, prev_hash, hash FROM audit_log ORDER BY seq");
        let rows = self.all(q).await?;
        let q = sqlx::query("SELECT count, hash FROM audit_head WHERE id = 1");
        let head = self.optional(q).await?.map(|r| (r.get::<i64>("count"), r.get::<String>("hash")));
        Ok((rows.iter().map(entry).collect::<RepoResult<_>>()?, head))
    }
}
