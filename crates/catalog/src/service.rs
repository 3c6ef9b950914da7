//! The catalogue's use cases: validate, build the new state and its events, save both at once.

use crate::events::CatalogEvent;
use crate::input::*;
use crate::model::*;
use crate::ports::{CatalogRepository, RepoError};
use crate::vocab::ProductStatus;
use chrono::Utc;
use rouge_kernel::{FieldError, merge_patch};
use serde::{Serialize, de::DeserializeOwned};
use tracing::instrument;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CatalogError {
    #[error("the input is invalid")]
    Invalid(Vec<FieldError>),
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String, FieldError),
    #[error("the {0} changed since you read it; fetch it again and retry with its new ETag")]
    Stale(&'static str),
    #[error("the store failed")]
    Store(String),
}

impl From<RepoError> for CatalogError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::Duplicate { field, value } => CatalogError::Conflict(
                format!("{field} `{value}` is already taken"),
                FieldError { field: field.to_owned(), code: "taken", message: format!("`{value}` is already taken") },
            ),
            RepoError::Stale => CatalogError::Stale("resource"),
            RepoError::Unavailable(s) => CatalogError::Store(s),
        }
    }
}

type Result<T> = std::result::Result<T, CatalogError>;

#[derive(Clone)]
pub struct CatalogService<R> {
    repo: R,
}

/// Applies a JSON merge patch to an input and reads it back, reporting type errors by path.
fn patched<T: Serialize + DeserializeOwned>(input: &T, patch: &serde_json::Value) -> Result<T> {
    if !patch.is_object() {
        return Err(CatalogError::Invalid(vec![FieldError {
            field: String::new(),
            code: "type",
            message: "a merge patch is a JSON object".into(),
        }]));
    }
    let mut doc = serde_json::to_value(input).expect("inputs serialise");
    merge_patch(&mut doc, patch);
    serde_path_to_error::deserialize(doc).map_err(|e| {
        let field = e.path().to_string();
        CatalogError::Invalid(vec![FieldError {
            field: if field == "." { String::new() } else { field },
            code: "type",
            message: e.into_inner().to_string(),
        }])
    })
}

fn check_version(expected: Option<i64>, actual: i64, what: &'static str) -> Result<()> {
    match expected {
        Some(v) if v != actual => Err(CatalogError::Stale(what)),
        _ => Ok(()),
    }
}

fn stale_as(what: &'static str) -> impl Fn(RepoError) -> CatalogError {
    move |e| match e {
        RepoError::Stale => CatalogError::Stale(what),
        other => other.into(),
    }
}

impl<R: CatalogRepository> CatalogService<R> {
    pub fn new(repo: R) -> Self {
        Self { repo }
    }

    pub fn repo(&self) -> &R {
        &self.repo
    }

    async fn resolve_and_build(&self, input: ProductInput, existing: Option<&Product>) -> Result<Product> {
        let brands = self.repo.brands().await?;
        let categories = self.repo.categories().await?;
        let defs = self.repo.attributes().await?;
        let brand = brands.iter().find(|b| b.slug.as_str() == input.brand && !b.archived);
        let category =
            input.category.as_deref().and_then(|s| categories.iter().find(|c| c.slug.as_str() == s && !c.archived));
        input
            .into_product(Resolved { brand, category, attribute_defs: &defs }, existing, Utc::now())
            .map_err(CatalogError::Invalid)
    }

    #[instrument(skip_all, fields(product_name = %input.name))]
    pub async fn create_product(&self, input: ProductInput) -> Result<Product> {
        let product = self.resolve_and_build(input, None).await?;
        let event = CatalogEvent::ProductCreated(Box::new(product.clone())).envelope();
        self.repo.save_product(&product, &[event]).await?;
        tracing::debug!(product_id = %product.id, slug = %product.slug, "product created");
        Ok(product)
    }

    pub async fn product(&self, id: Uuid) -> Result<Product> {
        self.repo.product(id).await?.ok_or(CatalogError::NotFound("product"))
    }

    /// The product as its input form, with brand and category named by slug.
    pub async fn product_input(&self, p: &Product) -> Result<ProductInput> {
        let brands = self.repo.brands().await?;
        let categories = self.repo.categories().await?;
        let brand = brands.iter().find(|b| b.id == p.brand_id).map(|b| b.slug.to_string()).unwrap_or_default();
        let category = p.category_id.and_then(|id| categories.iter().find(|c| c.id == id)).map(|c| c.slug.to_string());
        Ok(p.to_input(&brand, category.as_deref()))
    }

