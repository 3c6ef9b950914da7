//! Identity's tables on PostgreSQL. Personal fields arrive sealed; this module never sees plaintext.

use crate::{PgStore, outbox, unavailable};
use rouge_catalog::RepoError;
use rouge_identity::ports::{IdentityRepository, RepoResult};
use rouge_identity::{CustomerRecord, LinkPurpose, RefreshRecord, RefreshUse, WrappedKey};
use rouge_kernel::DomainEvent;
use sqlx::Row;
use sqlx::postgres::PgRow;
use tracing::instrument;
use uuid::Uuid;

const CUSTOMER_COLS: &str = "id, email_index, master_key_id, data_key, email, name, profile, password_hash, \
     email_verified_at, created_at, updated_at, erased_at, version, contact";

fn customer(r: &PgRow) -> RepoResult<CustomerRecord> {
    let master: Option<String> = r.get("master_key_id");
    let sealed: Option<Vec<u8>> = r.get("data_key");
    Ok(CustomerRecord {
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
    })
}

fn refresh(r: &PgRow) -> RepoResult<RefreshRecord> {
    Ok(RefreshRecord {
        hash: r.get("hash"),
        family: r.get("family"),
        customer_id: r.get("customer_id"),
        issued_at: r.get("issued_at"),
        expires_at: r.get("expires_at"),
    })
}

impl PgStore {
    async fn customer_where<V: for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send>(
        &self,
        clause: &str,
        value: V,
    ) -> RepoResult<Option<CustomerRecord>> {
        let sql = format!("SELECT {CUSTOMER_COLS} FROM identity.customers WHERE {clause} = $1");
        let row =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(value).fetch_optional(&self.pool).await.map_err(unavailable)?;
        row.as_ref().map(customer).transpose()
    }
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Postgres, <sqlx::Postgres as sqlx::Database>::Arguments>;

/// Binds a customer's columns as `$1`…`$14`, in `CUSTOMER_COLS` order.
fn bind_customer<'q>(q: Query<'q>, c: &'q CustomerRecord) -> Query<'q> {
    q.bind(c.id)
        .bind(&c.email_index)
        .bind(c.key.as_ref().map(|k| &k.master_id))
        .bind(c.key.as_ref().map(|k| &k.sealed))
        .bind(&c.email)
        .bind(&c.name)
        .bind(&c.profile)
        .bind(&c.password_hash)
        .bind(c.email_verified_at)
        .bind(c.created_at)
        .bind(c.updated_at)
        .bind(c.erased_at)
        .bind(c.version)
        .bind(&c.contact)
}

impl IdentityRepository for PgStore {
    #[instrument(skip_all, fields(customer = %c.id))]
    async fn insert_customer(&self, c: &CustomerRecord, events: &[DomainEvent]) -> RepoResult<()> {
        let run = async {
            let mut tx = self.pool.begin().await?;
            bind_customer(
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO identity.customers ({CUSTOMER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
                ))),
                c,
            )
            .execute(&mut *tx)
            .await?;
            outbox::append(&mut tx, events).await?;
            tx.commit().await?;
            if !events.is_empty() {
                self.committed();
            }
            Ok::<(), sqlx::Error>(())
        };
        run.await.map_err(|e| match &e {
            sqlx::Error::Database(db) if db.constraint() == Some("customers_email_index_key") => {
                RepoError::Duplicate { field: "email".into(), value: "(hidden)".into() }
            }
            _ => unavailable(e),
        })
    }

    #[instrument(skip_all, fields(customer = %c.id))]
    async fn update_customer(&self, c: &CustomerRecord, events: &[DomainEvent]) -> RepoResult<()> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        // Every column in `CUSTOMER_COLS` order, so one binding serves the insert and the update.
        let sql = format!(
            "UPDATE identity.customers SET ({CUSTOMER_COLS}) = ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) WHERE id = $1 AND version = $15"
        );
        let done = bind_customer(sqlx::query(sqlx::AssertSqlSafe(sql)), c)
            .bind(c.version - 1)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        if done.rows_affected() == 0 {
            return Err(RepoError::Stale);
        }
        if c.erased_at.is_some() {
            sqlx::query("DELETE FROM identity.links WHERE customer_id = $1")
                .bind(c.id)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        outbox::append(&mut tx, events).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        if !events.is_empty() {
            self.committed();
        }
        Ok(())
    }

    async fn customer(&self, id: Uuid) -> RepoResult<Option<CustomerRecord>> {
        self.customer_where("id", id).await
    }

    async fn customer_by_email_index(&self, index: &str) -> RepoResult<Option<CustomerRecord>> {
        self.customer_where("email_index", index.to_owned()).await
    }

