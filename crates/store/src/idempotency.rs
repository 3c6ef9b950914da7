//! Idempotency keys. PostgreSQL keeps the table in its `gateway` schema.

use crate::prelude::*;
use crate::unavailable;

use rouge_kernel::{Begin, IdempotencyStore, StoredBody, StoredResponse};

impl<D: Dialect> IdempotencyStore for Store<D> {
    #[tracing::instrument(name = "store.idempotency_begin", skip_all, fields(otel.kind = "client", db.system = D::SYSTEM))]
    async fn begin(
        &self,
        scope: &str,
        key: &str,
        hash: &str,
        now: i64,
        lease_ms: i64,
        ttl_ms: i64,
    ) -> rouge_kernel::StoreResult<Begin> {
        // Two rounds at most: an expired key is deleted and claimed afresh.
        for _ in 0..2 {
            let q = sqlx::query(
                "INSERT INTO idempotency_keys (scope, key, request_hash, state, started_at, expires_at) \
                 VALUES ($1, $2, $3, 'in_flight', $4, $5) ON CONFLICT (scope, key) DO NOTHING",
            )
            .arg(scope)
            .arg(key)
            .arg(hash)
            .arg(now)
            .arg(now + ttl_ms);
            let claimed = self.run(q).await?.rows_affected();
            if claimed == 1 {
                return Ok(Begin::Started);
            }
            let q = sqlx::query(
                "SELECT request_hash, state, status, headers, body, owner, started_at, expires_at FROM idempotency_keys \
                 WHERE scope = $1 AND key = $2",
            )
            .arg(scope)
            .arg(key);
            let Some(r) = self.optional(q).await? else {
                continue;
            };
            let expires: i64 = r.get("expires_at");
            if expires < now {
                let q = sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND expires_at = $3")
                    .arg(scope)
                    .arg(key)
                    .arg(expires);
                self.run(q).await?;
                continue;
            }
            if r.get::<String>("request_hash") != hash {
                return Ok(Begin::Mismatch);
            }
            if r.get::<String>("state") == "done" {
                let headers: Option<String> = r.get("headers");
                return Ok(Begin::Done(StoredResponse {
                    status: r.get::<i32>("status") as u16,
                    headers: headers.and_then(|h| serde_json::from_str(&h).ok()).unwrap_or_default(),
                    body: r.get::<Option<Vec<u8>>>("body").unwrap_or_default(),
                    owner: r.get("owner"),
                }));
            }
            // In flight. A holder silent for longer than the lease died: take the key over.
            let started: i64 = r.get("started_at");
            if started + lease_ms < now {
                let q = sqlx::query(
                    "UPDATE idempotency_keys SET started_at = $3 WHERE scope = $1 AND key = $2 AND started_at = $4 \
                     AND state = 'in_flight'",
                )
                .arg(scope)
                .arg(key)
                .arg(now)
                .arg(started);
                let took = self.run(q).await?.rows_affected();
                if took == 1 {
                    return Ok(Begin::Started);
                }
            }
            return Ok(Begin::InFlight);
        }
        Ok(Begin::InFlight)
    }

    #[tracing::instrument(name = "store.idempotency_finish", skip_all, fields(otel.kind = "client", db.system = D::SYSTEM))]
    async fn finish(&self, scope: &str, key: &str, response: &StoredResponse) -> rouge_kernel::StoreResult<()> {
        let headers = serde_json::to_string(&response.headers)
            .map_err(|e| rouge_kernel::StoreError::Unavailable(e.to_string()))?;
        let q = sqlx::query(
            "UPDATE idempotency_keys SET state = 'done', status = $3, headers = $4, body = $5, owner = $6 \
             WHERE scope = $1 AND key = $2",
        )
        .arg(scope)
        .arg(key)
        .arg(i32::from(response.status))
        .arg(headers)
        .arg(response.body.as_slice())
        .arg(response.owner.as_deref());
        self.run(q).await?;
        Ok(())
    }

    async fn abandon(&self, scope: &str, key: &str, started_at: i64) -> rouge_kernel::StoreResult<()> {
        let q = sqlx::query(
            "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND state = 'in_flight' AND started_at = $3",
        )
        .arg(scope)
        .arg(key)
        .arg(started_at);
        self.run(q).await?;
        Ok(())
    }

    async fn forget_owner(&self, owner: &str) -> rouge_kernel::StoreResult<u64> {
        Ok(sqlx::query("DELETE FROM idempotency_keys WHERE owner = $1")
            .arg(owner)
            .execute(self.db())
            .await
            .map_err(unavailable)?
            .rows_affected())
    }

    async fn stored_bodies(
        &self,
        after: Option<(&str, &str)>,
        limit: i64,
    ) -> rouge_kernel::StoreResult<Vec<StoredBody>> {
        let (scope, key) = after.unwrap_or(("", ""));
        let q = sqlx::query(
            "SELECT scope, key, body FROM idempotency_keys WHERE state = 'done' AND body IS NOT NULL \
             AND (scope > $1 OR (scope = $1 AND key > $2)) ORDER BY scope, key LIMIT $3",
        )
        .arg(scope)
        .arg(key)
        .arg(limit);
        let rows = self.all(q).await?;
        Ok(rows.iter().map(|r| StoredBody { scope: r.get("scope"), key: r.get("key"), body: r.get("body") }).collect())
    }

    async fn replace_body(&self, scope: &str, key: &str, old: &[u8], new: &[u8]) -> rouge_kernel::StoreResult<bool> {
        Ok(sqlx::query("UPDATE idempotency_keys SET body = $4 WHERE scope = $1 AND key = $2 AND body = $3")
            .arg(scope)
            .arg(key)
            .arg(old)
            .arg(new)
            .execute(self.db())
            .await
            .map_err(unavailable)?
            .rows_affected()
            == 1)
    }

    async fn purge_idempotency(&self, now: i64) -> rouge_kernel::StoreResult<u64> {
        Ok(sqlx::query("DELETE FROM idempotency_keys WHERE expires_at < $1")
            .arg(now)
            .execute(self.db())
            .await
            .map_err(unavailable)?
            .rows_affected())
    }
}
