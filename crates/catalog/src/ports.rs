//! What the catalogue needs from a store.

use crate::model::{AttributeDefinition, Brand, Category, Product};
use rouge_kernel::{DomainEvent, Outbox};
use std::future::Future;
use uuid::Uuid;

/// The store's error, shared by every port (see `rouge_kernel::StoreError`).
pub use rouge_kernel::StoreError as RepoError;

pub type RepoResult<T> = Result<T, RepoError>;

/// The catalogue's repository. Saves are optimistic: an aggregate with `version == 1` is
/// inserted; any other version replaces the stored one only if that one is `version - 1`.
/// Each save writes its events to the outbox in the same transaction.
pub trait CatalogRepository: Outbox {
    /// # Errors
    /// MUST return `Duplicate { field: "slug" }` when another product has the slug,
    /// `Duplicate { field: "sku" }` when another product has one of its variant SKUs, and
    /// `Stale` when the stored version is not `product.version - 1`.
    fn save_product(&self, product: &Product, events: &[DomainEvent]) -> impl Future<Output = RepoResult<()>> + Send;
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn product(&self, id: Uuid) -> impl Future<Output = RepoResult<Option<Product>>> + Send;
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn product_by_slug(&self, slug: &str) -> impl Future<Output = RepoResult<Option<Product>>> + Send;
    /// Every product, for rebuilding read models.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn products(&self) -> impl Future<Output = RepoResult<Vec<Product>>> + Send;
    /// How many products the store holds.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn product_count(&self) -> impl Future<Output = RepoResult<i64>> + Send;

    /// # Errors
    /// MUST return `Duplicate { field: "slug" }` when another brand has the slug; `Stale` as above.
    fn save_brand(&self, brand: &Brand, events: &[DomainEvent]) -> impl Future<Output = RepoResult<()>> + Send;
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn brands(&self) -> impl Future<Output = RepoResult<Vec<Brand>>> + Send;

    /// # Errors
    /// MUST return `Duplicate { field: "slug" }` when another category has the slug; `Stale` as above.
    fn save_category(&self, category: &Category, events: &[DomainEvent])
    -> impl Future<Output = RepoResult<()>> + Send;
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn categories(&self) -> impl Future<Output = RepoResult<Vec<Category>>> + Send;

    /// # Errors
    /// MUST return `Duplicate { field: "name" }` when the product type already has an
    /// attribute of that name; `Stale` as above.
    fn save_attribute(
        &self,
        def: &AttributeDefinition,
        events: &[DomainEvent],
    ) -> impl Future<Output = RepoResult<()>> + Send;
    /// # Errors
    /// `Unavailable` when the store cannot be read.
    fn attributes(&self) -> impl Future<Output = RepoResult<Vec<AttributeDefinition>>> + Send;
}
