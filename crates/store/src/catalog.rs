//! The catalogue's documents. PostgreSQL keeps these tables in its `catalog` schema.

use crate::audit;
use crate::prelude::*;
use chrono::{DateTime, Utc};
use rouge_catalog::ports::{CatalogRepository, RepoError, RepoResult};
use rouge_catalog::{AttributeDefinition, Brand, Category, Product};
use rouge_kernel::DomainEvent;
use serde::{Serialize, de::DeserializeOwned};
use sqlx::types::Json;
use tracing::instrument;
use uuid::Uuid;

/// Translates a broken constraint into the repository's contract.
fn repo_err<D: Dialect>(e: sqlx::Error, value: &str) -> RepoError {
    match D::duplicate(&e) {
        Some(c) if c.starts_with("skus") => RepoError::duplicate("sku", value),
        Some(c) if c.contains("name") => RepoError::duplicate("name", value),
        Some(_) => RepoError::duplicate("slug", value),
        None => crate::unavailable(e),
    }
}

/// Inserts (version 1) or replaces (stored version is `version - 1`) one document row.
/// `keys` are the extra indexed columns and their values; `updated_at` is set when given.
/// In an audit scope, the change's entry is written with it, the stored document as before.
/// `Stale` when the stored version is not the one before; `Duplicate` on the last key.
async fn save_doc<D: Dialect, T: Serialize + Sync>(
    tx: &mut D::Connection,
    table: &str,
    (id, version): (Uuid, i64),
    keys: &[(&str, &str)],
    updated_at: Option<DateTime<Utc>>,
    doc: &T,
) -> RepoResult<()> {
    let before = if rouge_identity::audit::current().is_some() && version > 1 {
        let sql = format!("SELECT doc FROM {table} WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).arg(id).fetch_optional(D::on(tx));
        let row = row.await.map_err(crate::unavailable)?;
        row.map(|r| r.get::<Json<serde_json::Value>>("doc").0)
    } else {
        None
    };
    let mut names: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
    names.extend(updated_at.map(|_| "updated_at"));
    // `$1`…`$3` are the id, version and document, then the keys, then the stored version.
    let n = names.len() + 4;
    let sql = if version == 1 {
        let cols = names.iter().map(|c| format!(", {c}")).collect::<String>();
        let params = (4..n).map(|i| format!(", ${i}")).collect::<String>();
        format!("INSERT INTO {table} (id, version, doc{cols}) VALUES ($1, $2, $3{params})")
    } else {
        let sets = names.iter().zip(4..).map(|(c, i)| format!(", {c} = ${i}")).collect::<String>();
        format!("UPDATE {table} SET version = $2, doc = $3{sets} WHERE id = $1 AND version = ${n}")
    };
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).arg(id).arg(version).arg(Json(doc));
    for (_, v) in keys {
        q = q.arg(*v);
    }
    if let Some(at) = updated_at {
        q = q.arg(at);
    }
    if version != 1 {
        q = q.arg(version - 1);
    }
    let conflict = keys.last().map(|(_, v)| *v).unwrap_or_default();
    if q.execute(D::on(tx)).await.map_err(|e| repo_err::<D>(e, conflict))?.rows_affected() == 0 {
        return Err(RepoError::Stale);
    }
    audit::record::<D>(tx, before, audit::json(doc)).await.map_err(crate::unavailable)
}

impl<D: Dialect> Store<D> {
    async fn all_docs<T: DeserializeOwned>(&self, sql: &'static str) -> RepoResult<Vec<T>> {
        let rows = sqlx::query(sql).fetch_all(self.db()).await.map_err(crate::unavailable)?;
        Ok(rows.iter().map(|r| r.get::<Json<T>>("doc").0).collect())
    }

    async fn one_product(&self, sql: &'static str, key: impl for<'t> crate::Value<'t>) -> RepoResult<Option<Product>> {
        let row = sqlx::query(sql).arg(key).fetch_optional(self.db()).await.map_err(crate::unavailable)?;
        Ok(row.map(|r| r.get::<Json<Product>>("doc").0))
    }

    /// Saves a small aggregate and its events in one transaction.
    async fn save_simple<T: Serialize + Sync>(
        &self,
        table: &str,
        id: Uuid,
        version: i64,
        keys: &[(&str, &str)],
        doc: &T,
        events: &[DomainEvent],
    ) -> RepoResult<()> {
        let mut tx = self.write_tx().await.map_err(crate::unavailable)?;
        save_doc::<D, T>(&mut tx, table, (id, version), keys, None, doc).await?;
        self.commit(tx, events).await.map_err(crate::unavailable)
    }
}

impl<D: Dialect> CatalogRepository for Store<D> {
    #[instrument(skip_all, fields(product_id = %p.id, version = p.version))]
    async fn save_product(&self, p: &Product, events: &[DomainEvent]) -> RepoResult<()> {
        let mut tx = self.write_tx().await.map_err(crate::unavailable)?;
        let keys = [("status", p.status.as_str()), ("slug", p.slug.as_str())];
        save_doc::<D, Product>(&mut tx, "products", (p.id, p.version), &keys, Some(p.updated_at), p).await?;
        let q = sqlx::query("DELETE FROM skus WHERE product_id = $1").arg(p.id);
        q.execute(D::on(&mut tx)).await.map_err(crate::unavailable)?;
        for v in &p.variants {
            let q = sqlx::query("INSERT INTO skus (sku, product_id) VALUES ($1, $2)").arg(v.sku.as_str()).arg(p.id);
            q.execute(D::on(&mut tx)).await.map_err(|e| repo_err::<D>(e, v.sku.as_str()))?;
        }
        self.commit(tx, events).await.map_err(crate::unavailable)
    }

    async fn product(&self, id: Uuid) -> RepoResult<Option<Product>> {
        self.one_product("SELECT doc FROM products WHERE id = $1", id).await
    }

    async fn product_by_slug(&self, slug: &str) -> RepoResult<Option<Product>> {
        self.one_product("SELECT doc FROM products WHERE slug = $1", slug.to_owned()).await
    }

    async fn products(&self) -> RepoResult<Vec<Product>> {
        self.all_docs("SELECT doc FROM products ORDER BY id").await
    }

    async fn product_count(&self) -> RepoResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM products").fetch_one(self.db()).await;
        Ok(row.map_err(crate::unavailable)?.get("n"))
    }

    async fn save_brand(&self, b: &Brand, events: &[DomainEvent]) -> RepoResult<()> {
        self.save_simple("brands", b.id, b.version, &[("slug", b.slug.as_str())], b, events).await
    }

    async fn brands(&self) -> RepoResult<Vec<Brand>> {
        self.all_docs("SELECT doc FROM brands ORDER BY slug").await
    }

    async fn save_category(&self, c: &Category, events: &[DomainEvent]) -> RepoResult<()> {
        self.save_simple("categories", c.id, c.version, &[("slug", c.slug.as_str())], c, events).await
    }

    async fn categories(&self) -> RepoResult<Vec<Category>> {
        self.all_docs("SELECT doc FROM categories ORDER BY slug").await
    }

    async fn save_attribute(&self, d: &AttributeDefinition, events: &[DomainEvent]) -> RepoResult<()> {
        let keys = [("product_type", d.product_type.as_str()), ("name", d.name.as_str())];
        self.save_simple("attributes", d.id, d.version, &keys, d, events).await
    }

    async fn attributes(&self) -> RepoResult<Vec<AttributeDefinition>> {
        self.all_docs("SELECT doc FROM attributes ORDER BY product_type, name").await
    }
}