    async fn people_by_master(&self) -> RepoResult<Vec<(String, i64)>> {
        sqlx::query_as(
            "SELECT master_key_id, COUNT(*) FROM (SELECT master_key_id FROM identity.customers WHERE master_key_id IS NOT NULL \
             UNION ALL SELECT master_key_id FROM identity.staff) AS sealed GROUP BY master_key_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)
    }

    async fn customer_keys(&self) -> RepoResult<Vec<(Uuid, WrappedKey)>> {
        let rows = sqlx::query(
            "SELECT id, master_key_id, data_key FROM identity.customers WHERE data_key IS NOT NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|r| Ok((r.get("id"), WrappedKey { master_id: r.get("master_key_id"), sealed: r.get("data_key") })))
            .collect()
    }

    async fn replace_key(&self, id: Uuid, old: &WrappedKey, new: &WrappedKey) -> RepoResult<bool> {
        let done = sqlx::query(
            "UPDATE identity.customers SET master_key_id = $1, data_key = $2 WHERE id = $3 AND master_key_id = $4 AND data_key = $5",
        )
        .bind(&new.master_id)
        .bind(&new.sealed)
        .bind(id)
        .bind(&old.master_id)
        .bind(&old.sealed)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_refresh(&self, r: &RefreshRecord) -> RepoResult<()> {
        sqlx::query(
            "INSERT INTO identity.refresh_tokens (hash, family, customer_id, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&r.hash)
        .bind(r.family)
        .bind(r.customer_id)
        .bind(r.issued_at)
        .bind(r.expires_at)
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(unavailable)
    }

    async fn use_refresh(&self, hash: &str, now: i64) -> RepoResult<RefreshUse> {
        let row = sqlx::query(
            "SELECT hash, family, customer_id, issued_at, expires_at FROM identity.refresh_tokens WHERE hash = $1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        let Some(row) = row else { return Ok(RefreshUse::Unknown) };
        let rec = refresh(&row)?;
        let done = sqlx::query(
            // A family with any revoked token is dead, even for a token issued after the revocation
            // (a refresh racing a reuse).
            "UPDATE identity.refresh_tokens SET used_at = $1 WHERE hash = $2 AND used_at IS NULL AND revoked_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM identity.refresh_tokens f WHERE f.family = $3 AND f.revoked_at IS NOT NULL)",
        )
        .bind(now)
        .bind(hash)
        .bind(rec.family)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(if done.rows_affected() == 1 { RefreshUse::Fresh(rec) } else { RefreshUse::Reused(rec) })
    }

    async fn revoke_family(&self, family: Uuid, now: i64) -> RepoResult<()> {
        sqlx::query("UPDATE identity.refresh_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(family)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn session_live(&self, customer: Uuid, family: Uuid) -> RepoResult<bool> {
        // Live when the family has tokens and none of them is revoked.
        let (tokens, revoked): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(revoked_at) FROM identity.refresh_tokens WHERE family = $1 AND customer_id = $2",
        )
        .bind(family)
        .bind(customer)
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(tokens > 0 && revoked == 0)
    }

    async fn revoke_customer(&self, customer: Uuid, now: i64) -> RepoResult<()> {
        sqlx::query("UPDATE identity.refresh_tokens SET revoked_at = $1 WHERE customer_id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(customer)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(unavailable)
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
            let mut tx = self.pool.begin().await?;
            sqlx::query("INSERT INTO identity.links (hash, customer_id, purpose, expires_at) VALUES ($1, $2, $3, $4)")
                .bind(hash)
                .bind(customer)
                .bind(purpose.as_str())
                .bind(expires_at)
                .execute(&mut *tx)
                .await?;
            outbox::append(&mut tx, events).await?;
            tx.commit().await?;
            if !events.is_empty() {
                self.committed();
            }
            Ok::<(), sqlx::Error>(())
        };
        run.await.map_err(unavailable)
    }

    async fn take_link(&self, hash: &str, purpose: LinkPurpose, now: i64) -> RepoResult<Option<Uuid>> {
        sqlx::query_scalar(
            "UPDATE identity.links SET used_at = $1 WHERE hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1 \
             RETURNING customer_id",
        )
        .bind(now)
        .bind(hash)
        .bind(purpose.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)
    }

    async fn append_events(&self, events: &[DomainEvent]) -> RepoResult<()> {
        let run = async {
            let mut tx = self.pool.begin().await?;
            outbox::append(&mut tx, events).await?;
            tx.commit().await?;
            if !events.is_empty() {
                self.committed();
            }
            Ok::<(), sqlx::Error>(())
        };
        run.await.map_err(unavailable)
    }

    async fn locked_until(&self, key: &str) -> RepoResult<Option<i64>> {
        let v: Option<Option<i64>> =
            sqlx::query_scalar("SELECT locked_until FROM identity.login_failures WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await
                .map_err(unavailable)?;
        Ok(v.flatten())
    }

    async fn record_failure(&self, key: &str, now: i64, window_start: i64) -> RepoResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO identity.login_failures AS identity_login_failures (key, failures, window_started_at) VALUES ($1, 1, $2) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN identity_login_failures.window_started_at < $3 THEN 1 ELSE identity_login_failures.failures + 1 END, \
               window_started_at = CASE WHEN identity_login_failures.window_started_at < $3 THEN $2 ELSE identity_login_failures.window_started_at END \
             RETURNING failures",
        )
        .bind(key)
        .bind(now)
        .bind(window_start)
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)
    }

    async fn lock(&self, key: &str, until: i64) -> RepoResult<()> {
        sqlx::query("UPDATE identity.login_failures SET locked_until = $1 WHERE key = $2")
            .bind(until)
            .bind(key)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn clear_failures(&self, key: &str) -> RepoResult<()> {
        sqlx::query("DELETE FROM identity.login_failures WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}
