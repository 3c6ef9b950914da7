//! Staff, custom roles and API keys (PostgreSQL keeps them in its `identity` schema).

use crate::audit;
use crate::prelude::*;
use crate::{Value, unavailable};
use rouge_catalog::RepoError;
use rouge_identity::ports::{RepoResult, StaffRepository};
use rouge_identity::{ApiKeyRecord, Permission, Role, StaffRecord, WrappedKey};
use sqlx::types::Json;
use uuid::Uuid;

const STAFF_COLS: &str =
    "id, email_index, master_key_id, data_key, email, name, password_hash, role_id, created_at, disabled_at";

fn staff(r: &impl Read) -> StaffRecord {
    StaffRecord {
        id: r.get("id"),
        email_index: r.get("email_index"),
        key: WrappedKey { master_id: r.get("master_key_id"), sealed: r.get("data_key") },
        email: r.get("email"),
        name: r.get("name"),
        password_hash: r.get("password_hash"),
        role_id: r.get("role_id"),
        created_at: r.get("created_at"),
        disabled_at: r.get("disabled_at"),
    }
}

fn api_key(r: &impl Read) -> ApiKeyRecord {
    ApiKeyRecord {
        id: r.get("id"),
        name: r.get("name"),
        hash: r.get("hash"),
        permissions: r.get::<Json<Vec<Permission>>>("permissions").0,
        created_by: r.get("created_by"),
        created_at: r.get("created_at"),
        last_used_at: r.get("last_used_at"),
        revoked_at: r.get("revoked_at"),
    }
}

impl<D: Dialect> Store<D> {
    async fn staff_where<V: for<'t> Value<'t>>(&self, clause: &str, value: V) -> RepoResult<Option<StaffRecord>> {
        let sql = format!("SELECT {STAFF_COLS} FROM staff WHERE {clause} = $1");
        let row =
            sqlx::query(sqlx::AssertSqlSafe(sql)).arg(value).fetch_optional(self.db()).await.map_err(unavailable)?;
        Ok(row.as_ref().map(staff))
    }
}

impl<D: Dialect> Store<D> {
    /// Changes one staff member with `update`, and writes the audit entry with it.
    async fn change_staff(&self, id: Uuid, update: Statement<'_, D>) -> RepoResult<bool> {
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        let sql = format!("SELECT {STAFF_COLS} FROM staff WHERE id = $1");
        let read = || sqlx::query(sqlx::AssertSqlSafe(sql.clone())).arg(id);
        let before = read().fetch_optional(D::on(&mut tx)).await.map_err(unavailable)?.map(|r| staff(&r));
        if update.execute(D::on(&mut tx)).await.map_err(unavailable)?.rows_affected() == 0 {
            return Ok(false);
        }
        let after = staff(&read().fetch_one(D::on(&mut tx)).await.map_err(unavailable)?);
        let before = before.as_ref().map(audit::staff_view);
        audit::record::<D>(&mut tx, before, Some(audit::staff_view(&after))).await.map_err(unavailable)?;
        tx.commit().await.map(|_| true).map_err(unavailable)
    }
}