    /// Replaces a product by its patched input and saves it with its events.
    async fn save_changed(&self, current: &Product, input: ProductInput) -> Result<Product> {
        let next = self.resolve_and_build(input, Some(current)).await?;
        let mut events = vec![];
        for v in &next.variants {
            if let Some(old) = current.variants.iter().find(|o| o.id == v.id)
                && old.price != v.price
            {
                events.push(
                    CatalogEvent::VariantPriceChanged {
                        product_id: next.id,
                        variant_id: v.id,
                        sku: v.sku.to_string(),
                        old: old.price,
                        new: v.price,
                    }
                    .envelope(),
                );
            }
        }
        let main = if next.status == ProductStatus::Archived && current.status != ProductStatus::Archived {
            CatalogEvent::ProductArchived(Box::new(next.clone()))
        } else {
            CatalogEvent::ProductUpdated(Box::new(next.clone()))
        };
        events.insert(0, main.envelope());
        self.repo.save_product(&next, &events).await.map_err(stale_as("product"))?;
        tracing::info!(product_id = %next.id, version = next.version, "product updated");
        Ok(next)
    }

    #[instrument(skip_all, fields(product_id = %id))]
    pub async fn update_product(&self, id: Uuid, expected: Option<i64>, patch: &serde_json::Value) -> Result<Product> {
        let current = self.product(id).await?;
        check_version(expected, current.version, "product")?;
        let input = patched(&self.product_input(&current).await?, patch)?;
        self.save_changed(&current, input).await
    }

    #[instrument(skip_all, fields(product_id = %id))]
    pub async fn archive_product(&self, id: Uuid, expected: Option<i64>) -> Result<Product> {
        let current = self.product(id).await?;
        check_version(expected, current.version, "product")?;
        if current.status == ProductStatus::Archived {
            return Ok(current);
        }
        let mut input = self.product_input(&current).await?;
        input.status = ProductStatus::Archived;
        self.save_changed(&current, input).await
    }

    #[instrument(skip_all, fields(product_id = %product_id))]
    pub async fn add_variant(&self, product_id: Uuid, expected: Option<i64>, variant: VariantInput) -> Result<Product> {
        let current = self.product(product_id).await?;
        check_version(expected, current.version, "product")?;
        let mut input = self.product_input(&current).await?;
        let mut variant = variant;
        variant.id = None;
        input.variants.push(variant);
        self.save_changed(&current, input).await
    }

    #[instrument(skip_all, fields(product_id = %product_id, variant_id = %variant_id))]
    pub async fn update_variant(
        &self,
        product_id: Uuid,
        variant_id: Uuid,
        expected: Option<i64>,
        patch: &serde_json::Value,
    ) -> Result<Product> {
        let current = self.product(product_id).await?;
        check_version(expected, current.version, "product")?;
        let mut input = self.product_input(&current).await?;
        let slot =
            input.variants.iter_mut().find(|v| v.id == Some(variant_id)).ok_or(CatalogError::NotFound("variant"))?;
        let mut next = patched(slot, patch)?;
        next.id = Some(variant_id);
        *slot = next;
        self.save_changed(&current, input).await
    }

    pub async fn archive_variant(&self, product_id: Uuid, variant_id: Uuid, expected: Option<i64>) -> Result<Product> {
        self.update_variant(product_id, variant_id, expected, &serde_json::json!({"archived": true})).await
    }

    // --- brands ---

    pub async fn brand(&self, id: Uuid) -> Result<Brand> {
        self.repo.brands().await?.into_iter().find(|b| b.id == id).ok_or(CatalogError::NotFound("brand"))
    }

    #[instrument(skip_all)]
    pub async fn create_brand(&self, input: BrandInput) -> Result<Brand> {
        let brand = input.into_brand(None).map_err(CatalogError::Invalid)?;
        self.repo.save_brand(&brand, &[CatalogEvent::BrandSaved(brand.clone()).envelope()]).await?;
        Ok(brand)
    }

    #[instrument(skip_all, fields(brand_id = %id))]
    pub async fn update_brand(&self, id: Uuid, expected: Option<i64>, patch: &serde_json::Value) -> Result<Brand> {
        let current = self.brand(id).await?;
        check_version(expected, current.version, "brand")?;
        let next = patched(&current.to_input(), patch)?.into_brand(Some(&current)).map_err(CatalogError::Invalid)?;
        self.repo
            .save_brand(&next, &[CatalogEvent::BrandSaved(next.clone()).envelope()])
            .await
            .map_err(stale_as("brand"))?;
        Ok(next)
    }

