//! The one error every store port answers with. Contexts keep their domain errors (a sold-out
//! SKU, an order that cannot move) apart and map this one in, so a store outage is the same
//! `Unavailable` everywhere (503 over HTTP, `UNAVAILABLE` in GraphQL).

/// What a store could not do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A unique key is taken (`field` names it: `slug`, `sku`, `email`, `cart`, …).
    #[error("{field} `{value}` is already taken")]
    Duplicate { field: String, value: String },
    /// The record changed since it was read (optimistic concurrency).
    #[error("the record was changed by someone else since it was read")]
    Stale,
    /// The database did not answer, or failed.
    #[error("the store failed: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// A unique key taken.
    pub fn duplicate(field: impl Into<String>, value: impl Into<String>) -> Self {
        StoreError::Duplicate { field: field.into(), value: value.into() }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
