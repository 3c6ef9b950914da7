//! Identity's tables (PostgreSQL keeps them in its `identity` schema). Personal fields arrive sealed; this module never sees plaintext.

use crate::prelude::*;
use crate::{Value, unavailable};
use rouge_catalog::RepoError;
use rouge_identity::ports::{IdentityRepository, RepoResult};
use rouge_identity::{CustomerRecord, LinkPurpose, RefreshRecord, RefreshUse, WrappedKey};
use rouge_kernel::DomainEvent;
use tracing::instrument;
use uuid::Uuid;

const CUSTOMER_COLS: &str = "id, email_index, master_key_id, data_key, email, name, profile, password_hash, \
     email_verified_at, created_at, updated_at, erased_at, version, contact";

fn customer(r: &impl Read) -> CustomerRecord {
    let master: Option<String> = r.get("master_key_id");
    let sealed: Option<Vec<u8>> = r.get("data_key");
    CustomerRecord {
        id: r.get("id"),
        email_index: r.get("email_index"),
        key: master.zip(sealed).map(|(master_id, sealed)| WrappedKey { master_id, sealed }),
        email: r.get("email"),
        name: r.get("name"),
        profile: r.get("profile"),
        contact: r.get("contact"),
        password_hash: r.get("password_hash"),
        email_verified_at: r.get("email_verified_at"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        erased_at: r.get("erased_at"),
        version: r.get("version"),
    }
}

fn refresh(r: &impl Read) -> RefreshRecord {
    RefreshRecord {
        hash: r.get("hash"),
        family: r.get("family"),
        customer_id: r.get("customer_id"),
        issued_at: r.get("issued_at"),
        expires_at: r.get("expires_at"),
    }
}

impl<D: Dialect> Store<D> {
    async fn customer_where<V: for<'t> Value<'t>>(&self, clause: &str, value: V) -> RepoResult<Option<CustomerRecord>> {
        let sql = format!("SELECT {CUSTOMER_COLS} FROM customers WHERE {clause} = $1");
        let row =
            sqlx::query(sqlx::AssertSqlSafe(sql)).arg(value).fetch_optional(self.db()).await.map_err(unavailable)?;
        Ok(row.as_ref().map(customer))
    }
}

/// Binds a customer's columns as `$1`…`$14`, in `CUSTOMER_COLS` order.
fn bind_customer<'q, D: Dialect>(q: Statement<'q, D>, c: &CustomerRecord) -> Statement<'q, D> {
    q.arg(c.id)
        .arg(&c.email_index)
        .arg(c.key.as_ref().map(|k| &k.master_id))
        .arg(c.key.as_ref().map(|k| &k.sealed))
        .arg(&c.email)
        .arg(&c.name)
        .arg(&c.profile)
        .arg(&c.password_hash)
        .arg(c.email_verified_at)
        .arg(c.created_at)
        .arg(c.updated_at)
        .arg(c.erased_at)
        .arg(c.version)
        .arg(&c.contact)
}