impl<D: Dialect> StaffRepository for Store<D> {
    async fn insert_staff(&self, s: &StaffRecord) -> RepoResult<()> {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO staff ({STAFF_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        )))
        .arg(s.id)
        .arg(&s.email_index)
        .arg(&s.key.master_id)
        .arg(&s.key.sealed)
        .arg(&s.email)
        .arg(&s.name)
        .arg(&s.password_hash)
        .arg(s.role_id)
        .arg(s.created_at)
        .arg(s.disabled_at);
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        q.execute(D::on(&mut tx)).await.map_err(|e| match &e {
            _ if D::duplicate(&e).is_some() => RepoError::Duplicate { field: "email".into(), value: "(hidden)".into() },
            _ => unavailable(e),
        })?;
        audit::record::<D>(&mut tx, None, Some(audit::staff_view(s))).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }

    async fn set_staff_disabled(&self, id: Uuid, at: Option<i64>) -> RepoResult<bool> {
        self.change_staff(id, sqlx::query("UPDATE staff SET disabled_at = $1 WHERE id = $2").arg(at).arg(id)).await
    }

    async fn set_staff_role(&self, id: Uuid, role: Uuid) -> RepoResult<bool> {
        self.change_staff(id, sqlx::query("UPDATE staff SET role_id = $1 WHERE id = $2").arg(role).arg(id)).await
    }

    async fn staff(&self, id: Uuid) -> RepoResult<Option<StaffRecord>> {
        self.staff_where("id", id).await
    }

    async fn staff_by_email_index(&self, index: &str) -> RepoResult<Option<StaffRecord>> {
        self.staff_where("email_index", index.to_owned()).await
    }

    async fn all_staff(&self) -> RepoResult<Vec<StaffRecord>> {
        let sql = format!("SELECT {STAFF_COLS} FROM staff ORDER BY created_at, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(self.db()).await.map_err(unavailable)?;
        Ok(rows.iter().map(staff).collect())
    }

    async fn insert_role(&self, r: &Role) -> RepoResult<()> {
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        sqlx::query("INSERT INTO roles (id, name, permissions) VALUES ($1, $2, $3)")
            .arg(r.id)
            .arg(&r.name)
            .arg(Json(&r.permissions))
            .execute(D::on(&mut tx))
            .await
            .map_err(|e| match &e {
                _ if D::duplicate(&e).is_some() => RepoError::Duplicate { field: "name".into(), value: r.name.clone() },
                _ => unavailable(e),
            })?;
        audit::record::<D>(&mut tx, None, audit::json(r)).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }

    async fn custom_roles(&self) -> RepoResult<Vec<Role>> {
        let q = sqlx::query("SELECT id, name, permissions FROM roles ORDER BY name");
        let rows = self.all(q).await?;
        rows.iter()
            .map(|r| {
                Ok(Role {
                    id: r.get("id"),
                    name: r.get("name"),
                    permissions: r.get::<Json<Vec<Permission>>>("permissions").0,
                    builtin: false,
                })
            })
            .collect()
    }

    async fn insert_api_key(&self, k: &ApiKeyRecord) -> RepoResult<()> {
        let q = sqlx::query(
            "INSERT INTO api_keys (id, name, hash, permissions, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        );
        let q = q.arg(k.id).arg(&k.name).arg(&k.hash).arg(Json(&k.permissions)).arg(k.created_by).arg(k.created_at);
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        q.execute(D::on(&mut tx)).await.map_err(unavailable)?;
        audit::record::<D>(&mut tx, None, Some(audit::api_key_view(k))).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }

    async fn api_key(&self, id: Uuid) -> RepoResult<Option<ApiKeyRecord>> {
        let q = sqlx::query("SELECT * FROM api_keys WHERE id = $1").arg(id);
        let row = self.optional(q).await?;
        Ok(row.as_ref().map(api_key))
    }

    async fn api_keys(&self) -> RepoResult<Vec<ApiKeyRecord>> {
        let q = sqlx::query("SELECT * FROM api_keys ORDER BY created_at DESC, id DESC");
        let rows = self.all(q).await?;
        Ok(rows.iter().map(api_key).collect())
    }

    async fn touch_api_key(&self, id: Uuid, now: i64) -> RepoResult<()> {
        self.exec(sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2").arg(now).arg(id)).await
    }

    async fn revoke_api_key(&self, id: Uuid, now: i64) -> RepoResult<bool> {
        let mut tx = self.write_tx().await.map_err(unavailable)?;
        let read = || sqlx::query("SELECT * FROM api_keys WHERE id = $1").arg(id);
        let before = read().fetch_optional(D::on(&mut tx)).await.map_err(unavailable)?.map(|r| api_key(&r));
        let q =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL").arg(now).arg(id);
        if q.execute(D::on(&mut tx)).await.map_err(unavailable)?.rows_affected() == 0 {
            return Ok(false);
        }
        let after = read().fetch_one(D::on(&mut tx)).await.map_err(unavailable)?;
        let (before, after) = (before.as_ref().map(audit::api_key_view), Some(audit::api_key_view(&api_key(&after))));
        audit::record::<D>(&mut tx, before, after).await.map_err(unavailable)?;
        tx.commit().await.map(|_| true).map_err(unavailable)
    }
}
