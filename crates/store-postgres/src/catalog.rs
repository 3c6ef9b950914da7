use crate::{PgStore, outbox};
use rouge_catalog::ports::{CatalogRepository, RepoError, RepoResult};
use rouge_catalog::{AttributeDefinition, Brand, Category, Product};
use rouge_kernel::DomainEvent;
use serde::{Serialize, de::DeserializeOwned};
use sqlx::PgConnection;
use sqlx::types::Json;
use tracing::instrument;
use uuid::Uuid;

/// Translates PostgreSQL's errors into the repository's contract, by constraint name.
fn repo_err(e: sqlx::Error, value: &str) -> RepoError {
    if let sqlx::Error::Database(db) = &e {
        let field = match db.constraint() {
            Some("skus_pkey") => Some("sku"),
            Some("attributes_name_key") => Some("name"),
            Some("products_slug_key" | "brands_slug_key" | "categories_slug_key") => Some("slug"),
            _ => None,
        };
        if let Some(field) = field {
            return RepoError::duplicate(field, value);
        }
    }
    RepoError::Unavailable(e.to_string())
}

/// Inserts (version 1) or replaces (stored version is `version - 1`) one document row.
async fn save_doc<T: Serialize>(
    tx: &mut PgConnection,
    table: &str,
    id: Uuid,
    version: i64,
    keys: &[(&str, &str)],
    doc: &T,
) -> Result<(), sqlx::Error> {
    let names: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
    if version == 1 {
        let cols = names.iter().map(|n| format!(", {n}")).collect::<String>();
        let params = (0..keys.len()).map(|i| format!(", ${}", i + 4)).collect::<String>();
        let sql = format!("INSERT INTO {table} (id, version, doc{cols}) VALUES ($1, $2, $3{params})");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).bind(version).bind(Json(doc));
        for (_, v) in keys {
            q = q.bind(*v);
        }
        q.execute(&mut *tx).await?;
    } else {
        let sets = names.iter().enumerate().map(|(i, n)| format!(", {n} = ${}", i + 5)).collect::<String>();
        let sql = format!("UPDATE {table} SET version = $1, doc = $2{sets} WHERE id = $3 AND version = $4");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(version).bind(Json(doc)).bind(id).bind(version - 1);
        for (_, v) in keys {
            q = q.bind(*v);
        }
        if q.execute(&mut *tx).await?.rows_affected() == 0 {
            return Err(sqlx::Error::RowNotFound);
        }
    }
    Ok(())
}

impl PgStore {
    async fn all_docs<T: DeserializeOwned + Send + Unpin + 'static>(&self, sql: &'static str) -> RepoResult<Vec<T>> {
        let docs: Vec<Json<T>> =
            sqlx::query_scalar(sql).fetch_all(&self.pool).await.map_err(|e| RepoError::Unavailable(e.to_string()))?;
        Ok(docs.into_iter().map(|d| d.0).collect())
    }

    async fn save_simple<T: Serialize + Sync>(
        &self,
        table: &str,
        id: Uuid,
        version: i64,
        keys: &[(&str, &str)],
        doc: &T,
        events: &[DomainEvent],
    ) -> RepoResult<()> {
        let conflict = keys.last().map(|(_, v)| *v).unwrap_or_default();
        let run = async {
            let mut tx = self.pool.begin().await?;
            save_doc(&mut tx, table, id, version, keys, doc).await?;
            outbox::append(&mut tx, events).await?;
            tx.commit().await?;
            if !events.is_empty() {
                self.committed();
            }
            Ok::<(), sqlx::Error>(())
        };
        run.await.map_err(|e| match e {
            sqlx::Error::RowNotFound => RepoError::Stale,
            e => repo_err(e, conflict),
        })
    }

    async fn one_product(
        &self,
        sql: &'static str,
        key: impl for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + 'static,
    ) -> RepoResult<Option<Product>> {
        let doc: Option<Json<Product>> = sqlx::query_scalar(sql)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| RepoError::Unavailable(e.to_string()))?;
        Ok(doc.map(|d| d.0))
    }
}

impl CatalogRepository for PgStore {
    #[instrument(skip_all, fields(product_id = %p.id, version = p.version))]
    async fn save_product(&self, p: &Product, events: &[DomainEvent]) -> RepoResult<()> {
        let mut failing_value = p.slug.to_string();
        let run = async {
            let mut tx = self.pool.begin().await?;
            save_doc(
                &mut tx,
                "catalog.products",
                p.id,
                p.version,
                &[("status", p.status.as_str()), ("slug", p.slug.as_str())],
                p,
            )
            .await?;
            sqlx::query("UPDATE catalog.products SET updated_at = $1 WHERE id = $2")
                .bind(p.updated_at)
                .bind(p.id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM catalog.skus WHERE product_id = $1").bind(p.id).execute(&mut *tx).await?;
            for v in &p.variants {
                failing_value = v.sku.to_string();
                sqlx::query("INSERT INTO catalog.skus (sku, product_id) VALUES ($1, $2)")
                    .bind(v.sku.as_str())
                    .bind(p.id)
                    .execute(&mut *tx)
                    .await?;
            }
            outbox::append(&mut tx, events).await?;
            tx.commit().await?;
            if !events.is_empty() {
                self.committed();
            }
            Ok::<(), sqlx::Error>(())
        };
        let result = run.await;
        result.map_err(|e| match e {
            sqlx::Error::RowNotFound => RepoError::Stale,
            e => repo_err(e, &failing_value),
        })
    }

    async fn product(&self, id: Uuid) -> RepoResult<Option<Product>> {
        self.one_product("SELECT doc FROM catalog.products WHERE id = $1", id).await
    }

    async fn product_by_slug(&self, slug: &str) -> RepoResult<Option<Product>> {
        self.one_product("SELECT doc FROM catalog.products WHERE slug = $1", slug.to_owned()).await
    }

    async fn products(&self) -> RepoResult<Vec<Product>> {
        self.all_docs("SELECT doc FROM catalog.products ORDER BY id").await
    }

    async fn product_count(&self) -> RepoResult<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM catalog.products")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| RepoError::Unavailable(e.to_string()))
    }

    async fn save_brand(&self, b: &Brand, events: &[DomainEvent]) -> RepoResult<()> {
        self.save_simple("catalog.brands", b.id, b.version, &[("slug", b.slug.as_str())], b, events).await
    }

    async fn brands(&self) -> RepoResult<Vec<Brand>> {
        self.all_docs("SELECT doc FROM catalog.brands ORDER BY slug").await
    }

    async fn save_category(&self, c: &Category, events: &[DomainEvent]) -> RepoResult<()> {
        self.save_simple("catalog.categories", c.id, c.version, &[("slug", c.slug.as_str())], c, events).await
    }

    async fn categories(&self) -> RepoResult<Vec<Category>> {
        self.all_docs("SELECT doc FROM catalog.categories ORDER BY slug").await
    }

    async fn save_attribute(&self, d: &AttributeDefinition, events: &[DomainEvent]) -> RepoResult<()> {
        let keys = [("product_type", d.product_type.as_str()), ("name", d.name.as_str())];
        self.save_simple("catalog.attributes", d.id, d.version, &keys, d, events).await
    }

    async fn attributes(&self) -> RepoResult<Vec<AttributeDefinition>> {
        self.all_docs("SELECT doc FROM catalog.attributes ORDER BY product_type, name").await
    }
}