    pub async fn archive_brand(&self, id: Uuid, expected: Option<i64>) -> Result<Brand> {
        let current = self.brand(id).await?;
        check_version(expected, current.version, "brand")?;
        let next = Brand { archived: true, version: current.version + 1, ..current };
        self.repo
            .save_brand(&next, &[CatalogEvent::BrandSaved(next.clone()).envelope()])
            .await
            .map_err(stale_as("brand"))?;
        Ok(next)
    }

    // --- categories ---

    pub async fn category(&self, id: Uuid) -> Result<Category> {
        self.repo.categories().await?.into_iter().find(|c| c.id == id).ok_or(CatalogError::NotFound("category"))
    }

    async fn build_category(&self, input: CategoryInput, existing: Option<&Category>) -> Result<Category> {
        let all = self.repo.categories().await?;
        let parent = input.parent.as_deref().and_then(|s| all.iter().find(|c| c.slug.as_str() == s && !c.archived));
        let mut chain = vec![];
        let mut cursor = parent;
        while let Some(c) = cursor {
            if chain.contains(&c.id) {
                break;
            }
            chain.push(c.id);
            cursor = c.parent_id.and_then(|p| all.iter().find(|x| x.id == p));
        }
        input.into_category(parent, &chain, existing).map_err(CatalogError::Invalid)
    }

    #[instrument(skip_all)]
    pub async fn create_category(&self, input: CategoryInput) -> Result<Category> {
        let cat = self.build_category(input, None).await?;
        self.repo.save_category(&cat, &[CatalogEvent::CategorySaved(cat.clone()).envelope()]).await?;
        Ok(cat)
    }

    #[instrument(skip_all, fields(category_id = %id))]
    pub async fn update_category(
        &self,
        id: Uuid,
        expected: Option<i64>,
        patch: &serde_json::Value,
    ) -> Result<Category> {
        let current = self.category(id).await?;
        check_version(expected, current.version, "category")?;
        let all = self.repo.categories().await?;
        let parent_slug = current.parent_id.and_then(|p| all.iter().find(|c| c.id == p)).map(|c| c.slug.to_string());
        let input = patched(&current.to_input(parent_slug.as_deref()), patch)?;
        let next = self.build_category(input, Some(&current)).await?;
        self.repo
            .save_category(&next, &[CatalogEvent::CategorySaved(next.clone()).envelope()])
            .await
            .map_err(stale_as("category"))?;
        Ok(next)
    }

    pub async fn archive_category(&self, id: Uuid, expected: Option<i64>) -> Result<Category> {
        let current = self.category(id).await?;
        check_version(expected, current.version, "category")?;
        let next = Category { archived: true, version: current.version + 1, ..current };
        self.repo
            .save_category(&next, &[CatalogEvent::CategorySaved(next.clone()).envelope()])
            .await
            .map_err(stale_as("category"))?;
        Ok(next)
    }

    // --- attribute definitions ---

    pub async fn attribute(&self, id: Uuid) -> Result<AttributeDefinition> {
        self.repo
            .attributes()
            .await?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or(CatalogError::NotFound("attribute definition"))
    }

    #[instrument(skip_all)]
    pub async fn define_attribute(&self, input: AttributeDefinitionInput) -> Result<AttributeDefinition> {
        let def = input.into_definition(None).map_err(CatalogError::Invalid)?;
        self.repo.save_attribute(&def, &[CatalogEvent::AttributeDefined(def.clone()).envelope()]).await?;
        Ok(def)
    }

    pub async fn update_attribute(
        &self,
        id: Uuid,
        expected: Option<i64>,
        patch: &serde_json::Value,
    ) -> Result<AttributeDefinition> {
        let current = self.attribute(id).await?;
        check_version(expected, current.version, "attribute definition")?;
        let next =
            patched(&current.to_input(), patch)?.into_definition(Some(&current)).map_err(CatalogError::Invalid)?;
        self.repo
            .save_attribute(&next, &[CatalogEvent::AttributeDefined(next.clone()).envelope()])
            .await
            .map_err(stale_as("attribute definition"))?;
        Ok(next)
    }

    pub async fn archive_attribute(&self, id: Uuid, expected: Option<i64>) -> Result<AttributeDefinition> {
        let current = self.attribute(id).await?;
        check_version(expected, current.version, "attribute definition")?;
        let next = AttributeDefinition { archived: true, version: current.version + 1, ..current };
        self.repo
            .save_attribute(&next, &[CatalogEvent::AttributeDefined(next.clone()).envelope()])
            .await
            .map_err(stale_as("attribute definition"))?;
        Ok(next)
    }
}