impl<D: Dialect> IdentityRepository for Store<D> {
    #[instrument(skip_all, fields(customer = %c.id))]
    async fn insert_customer(&self, c: &CustomerRecord, events: &[DomainEvent]) -> RepoResult<()> {
        let run = async {
            let mut tx = self.write_tx().await?;
            bind_customer(
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO customers ({CUSTOMER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
                ))),
                c,
            )
            .execute(D::on(&mut tx))
            .await?;
            self.commit(tx, events).await?;
            Ok::<(), sqlx::Error>(())
        };
        run.await.map_err(|e| match &e {
            _ if D::duplicate(&e).is_some() => RepoError::Duplicate { field: "email".into(), value: "(hidden)".into() },
            _ => unavailable(e),
        })
    }

    #[instrument(skip_all, fields(customer = %c.id))]
    async fn update_customer(&self, c: &CustomerRecord, events: &[DomainEvent]) -> RepoResult<()> {
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        // Every column in `CUSTOMER_COLS` order, so one binding serves the insert and the update.
        let sql = format!(
            "UPDATE customers SET ({CUSTOMER_COLS}) = ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) WHERE id = $1 AND version = $15"
        );
        let done = bind_customer(sqlx::query(sqlx::AssertSqlSafe(sql)), c)
            .arg(c.version - 1)
            .execute(D::on(&mut tx))
            .await
            .map_err(unavailable)?;
        if done.rows_affected() == 0 {
            return Err(RepoError::Stale);
        }
        if c.erased_at.is_some() {
            sqlx::query("DELETE FROM links WHERE customer_id = $1")
                .arg(c.id)
                .execute(D::on(&mut tx))
                .await
                .map_err(unavailable)?;
        }
        self.commit(tx, events).await.map_err(unavailable)?;
        Ok(())
    }

    async fn customer(&self, id: Uuid) -> RepoResult<Option<CustomerRecord>> {
        self.customer_where("id", id).await
    }

    async fn customer_by_email_index(&self, index: &str) -> RepoResult<Option<CustomerRecord>> {
        self.customer_where("email_index", index.to_owned()).await
    }

    async fn people_by_master(&self) -> RepoResult<Vec<(String, i64)>> {
        let q = sqlx::query(
            "SELECT master_key_id, COUNT(*) AS n FROM (SELECT master_key_id FROM customers WHERE master_key_id IS NOT NULL \
             UNION ALL SELECT master_key_id FROM staff) AS sealed GROUP BY master_key_id",
        );
        let rows = self.all(q).await?;
        Ok(rows.iter().map(|r| (r.get("master_key_id"), r.get("n"))).collect())
    }

    async fn customer_keys(&self) -> RepoResult<Vec<(Uuid, WrappedKey)>> {
        let q = sqlx::query("SELECT id, master_key_id, data_key FROM customers WHERE data_key IS NOT NULL ORDER BY id");
        let rows = self.all(q).await?;
        rows.iter()
            .map(|r| Ok((r.get("id"), WrappedKey { master_id: r.get("master_key_id"), sealed: r.get("data_key") })))
            .collect()
    }

    async fn replace_key(&self, id: Uuid, old: &WrappedKey, new: &WrappedKey) -> RepoResult<bool> {
        let q = sqlx::query(
            "UPDATE customers SET master_key_id = $1, data_key = $2 WHERE id = $3 AND master_key_id = $4 AND data_key = $5",
        )
        .arg(&new.master_id)
        .arg(&new.sealed)
        .arg(id)
        .arg(&old.master_id)
        .arg(&old.sealed);
        let done = self.run(q).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_refresh(&self, r: &RefreshRecord) -> RepoResult<()> {
        let q = sqlx::query(
            "INSERT INTO refresh_tokens (hash, family, customer_id, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        );
        self.exec(q.arg(&r.hash).arg(r.family).arg(r.customer_id).arg(r.issued_at).arg(r.expires_at)).await
    }

    async fn use_refresh(&self, hash: &str, now: i64) -> RepoResult<RefreshUse> {
        let q =
            sqlx::query("SELECT hash, family, customer_id, issued_at, expires_at FROM refresh_tokens WHERE hash = $1");
        let row = self.optional(q.arg(hash)).await?;
        let Some(row) = row else { return Ok(RefreshUse::Unknown) };
        let rec = refresh(&row);
        let q = sqlx::query(
            // A family with any revoked token is dead, even for a token issued after the revocation
            // (a refresh racing a reuse).
            "UPDATE refresh_tokens SET used_at = $1 WHERE hash = $2 AND used_at IS NULL AND revoked_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM refresh_tokens f WHERE f.family = $3 AND f.revoked_at IS NOT NULL)",
        )
        .arg(now)
        .arg(hash)
        .arg(rec.family);
        let done = self.run(q).await?;
        Ok(if done.rows_affected() == 1 { RefreshUse::Fresh(rec) } else { RefreshUse::Reused(rec) })
    }

    async fn revoke_family(&self, family: Uuid, now: i64) -> RepoResult<()> {
        self.exec(
            sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL")
                .arg(now)
                .arg(family),
        )
        .await
    }

    async fn session_live(&self, customer: Uuid, family: Uuid) -> RepoResult<bool> {
        // Live when the family has tokens and none of them is revoked.
        let q = sqlx::query(
            "SELECT COUNT(*) AS tokens, COUNT(revoked_at) AS revoked FROM refresh_tokens WHERE family = $1 AND customer_id = $2",
        )
        .arg(family)
        .arg(customer);
        let row = self.one(q).await?;
        Ok(row.get::<i64>("tokens") > 0 && row.get::<i64>("revoked") == 0)
    }

    async fn revoke_customer(&self, customer: Uuid, now: i64) -> RepoResult<()> {
        self.exec(
            sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE customer_id = $2 AND revoked_at IS NULL")
                .arg(now)
                .arg(customer),
        )
        .await
    }

    async fn insert_link(
        &self,
        hash: &str,
        customer: Uuid,
        purpose: LinkPurpose,
        expires_at: i64,
        events: &[DomainEvent],
    ) -> RepoResult<()> {
        let run = async {
            let mut tx = self.write_tx().await?;
            sqlx::query("INSERT INTO links (hash, customer_id, purpose, expires_at) VALUES ($1, $2, $3, $4)")
                .arg(hash)
                .arg(customer)
                .arg(purpose.as_str())
                .arg(expires_at)
                .execute(D::on(&mut tx))
                .await?;
            self.commit(tx, events).await?;
            Ok::<(), sqlx::Error>(())
        };
        run.await.map_err(unavailable)
    }

    async fn take_link(&self, hash: &str, purpose: LinkPurpose, now: i64) -> RepoResult<Option<Uuid>> {
        let q = sqlx::query(
            "UPDATE links SET used_at = $1 WHERE hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1 \
             RETURNING customer_id",
        )
        .arg(now)
        .arg(hash)
        .arg(purpose.as_str());
        let row = self.optional(q).await?;
        Ok(row.map(|r| r.get("customer_id")))
    }

    async fn append_events(&self, events: &[DomainEvent]) -> RepoResult<()> {
        let tx = self.write_tx().await.map_err(unavailable)?;
        self.commit(tx, events).await.map_err(unavailable)
    }

    async fn locked_until(&self, key: &str) -> RepoResult<Option<i64>> {
        let q = sqlx::query("SELECT locked_until FROM login_failures WHERE key = $1").arg(key);
        let row = self.optional(q).await?;
        Ok(row.and_then(|r| r.get("locked_until")))
    }

    async fn record_failure(&self, key: &str, now: i64, window_start: i64) -> RepoResult<i64> {
        let q = sqlx::query(
            "INSERT INTO login_failures AS identity_login_failures (key, failures, window_started_at) VALUES ($1, 1, $2) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN identity_login_failures.window_started_at < $3 THEN 1 ELSE identity_login_failures.failures + 1 END, \
               window_started_at = CASE WHEN identity_login_failures.window_started_at < $3 THEN $2 ELSE identity_login_failures.window_started_at END \
             RETURNING failures",
        )
        .arg(key)
        .arg(now)
        .arg(window_start);
        let row = self.one(q).await?;
        Ok(row.get("failures"))
    }

    async fn lock(&self, key: &str, until: i64) -> RepoResult<()> {
        self.exec(sqlx::query("UPDATE login_failures SET locked_until = $1 WHERE key = $2").arg(until).arg(key)).await
    }

    async fn clear_failures(&self, key: &str) -> RepoResult<()> {
        self.exec(sqlx::query("DELETE FROM login_failures WHERE key = $1").arg(key)).await
    }
}
