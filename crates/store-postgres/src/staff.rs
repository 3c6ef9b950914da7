//! Staff, custom roles and API keys on PostgreSQL.

use crate::{PgStore, unavailable};
use rouge_catalog::RepoError;
use rouge_identity::ports::{RepoResult, StaffRepository};
use rouge_identity::{ApiKeyRecord, Permission, Role, StaffRecord, WrappedKey};
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

fn perms(v: sqlx::types::Json<Vec<Permission>>) -> RepoResult<Vec<Permission>> {
    Ok(v.0)
}

const STAFF_COLS: &str =
    "id, email_index, master_key_id, data_key, email, name, password_hash, role_id, created_at, disabled_at";

fn staff(r: &PgRow) -> RepoResult<StaffRecord> {
    Ok(StaffRecord {
        id: r.get("id"),
        email_index: r.get("email_index"),
        key: WrappedKey { master_id: r.get("master_key_id"), sealed: r.get("data_key") },
        email: r.get("email"),
        name: r.get("name"),
        password_hash: r.get("password_hash"),
        role_id: r.get("role_id"),
        created_at: r.get("created_at"),
        disabled_at: r.get("disabled_at"),
    })
}

fn api_key(r: &PgRow) -> RepoResult<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: r.get("id"),
        name: r.get("name"),
        hash: r.get("hash"),
        permissions: perms(r.get("permissions"))?,
        created_by: r.get("created_by"),
        created_at: r.get("created_at"),
        last_used_at: r.get("last_used_at"),
        revoked_at: r.get("revoked_at"),
    })
}

impl PgStore {
    async fn staff_where<V: for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send>(
        &self,
        clause: &str,
        value: V,
    ) -> RepoResult<Option<StaffRecord>> {
        let sql = format!("SELECT {STAFF_COLS} FROM identity.staff WHERE {clause} = $1");
        let row =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(value).fetch_optional(&self.pool).await.map_err(unavailable)?;
        row.as_ref().map(staff).transpose()
    }
}

impl StaffRepository for PgStore {
    async fn insert_staff(&self, s: &StaffRecord) -> RepoResult<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO identity.staff ({STAFF_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        )))
        .bind(s.id)
        .bind(&s.email_index)
        .bind(&s.key.master_id)
        .bind(&s.key.sealed)
        .bind(&s.email)
        .bind(&s.name)
        .bind(&s.password_hash)
        .bind(s.role_id)
        .bind(s.created_at)
        .bind(s.disabled_at)
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.constraint() == Some("staff_email_index_key") => {
                RepoError::Duplicate { field: "email".into(), value: "(hidden)".into() }
            }
            _ => unavailable(e),
        })
    }

    async fn set_staff_disabled(&self, id: Uuid, at: Option<i64>) -> RepoResult<bool> {
        sqlx::query("UPDATE identity.staff SET disabled_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected() == 1)
            .map_err(unavailable)
    }

    async fn set_staff_role(&self, id: Uuid, role: Uuid) -> RepoResult<bool> {
        sqlx::query("UPDATE identity.staff SET role_id = $1 WHERE id = $2")
            .bind(role)
            .bind(id)
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected() == 1)
            .map_err(unavailable)
    }

    async fn staff(&self, id: Uuid) -> RepoResult<Option<StaffRecord>> {
        self.staff_where("id", id).await
    }

    async fn staff_by_email_index(&self, index: &str) -> RepoResult<Option<StaffRecord>> {
        self.staff_where("email_index", index.to_owned()).await
    }

    async fn all_staff(&self) -> RepoResult<Vec<StaffRecord>> {
        let sql = format!("SELECT {STAFF_COLS} FROM identity.staff ORDER BY created_at, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await.map_err(unavailable)?;
        rows.iter().map(staff).collect()
    }

    async fn insert_role(&self, r: &Role) -> RepoResult<()> {
        sqlx::query("INSERT INTO identity.roles (id, name, permissions) VALUES ($1, $2, $3)")
            .bind(r.id)
            .bind(&r.name)
            .bind(sqlx::types::Json(&r.permissions))
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.constraint() == Some("roles_name_key") => {
                    RepoError::Duplicate { field: "name".into(), value: r.name.clone() }
                }
                _ => unavailable(e),
            })
    }

    async fn custom_roles(&self) -> RepoResult<Vec<Role>> {
        let rows = sqlx::query("SELECT id, name, permissions FROM identity.roles ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter()
            .map(|r| {
                Ok(Role {
                    id: r.get("id"),
                    name: r.get("name"),
                    permissions: perms(r.get("permissions"))?,
                    builtin: false,
                })
            })
            .collect()
    }

    async fn insert_api_key(&self, k: &ApiKeyRecord) -> RepoResult<()> {
        sqlx::query(
            "INSERT INTO identity.api_keys (id, name, hash, permissions, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(k.id)
        .bind(&k.name)
        .bind(&k.hash)
        .bind(sqlx::types::Json(&k.permissions))
        .bind(k.created_by)
        .bind(k.created_at)
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(unavailable)
    }

    async fn api_key(&self, id: Uuid) -> RepoResult<Option<ApiKeyRecord>> {
        let row = sqlx::query("SELECT * FROM identity.api_keys WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.as_ref().map(api_key).transpose()
    }

    async fn api_keys(&self) -> RepoResult<Vec<ApiKeyRecord>> {
        let rows = sqlx::query("SELECT * FROM identity.api_keys ORDER BY created_at DESC, id DESC")
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(api_key).collect()
    }

    async fn touch_api_key(&self, id: Uuid, now: i64) -> RepoResult<()> {
        sqlx::query("UPDATE identity.api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn revoke_api_key(&self, id: Uuid, now: i64) -> RepoResult<bool> {
        sqlx::query("UPDATE identity.api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected() == 1)
            .map_err(unavailable)
    }
}
